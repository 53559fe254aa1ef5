"""Helpers for the merchants tests: merchants made through qianbao.merchants, wallets through the wallets
domain funded by a payments-core top-up, and a client that signs merchant API requests.

The fixtures are registered in tests/merchants/conftest.py (the keyring, cheap argon2 and clock come from
tests/common_fixtures.py).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from qianbao import audit, ledger, merchants, payments, wallets
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.merchants import signing
from qianbao.payments import Order, Party
from qianbao.settings import Settings

PASSWORD = "Lantern-Harbour-42"
YUAN = 100
OPERATOR = audit.Actor.staff(1)


@dataclass
class M:
    id: int
    merchant_no: str
    api_key: str
    secret: str
    password: str
    account_id: int


@dataclass
class W:
    customer_id: int
    wallet_id: int
    account_id: int


@dataclass
class Shop:
    db: Database
    settings: Settings
    counter: Iterator[int]

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db.transaction() as session:
            return fn(session, *args, **kwargs)

    def refusal(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            self.run(fn, *args, **kwargs)
        return caught.value

    def key(self) -> str:
        return f"test:{next(self.counter)}"

    def merchant(self, *, mdr_bp: int = 60, notify_url: str | None = None, name: str = "测试便利店") -> M:
        with self.db.transaction() as session:
            created = merchants.create_merchant(
                session, name_zh=name, name_en="Test Shop", category="retail", mdr_bp=mdr_bp,
                notify_url=notify_url, by=OPERATOR, settings=self.settings)
            m = created.merchant
            c = created.credentials
            assert c.api_key and c.secret and c.password
            return M(m.id, m.merchant_no, c.api_key, c.secret, c.password, m.ledger_account_id)

    def wallet(self, fen: int = 0) -> W:
        phone = f"+86139{next(self.counter):08d}"
        issued = self.run(wallets.start_registration, phone, "10.0.0.1", "zh-CN", send=False, settings=self.settings)
        customer, wallet = self.run(wallets.complete_registration, phone, issued.code, PASSWORD, True,
                                    settings=self.settings)
        w = W(customer.id, wallet.id, wallet.ledger_account_id)
        if fen:
            self.fund(w, fen)
        return w

    def fund(self, w: W, fen: int) -> None:
        clearing = int(self.run(payments.system_account, "bank_clearing:TESTBANK"))
        self.run(payments.execute, Order(key=self.key(), kind="topup", payer=Party.account(clearing, "测试银行"),
                                         payee=Party.wallet(w.wallet_id), amount=fen, confirmation="system",
                                         channel="system"))

    def order(self, m: M, amount: int, number: str | None = None, **options: Any) -> merchants.MerchantOrder:
        options.setdefault("description", "测试商品")
        with self.db.transaction() as session:
            created = merchants.create_order(session, m.id, merchant_order_no=number or f"T{next(self.counter)}",
                                             amount=amount, **options)
            session.expunge(created.order)
            return created.order

    def pay(self, order: merchants.MerchantOrder | str, w: W, key: str | None = None, **options: Any) -> Any:
        return self.run(merchants.pay_order, order, w.wallet_id, "pin", key or self.key(), **options)

    def refund(self, m: M, number: str, refund_no: str, amount: int, **options: Any) -> Any:
        return self.run(merchants.refund, m.id, number, refund_no=refund_no, amount=amount,
                        actor=audit.Actor.merchant(m.id), **options)

    def balance(self, account_id: int) -> int:
        with self.db.read() as session:
            return ledger.balance(session, account_id).posted

    def fee_income(self) -> int:
        return self.balance(int(self.run(payments.system_account, "fee_income")))

    def get(self, m: M, number: str) -> merchants.MerchantOrder:
        with self.db.read() as session:
            order = merchants.get_order(session, m.id, number)
            session.expunge(order)
            return order

    def count(self, model: Any, *where: Any) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def ledger_ok(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report


@pytest.fixture
def shop(db: Database, settings: Settings) -> Shop:
    return Shop(db, settings, itertools.count(1))


def signed_request(client: Any, m: M, method: str, path: str, body: Any = None, *, secret: str | None = None,
                   api_key: str | None = None, timestamp: int | None = None, nonce: str | None = None,
                   headers: dict[str, str] | None = None, raw: bytes | None = None) -> Any:
    """Send a merchant API request signed as the merchant's own client would."""
    content = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
    signed = signing.signed_headers(m.merchant_no, secret or m.secret, method, path, content,
                                    api_key=api_key or m.api_key, timestamp=timestamp, nonce=nonce)
    if content:
        signed["Content-Type"] = "application/json"
    signed.update(headers or {})
    return client.request(method, path, content=content or None, headers=signed)
