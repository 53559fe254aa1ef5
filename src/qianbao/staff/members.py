"""Staff accounts: creation with a one-time password and a TOTP enrolment, disabling, resets.

Every change is audited with the acting operator (or `Actor.system("cli")` for the command line).
A new account's password is generated and shown once; the staff member must replace it at the first
sign-in (`password_must_change`). An operator's password reset works the same way. Disabling ends
every session of the account at once; so do both resets.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit, credentials
from qianbao.credentials import Principal, TotpEnrolment
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.staff.branches import branch_by_code
from qianbao.staff.models import BRANCH_ROLES, ROLES, Branch, StaffMember

_EMPLOYEE_NO = re.compile(r"^[A-Z0-9]{3,16}$")
# No 0/O, 1/l/I: the password is read off a screen or a slip of paper and typed by hand.
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class CreatedStaff:
    """A new account and what its owner needs once: the initial password and the TOTP enrolment."""

    member: StaffMember
    initial_password: str = field(repr=False)
    totp: TotpEnrolment = field(repr=False)


def principal(member: StaffMember | int) -> Principal:
    return Principal.staff(member if isinstance(member, int) else member.id)


def normalise_employee_no(employee_no: str) -> str:
    return unicodedata.normalize("NFKC", employee_no or "").strip().upper()


def generate_password() -> str:
    """A one-time password of 12 random characters in groups of four (Xk7m-9pQr-2wZt): about 70 bits."""
    while True:
        raw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))
        candidate = "-".join(raw[i:i + 4] for i in range(0, 12, 4))
        try:
            credentials.check_password_rules(candidate)
        except QianbaoError:
            continue
        return candidate


def _check_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not text or len(text) > 64:
        raise QianbaoError("STAFF_NAME_INVALID", max_length=64)
    return text


def get_staff(session: Session, staff_id: int) -> StaffMember:
    member = session.get(StaffMember, staff_id)
    if member is None:
        raise QianbaoError("STAFF_NOT_FOUND", employee_no=str(staff_id))
    return member


def staff_by_number(session: Session, employee_no: str) -> StaffMember | None:
    return session.scalar(select(StaffMember).where(StaffMember.employee_no == normalise_employee_no(employee_no)))


def list_staff(session: Session, *, branch_id: int | None = None) -> list[tuple[StaffMember, Branch | None]]:
    """Every account with its branch, head office (no branch) first, then by branch and number."""
    stmt = (
        select(StaffMember, Branch)
        .outerjoin(Branch, Branch.id == StaffMember.branch_id)
        .order_by(Branch.code.is_not(None), Branch.code, StaffMember.employee_no)
    )
    if branch_id is not None:
        stmt = stmt.where(StaffMember.branch_id == branch_id)
    return [(row[0], row[1]) for row in session.execute(stmt)]


def create_staff(
    session: Session,
    *,
    employee_no: str,
    name: str,
    role: str,
    branch_code: str | None,
    by: audit.Actor,
    channel: str,
    created_by: int | None = None,
    settings: Settings | None = None,
) -> CreatedStaff:
    """Create an account with a generated one-time password and a pending TOTP enrolment.

    STAFF_NUMBER_INVALID (3-16 letters or digits), STAFF_NUMBER_TAKEN, STAFF_NAME_INVALID,
    STAFF_ROLE_INVALID, STAFF_BRANCH_REQUIRED (tellers and supervisors), BRANCH_NOT_FOUND.
    """
    number = normalise_employee_no(employee_no)
    if not _EMPLOYEE_NO.match(number):
        raise QianbaoError("STAFF_NUMBER_INVALID", employee_no=number[:20])
    clean_name = _check_name(name)
    if role not in ROLES:
        raise QianbaoError("STAFF_ROLE_INVALID", role=str(role)[:20], roles=", ".join(ROLES))
    branch: Branch | None = None
    if branch_code:
        branch = branch_by_code(session, branch_code)
    elif role in BRANCH_ROLES:
        raise QianbaoError("STAFF_BRANCH_REQUIRED", role=role)
    if staff_by_number(session, number) is not None:
        raise QianbaoError("STAFF_NUMBER_TAKEN", employee_no=number)
    member = StaffMember(
        employee_no=number, name=clean_name, role=role, branch_id=branch.id if branch else None, active=True,
        password_must_change=True, created_at=datetime.now(UTC), created_by=created_by,
    )
    try:
        with session.begin_nested():
            session.add(member)
    except IntegrityError:
        raise QianbaoError("STAFF_NUMBER_TAKEN", employee_no=number) from None
    password = generate_password()
    credentials.set_password(session, principal(member), password, settings=settings)
    enrolment = credentials.begin_totp_enrolment(session, principal(member), account_name=number)
    audit.record(session, action="staff.created", actor=by, channel=channel, object_type="staff",
                 object_id=member.id, details={"employee_no": number, "role": role,
                                               "branch": branch.code if branch else None})
    return CreatedStaff(member=member, initial_password=password, totp=enrolment)


def disable_staff(
    session: Session, staff_id: int, *, reason: str, by: audit.Actor, channel: str, by_staff_id: int | None = None
) -> StaffMember:
    """Disable an account and end its sessions. STAFF_NOT_FOUND, STAFF_ALREADY_DISABLED,
    STAFF_CANNOT_DISABLE_SELF, STAFF_REASON_REQUIRED."""
    member = get_staff(session, staff_id)
    text = unicodedata.normalize("NFKC", reason or "").strip()
    if not text:
        raise QianbaoError("STAFF_REASON_REQUIRED")
    if by_staff_id is not None and by_staff_id == member.id:
        raise QianbaoError("STAFF_CANNOT_DISABLE_SELF")
    if not member.active:
        raise QianbaoError("STAFF_ALREADY_DISABLED", employee_no=member.employee_no)
    member.active = False
    member.disabled_at = datetime.now(UTC)
    member.disabled_by = by_staff_id
    member.disabled_reason = text[:200]
    ended = credentials.revoke_all(session, principal(member), reason="staff_disabled")
    session.flush()
    audit.record(session, action="staff.disabled", actor=by, channel=channel, object_type="staff",
                 object_id=member.id, details={"employee_no": member.employee_no, "reason": text[:200],
                                               "sessions_ended": ended})
    return member


def _require_active(member: StaffMember) -> None:
    if not member.active:
        raise QianbaoError("STAFF_DISABLED")


def reset_password(
    session: Session, staff_id: int, *, by: audit.Actor, channel: str, by_staff_id: int | None = None,
    settings: Settings | None = None,
) -> str:
    """Give the account a new one-time password (returned, shown once) and lift a login lock; the
    staff member replaces it at the next sign-in. Every session of the account ends."""
    member = get_staff(session, staff_id)
    _require_active(member)
    password = generate_password()
    # The credentials package records who reset it; the audit entry below records it for people.
    credentials.reset_password_by_staff(session, principal(member), password, by_staff_id=by_staff_id or 0,
                                        settings=settings)
    member.password_must_change = True
    session.flush()
    audit.record(session, action="staff.password_reset", actor=by, channel=channel, object_type="staff",
                 object_id=member.id, details={"employee_no": member.employee_no})
    return password


def reset_totp(session: Session, staff_id: int, *, by: audit.Actor, channel: str) -> StaffMember:
    """Remove the account's dynamic password (a lost phone): the staff member enrols again, with a QR code
    on screen, at the next sign-in. Every session of the account ends."""
    member = get_staff(session, staff_id)
    _require_active(member)
    had = credentials.remove_totp(session, principal(member))
    credentials.revoke_all(session, principal(member), reason="totp_reset")
    audit.record(session, action="staff.totp_reset", actor=by, channel=channel, object_type="staff",
                 object_id=member.id, details={"employee_no": member.employee_no, "was_enrolled": had})
    return member
