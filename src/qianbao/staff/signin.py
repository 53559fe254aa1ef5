"""Staff sign-in (SPEC §4): employee number + password, then the TOTP dynamic password.

The steps, each its own unit of work (run them in `credentials.transaction(db)` so counted failures
are kept):

1. `check_password` — the password of an active account. Wrong passwords count toward the login lock
   (5 → 15 minutes, credentials). Success opens a *pending* session (`start_pending`): it carries no
   role, so it reaches the next sign-in step and nothing else.
2. `check_second_factor` — a TOTP code; an account not yet enrolled confirms its enrolment with the
   first code (the QR code is shown on the sign-in page), so nobody reaches a console without a factor.
3. When the password is a one-time one (new account, operator reset), `change_initial_password` with
   the session in the `PENDING_PASSWORD_CHANGE` state.
4. `open_session` — the real session, rotated (the pending token is revoked), carrying role and branch.

Every success and refusal is audited by the caller with `record_sign_in` (a refusal in its own unit of
work, as the step's own writes may have been rolled back).

`resolve` turns a staff cookie's token into the signed-in staff member for every console request: the
session must be active (idle timeout in credentials), belong to a staff principal with a real role, and
the account must still be active with the same role and branch — otherwise the session is ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit, credentials
from qianbao.credentials import CredentialFailure
from qianbao.credentials.models import TotpSecret, UserSession
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.staff.members import normalise_employee_no, principal, staff_by_number
from qianbao.staff.models import ROLES, Branch, StaffMember

# Session roles that are not roles: the states of a sign-in still under way.
PENDING_SECOND_FACTOR: None = None
PENDING_PASSWORD_CHANGE = "pending:password"

Stage = Literal["signed_in", "second_factor", "password_change"]


@dataclass(frozen=True)
class SignedInStaff:
    """Who is behind a staff session, as read at the start of the request."""

    id: int
    employee_no: str
    name: str
    role: str
    branch_id: int | None
    branch_code: str | None
    branch_name_zh: str | None
    branch_name_en: str | None
    session: UserSession
    stage: Stage

    @property
    def audit_actor(self) -> audit.Actor:
        return audit.Actor.staff(self.id, self.branch_id)

    def branch_name(self, lang: str) -> str | None:
        return self.branch_name_zh if lang == "zh-CN" else self.branch_name_en


def check_password(
    session: Session, employee_no: str, password: str, *, ip: str | None = None, settings: Settings | None = None
) -> StaffMember:
    """The account behind a right password. STAFF_LOGIN_FAILED (unknown number or wrong password, alike),
    LOGIN_LOCKED, RATE_LIMITED, STAFF_DISABLED (only once the password was right)."""
    member = staff_by_number(session, employee_no)
    try:
        credentials.verify_login(session, principal(member) if member else None, password, ip=ip,
                                 settings=settings)
    except CredentialFailure as exc:
        if exc.code == "LOGIN_FAILED":
            # Same refusal, in staff words (employee number, not phone number); still counted and kept.
            raise CredentialFailure("STAFF_LOGIN_FAILED") from None
        raise
    assert member is not None
    if not member.active:
        raise QianbaoError("STAFF_DISABLED")
    return member


def totp_enrolled(session: Session, member: StaffMember) -> bool:
    return credentials.has_totp(session, principal(member))


def totp_enrolment_pending(session: Session, member: StaffMember) -> bool:
    """True when an enrolment was begun (at creation, or on the sign-in page) but not yet confirmed.

    Reads the credentials table directly: credentials has no call for "begun but unconfirmed", and the
    sign-in page must not replace a QR code the staff member may already have scanned.
    """
    stmt = select(TotpSecret.confirmed_at).where(
        TotpSecret.principal_type == "staff", TotpSecret.principal_id == member.id
    )
    row = session.execute(stmt).first()
    return row is not None and row[0] is None


def begin_enrolment(session: Session, member: StaffMember) -> credentials.TotpEnrolment:
    return credentials.begin_totp_enrolment(session, principal(member), account_name=member.employee_no)


def check_second_factor(session: Session, member: StaffMember, code: str) -> None:
    """Verify a TOTP code, or confirm a pending enrolment with it. TOTP_WRONG, TOTP_CODE_USED, TOTP_LOCKED,
    TOTP_NOT_ENROLLED (no enrolment begun)."""
    if totp_enrolled(session, member):
        credentials.verify_totp(session, principal(member), code)
    else:
        credentials.confirm_totp_enrolment(session, principal(member), code)


def change_initial_password(
    session: Session, member: StaffMember, old_password: str, new_password: str, *, settings: Settings | None = None
) -> None:
    """Replace the one-time password. PASSWORD_OLD_WRONG (counts toward the lock), PASSWORD_UNCHANGED and
    the password rules."""
    credentials.change_password(session, principal(member), old_password, new_password, settings=settings)
    member.password_must_change = False
    session.flush()


def start_pending(
    session: Session, member: StaffMember, *, stage: Stage = "second_factor", replaces_token: str | None = None,
    device_id: str | None = None, user_agent: str | None = None, ip: str | None = None,
    settings: Settings | None = None,
) -> credentials.StartedSession:
    """A session that only continues the sign-in (no role); it rotates the browser's previous token."""
    role = PENDING_PASSWORD_CHANGE if stage == "password_change" else PENDING_SECOND_FACTOR
    return credentials.start_session(
        session, principal(member), role=role, branch_id=None, replaces_token=replaces_token,
        device_id=device_id, user_agent=user_agent, ip=ip, settings=settings,
    )


def open_session(
    session: Session, member: StaffMember, *, replaces_token: str | None = None, device_id: str | None = None,
    user_agent: str | None = None, ip: str | None = None, settings: Settings | None = None,
) -> credentials.StartedSession:
    """The signed-in staff session: a new token carrying the account's role and branch."""
    return credentials.start_session(
        session, principal(member), role=member.role, branch_id=member.branch_id, replaces_token=replaces_token,
        device_id=device_id, user_agent=user_agent, ip=ip, settings=settings,
    )


def record_sign_in(
    session: Session, *, step: str, outcome: str, channel: str, member: StaffMember | None = None,
    employee_no: str | None = None, code: str | None = None,
) -> None:
    """Audit one sign-in event: `step` is password, second_factor, password_change, signed_in or signed_out."""
    actor = audit.Actor.staff(member.id, member.branch_id) if member else audit.Actor("staff")
    details: dict[str, object] = {"step": step}
    number = member.employee_no if member else normalise_employee_no(employee_no or "")[:16]
    if number:
        details["employee_no"] = number
    if code:
        details["code"] = code
    action = "staff.signed_out" if step == "signed_out" else "staff.sign_in"
    audit.record(session, action=action, actor=actor, channel=channel, object_type="staff",
                 object_id=member.id if member else None, outcome=outcome, details=details)


def _snapshot(member: StaffMember, branch: Branch | None, record: UserSession, stage: Stage) -> SignedInStaff:
    return SignedInStaff(
        id=member.id, employee_no=member.employee_no, name=member.name, role=member.role,
        branch_id=member.branch_id, branch_code=branch.code if branch else None,
        branch_name_zh=branch.name_zh if branch else None, branch_name_en=branch.name_en if branch else None,
        session=record, stage=stage,
    )


@dataclass(frozen=True)
class Resolved:
    staff: SignedInStaff | None
    # True when the cookie named a session that has timed out (the page says so).
    expired: bool = False


def resolve(
    session: Session, token: str | None, *, ip: str | None = None, settings: Settings | None = None
) -> Resolved:
    """The staff member signed in with `token`, at whatever stage, or None. Writes (the idle clock)."""
    if not token:
        return Resolved(None)
    try:
        record = credentials.require_session(session, token, ip=ip, settings=settings)
    except QianbaoError as exc:
        return Resolved(None, expired=exc.code == "SESSION_EXPIRED")
    if record.principal_type != "staff":
        return Resolved(None)
    member = session.get(StaffMember, record.principal_id)
    stage: Stage
    if record.role is PENDING_SECOND_FACTOR:
        stage = "second_factor"
    elif record.role == PENDING_PASSWORD_CHANGE:
        stage = "password_change"
    else:
        stage = "signed_in"
    stale = member is None or not member.active or (
        stage == "signed_in" and (record.role not in ROLES or record.role != member.role
                                  or record.branch_id != member.branch_id)
    )
    if stale:
        # Disabled, or moved to another role or branch since signing in: sign in again.
        credentials.end_session(session, token)
        return Resolved(None)
    assert member is not None
    branch = session.get(Branch, member.branch_id) if member.branch_id is not None else None
    return Resolved(_snapshot(member, branch, record, stage))


def member_of(session: Session, signed_in: SignedInStaff) -> StaffMember:
    member = session.get(StaffMember, signed_in.id)
    if member is None:
        raise QianbaoError("UNAUTHENTICATED")
    return member
