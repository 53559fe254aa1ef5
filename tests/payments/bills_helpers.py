"""Helpers for the bill, parcel and withholding tests: funded wallets opened through the domain, the sandbox
billers without waiting, and references for each of the sandbox's cases.

The fixtures (`kit`, `sandbox_billers`, `bills_clock`) are registered in tests/payments/conftest.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from qianbao import ledger, payments, wallets
from qianbao.adapters.billers.references import with_check_digit
from qianbao.adapters.billers.sandbox import SandboxBillers
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.payments import Order, Party
from qianbao.payments.models import PaymentOperation
from qianbao.settings import Settings
from qianbao.wallets.tiers import upgrade

# 10:00 in Shanghai, 10 November 2026: the sandbox bills October, due on 25 November.
START = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
PASSWORD = "Lantern-Harbour-42"
PIN = "258036"
YUAN = 100

# Sandbox accounts by their class digit (docs/bills-and-parcels.md).
WATER_DUE = with_check_digit("310012345")
WATER_DUE_2 = with_check_digit("310054321")
WATER_PAID_UP = with_check_digit("810012345")
WATER_UNKNOWN = with_check_digit("910012345")
WATER_REFUSING = with_check_digit("710012345")
WATER_LOST_ANSWER = with_check_digit("610012345")
GAS_DUE = with_check_digit("20034567")
TELECOM_DUE = "18912345678"


@pytest.fixture
def bills_clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@dataclass
class W:
    customer_id: int
    wallet_id: int
    account_id: int
    phone: str


@dataclass
class Kit:
    db: Database
    settings: Settings
    billers: SandboxBillers
    phones: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db.transaction() as session:
            return fn(session, *args, **kwargs)

    def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db.read() as session:
            return fn(session, *args, **kwargs)

    def refusal(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            fn(*args, **kwargs)
        return caught.value

    def key(self) -> str:
        return f"k{next(self.keys)}"

    def open(self, tier: int = 3, *, fund: int = 0, pin: bool = True) -> W:
        phone = f"+86139{next(self.phones):08d}"
        issued = self.run(wallets.start_registration, phone, "10.0.0.1", "zh-CN", send=False, settings=self.settings)
        customer, wallet = self.run(wallets.complete_registration, phone, issued.code, PASSWORD, True,
                                    settings=self.settings)
        if tier < 4:
            with self.db.transaction() as session:
                upgrade(session, wallets.get_wallet(session, wallet.id), tier, cause="counter", channel="counter")
        if pin:
            self.run(wallets.set_payment_pin, customer.id, PIN, settings=self.settings)
        w = W(customer.id, wallet.id, wallet.ledger_account_id, phone)
        if fund:
            self.fund(w, fund)
        return w

    def fund(self, w: W, fen: int) -> None:
        clearing = self.run(payments.system_account, "bank_clearing:TESTBANK")
        self.run(payments.execute, Order(
            key=f"fund:{self.key()}", kind="topup", payer=Party.account(clearing, "测试银行 储蓄卡 1234"),
            payee=Party.wallet(w.wallet_id), amount=fen, confirmation="system", channel="system"))

    def posted(self, w: W) -> int:
        with self.db.read() as session:
            return ledger.balance(session, w.account_id).posted

    def available(self, w: W) -> int:
        with self.db.read() as session:
            return ledger.balance(session, w.account_id).available

    def account_posted(self, code: str) -> int:
        with self.db.read() as session:
            account = ledger.account_by_code(session, code)
            return ledger.balance(session, account.id).posted if account is not None else 0

    def count(self, model: Any, *where: Any) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def operations(self) -> int:
        return self.count(PaymentOperation)

    def check_ledger(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report

    def password_free(self, w: W, threshold: int) -> None:
        self.run(payments.set_password_free, w.customer_id, enabled=True, threshold=threshold)


def confirm_with(customer_id: int, *, pin: str | None = PIN,
                 settings: Settings | None = None) -> Callable[[Any, int], str]:
    def confirm(session: Any, amount: int) -> str:
        return payments.confirm(session, customer_id, amount=amount, pin=pin, settings=settings)

    return confirm


@pytest.fixture
def sandbox_billers(db: Database) -> SandboxBillers:
    """The sandbox gateway as the app builds it, without latency and without waiting on a lost answer."""
    return SandboxBillers(db, latency_ms=0, sleep=lambda seconds: None)


@pytest.fixture
def kit(db: Database, settings: Settings, sandbox_billers: SandboxBillers, bills_clock: time_machine.Traveller) -> Kit:
    return Kit(db, settings, sandbox_billers)


# ---- pages and the JSON API ------------------------------------------------------------------------------

HTML = {"accept": "text/html"}


def signed_in(client: Any, kit: Kit, w: W) -> str:
    """Put a session of the holder in the client's cookie jar; returns the CSRF token for its forms."""
    from qianbao import credentials
    from qianbao.credentials import Principal
    from qianbao.web import auth

    with kit.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(w.customer_id), settings=kit.settings)
        token, csrf = started.token, credentials.csrf_token(started.record)
    client.cookies.set(auth.customer_cookie(kit.settings).name, token)
    return csrf


def bearer(kit: Kit, w: W) -> dict[str, str]:
    """Authorization header of an API session of the holder."""
    from qianbao import credentials
    from qianbao.credentials import Principal

    with kit.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(w.customer_id), settings=kit.settings)
    return {"Authorization": f"Bearer {started.token}"}


def form_value(html: str, name: str) -> str:
    import re

    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no field {name}"
    return found.group(1)


@pytest.fixture
def bills_client(app: Any, sandbox_billers: SandboxBillers) -> Iterator[Any]:
    """A TestClient of the app whose biller adapter is the sandbox without waiting."""
    from fastapi.testclient import TestClient

    app.state.biller_adapter = sandbox_billers
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
