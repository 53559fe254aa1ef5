"""Reads: balances now and at a past moment, postings page by page, a transfer with its group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ledger_helpers import Chart, key

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError

T0 = datetime(2099, 6, 1, 8, 0, tzinfo=UTC)


def test_balance_as_of_a_past_moment_replays_posts_holds_and_their_resolutions(db: Database, chart: Chart) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        with db.transaction() as s:  # 08:00 top-up 10,000
            ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=10_000, code="topup")
        clock.shift(timedelta(hours=1))
        with db.transaction() as s:  # 09:00 hold 3,000
            hold = ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.merchant, amount=3_000,
                                          code="pay", pending=True)
        clock.shift(timedelta(hours=1))
        with db.transaction() as s:  # 10:00 post 2,000 of it
            ledger.post_pending(s, key=key(), pending_id=hold.id, amount=2_000)
        clock.shift(timedelta(hours=1))
        with db.transaction() as s:  # 11:00 new hold 500 that stays
            ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=500, code="pay",
                                   pending=True)
        clock.shift(timedelta(hours=1))

        def at(hour: int, minute: int = 30) -> tuple[int, int, int]:
            with db.read() as s:
                b = ledger.balance_as_of(s, chart.alice, T0.replace(hour=hour, minute=minute))
            return b.posted, b.held, b.available

        assert at(7) == (0, 0, 0)
        assert at(8) == (10_000, 0, 10_000)
        assert at(9) == (10_000, 3_000, 7_000)
        assert at(10) == (8_000, 0, 8_000)
        assert at(11) == (8_000, 500, 7_500)
        with db.read() as s:
            now = ledger.balance(s, chart.alice)
            merchant = ledger.balance_as_of(s, chart.merchant, T0.replace(hour=9, minute=30))
        assert (now.posted, now.held) == (8_000, 500)
        assert (merchant.posted, merchant.incoming) == (0, 3_000)
        with db.transaction() as s:
            ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=1, code="p2p")


def test_a_moment_without_a_time_zone_is_refused(db: Database, chart: Chart) -> None:
    with db.read() as s, pytest.raises(QianbaoError) as refused:
        ledger.balance_as_of(s, chart.alice, datetime(2026, 1, 1))
    assert refused.value.code == "LEDGER_MOMENT_INVALID"


def test_postings_come_newest_first_page_by_page_with_a_cursor(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        made = [ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=i + 1,
                                       code="p2p").id for i in range(7)]
        made.append(ledger.create_transfer(s, key=key(), debit=funded.bob, credit=funded.alice, amount=3,
                                           code="p2p").id)
    seen: list[int] = []
    cursor = None
    pages = 0
    with db.read() as s:
        while True:
            page = ledger.postings(s, funded.alice, limit=3, cursor=cursor)
            seen += [p.transfer_id for p in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        first = ledger.postings(s, funded.alice, limit=1).items[0]
    assert pages == 3
    funding = seen[-1]
    assert seen == [*reversed(made), funding]
    assert (first.direction, first.posted_delta, first.counterparty_account_id) == ("credit", 3, funded.bob)


def test_a_posting_shows_the_change_of_the_accounts_own_balance(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=900, code="topup")
    with db.read() as s:
        bank = ledger.postings(s, chart.bank).items[0]
        wallet = ledger.postings(s, chart.alice).items[0]
    assert (bank.direction, bank.posted_delta) == ("debit", 900)  # an asset grows on its debit side
    assert (wallet.direction, wallet.posted_delta) == ("credit", 900)


@pytest.mark.parametrize("cursor", ["garbage", "-1", "1.5", ""])
def test_a_forged_cursor_is_refused(db: Database, chart: Chart, cursor: str) -> None:
    with db.read() as s, pytest.raises(QianbaoError) as refused:
        ledger.postings(s, chart.alice, cursor=cursor)
    assert refused.value.code == "LEDGER_CURSOR_INVALID"


@pytest.mark.parametrize("limit", [0, 501, "10"])
def test_a_page_size_out_of_range_is_refused(db: Database, chart: Chart, limit: object) -> None:
    with db.read() as s, pytest.raises(QianbaoError) as refused:
        ledger.postings(s, chart.alice, limit=limit)  # type: ignore[arg-type]
    assert refused.value.code == "LEDGER_PAGE_SIZE_INVALID"


def test_a_hold_is_shown_with_its_resolution(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5, code="pay",
                                      pending=True)
        void = ledger.void_pending(s, key=key(), pending_id=hold.id)
    with db.read() as s:
        assert [t.id for t in ledger.transfer_group(s, hold.id)] == [hold.id, void.id]
        assert [t.id for t in ledger.transfer_group(s, void.id)] == [hold.id, void.id]


def test_reading_an_unknown_account_or_transfer_is_refused(db: Database) -> None:
    with db.read() as s:
        for read in (lambda: ledger.balance(s, 404), lambda: ledger.postings(s, 404),
                     lambda: ledger.balance_as_of(s, 404, datetime.now(UTC))):
            with pytest.raises(QianbaoError) as refused:
                read()
            assert refused.value.code == "LEDGER_ACCOUNT_NOT_FOUND"
        with pytest.raises(QianbaoError) as refused:
            ledger.get_transfer(s, 404)
        assert refused.value.code == "LEDGER_TRANSFER_NOT_FOUND"


def test_an_accounts_journal_never_goes_back_in_time_even_when_a_clock_does(db: Database, chart: Chart) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        with db.transaction() as s:
            first = ledger.create_transfer(s, key=key(), debit=chart.bank, credit=chart.alice, amount=5, code="topup")
        clock.move_to(T0 - timedelta(minutes=5))  # another server, five minutes behind
        with db.transaction() as s:
            second = ledger.create_transfer(s, key=key(), debit=chart.alice, credit=chart.bob, amount=2, code="p2p")
            elsewhere = ledger.create_transfer(s, key=key(), debit=chart.fees, credit=chart.merchant, amount=1,
                                               code="adj")
    assert second.created_at == first.created_at == T0
    assert elsewhere.created_at == T0 - timedelta(minutes=5)  # accounts with no later row keep the clock's time
    with db.read() as s:
        assert ledger.balance_as_of(s, chart.alice, T0).posted == 3
