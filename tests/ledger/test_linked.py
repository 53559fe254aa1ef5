"""Linked groups: payment + fee, payment − coupon: every transfer of a group is made, or none is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from ledger_helpers import Chart, assert_ledger_ok, available, key, posted, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import Leg, NewTransfer, PostPending, VoidPending


def test_a_payment_with_its_fee_posts_as_one_group(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        group = ledger.create_group(s, key=key(), legs=[
            Leg(funded.alice, funded.merchant, 10_000, "pay"), Leg(funded.alice, funded.fees, 100, "fee"),
        ])
    assert [t.group_id for t in group] == [group[0].id, group[0].id]
    assert posted(db, funded.merchant) == 10_000 and posted(db, funded.fees) == 100
    with db.read() as s:
        assert [t.id for t in ledger.transfer_group(s, group[1].id)] == [group[0].id, group[1].id]


def test_a_group_with_one_failing_leg_moves_nothing(db: Database, funded: Chart) -> None:
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.create_group(s, key=key(), legs=[
            Leg(funded.alice, funded.merchant, 99_950, "pay"), Leg(funded.alice, funded.fees, 100, "fee"),
        ])
    assert refused.value.code == "LEDGER_INSUFFICIENT_FUNDS"
    assert snapshot(db) == before


def test_a_coupon_leg_funded_by_promotion_expense_posts_with_the_payment(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        promo = ledger.open_account(s, "promotion_expense", code="PE-COUPONS")
        ledger.create_group(s, key=key(), legs=[
            Leg(funded.alice, funded.merchant, 9_000, "pay"), Leg(promo.id, funded.merchant, 1_000, "coupon"),
        ])
    assert posted(db, funded.merchant) == 10_000
    assert posted(db, promo.id) == 1_000


def test_in_a_batch_a_failed_chain_reports_each_item_and_leaves_the_others(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), funded.alice, funded.bob, 10, "p2p"),
            NewTransfer(key(), funded.alice, funded.merchant, 10, "pay", linked=True),
            NewTransfer(key(), funded.alice, funded.fees, 200_000, "fee", linked=True),
            NewTransfer(key(), funded.alice, funded.fees, 1, "fee"),
            NewTransfer(key(), funded.alice, funded.bob, 20, "p2p"),
        ])
    assert [r.code for r in results] == [
        "OK", "LEDGER_LINKED_FAILED", "LEDGER_INSUFFICIENT_FUNDS", "LEDGER_LINKED_FAILED", "OK"]
    assert posted(db, funded.bob) == 30 and posted(db, funded.merchant) == 0 and posted(db, funded.fees) == 0


def test_a_chain_left_open_at_the_end_of_a_batch_is_refused(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), funded.alice, funded.bob, 10, "p2p"),
            NewTransfer(key(), funded.alice, funded.merchant, 10, "pay", linked=True),
            NewTransfer(key(), funded.alice, funded.fees, 1, "fee", linked=True),
        ])
    assert [r.code for r in results] == ["OK", "LEDGER_LINKED_FAILED", "LEDGER_LINKED_CHAIN_OPEN"]
    assert posted(db, funded.merchant) == 0


def test_a_group_cannot_mix_holds_and_plain_transfers(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), funded.alice, funded.merchant, 10, "pay", pending=True, linked=True),
            NewTransfer(key(), funded.alice, funded.fees, 1, "fee"),
        ])
    assert [r.code for r in results] == ["LEDGER_LINKED_FAILED", "LEDGER_GROUP_MIXED"]


def test_the_holds_of_a_group_share_one_timeout(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), funded.alice, funded.merchant, 10, "pay", pending=True, timeout=60, linked=True),
            NewTransfer(key(), funded.alice, funded.fees, 1, "fee", pending=True, timeout=61),
        ])
    assert [r.code for r in results] == ["LEDGER_LINKED_FAILED", "LEDGER_GROUP_TIMEOUT_MISMATCH"]


def held_group(db: Database, chart: Chart, timeout: int | None = None) -> list[ledger.Transfer]:
    with db.transaction() as s:
        return ledger.create_group(s, key=key(), pending=True, timeout=timeout, legs=[
            Leg(chart.alice, chart.bank, 50_000, "withdraw"), Leg(chart.alice, chart.fees, 50, "fee"),
        ])


def test_posting_one_hold_of_a_group_posts_the_whole_group(db: Database, funded: Chart) -> None:
    payout, fee = held_group(db, funded)
    with db.transaction() as s:
        ledger.post_pending(s, key=key(), pending_id=payout.id)
    with db.read() as s:
        assert ledger.get_transfer(s, fee.id).status == "posted"
        kinds = [(t.kind, t.status) for t in ledger.transfer_group(s, fee.id)]
    assert kinds == [("pending", "posted"), ("pending", "posted"), ("post", None), ("post", None)]
    assert posted(db, funded.alice) == 100_000 - 50_050 and posted(db, funded.fees) == 50
    assert_ledger_ok(db)


def test_voiding_one_hold_of_a_group_voids_the_whole_group(db: Database, funded: Chart) -> None:
    _payout, fee = held_group(db, funded)
    with db.transaction() as s:
        ledger.void_pending(s, key=key(), pending_id=fee.id)
    assert available(db, funded.alice) == 100_000
    assert_ledger_ok(db)


def test_a_group_can_be_posted_in_part_leg_by_leg(db: Database, funded: Chart) -> None:
    payout, fee = held_group(db, funded)
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            PostPending(key(), payout.id, 30_000, linked=True), PostPending(key(), fee.id, 30)])
    assert all(r.ok for r in results)
    assert posted(db, funded.alice) == 100_000 - 30_030 and available(db, funded.alice) == 100_000 - 30_030


def test_posting_one_hold_and_voiding_another_of_the_same_group_is_refused(db: Database, funded: Chart) -> None:
    payout, fee = held_group(db, funded)
    before = snapshot(db)
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            PostPending(key(), payout.id, linked=True), VoidPending(key(), fee.id)])
    assert [r.code for r in results] == ["LEDGER_LINKED_FAILED", "LEDGER_GROUP_SPLIT"]
    assert snapshot(db) == before


def test_the_holds_of_a_group_expire_together(db: Database, funded: Chart) -> None:
    with time_machine.travel(datetime(2099, 5, 1, tzinfo=UTC), tick=False) as clock:
        payout, fee = held_group(db, funded, timeout=30)
        clock.shift(31)
        with db.transaction() as s:
            assert ledger.sweep_expired(s, limit=1) == 2
        with db.read() as s:
            assert [ledger.get_transfer(s, t.id).status for t in (payout, fee)] == ["expired", "expired"]
        assert_ledger_ok(db)
