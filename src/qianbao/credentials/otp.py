"""SMS one-time codes (短信验证码): issue, send through the outbox, verify once.

Rules (SPEC §3.1, §4, §10):
- 6 random digits from `secrets`; valid 5 minutes; single use (OTP_USED after it was used);
  5 wrong tries and the code is dead (OTP_WRONG with tries_left before that, OTP_TOO_MANY_TRIES after);
  OTP_EXPIRED after its 5 minutes; OTP_NOT_REQUESTED when no code was ever sent for that purpose and phone.
- A new code for the same purpose and phone replaces the old one, which then no longer works; it can be
  asked for 60 seconds after the last one at the earliest (OTP_RESEND_TOO_SOON with the seconds left).
- Rate limits (RATE_LIMITED with retry_after): settings.otp_phone_limit codes per phone number
  (all purposes together) per settings.otp_phone_window_seconds, and settings.otp_ip_limit per requesting
  IP per settings.otp_ip_window_seconds. Defaults: 5 an hour per number, 20 an hour per IP.
- Codes are stored as HMAC-SHA256 under a key derived from the keyring, bound to the purpose and phone.
  Not argon2: a 6-digit code has a million values, so no slow hash would stop someone holding the
  database from trying them all, while a keyed hash needs a key that is not in the database. Codes
  live five minutes; a slow hash would only cost CPU on every try.
- The phone is stored only as its keyed look-up hash (`qianbao.pii.hashing`).
- The text goes out through the transactional outbox (`qianbao.notices.outbox.enqueue_sms`, kind "sms",
  payload {"phone": E.164, "text": ...}), worded from the i18n catalogue in the customer's language:
  it is sent exactly when the transaction that issued the code commits.
"""

from __future__ import annotations

import hmac
import math
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.credentials import ratelimit
from qianbao.credentials.base import CredentialFailure, as_utc, keyed_digest, now_utc, resolve_settings
from qianbao.credentials.models import OTP_ACTIVE, OTP_DEAD, OTP_USED, OneTimeCode
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.identity.rules import parse_mobile
from qianbao.notices.outbox import enqueue_sms
from qianbao.pii.hashing import lookup_hash
from qianbao.settings import Settings

REGISTER = "register"
LOGIN_NEW_DEVICE = "login_new_device"
PASSWORD_RESET = "password_reset"
PIN_RESET = "pin_reset"
BIND_CARD = "bind_card"
CHANGE_PHONE = "change_phone"
COUNTER_PAIRING = "counter_pairing"
STEP_UP = "step_up"  # a risk rule asks for one more proof before a payment (SPEC §10)
PURPOSES = frozenset(
    {REGISTER, LOGIN_NEW_DEVICE, PASSWORD_RESET, PIN_RESET, BIND_CARD, CHANGE_PHONE, COUNTER_PAIRING, STEP_UP}
)

CODE_DIGITS = 6
TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
MAX_TRIES = 5


@dataclass(frozen=True)
class IssuedOtp:
    purpose: str
    phone: str  # E.164
    expires_at: datetime
    resend_at: datetime
    outbox_message_id: int | None
    # The code itself, for the rare purpose shown rather than texted (send=False) and for tests.
    # Never put it in a page or a log otherwise.
    code: str = field(repr=False)


def _phone_hash(phone_e164: str) -> str:
    return lookup_hash("phone", phone_e164)


def _code_hash(purpose: str, phone_hash: str, code: str) -> str:
    return keyed_digest("otp", purpose, phone_hash, code)


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown OTP purpose {purpose!r}; one of {sorted(PURPOSES)}")


def _current(session: Session, purpose: str, phone_hash: str, *, lock: bool = False) -> OneTimeCode | None:
    stmt = select(OneTimeCode).where(OneTimeCode.purpose == purpose, OneTimeCode.phone_hash == phone_hash)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def _too_soon(row: OneTimeCode | None, now: datetime) -> int:
    """Seconds left before another code may be sent (0 when it may)."""
    if row is None:
        return 0
    wait = (as_utc(row.issued_at) + RESEND_AFTER - now).total_seconds()
    return max(0, math.ceil(wait))


def resend_wait_seconds(session: Session, purpose: str, phone: str) -> int:
    """How long the "resend" button stays disabled: seconds until another code may be asked for."""
    _check_purpose(purpose)
    return _too_soon(_current(session, purpose, _phone_hash(parse_mobile(phone))), now_utc())


def issue_otp(
    session: Session,
    purpose: str,
    phone: str,
    *,
    ip: str | None = None,
    lang: str = "zh-CN",
    send: bool = True,
    settings: Settings | None = None,
) -> IssuedOtp:
    """Make a new code for `purpose` and `phone` (any spelling of a mainland mobile; PHONE_INVALID
    otherwise), replacing the previous one, and queue the SMS in the caller's transaction."""
    _check_purpose(purpose)
    s = resolve_settings(settings)
    e164 = parse_mobile(phone)
    phone_hash = _phone_hash(e164)
    now = now_utc()
    wait = _too_soon(_current(session, purpose, phone_hash), now)
    if wait:
        raise QianbaoError("OTP_RESEND_TOO_SOON", seconds=wait)
    ratelimit.hit(session, "otp_phone", phone_hash, s.otp_phone_limit, s.otp_phone_window_seconds)
    if ip:
        ratelimit.hit(session, "otp_ip", ip, s.otp_ip_limit, s.otp_ip_window_seconds)

    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    values = {
        "code_hash": _code_hash(purpose, phone_hash, code),
        "status": OTP_ACTIVE,
        "tries": 0,
        "issued_at": now,
        "expires_at": now + TTL,
        "used_at": None,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # The WHERE makes the 60-second gap hold under concurrency: of two requests racing past the check
    # above, the second finds a fresh row and updates nothing.
    stmt = (
        dialect.insert(OneTimeCode)
        .values(purpose=purpose, phone_hash=phone_hash, **values)
        .on_conflict_do_update(
            index_elements=["purpose", "phone_hash"],
            set_=values,
            where=OneTimeCode.issued_at <= now - RESEND_AFTER,
        )
        .returning(OneTimeCode.id)
    )
    if session.scalar(stmt) is None:
        wait = _too_soon(_current(session, purpose, phone_hash), now)
        raise QianbaoError("OTP_RESEND_TOO_SOON", seconds=max(wait, 1))

    message_id = None
    if send:
        text = translate("sms.otp_code", lang, code=code, minutes=int(TTL.total_seconds() // 60))
        message_id = enqueue_sms(session, e164, text=text)
    return IssuedOtp(
        purpose=purpose,
        phone=e164,
        expires_at=now + TTL,
        resend_at=now + RESEND_AFTER,
        outbox_message_id=message_id,
        code=code,
    )


def verify_otp(session: Session, purpose: str, phone: str, code: str) -> None:
    """Use the code: None when right (it is then spent), else a refusal naming why.

    Wrong tries are written before the refusal is raised; run this inside
    `qianbao.credentials.transaction(db)` so that they are committed (see CredentialFailure).
    """
    _check_purpose(purpose)
    phone_hash = _phone_hash(parse_mobile(phone))
    row = _current(session, purpose, phone_hash, lock=True)
    if row is None:
        raise QianbaoError("OTP_NOT_REQUESTED")
    if row.status == OTP_USED:
        raise QianbaoError("OTP_USED")
    if row.status == OTP_DEAD:
        raise QianbaoError("OTP_TOO_MANY_TRIES")
    now = now_utc()
    if as_utc(row.expires_at) <= now:
        raise QianbaoError("OTP_EXPIRED")
    typed = unicodedata.normalize("NFKC", code or "").strip()
    if hmac.compare_digest(row.code_hash, _code_hash(purpose, phone_hash, typed)):
        row.status = OTP_USED
        row.used_at = now
        session.flush()
        return
    row.tries += 1
    if row.tries >= MAX_TRIES:
        row.status = OTP_DEAD
        session.flush()
        raise CredentialFailure("OTP_TOO_MANY_TRIES")
    session.flush()
    raise CredentialFailure("OTP_WRONG", tries_left=MAX_TRIES - row.tries)
