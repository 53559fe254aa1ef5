"""Helpers for the payments-core tests: wallets opened through the wallets domain, funded by top-ups.

Each step runs in its own unit of work, as a request would. The fixtures are registered in
tests/payments/conftest.py (the keyring, cheap argon2 and clock come from tests/common_fixtures.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from common_fixtures import START  # noqa: F401 (re-exported: qrpay_helpers takes it from here)
from qianbao import ledger, payments, wallets
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage
from qianbao.payments import Order, Party
from qianbao.payments.models import PaymentEntry, PaymentOperation
from qianbao.settings import Settings
from qianbao.wallets.tiers import upgrade

PASSWORD = "Lantern-Harbour-42"
PIN = "258036"
YUAN = 100


@dataclass
class W:
    customer_id: int
    wallet_id: int
    number: str
    phone: str
    account_id: int


@dataclass
class Pay:
    db: Database
    settings: Settings
    phones: Iterator[int]
    keys: Iterator[int]

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db.transaction() as session:
            return fn(session, *args, **kwargs)

    def refusal(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            self.run(fn, *args, **kwargs)
        return caught.value

    def key(self) -> str:
        return f"test:{next(self.keys)}"

    def open(self, tier: int = 4, *, pin: bool = False) -> W:
        phone = f"+86139{next(self.phones):08d}"
        issued = self.run(wallets.start_registration, phone, "10.0.0.1", "zh-CN", send=False, settings=self.settings)
        customer, wallet = self.run(wallets.complete_registration, phone, issued.code, PASSWORD, True,
                                    settings=self.settings)
        if tier < 4:
            with self.db.transaction() as session:
                row = wallets.get_wallet(session, wallet.id)
                upgrade(session, row, tier, cause="counter", channel="counter")
        if pin:
            self.run(wallets.set_payment_pin, customer.id, PIN, settings=self.settings)
        return W(customer.id, wallet.id, wallet.number, phone, wallet.ledger_account_id)

    def clearing(self) -> int:
        return int(self.run(payments.system_account, "bank_clearing:TESTBANK"))

    def fund(self, w: W, fen: int) -> payments.Operation:
        clearing = self.clearing()
        return self.run(payments.execute, Order(
            key=self.key(), kind="topup", payer=Party.account(clearing, "测试银行 储蓄卡 1234"),
            payee=Party.wallet(w.wallet_id), amount=fen, confirmation="system", channel="system",
        ))

    def order(self, payer: W, payee: W, amount: int, **options: Any) -> Order:
        options.setdefault("key", self.key())
        options.setdefault("kind", "transfer")
        return Order(payer=Party.wallet(payer.wallet_id), payee=Party.wallet(payee.wallet_id), amount=amount,
                     **options)

    def execute(self, order: Order) -> payments.Operation:
        return self.run(payments.execute, order)

    def balance(self, w: W) -> int:
        with self.db.read() as session:
            return ledger.balance(session, w.account_id).posted

    def available(self, w: W) -> int:
        with self.db.read() as session:
            return ledger.balance(session, w.account_id).available

    def count(self, model: Any, *where: Any) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def operations(self) -> int:
        return self.count(PaymentOperation)

    def entries(self) -> int:
        return self.count(PaymentEntry)

    def outbox(self, *where: Any) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return [row.payload for row in session.scalars(select(OutboxMessage).where(*where)
                                                            .order_by(OutboxMessage.id))]

    def check_ledger(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report


@pytest.fixture
def pay(db: Database, settings: Settings, clock: time_machine.Traveller) -> Pay:
    return Pay(db, settings, itertools.count(1), itertools.count(1))
