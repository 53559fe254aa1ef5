"""Helpers for the merchant-payment page and API tests: a funded holder with a PIN, merchants, orders, codes."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from qianbao import audit, ledger, merchants, payments, wallets
from qianbao.db import Database
from qianbao.merchants import signing
from qianbao.payments import Order, Party
from qianbao.settings import Settings

PIN = "258036"
YUAN = 100
HTML = {"accept": "text/html"}
_phones = itertools.count(1)
_keys = itertools.count(1)


@dataclass
class Holder:
    customer_id: int
    wallet_id: int
    account_id: int


@dataclass
class Shop:
    id: int
    merchant_no: str
    account_id: int
    name_zh: str
    name_en: str
    api_key: str
    secret: str
    password: str = ""


def holder(db: Database, settings: Settings, *, fund: int = 0, pin: bool = True) -> Holder:
    phone = f"+86137{next(_phones):08d}"
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, send=False, settings=settings)
    with db.transaction() as session:
        customer, wallet = wallets.complete_registration(session, phone, issued.code, "Lantern-Harbour-42", True,
                                                         settings=settings)
        found = Holder(customer.id, wallet.id, wallet.ledger_account_id)
    if pin:
        with db.transaction() as session:
            wallets.set_payment_pin(session, found.customer_id, PIN, settings=settings)
    if fund:
        with db.transaction() as session:
            clearing = payments.system_account(session, "bank_clearing:TESTBANK")
            payments.execute(session, Order(key=f"fund:{next(_keys)}", kind="topup",
                                            payer=Party.account(clearing, "测试银行 1234"),
                                            payee=Party.wallet(found.wallet_id), amount=fund,
                                            confirmation="system", channel="system"))
    return found


def shop(db: Database, settings: Settings, name_zh: str = "老王面馆", name_en: str = "Lao Wang Noodles") -> Shop:
    with db.transaction() as session:
        created = merchants.create_merchant(session, name_zh=name_zh, name_en=name_en, category="dining", mdr_bp=0,
                                            by=audit.Actor.system("test"), settings=settings)
        m = created.merchant
        return Shop(m.id, m.merchant_no, m.ledger_account_id, m.name_zh, m.name_en,
                    created.credentials.api_key or "", created.credentials.secret or "",
                    created.credentials.password or "")


def order_code(db: Database, s: Shop, amount: int, number: str = "T-1001", **options: Any) -> str:
    """A dynamic EMVCo code for a new open order of `amount` fen."""
    with db.transaction() as session:
        m = merchants.get_merchant(session, s.id)
        created = merchants.create_order(session, m, merchant_order_no=number, amount=amount,
                                         description="牛肉面", **options)
        return merchants.order_qr_payload(m, created.order)


def static_code(db: Database, s: Shop) -> str:
    with db.read() as session:
        return merchants.static_qr_payload(merchants.get_merchant(session, s.id))


def password_free(db: Database, h: Holder, threshold: int) -> None:
    with db.transaction() as session:
        payments.set_password_free(session, h.customer_id, enabled=True, threshold=threshold)


def balance(db: Database, account_id: int) -> int:
    with db.read() as session:
        return ledger.balance(session, account_id).posted


def order_status(db: Database, s: Shop, number: str) -> str:
    with db.read() as session:
        return str(merchants.get_order(session, s.id, number).status)


def count(db: Database, model: Any) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def signed(client: TestClient, s: Shop, method: str, path: str, body: Any = None) -> Any:
    content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    headers = signing.signed_headers(s.merchant_no, s.secret, method, path, content, api_key=s.api_key)
    if content:
        headers["Content-Type"] = "application/json"
    return client.request(method, path, content=content or None, headers=headers)
