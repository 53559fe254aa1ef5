"""Accounts: kinds with their normal side and bounds, public codes, caps, freezing and closing."""

from __future__ import annotations

import pytest
from ledger_helpers import Chart, fund, key, posted

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError


@pytest.mark.parametrize(
    ("kind", "side", "no_negative"),
    [
        ("customer_wallet", "credit", True),
        ("merchant", "credit", True),
        ("biller", "credit", True),
        ("bank_clearing", "debit", False),
        ("teller_drawer", "debit", True),
        ("branch_vault", "debit", True),
        ("fee_income", "credit", False),
        ("promotion_expense", "debit", False),
        ("suspense", "debit", False),
    ],
)
def test_every_kind_opens_with_its_normal_side_and_default_bound(db: Database, kind: str, side: str,
                                                                 no_negative: bool) -> None:
    with db.transaction() as s:
        account = ledger.open_account(s, kind)
    assert (account.kind, account.normal_side, account.no_negative) == (kind, side, no_negative)
    assert account.currency == "CNY"
    assert not account.frozen and not account.closed


def test_an_account_has_a_public_code_distinct_from_its_id(db: Database) -> None:
    with db.transaction() as s:
        generated = ledger.open_account(s, "customer_wallet")
        chosen = ledger.open_account(s, "customer_wallet", code="6221000011112222")
    assert generated.code != str(generated.id) and len(generated.code) > 8
    assert chosen.code == "6221000011112222"
    with db.read() as s:
        assert ledger.account_by_code(s, "6221000011112222") == chosen


def test_an_account_code_is_used_once(db: Database) -> None:
    with db.transaction() as s:
        ledger.open_account(s, "merchant", code="M-1")
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.open_account(s, "merchant", code="M-1")
    assert refused.value.code == "LEDGER_ACCOUNT_CODE_TAKEN"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"kind": "savings"}, "LEDGER_ACCOUNT_KIND_INVALID"),
        ({"kind": "merchant", "currency": "XYZ"}, "LEDGER_CURRENCY_INVALID"),
        ({"kind": "merchant", "currency": "cny"}, "LEDGER_CURRENCY_INVALID"),
        ({"kind": "merchant", "cap": -1}, "LEDGER_CAP_INVALID"),
        ({"kind": "merchant", "cap": 1.5}, "LEDGER_CAP_INVALID"),
        ({"kind": "merchant", "code": "has space"}, "LEDGER_ACCOUNT_CODE_INVALID"),
        ({"kind": "merchant", "name": "x" * 101}, "LEDGER_ACCOUNT_NAME_INVALID"),
    ],
)
def test_opening_with_bad_attributes_is_refused(db: Database, kwargs: dict, code: str) -> None:
    kind = kwargs.pop("kind")
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.open_account(s, kind, **kwargs)
    assert refused.value.code == code


def test_ensure_account_opens_once_and_then_returns_the_same_account(db: Database) -> None:
    with db.transaction() as s:
        first = ledger.ensure_account(s, "fee_income", "FEE-INCOME")
    with db.transaction() as s:
        again = ledger.ensure_account(s, "fee_income", "FEE-INCOME")
    assert first == again


def test_a_usd_account_can_be_opened(db: Database) -> None:
    with db.transaction() as s:
        assert ledger.open_account(s, "suspense", currency="USD").currency == "USD"


def test_a_cap_set_later_binds_the_next_credit(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 5_000)
    with db.transaction() as s:
        ledger.set_cap(s, chart.alice, 6_000)
    fund(db, chart, chart.alice, 1_000)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=1, code="topup")
    assert refused.value.code == "LEDGER_CAP_EXCEEDED"
    with db.transaction() as s:
        ledger.set_cap(s, chart.alice, None)
    fund(db, chart, chart.alice, 1)
    assert posted(db, chart.alice) == 6_001


def test_a_cap_lowered_below_the_balance_stops_credits_but_not_debits(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 5_000)
    with db.transaction() as s:
        ledger.set_cap(s, chart.alice, 1_000)
    with db.transaction() as s, pytest.raises(QianbaoError):
        ledger.create_transfer(s, key=key(), debit=chart.bob, credit=chart.alice, amount=1, code="p2p")
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=4_500, code="p2p")
    fund(db, chart, chart.alice, 500)
    assert posted(db, chart.alice) == 1_000


def test_a_frozen_account_neither_pays_nor_receives(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 1_000)
    with db.transaction() as s:
        assert ledger.freeze(s, chart.alice).frozen
    for debit, credit in ((chart.alice, chart.bob), (chart.bank, chart.alice)):
        with db.transaction() as s, pytest.raises(QianbaoError) as refused:
            ledger.create_transfer(s, key=key(), debit=debit, credit=credit, amount=10, code="p2p")
        assert refused.value.code == "LEDGER_ACCOUNT_FROZEN"
        assert refused.value.params == {"account": "W-ALICE"}
    with db.transaction() as s:
        ledger.unfreeze(s, chart.alice)
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=10, code="p2p")


def test_only_an_empty_account_without_holds_can_be_closed(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 100)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.close_account(s, chart.alice)
    assert refused.value.code == "LEDGER_ACCOUNT_NOT_EMPTY"
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=100, code="p2p",
                                      pending=True)
    with db.transaction() as s:
        ledger.post_pending(s, key=key(), pending_id=hold.id)
        ledger.create_transfer(s, key=key(), debit=chart.bob, credit=chart.bank, amount=100, code="withdraw")
    with db.transaction() as s:
        assert ledger.close_account(s, chart.bob).closed
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.close_account(s, chart.bob)
    assert refused.value.code == "LEDGER_ACCOUNT_CLOSED"


def test_flag_changes_on_an_unknown_account_are_refused(db: Database) -> None:
    for change in (ledger.freeze, ledger.unfreeze, ledger.close_account):
        with db.transaction() as s, pytest.raises(QianbaoError) as refused:
            change(s, 999_999)
        assert refused.value.code == "LEDGER_ACCOUNT_NOT_FOUND"


def test_ensure_account_refuses_a_code_held_by_another_kind(db: Database) -> None:
    with db.transaction() as s:
        ledger.ensure_account(s, "fee_income", "SHARED")
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.ensure_account(s, "suspense", "SHARED")
    assert refused.value.code == "LEDGER_ACCOUNT_CODE_TAKEN"
