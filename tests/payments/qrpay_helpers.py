"""Helpers for the QR-payment and payment-code tests: the payments-core helpers plus a merchant."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from payments_helpers import PIN, START, YUAN, Pay, W  # noqa: F401

from qianbao import audit, merchants, payments
from qianbao.db import Database
from qianbao.merchants.models import MerchantOrder
from qianbao.settings import Settings


@dataclass
class Shop:
    id: int
    merchant_no: str
    account_id: int
    name_zh: str


class QrPay(Pay):
    def merchant(self, name_zh: str = "老王面馆", name_en: str = "Lao Wang Noodles", mdr_bp: int = 0) -> Shop:
        created = self.run(merchants.create_merchant, name_zh=name_zh, name_en=name_en, category="dining",
                           mdr_bp=mdr_bp, by=audit.Actor.system("test"), settings=self.settings)
        m = created.merchant
        return Shop(m.id, m.merchant_no, m.ledger_account_id, m.name_zh)

    def merchant_row(self, shop: Shop) -> Any:
        with self.db.read() as session:
            m = merchants.get_merchant(session, shop.id)
            session.expunge(m)
            return m

    def password_free(self, w: W, threshold: int) -> None:
        self.run(payments.set_password_free, w.customer_id, enabled=True, threshold=threshold)

    def order_row(self, shop: Shop, number: str) -> MerchantOrder:
        with self.db.read() as session:
            row = merchants.get_order(session, shop.id, number)
            session.expunge(row)
            return row

    def account_balance(self, account_id: int) -> int:
        from qianbao import ledger

        with self.db.read() as session:
            return ledger.balance(session, account_id).posted


def make_qp(db: Database, settings: Settings) -> QrPay:
    """Use in a module fixture: `def qp(db, settings, clock): return make_qp(db, settings)`."""
    return QrPay(db, settings, itertools.count(1), itertools.count(1))
