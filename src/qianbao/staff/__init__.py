"""Branches and staff (SPEC §1, §4): who works where, in which role, and how they sign in.

Calling convention: functions take the SQLAlchemy Session first and never commit; refusals raise
QianbaoError. Every change is audited (`by` is the acting `audit.Actor`, `channel` "ops", "counter"
or "system").

Branches (branches.py)
    create_branch(s, code=, name_zh=, name_en=, address=, by=, channel=)   BRANCH_CODE_INVALID / _TAKEN
    branch_by_code(s, code), get_branch(s, id), list_branches(s)           BRANCH_NOT_FOUND

Staff (members.py) — roles teller | supervisor | operator | auditor; tellers and supervisors have a branch
    create_staff(s, employee_no=, name=, role=, branch_code=, by=, channel=) -> CreatedStaff
        (member, initial_password shown once, totp enrolment URI for the QR code)
    disable_staff(s, id, reason=, by=, channel=, by_staff_id=)   ends every session of the account
    reset_password(s, id, by=, channel=) -> one-time password;   reset_totp(s, id, by=, channel=)
    get_staff(s, id), staff_by_number(s, no), list_staff(s, branch_id=)

Sign-in (signin.py) — password, then TOTP (enrolled on the first sign-in), then a one-time password
    is replaced; `resolve(s, token)` reads a staff cookie for the web layer (qianbao.web.auth).

Demo (demo.py) — seed_demo_staff(s) -> [DemoStaff]: two branches, one account of each role.
"""

from qianbao.staff.branches import branch_by_code, create_branch, get_branch, list_branches
from qianbao.staff.members import (
    CreatedStaff,
    create_staff,
    disable_staff,
    get_staff,
    list_staff,
    reset_password,
    reset_totp,
    staff_by_number,
)
from qianbao.staff.models import BRANCH_ROLES, ROLES, Branch, StaffMember

__all__ = [
    "BRANCH_ROLES",
    "ROLES",
    "Branch",
    "CreatedStaff",
    "StaffMember",
    "branch_by_code",
    "create_branch",
    "create_staff",
    "disable_staff",
    "get_branch",
    "get_staff",
    "list_branches",
    "list_staff",
    "reset_password",
    "reset_totp",
    "staff_by_number",
]
