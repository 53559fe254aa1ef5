"""Corrections: nothing in the journal changes; a reversing transfer points at the original, once."""

from __future__ import annotations

import pytest
from ledger_helpers import Chart, key, posted, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError


def pay(db: Database, chart: Chart, amount: int = 2_000) -> ledger.Transfer:
    with db.transaction() as s:
        return ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.merchant, amount=amount,
                                      code="pay", reference="order-7")


def test_a_reversal_posts_the_opposite_transfer_pointing_at_the_original(db: Database, funded: Chart) -> None:
    original = pay(db, funded)
    with db.transaction() as s:
        reversal = ledger.reverse(s, key=key(), transfer_id=original.id)
    assert (reversal.debit_account_id, reversal.credit_account_id, reversal.amount) == (
        funded.merchant, funded.alice, 2_000)
    assert reversal.reverses_id == original.id and reversal.code == "reversal" and reversal.reference == "order-7"
    assert posted(db, funded.alice) == 100_000 and posted(db, funded.merchant) == 0
    with db.read() as s:
        assert ledger.get_transfer(s, original.id) == original


def test_a_transfer_is_reversed_at_most_once(db: Database, funded: Chart) -> None:
    original = pay(db, funded)
    with db.transaction() as s:
        ledger.reverse(s, key=key(), transfer_id=original.id)
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.reverse(s, key=key(), transfer_id=original.id)
    assert refused.value.code == "LEDGER_ALREADY_REVERSED"
    assert snapshot(db) == before


def test_a_reversal_twice_in_one_batch_is_refused_the_second_time(db: Database, funded: Chart) -> None:
    original = pay(db, funded)
    with db.transaction() as s:
        results = ledger.create_transfers(s, [ledger.Reverse(key(), original.id), ledger.Reverse(key(), original.id)])
    assert [r.code for r in results] == ["OK", "LEDGER_ALREADY_REVERSED"]


def test_a_reversal_itself_cannot_be_reversed(db: Database, funded: Chart) -> None:
    original = pay(db, funded)
    with db.transaction() as s:
        reversal = ledger.reverse(s, key=key(), transfer_id=original.id)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.reverse(s, key=key(), transfer_id=reversal.id)
    assert refused.value.code == "LEDGER_NOT_REVERSIBLE"


@pytest.mark.parametrize("which", ["hold", "void"])
def test_holds_and_voids_are_not_reversed_but_voided_or_left(db: Database, funded: Chart, which: str) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5, code="pay",
                                      pending=True)
    target = hold
    if which == "void":
        with db.transaction() as s:
            target = ledger.void_pending(s, key=key(), pending_id=hold.id)
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.reverse(s, key=key(), transfer_id=target.id)
    assert refused.value.code == "LEDGER_NOT_REVERSIBLE"


def test_a_posted_hold_is_reversed_by_the_amount_posted(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=500, code="pay",
                                      pending=True)
        post = ledger.post_pending(s, key=key(), pending_id=hold.id, amount=300)
    with db.transaction() as s:
        assert ledger.reverse(s, key=key(), transfer_id=post.id).amount == 300
    assert posted(db, funded.bob) == 0


def test_a_reversal_obeys_the_balance_bounds(db: Database, funded: Chart) -> None:
    original = pay(db, funded)
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=funded.merchant, credit=funded.bank, amount=1_500, code="settle")
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.reverse(s, key=key(), transfer_id=original.id)
    assert refused.value.code == "LEDGER_INSUFFICIENT_FUNDS"


def test_reversing_an_unknown_transfer_is_refused(db: Database, funded: Chart) -> None:
    with db.transaction() as s, pytest.raises(QianbaoError) as refused:
        ledger.reverse(s, key=key(), transfer_id=55_555)
    assert refused.value.code == "LEDGER_TRANSFER_NOT_FOUND"
