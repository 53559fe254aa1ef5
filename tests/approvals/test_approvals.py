"""Supervisor approvals: a teller asks, a supervisor of the same branch decides once, never their own request;
a rejection needs a reason; the owner's continuation runs with the decision, in the same unit of work."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qianbao import approvals
from qianbao.approvals import Summary
from qianbao.approvals.models import ApprovalRequest
from qianbao.audit.models import AuditEntry
from qianbao.errors import QianbaoError

KIND = "test.cash_out"
SUMMARY = Summary("teller.approvals.test.summary", {"amount_fen": 6_000_000, "wallet": "6217 **** 0042"})


def _ask(run, people, *, requester: str = "teller") -> ApprovalRequest:  # type: ignore[no-untyped-def]
    staff = people[requester]
    return run(approvals.request_approval, KIND, staff.member.branch_id, staff.id, "cash_out", "CO-1", SUMMARY)


def _status(db, approval_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.get(ApprovalRequest, approval_id).status  # type: ignore[union-attr]


def test_a_request_waits_in_its_branch_queue(run, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    assert (request.status, request.kind, request.subject_id) == ("pending", KIND, "CO-1")
    assert [r.id for r in run(approvals.pending_for_branch, people["teller"].member.branch_id)] == [request.id]
    assert run(approvals.pending_for_branch, people["other_teller"].member.branch_id) == []


def test_a_supervisor_of_the_branch_approves_and_the_continuation_runs(run, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    decided = run(approvals.decide, request.id, people["supervisor"].id, True, "")
    assert (decided.status, decided.decided_by, decided.reason) == ("approved", people["supervisor"].id, None)
    assert continuations.approved == [request.id] and continuations.rejected == []


def test_a_rejection_needs_a_reason_and_runs_the_rejection_handler(run, refusal, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    error = refusal(approvals.decide, request.id, people["supervisor"].id, False, "  ")
    assert error.code == "APPROVAL_REASON_REQUIRED"
    assert _status(db, request.id) == "pending"
    decided = run(approvals.decide, request.id, people["supervisor"].id, False, "客户身份存疑")
    assert (decided.status, decided.reason) == ("rejected", "客户身份存疑")
    assert continuations.rejected == [request.id] and continuations.approved == []


def test_nobody_approves_their_own_request(run, refusal, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people, requester="supervisor")
    error = refusal(approvals.decide, request.id, people["supervisor"].id, True, "")
    assert error.code == "SELF_APPROVAL_FORBIDDEN"
    assert _status(db, request.id) == "pending" and continuations.approved == []


def test_a_supervisor_of_another_branch_cannot_decide(run, refusal, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    error = refusal(approvals.decide, request.id, people["other_supervisor"].id, True, "")
    assert error.code == "APPROVAL_OTHER_BRANCH"
    assert _status(db, request.id) == "pending"


def test_a_teller_cannot_decide(run, refusal, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    assert refusal(approvals.decide, request.id, people["teller"].id, True, "").code == "APPROVAL_NOT_SUPERVISOR"


def test_a_request_is_decided_only_once(run, refusal, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    run(approvals.decide, request.id, people["supervisor"].id, True, "")
    error = refusal(approvals.decide, request.id, people["supervisor"].id, False, "改主意了")
    assert (error.code, error.params) == ("APPROVAL_ALREADY_DECIDED", {"decision": "approved"})
    assert continuations.approved == [request.id] and continuations.rejected == []


def test_a_continuation_that_refuses_leaves_the_request_pending(run, refusal, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    continuations.fail_with = QianbaoError("LEDGER_INSUFFICIENT_FUNDS")
    error = refusal(approvals.decide, request.id, people["supervisor"].id, True, "")
    assert error.code == "LEDGER_INSUFFICIENT_FUNDS"
    assert _status(db, request.id) == "pending"
    with db.read() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("approval.approved"))).all() == []


def test_a_request_of_an_unregistered_kind_is_refused(run, refusal, people) -> None:  # type: ignore[no-untyped-def]
    staff = people["teller"]
    error = refusal(approvals.request_approval, "nobody.owns_this", staff.member.branch_id, staff.id, "x", "1", SUMMARY)
    assert (error.code, error.params) == ("APPROVAL_KIND_UNKNOWN", {"kind": "nobody.owns_this"})


def test_a_teller_asks_only_in_their_own_branch(run, refusal, people, continuations) -> None:  # type: ignore[no-untyped-def]
    teller, elsewhere = people["teller"], people["other_teller"]
    error = refusal(approvals.request_approval, KIND, elsewhere.member.branch_id, teller.id, "cash_out", "1", SUMMARY)
    assert error.code == "APPROVAL_OTHER_BRANCH"


def test_the_requester_may_withdraw_a_pending_request(run, refusal, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    assert refusal(approvals.cancel, request.id, people["supervisor"].id).code == "APPROVAL_NOT_REQUESTER"
    cancelled = run(approvals.cancel, request.id, people["teller"].id, "客户离开")
    assert cancelled.status == "cancelled" and continuations.rejected == [request.id]
    assert refusal(approvals.decide, request.id, people["supervisor"].id, True, "").code == "APPROVAL_ALREADY_DECIDED"


def test_requests_and_decisions_are_audited_on_the_counter_channel(run, db, people, continuations) -> None:  # type: ignore[no-untyped-def]
    request = _ask(run, people)
    run(approvals.decide, request.id, people["supervisor"].id, False, "金额有误")
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.branch_id, AuditEntry.channel, AuditEntry.details)
            .where(AuditEntry.object_type == "approval").order_by(AuditEntry.seq)
        ).all()
    branch = str(people["teller"].member.branch_id)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("approval.requested", str(people["teller"].id), branch, "counter"),
        ("approval.rejected", str(people["supervisor"].id), branch, "counter"),
    ]
    assert rows[1][4]["reason"] == "金额有误"


def test_an_unknown_request_is_not_found(refusal, people) -> None:  # type: ignore[no-untyped-def]
    assert refusal(approvals.decide, 424242, people["supervisor"].id, True, "").code == "APPROVAL_NOT_FOUND"


@pytest.mark.parametrize(("lang", "text"), [("zh-CN", "¥60,000.00"), ("en", "CN¥60,000.00")])
def test_amounts_in_the_summary_are_shown_as_money(  # type: ignore[no-untyped-def]
    run, people, continuations, monkeypatch, lang: str, text: str
) -> None:
    request = _ask(run, people)
    seen: dict[str, object] = {}

    def translate(key: str, language: str, **params: object) -> str:
        seen.update(key=key, lang=language, **params)
        return "summary"

    monkeypatch.setattr(approvals.service, "translate", translate)
    assert approvals.summary_text(request, lang) == "summary"
    assert seen == {"key": SUMMARY.key, "lang": lang, "amount": text, "wallet": "6217 **** 0042"}


def test_two_supervisors_deciding_at_once_decide_it_once(run, db, people, make_staff, continuations) -> None:  # type: ignore[no-untyped-def]
    import threading

    request = _ask(run, people)
    deciders = [people["supervisor"], make_staff("supervisor", branch="0101")]
    barrier = threading.Barrier(len(deciders))
    outcomes: list[str] = []

    def decide(supervisor, approve: bool) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            with db.transaction() as session:
                approvals.decide(session, request.id, supervisor.id, approve, "" if approve else "不同意")
            outcomes.append("decided")
        except QianbaoError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=decide, args=(s, i == 0)) for i, s in enumerate(deciders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["APPROVAL_ALREADY_DECIDED", "decided"]
    assert len(continuations.approved) + len(continuations.rejected) == 1
