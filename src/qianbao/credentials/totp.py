"""Dynamic password (动态密码): TOTP (RFC 6238) as an optional second factor, and staff sign-in's second step.

Enrolment: `begin_totp_enrolment` makes a secret (160 bits, base32) and returns the provisioning URI,
which `qr_svg` / `qr_png` draw for the authenticator app; the enrolment is pending until
`confirm_totp_enrolment` gets a first right code. Asking again while pending replaces the secret.

Verification: 6 digits, 30-second steps, the current step and one on either side accepted (clock drift).
A code is accepted only for a step later than the last accepted one, so a code — even one seen over a
shoulder and typed again within its 90 seconds — is never accepted twice (TOTP_CODE_USED).
5 wrong codes in a row lock the factor for 15 minutes (TOTP_LOCKED), as login does.

The secret is stored with `qianbao.pii.crypto.EncryptedString` (AES-GCM under the keyring).
"""

from __future__ import annotations

import hmac
import io
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.credentials.base import CredentialFailure, Principal, as_utc, minutes_until, now_utc
from qianbao.credentials.models import TotpSecret
from qianbao.errors import QianbaoError

ISSUER = "Qianbao 钱包"
DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1
MAX_FAILURES = 5
LOCK_MINUTES = 15


@dataclass(frozen=True)
class TotpEnrolment:
    uri: str = field(repr=False)
    # For typing into an app by hand: the secret in groups of four.
    secret: str = field(repr=False)

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))


def _row(session: Session, principal: Principal) -> TotpSecret | None:
    stmt = (
        select(TotpSecret)
        .where(TotpSecret.principal_type == principal.type, TotpSecret.principal_id == principal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def has_totp(session: Session, principal: Principal) -> bool:
    """True when the principal has a confirmed TOTP enrolment."""
    stmt = select(TotpSecret.confirmed_at).where(
        TotpSecret.principal_type == principal.type, TotpSecret.principal_id == principal.id
    )
    return session.scalar(stmt) is not None


def begin_totp_enrolment(
    session: Session, principal: Principal, *, account_name: str, issuer: str = ISSUER
) -> TotpEnrolment:
    """Start (or restart) enrolment; TOTP_ALREADY_ENROLLED once one is confirmed.

    `account_name` is what the authenticator app shows under the issuer: a masked phone number or a
    staff login, never a full personal number.
    """
    row = _row(session, principal)
    if row is not None and row.confirmed_at is not None:
        raise QianbaoError("TOTP_ALREADY_ENROLLED")
    secret = pyotp.random_base32()
    if row is None:
        row = TotpSecret(principal_type=principal.type, principal_id=principal.id, failed_count=0)
        session.add(row)
    row.secret = secret
    row.created_at = now_utc()
    row.last_used_step = None
    row.failed_count = 0
    row.locked_until = None
    session.flush()
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )
    return TotpEnrolment(uri=uri, secret=secret)


def _check(session: Session, row: TotpSecret, code: str) -> None:
    """Accept `code` for a step after the last used one, or count a failure and raise."""
    now = now_utc()
    if row.locked_until is not None:
        if as_utc(row.locked_until) > now:
            raise CredentialFailure("TOTP_LOCKED", minutes=minutes_until(row.locked_until, now))
        row.locked_until = None
        row.failed_count = 0
    typed = unicodedata.normalize("NFKC", code or "").strip().replace(" ", "")
    totp = pyotp.TOTP(row.secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    matched = [
        step for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1)
        if hmac.compare_digest(totp.generate_otp(step), typed)
    ]
    fresh = [step for step in matched if row.last_used_step is None or step > row.last_used_step]
    if fresh:
        row.last_used_step = max(fresh)
        row.failed_count = 0
        session.flush()
        return
    if matched:
        # Right code, but its step was used already: a replay, not a typing mistake, so no try is counted.
        raise QianbaoError("TOTP_CODE_USED")
    row.failed_count += 1
    if row.failed_count >= MAX_FAILURES:
        row.failed_count = 0
        row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        session.flush()
        raise CredentialFailure("TOTP_LOCKED", minutes=LOCK_MINUTES)
    session.flush()
    raise CredentialFailure("TOTP_WRONG", tries_left=MAX_FAILURES - row.failed_count)


def confirm_totp_enrolment(session: Session, principal: Principal, code: str) -> None:
    """Finish enrolment with the first code the app shows."""
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("TOTP_NOT_ENROLLED")
    if row.confirmed_at is not None:
        raise QianbaoError("TOTP_ALREADY_ENROLLED")
    _check(session, row, code)
    row.confirmed_at = now_utc()
    session.flush()


def verify_totp(session: Session, principal: Principal, code: str) -> None:
    """Check a dynamic password: None when accepted; TOTP_NOT_ENROLLED, TOTP_WRONG, TOTP_CODE_USED or
    TOTP_LOCKED otherwise."""
    row = _row(session, principal)
    if row is None or row.confirmed_at is None:
        raise QianbaoError("TOTP_NOT_ENROLLED")
    _check(session, row, code)


def disable_totp(session: Session, principal: Principal, code: str) -> None:
    """The principal turns the factor off, proving it with a current code."""
    verify_totp(session, principal, code)
    row = _row(session, principal)
    assert row is not None
    session.delete(row)
    session.flush()


def remove_totp(session: Session, principal: Principal) -> bool:
    """Remove an enrolment without a code (an operator, for someone who lost the device; the caller
    audits it). True if there was one."""
    row = _row(session, principal)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def qr_svg(uri: str, *, scale: int = 4) -> str:
    """The provisioning URI as an inline SVG QR code (for a page)."""
    return segno.make(uri, error="m").svg_inline(scale=scale)


def qr_png(uri: str, *, scale: int = 6) -> bytes:
    """The provisioning URI as a PNG QR code (for a download or an <img>)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
