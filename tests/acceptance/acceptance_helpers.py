"""The independent client of the acceptance tests: everything it does to money goes over HTTP to a real
uvicorn server running `qianbao.app` (tests/browser/browser_harness.py's LiveServer). Only the setting up
(opening wallets, funding them, a staff fee change) and the final checks read or write the database directly.
"""

from __future__ import annotations

import itertools
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))

from browser_harness import LiveServer
from sqlalchemy import select

from qianbao import ledger, payments, wallets
from qianbao.adapters.sms import latest_messages
from qianbao.db import Database
from qianbao.notices.delivery import deliver_due
from qianbao.payments import Order, Party
from qianbao.pii.keyring import Keyring
from qianbao.settings import Settings

PASSWORD = "Lantern-Harbour-42"
PIN = "258036"
YUAN = 100
_PHONES = itertools.count(13600000001)
_FUNDING_KEYS = itertools.count(1)


@pytest.fixture(autouse=True)
def _keys(keyring: Keyring) -> Keyring:
    return keyring


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # cheap argon2 for passwords and PINs: many threads check PINs at once on two shared cores
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@dataclass
class Customer:
    customer_id: int
    wallet_id: int
    account_id: int
    number: str
    phone: str
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "accept": "application/json"}


@dataclass
class Live:
    """The server, its database and an HTTP client for the test's threads (httpx.Client is thread-safe)."""

    db: Database
    settings: Settings
    server: LiveServer
    http: httpx.Client
    app: Any = None
    funded: int = 0
    customers: list[Customer] = field(default_factory=list)

    # ---- setting up -------------------------------------------------------------------------------------

    def open(self, *, pin: bool = True, tier: int | None = None) -> Customer:
        phone = str(next(_PHONES))
        with self.db.transaction() as session:
            issued = wallets.start_registration(session, phone, "10.0.0.1", "zh-CN", send=False,
                                                settings=self.settings)
        with self.db.transaction() as session:
            customer, wallet = wallets.complete_registration(session, phone, issued.code, PASSWORD, True,
                                                             settings=self.settings)
            found = Customer(int(customer.id), int(wallet.id), int(wallet.ledger_account_id), str(wallet.number),
                             phone)
        if pin:
            with self.db.transaction() as session:
                wallets.set_payment_pin(session, found.customer_id, PIN, settings=self.settings)
        if tier is not None and tier != 4:
            from qianbao.wallets.tiers import upgrade

            with self.db.transaction() as session:
                upgrade(session, wallets.get_wallet(session, found.wallet_id), tier, cause="counter",
                        channel="counter")
        self.customers.append(found)
        return found

    def fund(self, customer: Customer, fen: int) -> None:
        """Money in from the bank clearing account (a finished top-up), counted as funded."""
        with self.db.transaction() as session:
            clearing = payments.system_account(session, "bank_clearing:TESTBANK")
            payments.execute(session, Order(
                key=f"acceptance-funding:{next(_FUNDING_KEYS)}:{uuid.uuid4().hex[:8]}", kind="topup",
                payer=Party.account(clearing, "测试银行 储蓄卡 1234"), payee=Party.wallet(customer.wallet_id),
                amount=fen, confirmation="system", channel="system"))
        self.funded += fen

    def sign_in(self, customer: Customer) -> Customer:
        """Sign in over HTTP from a device the customer never used: password, then the texted code."""
        device = f"acceptance-{uuid.uuid4().hex[:20]}"
        first = self.http.post("/api/v1/sessions", json={"phone": customer.phone, "password": PASSWORD,
                                                        "device_id": device})
        assert first.status_code == 200, first.text
        step = first.json()
        assert step["status"] == "sms_required", step
        second = self.http.post("/api/v1/sessions", json={"ticket": step["ticket"], "code": self.texted_code(
            customer.phone), "device_id": device})
        assert second.status_code == 201, second.text
        customer.token = second.json()["token"]
        return customer

    def texted_code(self, phone: str) -> str:
        deliver_due(self.db, self.settings)
        with self.db.read() as session:
            for message in latest_messages(session, phone=phone):
                found = re.search(r"\b(\d{6})\b", message.text)
                if found:
                    return found.group(1)
        raise AssertionError(f"no code was texted to {phone}")

    # ---- reading back -----------------------------------------------------------------------------------

    def balance(self, customer: Customer) -> int:
        with self.db.read() as session:
            return int(ledger.balance(session, customer.account_id).posted)

    def api_balance(self, customer: Customer) -> int:
        answer = self.http.get("/api/v1/wallet", headers=customer.auth)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["balance"]["posted"]["fen"])

    def ledger_ok(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report

    def ledger_cli_ok(self, tmp_path: Path) -> None:
        """`qianbao ledger check` against the test's database exits 0."""
        from typer.testing import CliRunner

        from qianbao.cli import app as cli

        env = {"QIANBAO_DATABASE_URL": self.settings.database_url, "QIANBAO_DATA_DIR": str(tmp_path),
               "QIANBAO_CLI_LANG": "en", "COLUMNS": "200"}
        result = CliRunner().invoke(cli, ["ledger", "check"], env=env)
        assert result.exit_code == 0, result.output

    def records(self, customer: Customer, **filters: Any) -> list[dict[str, Any]]:
        """Every history row of the customer's wallet, over the API, page by page."""
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, **filters}
        while True:
            answer = self.http.get("/api/v1/records", params=params, headers=customer.auth)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            rows.extend(body["records"])
            if not body.get("next_cursor"):
                return rows
            params["cursor"] = body["next_cursor"]

    def operation_count(self, **where: Any) -> int:
        from qianbao.payments.models import PaymentOperation

        with self.db.read() as session:
            query = select(PaymentOperation)
            for name, value in where.items():
                query = query.where(getattr(PaymentOperation, name) == value)
            return len(list(session.scalars(query)))


@pytest.fixture
def live(app: Any, db: Database, settings: Settings) -> Iterator[Live]:
    # The migration seeds the fee schedule; the PostgreSQL test database is emptied between tests, and the
    # schedule's lazy re-seed inside concurrent read snapshots would be a test-only race: seed it first.
    from qianbao.payments.fees import ensure_default_fee_rules

    with db.transaction() as session:
        ensure_default_fee_rules(session)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60.0,
                                                 limits=httpx.Limits(max_connections=32)) as http:
        yield Live(db, settings, server, http, app)
