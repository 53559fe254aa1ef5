"""Ledger test helpers: a small chart of accounts, funding, and "nothing was written" snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from qianbao import ledger
from qianbao.db import Database
from qianbao.ledger.validate import check_code

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def seen_codes(*codes: str) -> None:
    """Make the engine know these transfer codes already, as it does after their first use in a process.

    An item whose code is new to the process is checked the long way; a known one can take the plain
    fast path. A test of that path calls this first, so that it does not depend on which tests ran before.
    """
    for code in codes:
        check_code(code)


@dataclass
class Chart:
    bank: int  # a bank's clearing account: where top-ups come from
    alice: int  # customer wallets
    bob: int
    merchant: int
    fees: int


@pytest.fixture
def chart(db: Database) -> Chart:
    with db.transaction() as s:
        return Chart(
            bank=ledger.open_account(s, "bank_clearing", code="BC-ICBC", name="ICBC clearing").id,
            alice=ledger.open_account(s, "customer_wallet", code="W-ALICE").id,
            bob=ledger.open_account(s, "customer_wallet", code="W-BOB").id,
            merchant=ledger.open_account(s, "merchant", code="M-SHOP").id,
            fees=ledger.open_account(s, "fee_income", code="FEE").id,
        )


def fund(db: Database, chart: Chart, account: int, amount: int) -> None:
    """Top an account up from the bank's clearing account."""
    with db.transaction() as s:
        ledger.create_transfer(s, key=key("fund"), debit=chart.bank, credit=account, amount=amount, code="topup")


def available(db: Database, account: int) -> int:
    with db.read() as s:
        return ledger.balance(s, account).available


def posted(db: Database, account: int) -> int:
    with db.read() as s:
        return ledger.balance(s, account).posted


def snapshot(db: Database) -> tuple:
    """Everything the ledger has written, to show that a refusal wrote nothing."""
    with db.read() as s:
        return tuple(
            tuple(s.execute(text(q)).all())
            for q in (
                "SELECT * FROM ledger_accounts ORDER BY id",
                "SELECT id, kind, amount FROM ledger_transfers ORDER BY id",
                "SELECT * FROM ledger_pending ORDER BY transfer_id",
                "SELECT key FROM ledger_idempotency ORDER BY key",
            )
        )


def assert_ledger_ok(db: Database) -> None:
    with db.read() as s:
        report = ledger.check_invariants(s)
    assert report.ok, {rule: report.breaches[rule] for rule in report.failed_rules()}


@pytest.fixture
def funded(db: Database, chart: Chart) -> Iterator[Chart]:
    fund(db, chart, chart.alice, 100_000)
    yield chart
    assert_ledger_ok(db)
