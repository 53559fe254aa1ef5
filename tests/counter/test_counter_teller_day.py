"""The teller's day: the float from the vault confirmed by a supervisor, one live day per teller, the drawer."""

from __future__ import annotations

import pytest
from counter_helpers import VAULT_FEN, Counter

from qianbao import counter
from qianbao.errors import QianbaoError


def test_the_float_waits_for_a_supervisor_then_moves_from_the_vault_to_the_drawer(desk: Counter) -> None:
    teller = desk.staff["teller"]
    with desk.db.transaction() as session:
        day = counter.open_day(session, teller.id, 2_000_000)
        assert day.status == "awaiting_float"
    assert desk.account("BV-0101") == VAULT_FEN
    assert desk.account("TD-0101-T9101") == 0
    desk.approve_latest("supervisor")
    assert desk.account("BV-0101") == VAULT_FEN - 2_000_000
    assert desk.expected() == 2_000_000
    with desk.db.read() as session:
        live = counter.live_session(session, teller.id)
        assert live is not None and live.status == "open"
    desk.check_ledger()


def test_one_live_day_per_teller(desk: Counter) -> None:
    desk.open_day()
    before = desk.journal_size()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.open_day(session, desk.staff["teller"].id, 100_000)
    assert refused.value.code == "COUNTER_SESSION_ALREADY_OPEN"
    assert desk.journal_size() == before
    assert desk.expected() == 2_000_000


def test_a_rejected_float_moves_nothing_and_the_teller_may_ask_again(desk: Counter) -> None:
    with desk.db.transaction() as session:
        counter.open_day(session, desk.staff["teller"].id, 2_000_000)
    desk.approve_latest("supervisor", approve=False, reason="too much")
    assert desk.account("BV-0101") == VAULT_FEN
    with desk.db.read() as session:
        assert counter.live_session(session, desk.staff["teller"].id) is None
    desk.open_day(float_fen=1_000_000)
    assert desk.expected() == 1_000_000


def test_a_float_larger_than_the_vault_is_refused(desk: Counter) -> None:
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.open_day(session, desk.staff["teller"].id, VAULT_FEN + 1)
    assert refused.value.code == "COUNTER_VAULT_SHORT"
    assert desk.account("BV-0101") == VAULT_FEN


def test_a_supervisor_cannot_approve_their_own_float(desk: Counter) -> None:
    with desk.db.transaction() as session:
        counter.open_day(session, desk.staff["supervisor"].id, 1_000_000)
    with pytest.raises(QianbaoError) as refused:
        desk.approve_latest("supervisor")
    assert refused.value.code == "SELF_APPROVAL_FORBIDDEN"
    assert desk.account("BV-0101") == VAULT_FEN
    desk.approve_latest("supervisor2")
    assert desk.expected("supervisor") == 1_000_000


def test_a_supervisor_of_another_branch_cannot_approve(desk: Counter) -> None:
    with desk.db.transaction() as session:
        counter.open_day(session, desk.staff["teller"].id, 1_000_000)
    request = desk.latest_request()
    from qianbao import approvals

    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        approvals.decide(session, request.id, desk.staff["other_supervisor"].id, approve=True)
    assert refused.value.code == "APPROVAL_OTHER_BRANCH"
    assert desk.account("BV-0101") == VAULT_FEN


def test_a_teller_without_an_open_day_cannot_take_cash(desk: Counter) -> None:
    ident = desk.ident()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", ident, 10_000)
    assert refused.value.code == "COUNTER_SESSION_NOT_OPEN"
    # Awaiting its float is not open either.
    with desk.db.transaction() as session:
        counter.open_day(session, desk.staff["teller"].id, 1_000_000)
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", ident, 10_000)
    assert refused.value.code == "COUNTER_SESSION_NOT_OPEN"


def test_two_tabs_opening_the_day_at_once_open_one(desk: Counter) -> None:
    import threading

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def open_one() -> None:
        barrier.wait()
        try:
            with desk.db.transaction() as session:
                counter.open_day(session, desk.staff["teller"].id, 100_000)
            outcomes.append("opened")
        except QianbaoError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["COUNTER_SESSION_ALREADY_OPEN", "opened"]
    with desk.db.read() as session:
        from qianbao import approvals

        assert len(approvals.pending_for_branch(session, desk.staff["teller"].member.branch_id)) == 1


def test_the_teller_may_withdraw_a_float_still_waiting(desk: Counter) -> None:
    with desk.db.transaction() as session:
        day = counter.open_day(session, desk.staff["teller"].id, 1_000_000)
        float_op = counter.operations_of(session, day.id)[0].id
    with desk.db.transaction() as session:
        counter.cancel_operation(session, float_op, desk.staff["teller"].id)
    assert desk.op(float_op).status == "cancelled"
    assert desk.account("BV-0101") == VAULT_FEN
    with desk.db.read() as session:
        assert counter.live_session(session, desk.staff["teller"].id) is None
        from qianbao import approvals

        assert approvals.pending_for_branch(session, desk.staff["teller"].member.branch_id) == []
