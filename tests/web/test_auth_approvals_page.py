"""The supervisor's approval queue in the teller console: the branch's pending requests with approve and
reject; decisions follow the approval rules and show their outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qianbao import approvals
from qianbao.approvals import Summary
from qianbao.approvals.models import ApprovalRequest

HTML = {"accept": "text/html"}
KIND = "test.page_kind"


@pytest.fixture
def continued() -> Iterator[list[int]]:
    done: list[int] = []
    approvals.register(KIND, on_approved=lambda session, request: done.append(request.id))
    yield done
    approvals.service._registry.pop(KIND, None)


@pytest.fixture
def supervisor(staff_client):  # type: ignore[no-untyped-def]
    return staff_client("supervisor", branch="0101")


def ask(db, staff, what: str = "大额取现") -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        request = approvals.request_approval(
            session, KIND, staff.member.branch_id, staff.id, "cash_out", "CO-7",
            Summary("approvals.summary.example", {"what": what, "amount_fen": 6_000_000}))
        return request.id


def decide(client, approval_id: int, decision: str, reason: str = ""):  # type: ignore[no-untyped-def]
    return client.post(f"/teller/approvals/{approval_id}/decide", headers=HTML, follow_redirects=False,
                       data={"decision": decision, "reason": reason, "csrf_token": client.csrf_token})


def test_the_queue_lists_the_branchs_pending_requests_in_the_supervisors_language(  # type: ignore[no-untyped-def]
    supervisor, make_staff, db, continued
) -> None:
    teller = make_staff("teller", branch="0101", name="王柜员")
    elsewhere = make_staff("teller", branch="0102")
    ask(db, teller)
    ask(db, elsewhere, "别的网点")
    page = supervisor.get("/teller/approvals", headers=HTML)
    assert page.status_code == 200
    assert "示例业务：大额取现，金额 ¥60,000.00" in page.text and "别的网点" not in page.text
    assert f"王柜员（{teller.employee_no}）于" in page.text
    assert '<span class="badge badge-warning" data-testid="pending-count">1</span>' in page.text
    english = supervisor.get("/teller/approvals", headers={**HTML, "accept-language": "en"}).text
    assert "Example operation: 大额取现, amount CN¥60,000.00" in english


def test_an_empty_queue_says_so(supervisor) -> None:  # type: ignore[no-untyped-def]
    assert "暂无待审批业务" in supervisor.get("/teller/approvals", headers=HTML).text


def test_approving_runs_the_operation_and_shows_the_decision(supervisor, make_staff, db, continued) -> None:  # type: ignore[no-untyped-def]
    approval_id = ask(db, make_staff("teller"))
    response = decide(supervisor, approval_id, "approve")
    assert (response.status_code, response.headers["location"]) == (303, "/teller/approvals?done=approved")
    assert continued == [approval_id]
    page = supervisor.get(response.headers["location"], headers=HTML).text
    assert "已同意，业务继续办理。" in page and "暂无待审批业务" in page and "已同意</span>" in page


def test_rejecting_needs_a_reason(supervisor, make_staff, db, continued) -> None:  # type: ignore[no-untyped-def]
    approval_id = ask(db, make_staff("teller"))
    refused = decide(supervisor, approval_id, "reject")
    assert refused.status_code == 422 and "拒绝时请填写原因" in refused.text
    assert decide(supervisor, approval_id, "reject", "客户身份存疑").headers["location"].endswith("done=rejected")
    with db.read() as session:
        request = session.get(ApprovalRequest, approval_id)
        assert (request.status, request.reason) == ("rejected", "客户身份存疑")  # type: ignore[union-attr]
    assert continued == []


def test_a_supervisor_cannot_approve_their_own_operation(supervisor, db, continued) -> None:  # type: ignore[no-untyped-def]
    approval_id = ask(db, supervisor.staff)
    response = decide(supervisor, approval_id, "approve")
    assert response.status_code == 403 and "不能审批自己发起的业务" in response.text
    assert continued == []


def test_another_branchs_request_is_refused(supervisor, make_staff, db, continued) -> None:  # type: ignore[no-untyped-def]
    approval_id = ask(db, make_staff("teller", branch="0102"))
    response = decide(supervisor, approval_id, "approve")
    assert response.status_code == 403 and 'data-code="ACCESS_OTHER_BRANCH"' in response.text
    assert continued == []


def test_a_request_is_decided_once(supervisor, staff_client, make_staff, db, continued) -> None:  # type: ignore[no-untyped-def]
    approval_id = ask(db, make_staff("teller"))
    decide(supervisor, approval_id, "approve")
    second = staff_client("supervisor", branch="0101")
    response = decide(second, approval_id, "reject", "晚了")
    assert response.status_code == 409 and "这条申请已经处理过了" in response.text


@pytest.mark.parametrize("role", ["teller", "operator", "auditor"])
def test_only_supervisors_reach_the_queue(staff_client, role: str) -> None:  # type: ignore[no-untyped-def]
    client = staff_client(role)
    assert client.get("/teller/approvals", headers=HTML).status_code == 403


def test_the_menu_offers_the_queue_to_supervisors_only(supervisor, staff_client) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/teller/approvals"' in supervisor.get("/teller", headers=HTML).text
    assert 'href="/teller/approvals"' not in staff_client("teller").get("/teller", headers=HTML).text
