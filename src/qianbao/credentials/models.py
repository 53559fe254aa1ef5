"""Tables of the credentials package.

Every credential belongs to a principal `(principal_type, principal_id)` — ("customer", 42), ("staff", 7) —
and not to a foreign key, so that this package depends on no wallet or staff table.

Times are `UtcDateTime`: stored in UTC, aware in Python on both databases.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime
from qianbao.pii.crypto import EncryptedString

PRINCIPAL_TYPE_LENGTH = 16


class _OwnedByPrincipal:
    principal_type: Mapped[str] = mapped_column(String(PRINCIPAL_TYPE_LENGTH))
    principal_id: Mapped[int] = mapped_column(BigInteger)


class LoginPassword(_OwnedByPrincipal, Base):
    """The login password (argon2id) and its lockout state: consecutive failures and the lock's end."""

    __tablename__ = "credential_password"
    __table_args__ = (UniqueConstraint("principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(200))
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set when a teller reset it after checking the person at the counter.
    reset_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class PaymentPin(_OwnedByPrincipal, Base):
    """The 6-digit payment PIN (argon2id over a keyed pre-hash) and its per-day failure count."""

    __tablename__ = "credential_pin"
    __table_args__ = (UniqueConstraint("principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(200))
    # Wrong tries on `failed_day` (an Asia/Shanghai calendar day); another day starts again from zero.
    failed_day: Mapped[date | None] = mapped_column(Date)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lock_reset_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    lock_reset_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


OTP_ACTIVE = "active"
OTP_USED = "used"
OTP_DEAD = "dead"


class OneTimeCode(Base):
    """The current SMS code for one purpose and one phone number.

    One row per (purpose, phone): issuing a new code overwrites the row, which is what makes the old
    code stop working, and the conditional upsert on that row is what enforces the 60-second resend
    gap under concurrency. The phone is kept only as its keyed look-up hash; the code only as an HMAC.
    """

    __tablename__ = "credential_otp"
    __table_args__ = (
        UniqueConstraint("purpose", "phone_hash"),
        CheckConstraint("status IN ('active', 'used', 'dead')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TotpSecret(_OwnedByPrincipal, Base):
    """A TOTP (RFC 6238) enrolment: the shared secret, encrypted; pending until a first code confirms it."""

    __tablename__ = "credential_totp"
    __table_args__ = (UniqueConstraint("principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(EncryptedString)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The 30-second time step of the last accepted code: a code is accepted only for a later step.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UserSession(_OwnedByPrincipal, Base):
    """A signed-in session. The cookie holds a random token; the table holds only its SHA-256.

    `public_id` names the session on the security page (list, revoke) and binds its CSRF token, so the
    token itself never leaves the cookie.
    """

    __tablename__ = "credential_session"
    __table_args__ = (Index("ix_credential_session_principal", "principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # Staff sessions: the role and branch the staff member signed in with.
    role: Mapped[str | None] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(BigInteger)
    device_id: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class KnownDevice(_OwnedByPrincipal, Base):
    """A device (its device-cookie id) a principal has signed in from; kept after its sessions are pruned."""

    __tablename__ = "credential_device"
    __table_args__ = (UniqueConstraint("principal_type", "principal_id", "device_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RateLimitCounter(Base):
    """Hits of one key of one bucket in one slice of time (a tenth of the limit's window), for
    `qianbao.credentials.ratelimit`.

    `window_start` is the slice's start in whole seconds since the Unix epoch (an exact, comparable key);
    `expires_at` is when the slice has left every window that could count it, and drives pruning.
    """

    __tablename__ = "ratelimit_counter"

    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


__all__ = [
    "OTP_ACTIVE",
    "OTP_DEAD",
    "OTP_USED",
    "KnownDevice",
    "LoginPassword",
    "OneTimeCode",
    "PaymentPin",
    "RateLimitCounter",
    "TotpSecret",
    "UserSession",
]
