"""Server-side sessions: start (rotated at sign-in), authenticate with sliding idle timeout, list, revoke.

The cookie carries a random 32-byte token (URL-safe base64); the table keeps only its SHA-256, so a
copy of the database signs nobody in. A session ends at the first of:
- 15 minutes without a request (settings.session_idle_minutes; each authenticated request slides it);
- its absolute lifetime, 12 hours by default (settings.session_absolute_hours), however active;
- sign-out, revocation from the security page, a password change or reset, or a new sign-in in the
  same browser (rotation: the old token is revoked and a new one issued).

Devices: a second long-lived cookie holds a random device id (`new_device_id`). `is_new_device` tells a
sign-in flow to ask for an SMS code (purpose `login_new_device`) and to send the new-device notice;
`start_session` then remembers the device for the principal.

Cookies: see `session_cookie` and `device_cookie`. With secure cookies (production) the names carry the
`__Host-` prefix, which browsers accept only with Secure, Path=/ and no Domain, pinning the cookie to
this exact host over HTTPS. The development server runs over plain http://127.0.0.1, where a browser
drops Secure cookies, so there the cookies are not Secure and lose the prefix (`qb_session`,
`qb_device`). settings.cookie_secure decides; unset, it is on in production and off otherwise.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.credentials.base import Principal, as_utc, execute_count, now_utc, resolve_settings
from qianbao.credentials.models import KnownDevice, UserSession
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

TOKEN_BYTES = 32
SESSION_COOKIE = "qb_session"
DEVICE_COOKIE = "qb_device"
SECURE_PREFIX = "__Host-"
# Browsers cap a cookie's life at 400 days; the device id is meant to last as long as the browser does.
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600

State = Literal["active", "idle", "expired", "revoked", "unknown"]


# ---- cookies ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CookieSpec:
    name: str
    secure: bool
    max_age: int | None
    httponly: bool = True
    samesite: Literal["lax", "strict", "none"] = "lax"
    path: str = "/"

    def set_cookie_kwargs(self, value: str) -> dict[str, Any]:
        """Keyword arguments for Starlette's `Response.set_cookie` (no Domain: `__Host-` forbids one)."""
        return {
            "key": self.name, "value": value, "max_age": self.max_age, "path": self.path,
            "secure": self.secure, "httponly": self.httponly, "samesite": self.samesite,
        }

    def delete_cookie_kwargs(self) -> dict[str, Any]:
        return {"key": self.name, "path": self.path, "secure": self.secure, "httponly": self.httponly,
                "samesite": self.samesite}


def _secure(settings: Settings) -> bool:
    return settings.secure_cookies


def session_cookie(settings: Settings | None = None) -> CookieSpec:
    """`__Host-qb_session` (Secure, HttpOnly, SameSite=Lax, Path=/) or `qb_session` on plain-HTTP dev."""
    s = resolve_settings(settings)
    secure = _secure(s)
    return CookieSpec(
        name=(SECURE_PREFIX if secure else "") + SESSION_COOKIE,
        secure=secure,
        max_age=s.session_absolute_hours * 3600,
    )


def device_cookie(settings: Settings | None = None) -> CookieSpec:
    """`__Host-qb_device` (or `qb_device`): the device id, kept for 400 days."""
    secure = _secure(resolve_settings(settings))
    return CookieSpec(name=(SECURE_PREFIX if secure else "") + DEVICE_COOKIE, secure=secure,
                      max_age=DEVICE_COOKIE_MAX_AGE)


def new_device_id() -> str:
    return secrets.token_urlsafe(16)


# ---- sessions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StartedSession:
    """A new session: put `token` in the session cookie; it is not stored anywhere else."""

    record: UserSession
    token: str = field(repr=False)

    @property
    def public_id(self) -> str:
        return self.record.public_id


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _by_principal(principal: Principal) -> Any:
    return (UserSession.principal_type == principal.type) & (UserSession.principal_id == principal.id)


def is_new_device(session: Session, principal: Principal, device_id: str | None) -> bool:
    """True when the principal has never signed in from this device (or the browser sent no device id)."""
    if not device_id:
        return True
    stmt = select(KnownDevice.id).where(
        KnownDevice.principal_type == principal.type,
        KnownDevice.principal_id == principal.id,
        KnownDevice.device_id == device_id,
    )
    return session.scalar(stmt) is None


def _remember_device(session: Session, principal: Principal, device_id: str, user_agent: str | None,
                     now: datetime) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(KnownDevice).values(
        principal_type=principal.type, principal_id=principal.id, device_id=device_id,
        user_agent=user_agent, first_seen_at=now, last_seen_at=now,
    ).on_conflict_do_update(
        index_elements=["principal_type", "principal_id", "device_id"],
        set_={"last_seen_at": now, "user_agent": user_agent},
    )
    session.execute(stmt)


def start_session(
    session: Session,
    principal: Principal,
    *,
    device_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
    role: str | None = None,
    branch_id: int | None = None,
    replaces_token: str | None = None,
    settings: Settings | None = None,
) -> StartedSession:
    """Sign in: a new session with a fresh token. Pass the browser's current session token (if any) as
    `replaces_token`: that session is revoked, so a token planted before sign-in is worth nothing after.
    Staff sessions carry `role` and `branch_id`."""
    s = resolve_settings(settings)
    now = now_utc()
    if replaces_token:
        _revoke_token(session, replaces_token, "rotated", now)
    if device_id:
        _remember_device(session, principal, device_id, user_agent, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record = UserSession(
        principal_type=principal.type,
        principal_id=principal.id,
        token_hash=_token_hash(token),
        public_id=secrets.token_urlsafe(12),
        role=role,
        branch_id=branch_id,
        device_id=device_id,
        user_agent=(user_agent or "")[:400] or None,
        ip=ip,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=s.session_absolute_hours),
    )
    session.add(record)
    session.flush()
    return StartedSession(record=record, token=token)


def rotate_session(session: Session, token: str, *, settings: Settings | None = None) -> StartedSession:
    """Give an active session a new token (after a step-up or a change of role), revoking the old token.
    UNAUTHENTICATED / SESSION_EXPIRED as `require_session`."""
    old = require_session(session, token, settings=settings)
    started = start_session(
        session,
        Principal(old.principal_type, old.principal_id),
        device_id=old.device_id, user_agent=old.user_agent, ip=old.ip, role=old.role, branch_id=old.branch_id,
        settings=settings,
    )
    # Rotation keeps the session's clock: its absolute end does not move.
    started.record.created_at = old.created_at
    started.record.expires_at = old.expires_at
    _revoke(old, "rotated", now_utc())
    session.flush()
    return started


def _state(record: UserSession | None, now: datetime, settings: Settings) -> State:
    if record is None:
        return "unknown"
    if record.revoked_at is not None:
        return "revoked"
    if as_utc(record.expires_at) <= now:
        return "expired"
    if as_utc(record.last_seen_at) + timedelta(minutes=settings.session_idle_minutes) <= now:
        return "idle"
    return "active"


def _lookup(
    session: Session, token: str | None, ip: str | None, settings: Settings
) -> tuple[State, UserSession | None]:
    if not token:
        return "unknown", None
    record = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    now = now_utc()
    state = _state(record, now, settings)
    if record is None:
        return state, None
    if state in ("idle", "expired"):
        _revoke(record, state, now)
        session.flush()
    elif state == "active":
        record.last_seen_at = now
        if ip:
            record.ip = ip
        session.flush()
    return state, record if state == "active" else None


def authenticate(
    session: Session, token: str | None, *, ip: str | None = None, settings: Settings | None = None
) -> UserSession | None:
    """The active session for a cookie's token, with its idle clock restarted; None for anything else.

    It writes (last_seen_at, and the end of a timed-out session), so call it in a write unit of work,
    not in `db.read()`."""
    return _lookup(session, token, ip, resolve_settings(settings))[1]


def require_session(
    session: Session, token: str | None, *, ip: str | None = None, settings: Settings | None = None
) -> UserSession:
    """Like `authenticate`, but SESSION_EXPIRED for a session that timed out (idle or absolute) and
    UNAUTHENTICATED for no, an unknown or a revoked token."""
    state, record = _lookup(session, token, ip, resolve_settings(settings))
    if record is not None:
        return record
    if state in ("idle", "expired"):
        raise QianbaoError("SESSION_EXPIRED")
    raise QianbaoError("UNAUTHENTICATED")


def principal_of(record: UserSession) -> Principal:
    return Principal(record.principal_type, record.principal_id)


def _revoke(record: UserSession, reason: str, now: datetime) -> None:
    if record.revoked_at is None:
        record.revoked_at = now
        record.revoked_reason = reason


def _revoke_token(session: Session, token: str, reason: str, now: datetime) -> None:
    record = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if record is not None:
        _revoke(record, reason, now)


def end_session(session: Session, token: str | None) -> None:
    """Sign out: revoke the session of this token (nothing happens for an unknown token)."""
    if token:
        _revoke_token(session, token, "signed_out", now_utc())
        session.flush()


def list_sessions(session: Session, principal: Principal, *, settings: Settings | None = None) -> list[UserSession]:
    """The principal's active sessions, most recently used first (for the security page)."""
    s = resolve_settings(settings)
    now = now_utc()
    stmt = (
        select(UserSession)
        .where(_by_principal(principal), UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return [r for r in session.scalars(stmt) if _state(r, now, s) == "active"]


def revoke_session(session: Session, principal: Principal, public_id: str) -> None:
    """Revoke one of the principal's sessions by its public id; NOT_FOUND for anyone else's (so ids cannot
    be probed) and for one already ended."""
    record = session.scalar(select(UserSession).where(UserSession.public_id == public_id, _by_principal(principal)))
    if record is None or record.revoked_at is not None:
        raise QianbaoError("NOT_FOUND")
    _revoke(record, "revoked", now_utc())
    session.flush()


def revoke_all(
    session: Session, principal: Principal, *, reason: str = "revoked", except_public_id: str | None = None
) -> int:
    """Revoke every open session of the principal but `except_public_id` ("sign out everywhere else");
    returns how many."""
    stmt = (
        update(UserSession)
        .where(_by_principal(principal), UserSession.revoked_at.is_(None))
        .values(revoked_at=now_utc(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if except_public_id is not None:
        stmt = stmt.where(UserSession.public_id != except_public_id)
    return execute_count(session, stmt)


def prune_sessions(session: Session, *, keep_days: int = 30) -> int:
    """Delete sessions that ended more than `keep_days` ago (known devices are kept); returns how many."""
    cutoff = now_utc() - timedelta(days=keep_days)
    stmt = delete(UserSession).where(
        or_(UserSession.expires_at < cutoff, UserSession.revoked_at < cutoff)
    )
    return execute_count(session, stmt)
