"""Demo branches and staff for `qianbao serve --demo`: one account of each role with known credentials.

The passwords are fixed and printed; the TOTP secrets are made at seeding (credentials draws them) and
printed too, and `qianbao staff totp <employee-no>` shows the current code outside production. The demo
enrolment is confirmed with the code of the previous 30-second step, so that the current code is still
unused when someone signs in straight after seeding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit, credentials
from qianbao.credentials.models import TotpSecret
from qianbao.settings import Settings
from qianbao.staff.branches import create_branch
from qianbao.staff.members import principal, staff_by_number
from qianbao.staff.models import Branch, StaffMember

DEMO_ACTOR = audit.Actor.system("demo")

DEMO_BRANCHES: tuple[tuple[str, str, str, str], ...] = (
    ("0101", "北京西城支行", "Beijing Xicheng Branch", "北京市西城区金融大街 1 号"),
    ("0102", "上海黄浦支行", "Shanghai Huangpu Branch", "上海市黄浦区中山东一路 2 号"),
)


@dataclass(frozen=True)
class DemoStaffSpec:
    employee_no: str
    name: str
    role: str
    branch_code: str | None
    password: str = field(repr=False)


DEMO_STAFF: tuple[DemoStaffSpec, ...] = (
    DemoStaffSpec("T0101", "王柜员", "teller", "0101", "Teller-Demo-0101"),
    DemoStaffSpec("S0101", "李主管", "supervisor", "0101", "Supervisor-Demo-0101"),
    DemoStaffSpec("T0102", "赵柜员", "teller", "0102", "Teller-Demo-0102"),
    DemoStaffSpec("OP001", "陈运营", "operator", None, "Operator-Demo-001"),
    DemoStaffSpec("AU001", "周审计", "auditor", None, "Auditor-Demo-001"),
)


@dataclass(frozen=True)
class DemoStaff:
    spec: DemoStaffSpec
    staff_id: int
    totp_secret: str = field(repr=False)

    @property
    def employee_no(self) -> str:
        return self.spec.employee_no

    @property
    def password(self) -> str:
        return self.spec.password

    def totp_now(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


def _totp_secret(session: Session, member: StaffMember) -> str | None:
    row = session.scalar(select(TotpSecret).where(TotpSecret.principal_type == "staff",
                                                  TotpSecret.principal_id == member.id))
    return row.secret if row is not None and row.confirmed_at is not None else None


def demo_totp_secret(session: Session, employee_no: str) -> str | None:
    """The confirmed TOTP secret of an account (for the demo's `staff totp` command), or None."""
    member = staff_by_number(session, employee_no)
    return _totp_secret(session, member) if member is not None else None


def _ensure_branches(session: Session) -> None:
    existing = set(session.scalars(select(Branch.code)))
    for code, name_zh, name_en, address in DEMO_BRANCHES:
        if code not in existing:
            create_branch(session, code=code, name_zh=name_zh, name_en=name_en, address=address,
                          by=DEMO_ACTOR, channel="system")


def _ensure_member(session: Session, spec: DemoStaffSpec, settings: Settings | None) -> DemoStaff:
    member = staff_by_number(session, spec.employee_no)
    if member is None:
        branch_id = None
        if spec.branch_code:
            branch_id = session.scalar(select(Branch.id).where(Branch.code == spec.branch_code))
        member = StaffMember(
            employee_no=spec.employee_no, name=spec.name, role=spec.role, branch_id=branch_id, active=True,
            # Demo accounts skip the one-time password: their passwords are printed for everyone.
            password_must_change=False, created_at=datetime.now(UTC), created_by=None,
        )
        session.add(member)
        session.flush()
        credentials.set_password(session, principal(member), spec.password, settings=settings)
        audit.record(session, action="staff.created", actor=DEMO_ACTOR, channel="system", object_type="staff",
                     object_id=member.id, details={"employee_no": spec.employee_no, "role": spec.role,
                                                   "branch": spec.branch_code, "demo": True})
    secret = _totp_secret(session, member)
    if secret is None:
        enrolment = credentials.begin_totp_enrolment(session, principal(member), account_name=spec.employee_no)
        previous_step = datetime.now(UTC) - timedelta(seconds=30)
        credentials.confirm_totp_enrolment(session, principal(member), pyotp.TOTP(enrolment.secret).at(previous_step))
        secret = enrolment.secret
    return DemoStaff(spec=spec, staff_id=member.id, totp_secret=secret)


def seed_demo_staff(session: Session, *, settings: Settings | None = None) -> list[DemoStaff]:
    """Create the demo branches and staff that are missing; return every demo account (idempotent)."""
    _ensure_branches(session)
    return [_ensure_member(session, spec, settings) for spec in DEMO_STAFF]


def sign_in_lines(accounts: list[DemoStaff], base_url: str) -> list[str]:
    """What `qianbao serve --demo` prints: where and how each demo account signs in."""
    lines = [f"员工登录 Staff sign-in: {base_url}/teller/login · {base_url}/ops/login "
             "(动态密码 TOTP code: qianbao staff totp <工号 employee no>)"]
    for account in accounts:
        spec = account.spec
        where = "/teller/login" if spec.role in ("teller", "supervisor") else "/ops/login"
        branch = f" @{spec.branch_code}" if spec.branch_code else ""
        lines.append(f"  {spec.role:<10} {spec.employee_no:<6} {spec.password:<22} TOTP {account.totp_secret}"
                     f"  {where}{branch}")
    return lines
