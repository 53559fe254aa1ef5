"""End of day (轧账): the count by denomination against the drawer, the over/short to suspense with the
supervisor's sign-off, the drawer back to the vault, and the day report."""

from __future__ import annotations

import pytest
from counter_helpers import VAULT_FEN, Counter

from qianbao import counter, receipts
from qianbao.errors import QianbaoError


def _count_for(total: int) -> dict[int, int | str]:
    """Pieces per denomination adding up to `total` fen (greedy)."""
    counts: dict[int, int | str] = {}
    for denomination in counter.DENOMINATIONS:
        counts[denomination], total = divmod(total, denomination)
    assert total == 0
    return counts


def _declare(desk: Counter, total: int) -> counter.CounterSession:
    with desk.db.transaction() as session:
        day = counter.declare_end_of_day(session, desk.staff["teller"].id, _count_for(total))
        session.expunge(day)
        return day


def test_a_count_that_matches_returns_the_drawer_to_the_vault_and_closes_the_day(desk: Counter) -> None:
    day_id = desk.open_day()
    desk.cash("cash_in", 30_000)
    day = _declare(desk, 2_030_000)
    assert day.status == "closed" and day.difference == 0
    assert desk.account("TD-0101-T9101") == 0
    assert desk.account("BV-0101") == VAULT_FEN + 30_000
    assert desk.account("SU-CASH-0101") == 0
    with desk.db.read() as session:
        assert counter.live_session(session, desk.staff["teller"].id) is None
        assert receipts.receipt_for(session, counter.DAY_REPORT_KIND, day_id) is not None
    desk.check_ledger()


def test_a_shortage_waits_for_the_supervisor_then_posts_against_suspense(desk: Counter) -> None:
    desk.open_day()
    desk.cash("cash_in", 30_000)
    day = _declare(desk, 2_030_000 - 1_000)  # 10 yuan short
    assert day.status == "balancing" and day.difference == -1_000
    assert desk.expected() == 2_030_000  # nothing moved yet
    request = desk.latest_request()
    assert request.kind == counter.APPROVAL_EOD and request.summary_key == "counter.approval.eod_short"
    desk.approve_latest("supervisor")
    assert desk.account("SU-CASH-0101") == 1_000
    assert desk.account("TD-0101-T9101") == 0
    assert desk.account("BV-0101") == VAULT_FEN - 2_000_000 + 2_029_000
    desk.check_ledger()
    with desk.db.read() as session:
        closed = counter.get_session(session, day.id)
        assert closed.status == "closed" and closed.signed_off_by == desk.staff["supervisor"].id
        kinds = [op.kind for op in counter.operations_of(session, day.id)]
    assert kinds == ["float", "cash_in", "over_short", "vault_return"]


def test_an_overage_posts_the_other_way(desk: Counter) -> None:
    desk.open_day()
    _declare(desk, 2_000_500)
    desk.approve_latest("supervisor")
    assert desk.account("SU-CASH-0101") == -500
    assert desk.account("BV-0101") == VAULT_FEN + 500
    desk.check_ledger()


def test_a_rejected_difference_reopens_the_day_for_a_recount(desk: Counter) -> None:
    desk.open_day()
    _declare(desk, 1_999_000)
    desk.approve_latest("supervisor", approve=False, reason="count again")
    assert desk.expected() == 2_000_000
    with desk.db.read() as session:
        live = counter.live_session(session, desk.staff["teller"].id)
        assert live is not None and live.status == "open" and live.counted_total is None
    assert _declare(desk, 2_000_000).status == "closed"


def test_the_teller_cannot_sign_off_their_own_difference(desk: Counter) -> None:
    with desk.db.transaction() as session:
        counter.open_day(session, desk.staff["supervisor"].id, 1_000_000)
    desk.approve_latest("supervisor2")
    with desk.db.transaction() as session:
        counter.declare_end_of_day(session, desk.staff["supervisor"].id, {10000: 99})
    with pytest.raises(QianbaoError) as refused:
        desk.approve_latest("supervisor")
    assert refused.value.code == "SELF_APPROVAL_FORBIDDEN"
    assert desk.account("SU-CASH-0101") == 0


def test_the_day_cannot_close_while_an_operation_is_pending(desk: Counter) -> None:
    desk.open_day()
    desk.start_cash("cash_in", 10_000)
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.declare_end_of_day(session, desk.staff["teller"].id, _count_for(2_000_000))
    assert refused.value.code == "COUNTER_OPERATIONS_PENDING"
    assert desk.expected() == 2_000_000


@pytest.mark.parametrize("counts", [{10000: "-1"}, {10000: "1.5"}, {10000: "abc"}, {3000: 1}])
def test_a_count_that_is_not_whole_pieces_of_a_real_denomination_is_refused(desk: Counter, counts: dict) -> None:  # type: ignore[type-arg]
    desk.open_day()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.declare_end_of_day(session, desk.staff["teller"].id, counts)
    assert refused.value.code == "COUNTER_COUNT_INVALID"
    with desk.db.read() as session:
        live = counter.live_session(session, desk.staff["teller"].id)
        assert live is not None and live.status == "open"


def test_the_day_report_lists_every_operation_in_both_languages(desk: Counter) -> None:
    day_id = desk.open_day()
    desk.cash("cash_in", 30_000)
    _declare(desk, 2_029_000)
    desk.approve_latest("supervisor")
    with desk.db.transaction() as session:
        receipt = receipts.receipt_for(session, counter.DAY_REPORT_KIND, day_id)
        assert receipt is not None
        zh = receipts.print_receipt(session, receipt.id, desk.staff["teller"].id, "zh-CN")
        en = receipts.print_receipt(session, receipt.id, desk.staff["teller"].id, "en")
        serials = [receipts.receipt_for(session, counter.RECEIPT_KIND, op.id).serial  # type: ignore[union-attr]
                   for op in counter.operations_of(session, day_id)]
    rows = zh.document.table.rows if zh.document.table else ()
    assert [row[-1] for row in rows] == serials
    assert [row[1] for row in rows] == ["领取备用金", "现金存入", "短款挂账", "尾箱上缴金库"]
    facts = dict(en.document.facts)
    assert facts["Difference"] == "Short by CN¥10.00 (posted to suspense)"
    assert dict(zh.document.facts)["差额"].startswith("短款")
    assert en.pdf().startswith(b"%PDF")
