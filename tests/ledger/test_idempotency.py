"""Idempotency: a retry returns the original result and moves nothing; a reused key is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ledger_helpers import Chart, key, posted, seen_codes, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import Leg, NewTransfer
from qianbao.ledger.jobs import purge_keys_job
from qianbao.settings import Settings


def test_a_retry_with_the_same_key_returns_the_original_and_moves_nothing(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        first = ledger.create_transfer(s, key="pay-1", debit=funded.alice, credit=funded.bob, amount=700, code="p2p")
    before = snapshot(db)
    with db.transaction() as s:
        again = ledger.create_transfer(s, key="pay-1", debit=funded.alice, credit=funded.bob, amount=700, code="p2p")
    assert again.replayed and not first.replayed
    assert again.id == first.id and again.amount == 700
    assert snapshot(db) == before
    assert posted(db, funded.bob) == 700


@pytest.mark.parametrize("reference", [None, "it's \"quoted\"", "午饭 AA \\ \n", ""])
def test_a_retry_of_a_batch_item_is_recognised_whatever_its_reference_holds(
        db: Database, funded: Chart, reference: str | None) -> None:
    # A batch item's key is bound to the same digest whichever way the batch took.
    seen_codes("p2p")  # so that the batch takes the plain fast path
    item = NewTransfer(f"ref-{reference!r}", funded.alice, funded.bob, 700, "p2p", reference=reference)
    with db.transaction() as s:  # two items: a lone one may take PostgreSQL's one-statement way
        first = ledger.create_transfers(s, [item, NewTransfer(key(), funded.alice, funded.bob, 1, "p2p")])
    before = snapshot(db)
    with db.transaction() as s:
        again = ledger.create_transfer(s, key=item.key, debit=funded.alice, credit=funded.bob, amount=700,
                                       code="p2p", reference=reference)
    assert again.replayed and again.id == first[0].transfer_id
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "change", [{"amount": 701}, {"credit": "merchant"}, {"code": "pay"}, {"reference": "x"}, {"pending": True}])
def test_the_same_key_with_a_different_request_is_refused(db: Database, funded: Chart, change: dict) -> None:
    args = {"key": "pay-2", "debit": funded.alice, "credit": funded.bob, "amount": 700, "code": "p2p"}
    with db.transaction() as s:
        ledger.create_transfer(s, **args)
    if change.get("credit") == "merchant":
        change = {"credit": funded.merchant}
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_transfer(s, **{**args, **change})
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert snapshot(db) == before


def test_a_key_is_shared_by_every_kind_of_write(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key="h-1", debit=funded.alice, credit=funded.bob, amount=5, code="pay",
                                      pending=True)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.post_pending(s, key="h-1", pending_id=hold.id)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_post_returns_the_original_post(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=500, code="pay",
                                      pending=True)
    with db.transaction() as s:
        post = ledger.post_pending(s, key="post-1", pending_id=hold.id, amount=300)
    with db.transaction() as s:
        again = ledger.post_pending(s, key="post-1", pending_id=hold.id, amount=300)
    assert again.replayed and again.id == post.id
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.post_pending(s, key="post-1", pending_id=hold.id, amount=200)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_group_returns_the_original_group(db: Database, funded: Chart) -> None:
    legs = [Leg(funded.alice, funded.merchant, 1_000, "pay"), Leg(funded.alice, funded.fees, 10, "fee")]
    with db.transaction() as s:
        first = ledger.create_group(s, key="order-9", legs=legs)
    before = snapshot(db)
    with db.transaction() as s:
        again = ledger.create_group(s, key="order-9", legs=legs)
    assert [t.id for t in again] == [t.id for t in first] and all(t.replayed for t in again)
    assert snapshot(db) == before


@pytest.mark.parametrize("legs", [1, 3])
def test_a_group_key_reused_for_a_group_of_another_shape_is_refused(db: Database, funded: Chart, legs: int) -> None:
    two = [Leg(funded.alice, funded.merchant, 1_000, "pay"), Leg(funded.alice, funded.fees, 10, "fee")]
    with db.transaction() as s:
        ledger.create_group(s, key="order-10", legs=two)
    other = [*two, Leg(funded.alice, funded.bob, 1, "tip")][:legs]
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_group(s, key="order-10", legs=other)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert snapshot(db) == before


def test_a_refused_request_leaves_no_key_so_its_retry_is_judged_afresh(db: Database, chart: Chart) -> None:
    args = {"key": "late-1", "debit": chart.alice, "credit": chart.bob, "amount": 500, "code": "p2p"}
    with db.transaction() as s, pytest.raises(QianbaoError):
        ledger.create_transfer(s, **args)
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=500, code="topup")
    with db.transaction() as s:
        assert not ledger.create_transfer(s, **args).replayed
    assert posted(db, chart.bob) == 500


def test_a_key_twice_in_one_batch_is_refused(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer("dup", funded.alice, funded.bob, 1, "p2p"), NewTransfer("dup", funded.alice, funded.bob, 1,
                                                                                "p2p")])
    assert [r.code for r in results] == ["OK", "LEDGER_BATCH_DUPLICATE_KEY"]
    assert posted(db, funded.bob) == 1


def test_a_batch_retried_whole_is_answered_item_by_item(db: Database, funded: Chart) -> None:
    items = [NewTransfer(f"b-{i}", funded.alice, funded.bob, 10 + i, "p2p") for i in range(5)]
    with db.transaction() as s:
        first = ledger.create_transfers(s, items[:3])
    with db.transaction() as s:
        second = ledger.create_transfers(s, items)
    assert [r.replayed for r in second] == [True, True, True, False, False]
    assert [r.transfer_id for r in second[:3]] == [r.transfer_id for r in first]
    assert posted(db, funded.bob) == sum(10 + i for i in range(5))


def test_keys_are_kept_for_the_retention_period_then_forgotten(db: Database, chart: Chart,
                                                                settings: Settings) -> None:
    start = datetime(2099, 1, 1, tzinfo=UTC)
    args = {"key": "old-1", "debit": chart.bank, "credit": chart.bob, "amount": 5, "code": "topup"}
    with time_machine.travel(start, tick=False) as clock:
        with db.transaction() as s:
            ledger.create_transfer(s, **args)
        clock.shift(timedelta(hours=47, minutes=59))
        assert purge_keys_job(db, settings) == 0
        with db.transaction() as s:
            assert ledger.create_transfer(s, **args).replayed
        clock.shift(timedelta(minutes=2))
        assert purge_keys_job(db, settings) == 1
    with db.read() as s:
        assert ledger.key_transfer(s, "old-1") is None


def test_the_retention_period_is_never_shorter_than_a_day(db: Database, chart: Chart) -> None:
    start = datetime(2099, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        with db.transaction() as s:
            ledger.create_transfer(s, key="k-day", debit=chart.bank, credit=chart.bob, amount=5, code="topup")
        clock.shift(timedelta(hours=23))
        with db.transaction() as s:
            assert ledger.purge_keys(s, retention_hours=1) == 0
