"""Teller console, supervisor's view of the branch (SPEC §7): the vault, every teller's day and drawer,
the suspense account, and the way to the approval queue (/teller/approvals, qianbao.web.staff_pages:
drawer floats, large cash out, end-of-day differences and counter-opening exceptions, each approved or
rejected with a reason, audited, never by the requester).

    GET /teller/supervisor     the branch's cash position today
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from qianbao import approvals, counter, ledger, receipts
from qianbao.staff.models import StaffMember
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import render
from qianbao.web.teller_cash import branch_of, db_of

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class TellerDay:
    id: int
    teller: str
    status: str
    float_amount: int
    expected: int
    operations: int
    difference: int | None
    report_id: int | None


@router.get("/teller/supervisor", response_class=HTMLResponse)
def supervisor(request: Request, staff: StaffContext = Depends(requires("teller.approvals"))) -> HTMLResponse:
    branch_id = branch_of(staff)
    with db_of(request).read() as session:
        days: list[TellerDay] = []
        for row in counter.branch_sessions(session, branch_id):
            member = session.get(StaffMember, row.teller_id)
            report = receipts.receipt_for(session, counter.DAY_REPORT_KIND, row.id)
            days.append(TellerDay(
                row.id, "" if member is None else f"{member.name} ({member.employee_no})", row.status,
                row.float_amount, counter.drawer_expected(session, row), len(counter.operations_of(session, row.id)),
                row.difference, None if report is None else report.id,
            ))
        vault = _balance(session, f"BV-{staff.branch_code}")
        suspense = _balance(session, f"SU-CASH-{staff.branch_code}")
        pending = len(approvals.pending_for_branch(session, branch_id))
    return render(request, "teller/supervisor.html", section="supervisor", days=days, vault=vault,
                  suspense=suspense, pending=pending)


def _balance(session: Any, code: str) -> int:
    account = ledger.account_by_code(session, code)
    return 0 if account is None else ledger.balance(session, account.id).posted

