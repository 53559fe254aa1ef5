"""One-phase transfers: double entry, balance bounds, and the balances they leave."""

from __future__ import annotations

import pytest
from ledger_helpers import Chart, available, fund, key, posted, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError


def test_a_transfer_debits_one_account_and_credits_the_other(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        transfer = ledger.create_transfer(
            s, key=key(), debit=funded.alice, credit=funded.bob, amount=1_234, code="p2p", reference="order-1",
            user_data={"note": "午饭"},
        )
    assert (transfer.kind, transfer.amount, transfer.reference, transfer.user_data) == (
        "posted", 1_234, "order-1", {"note": "午饭"})
    assert posted(db, funded.alice) == 100_000 - 1_234
    assert posted(db, funded.bob) == 1_234
    with db.read() as s:
        assert ledger.get_transfer(s, transfer.id) == transfer


def test_a_top_up_grows_both_the_bank_clearing_asset_and_the_wallet_liability(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 700)
    assert posted(db, chart.bank) == 700
    assert posted(db, chart.alice) == 700


def test_a_wallet_cannot_pay_more_than_it_holds(db: Database, funded: Chart) -> None:
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=100_001, code="p2p")
    assert refused.value.code == "LEDGER_INSUFFICIENT_FUNDS"
    assert refused.value.params == {"account": "W-ALICE"}
    assert snapshot(db) == before


def test_a_wallet_can_pay_exactly_its_whole_balance(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=100_000, code="p2p")
    assert posted(db, funded.alice) == 0


def test_a_bank_clearing_account_may_go_below_zero(db: Database, chart: Chart) -> None:
    fund(db, chart, chart.alice, 100)
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bank, amount=100, code="withdraw")
        ledger.create_transfer(s, key=key(), debit=chart.fees, credit=chart.bank, amount=50, code="fee_refund")
    assert posted(db, chart.bank) == -50
    assert posted(db, chart.fees) == -50


def test_a_teller_drawer_cannot_pay_out_more_cash_than_it_holds(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        vault = ledger.open_account(s, "branch_vault", code="BV-1")
        drawer = ledger.open_account(s, "teller_drawer", code="TD-1")
        equity = ledger.open_account(s, "suspense", code="SU-CASH-IN")
        ledger.create_transfer(s, key=key(), debit=vault.id, credit=equity.id, amount=10_000, code="cash_delivery")
        ledger.create_transfer(s, key=key(), debit=drawer.id, credit=vault.id, amount=3_000, code="float")
    fund(db, chart, chart.alice, 5_000)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=drawer.id, amount=3_001, code="cash_out")
    assert refused.value.code == "LEDGER_INSUFFICIENT_FUNDS"
    assert refused.value.params == {"account": "TD-1"}
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=drawer.id, amount=3_000, code="cash_out")
    assert posted(db, drawer.id) == 0


def test_a_credit_over_the_recipients_cap_is_refused_without_naming_its_balance(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        capped = ledger.open_account(s, "customer_wallet", code="W-TIER4", cap=1_000_000)
    fund(db, chart, capped.id, 999_000)
    fund(db, chart, chart.alice, 5_000)
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=capped.id, amount=1_001, code="p2p")
    assert refused.value.code == "LEDGER_CAP_EXCEEDED"
    assert "999" not in refused.value.message("zh-CN") and "999" not in refused.value.message("en")
    assert snapshot(db) == before
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.alice, credit=capped.id, amount=1_000, code="p2p")
    assert posted(db, capped.id) == 1_000_000


def test_incoming_holds_count_against_the_cap(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        capped = ledger.open_account(s, "customer_wallet", code="W-CAP", cap=1_000)
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=capped.id, amount=800, code="topup",
                               pending=True)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=capped.id, amount=201, code="topup")
    assert refused.value.code == "LEDGER_CAP_EXCEEDED"


def test_an_account_total_that_would_overflow_64_bits_is_refused(db: Database, chart: Chart) -> None:
    biggest = 2**63 - 1
    fund(db, chart, chart.alice, biggest)
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=1, code="topup")
    assert refused.value.code == "LEDGER_BALANCE_OVERFLOW"
    assert snapshot(db) == before


def test_transfers_between_accounts_of_different_currencies_are_refused(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        usd = ledger.open_account(s, "suspense", code="SU-USD", currency="USD")
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, key=key(), debit=usd.id, credit=chart.alice, amount=1, code="fx")
    assert refused.value.code == "LEDGER_CURRENCY_MISMATCH"
    assert refused.value.params == {"debit": "USD", "credit": "CNY"}
    assert snapshot(db) == before


def test_a_refusal_leaves_the_session_usable_for_the_callers_next_write(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        with pytest.raises(QianbaoError):
            ledger.create_transfer(s, key=key(), debit=funded.bob, credit=funded.alice, amount=1, code="p2p")
        ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=1, code="p2p")
    assert available(db, funded.bob) == 1


def test_the_database_itself_refuses_a_wallet_below_zero(db: Database, funded: Chart) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.transaction() as s:
        s.execute(text("UPDATE ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = :a"),
                  {"a": funded.alice})
