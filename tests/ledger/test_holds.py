"""Two-phase transfers: a hold reduces what is available; post (in full or part), void, and timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ledger_helpers import Chart, assert_ledger_ok, available, key, posted, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger.jobs import sweep_job
from qianbao.settings import Settings

# In the future, so that holds the tests leave waiting are not overdue when the fixture checks the ledger.
START = datetime(2099, 3, 1, 9, 0, tzinfo=UTC)


def hold(db: Database, chart: Chart, amount: int, timeout: int | None = None) -> ledger.Transfer:
    with db.transaction() as s:
        return ledger.create_transfer(s, key=key("hold"), debit=chart.alice, credit=chart.merchant, amount=amount,
                                      code="pay", pending=True, timeout=timeout)


def test_a_hold_reduces_the_available_balance_but_not_the_posted_one(db: Database, funded: Chart) -> None:
    h = hold(db, funded, 30_000)
    with db.read() as s:
        payer = ledger.balance(s, funded.alice)
        payee = ledger.balance(s, funded.merchant)
    assert (payer.posted, payer.held, payer.available) == (100_000, 30_000, 70_000)
    assert (payee.posted, payee.incoming, payee.available) == (0, 30_000, 0)
    assert h.status == "pending"


def test_holds_cannot_reserve_more_than_is_available(db: Database, funded: Chart) -> None:
    hold(db, funded, 60_000)
    with pytest.raises(QianbaoError) as refused:
        hold(db, funded, 40_001)
    assert refused.value.code == "LEDGER_INSUFFICIENT_FUNDS"
    with db.transaction() as s, pytest.raises(QianbaoError):
        ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=40_001, code="p2p")


def test_posting_a_hold_in_full_moves_the_money(db: Database, funded: Chart) -> None:
    h = hold(db, funded, 30_000)
    with db.transaction() as s:
        post = ledger.post_pending(s, key=key(), pending_id=h.id)
    assert (post.kind, post.amount, post.pending_id) == ("post", 30_000, h.id)
    assert posted(db, funded.alice) == 70_000 and available(db, funded.alice) == 70_000
    assert posted(db, funded.merchant) == 30_000
    with db.read() as s:
        assert ledger.get_transfer(s, h.id).status == "posted"


def test_posting_part_of_a_hold_releases_the_rest(db: Database, funded: Chart) -> None:
    h = hold(db, funded, 30_000)
    with db.transaction() as s:
        ledger.post_pending(s, key=key(), pending_id=h.id, amount=12_000)
    assert posted(db, funded.alice) == 88_000 and available(db, funded.alice) == 88_000
    with db.read() as s:
        assert ledger.balance(s, funded.merchant).incoming == 0
    assert posted(db, funded.merchant) == 12_000


def test_voiding_a_hold_releases_all_of_it(db: Database, funded: Chart) -> None:
    h = hold(db, funded, 30_000)
    with db.transaction() as s:
        void = ledger.void_pending(s, key=key(), pending_id=h.id)
    assert (void.kind, void.amount) == ("void", 30_000)
    assert available(db, funded.alice) == 100_000 and posted(db, funded.merchant) == 0
    with db.read() as s:
        assert ledger.get_transfer(s, h.id).status == "voided"


def test_a_hold_can_be_posted_before_its_timeout(db: Database, funded: Chart) -> None:
    with time_machine.travel(START, tick=False) as clock:
        h = hold(db, funded, 500, timeout=60)
        assert h.timeout_at == START + timedelta(seconds=60)
        clock.shift(59)
        with db.transaction() as s:
            ledger.post_pending(s, key=key(), pending_id=h.id)
    assert posted(db, funded.merchant) == 500


@pytest.mark.parametrize("verb", ["post", "void"])
def test_a_hold_past_its_timeout_can_no_longer_be_posted_or_voided(db: Database, funded: Chart, verb: str) -> None:
    call = ledger.post_pending if verb == "post" else ledger.void_pending
    with time_machine.travel(START, tick=False) as clock:
        h = hold(db, funded, 500, timeout=60)
        clock.shift(60)
        before = snapshot(db)
        with db.transaction() as s, pytest.raises(QianbaoError) as refused:
            call(s, key=key(), pending_id=h.id)
        assert refused.value.code == "LEDGER_PENDING_EXPIRED"
        assert snapshot(db) == before
        with db.transaction() as s:
            assert ledger.sweep_expired(s) == 1


def test_the_sweep_releases_holds_past_their_timeout_and_only_those(db: Database, funded: Chart) -> None:
    with time_machine.travel(START, tick=False) as clock:
        short = hold(db, funded, 1_000, timeout=60)
        long = hold(db, funded, 2_000, timeout=3_600)
        forever = hold(db, funded, 4_000)
        clock.shift(61)
        with db.transaction() as s:
            assert ledger.sweep_expired(s) == 1
        with db.transaction() as s:
            assert ledger.sweep_expired(s) == 0
        with db.read() as s:
            assert [ledger.get_transfer(s, h.id).status for h in (short, long, forever)] == \
                ["expired", "pending", "pending"]
            assert ledger.balance(s, funded.alice).held == 6_000
        with db.transaction() as s, pytest.raises(QianbaoError) as refused:
            ledger.post_pending(s, key=key(), pending_id=short.id)
        assert refused.value.code == "LEDGER_PENDING_EXPIRED"
        assert_ledger_ok(db)


def test_the_worker_job_sweeps_expired_holds(db: Database, funded: Chart, settings: Settings) -> None:
    with time_machine.travel(START, tick=False) as clock:
        h = hold(db, funded, 1_000, timeout=10)
        assert sweep_job(db, settings) == 0
        clock.shift(11)
        assert sweep_job(db, settings) == 1
    with db.read() as s:
        assert ledger.get_transfer(s, h.id).status == "expired"
    assert available(db, funded.alice) == 100_000


def test_the_ledger_check_flags_an_expired_hold_the_sweep_has_not_reached(db: Database, funded: Chart) -> None:
    with time_machine.travel(START, tick=False) as clock:
        hold(db, funded, 1_000, timeout=10)
        clock.shift(11)
        with db.read() as s:
            report = ledger.check_invariants(s)
        assert report.failed_rules() == ["holds_within_timeout"]
        with db.transaction() as s:
            ledger.sweep_expired(s)
        assert_ledger_ok(db)


def test_a_hold_on_a_frozen_account_can_be_voided_but_not_posted(db: Database, funded: Chart) -> None:
    h = hold(db, funded, 1_000)
    with db.transaction() as s:
        ledger.freeze(s, funded.alice)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.post_pending(s, key=key(), pending_id=h.id)
    assert refused.value.code == "LEDGER_ACCOUNT_FROZEN"
    with db.transaction() as s:
        ledger.void_pending(s, key=key(), pending_id=h.id)
    assert available(db, funded.alice) == 100_000


def test_posting_a_top_up_hold_respects_a_cap_lowered_meanwhile(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        wallet = ledger.open_account(s, "customer_wallet", cap=10_000)
        h = ledger.create_transfer(s, key=key(), debit=chart.bank, credit=wallet.id, amount=8_000, code="topup",
                                   pending=True)
        ledger.set_cap(s, wallet.id, 5_000)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.post_pending(s, key=key(), pending_id=h.id)
    assert refused.value.code == "LEDGER_CAP_EXCEEDED"
    with db.transaction() as s:
        ledger.post_pending(s, key=key(), pending_id=h.id, amount=5_000)
    assert posted(db, wallet.id) == 5_000


def test_the_worker_runs_the_ledgers_jobs() -> None:
    from qianbao.worker import jobs

    assert {"ledger_sweep", "ledger_purge_keys"} <= {job.name for job in jobs()}


def test_the_sweep_releases_many_expired_holds_in_one_go(db: Database, funded: Chart) -> None:
    with time_machine.travel(START, tick=False) as clock:
        with db.transaction() as s:
            ledger.create_transfers(s, [ledger.NewTransfer(key(), funded.alice, funded.merchant, 10, "pay",
                                                           pending=True, timeout=30) for _ in range(120)])
        clock.shift(31)
        with db.transaction() as s:
            assert ledger.sweep_expired(s, limit=500) == 120
        assert available(db, funded.alice) == 100_000
        assert_ledger_ok(db)
