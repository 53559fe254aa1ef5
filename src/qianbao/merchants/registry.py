"""Merchants and their credentials: creation by an operator, secret rotation, suspension, the portal password,
the built-in postal express merchant, and the check of a signed API request (docs/merchants.md).

Secrets are shown once: `create_merchant` and `rotate_secret` return them in clear in a `Credentials`
object; the database keeps the API key's SHA-256 and the HMAC secret encrypted (it must be read back to
check signatures). The portal password is an argon2id hash in the credentials package.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit, credentials, ledger
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.merchants import signing
from qianbao.merchants.models import ACTIVE, CATEGORIES, SUSPENDED, Merchant, MerchantNonce
from qianbao.settings import Settings

PRINCIPAL_TYPE = "merchant"
NAME_MAX = 100
MDR_MAX_BP = 1000  # 10 %: a higher discount rate is a typo
POSTAL_EXPRESS = "postal_express"
# Letters without look-alikes, for the portal's one-time password (as staff one-time passwords).
_PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class Credentials:
    """What is shown once: the API key, the HMAC secret and (at creation or reset) the portal password."""

    merchant_no: str
    api_key: str | None
    secret: str | None
    password: str | None


@dataclass(frozen=True)
class Created:
    merchant: Merchant
    credentials: Credentials


def now_utc() -> datetime:
    return datetime.now(UTC)


def principal(merchant_id: int) -> Principal:
    return Principal(PRINCIPAL_TYPE, merchant_id)


def new_api_key() -> str:
    return "qbk_" + secrets.token_urlsafe(24)


def new_secret() -> str:
    return "qbs_" + secrets.token_urlsafe(32)


def new_portal_password() -> str:
    chars = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def _new_merchant_no(session: Session) -> str:
    """15 digits starting with 8 (the length of a UnionPay merchant number), random, unused."""
    while True:
        candidate = "8" + "".join(secrets.choice("0123456789") for _ in range(14))
        if session.scalar(select(Merchant.id).where(Merchant.merchant_no == candidate)) is None:
            return candidate


def clean_name(value: str, field: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", value or "").split())
    if not text or len(text) > NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise QianbaoError("MERCHANT_NAME_INVALID", field=field)
    return text


def check_notify_url(url: str | None) -> str | None:
    """http(s) with a host, at most 500 characters; None or blank for none."""
    text = (url or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if len(text) > 500 or parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.password or any(ch.isspace() for ch in text):
        raise QianbaoError("MERCHANT_NOTIFY_URL_INVALID")
    return text


def check_rate(mdr_bp: int) -> int:
    if not isinstance(mdr_bp, int) or isinstance(mdr_bp, bool) or not 0 <= mdr_bp <= MDR_MAX_BP:
        raise QianbaoError("MERCHANT_RATE_INVALID", max_bp=MDR_MAX_BP)
    return mdr_bp


def create_merchant(
    session: Session,
    *,
    name_zh: str,
    name_en: str,
    category: str,
    mdr_bp: int,
    city: str = "北京",
    notify_url: str | None = None,
    by: audit.Actor,
    channel: str = "ops",
    system_code: str | None = None,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
    settings: Settings | None = None,
) -> Created:
    """A new merchant with its ledger account (kind merchant), API key, HMAC secret and portal password.

    `api_key`, `secret` and `password` are generated unless given (the demo seed gives fixed ones).
    Audited as merchant.create.
    """
    zh = clean_name(name_zh, "name_zh")
    en = clean_name(name_en, "name_en")
    if category not in CATEGORIES:
        raise QianbaoError("MERCHANT_CATEGORY_INVALID")
    rate = check_rate(mdr_bp)
    url = check_notify_url(notify_url)
    city_name = clean_name(city, "city")[:32]
    merchant_no = _new_merchant_no(session)
    key = api_key or new_api_key()
    hmac_secret = secret or new_secret()
    portal_password = password or new_portal_password()
    account = ledger.open_account(session, "merchant", code=f"MC{merchant_no}", name=zh[:100])
    now = now_utc()
    merchant = Merchant(
        merchant_no=merchant_no, name_zh=zh, name_en=en, category=category, city=city_name, mdr_bp=rate,
        ledger_account_id=account.id, status=ACTIVE, system_code=system_code,
        api_key_hash=signing.api_key_hash(key), api_key_prefix=key[:10], secret=hmac_secret, secret_version=1,
        secret_rotated_at=now, notify_url=url, created_at=now,
        created_by_staff_id=int(by.id) if by.type == "staff" and by.id else None,
    )
    session.add(merchant)
    session.flush()
    credentials.passwords.set_password(session, principal(merchant.id), portal_password, settings=settings)
    audit.record(session, action="merchant.create", actor=by, channel=channel, object_type="merchant",
                 object_id=merchant.id, details={"merchant_no": merchant_no, "name": zh, "category": category,
                                                 "mdr_bp": rate})
    return Created(merchant, Credentials(merchant_no, key, hmac_secret, portal_password))


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise QianbaoError("MERCHANT_NOT_FOUND")
    return merchant


def merchant_by_no(session: Session, merchant_no: str) -> Merchant | None:
    return session.scalar(select(Merchant).where(Merchant.merchant_no == (merchant_no or "").strip()))


def list_merchants(session: Session, *, limit: int = 200) -> list[Merchant]:
    return list(session.scalars(select(Merchant).order_by(Merchant.id.desc()).limit(limit)))


def rotate_secret(session: Session, merchant_id: int, *, by: audit.Actor, channel: str = "ops",
                  secret: str | None = None) -> Credentials:
    """A new HMAC secret, in force at once: requests signed with the old one are refused from now on
    (the merchant installs the new one before the next request). Shown once; audited."""
    merchant = get_merchant(session, merchant_id)
    merchant.secret = secret or new_secret()
    merchant.secret_version += 1
    merchant.secret_rotated_at = now_utc()
    session.flush()
    audit.record(session, action="merchant.secret.rotate", actor=by, channel=channel, object_type="merchant",
                 object_id=merchant.id, details={"merchant_no": merchant.merchant_no,
                                                 "secret_version": merchant.secret_version})
    return Credentials(merchant.merchant_no, None, merchant.secret, None)


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text or len(text) > 500:
        raise QianbaoError("MERCHANT_REASON_REQUIRED")
    return text


def suspend(session: Session, merchant_id: int, reason: str, *, by: audit.Actor, channel: str = "ops") -> Merchant:
    """Suspend: its API answers MERCHANT_SUSPENDED, its orders cannot be paid, its portal is closed (the
    portal sessions end). Refunds of past payments stay possible from the ops side only (not built here)."""
    merchant = get_merchant(session, merchant_id)
    text = _reason(reason)
    if merchant.status == SUSPENDED:
        raise QianbaoError("MERCHANT_SUSPENDED")
    merchant.status = SUSPENDED
    merchant.status_reason = text
    merchant.status_changed_at = now_utc()
    credentials.sessions.revoke_all(session, principal(merchant.id))
    session.flush()
    audit.record(session, action="merchant.suspend", actor=by, channel=channel, object_type="merchant",
                 object_id=merchant.id, details={"merchant_no": merchant.merchant_no, "reason": text})
    return merchant


def reactivate(session: Session, merchant_id: int, reason: str, *, by: audit.Actor, channel: str = "ops") -> Merchant:
    merchant = get_merchant(session, merchant_id)
    text = _reason(reason)
    if merchant.status == ACTIVE:
        raise QianbaoError("MERCHANT_NOT_SUSPENDED")
    merchant.status = ACTIVE
    merchant.status_reason = text
    merchant.status_changed_at = now_utc()
    session.flush()
    audit.record(session, action="merchant.reactivate", actor=by, channel=channel, object_type="merchant",
                 object_id=merchant.id, details={"merchant_no": merchant.merchant_no, "reason": text})
    return merchant


def reset_portal_password(session: Session, merchant_id: int, *, by: audit.Actor, channel: str = "ops",
                          settings: Settings | None = None) -> Credentials:
    """A new portal password (shown once); the merchant's portal sessions end, the login lock is lifted."""
    merchant = get_merchant(session, merchant_id)
    password = new_portal_password()
    who = principal(merchant.id)
    staff_id = int(by.id) if by.type == "staff" and by.id else 0
    credentials.passwords.reset_password_by_staff(session, who, password, by_staff_id=staff_id, settings=settings)
    credentials.sessions.revoke_all(session, who)
    audit.record(session, action="merchant.password.reset", actor=by, channel=channel, object_type="merchant",
                 object_id=merchant.id, details={"merchant_no": merchant.merchant_no})
    return Credentials(merchant.merchant_no, None, None, password)


def require_active(merchant: Merchant) -> None:
    if merchant.status != ACTIVE:
        raise QianbaoError("MERCHANT_SUSPENDED")


def postal_express(session: Session) -> Merchant:
    """The built-in postal express merchant 中国邮政速递 (SPEC §1), created on first use. Other packages
    (parcels) create its orders with `merchants.create_order(..., source="system")` and take payments
    with `merchants.pay_order`. Its credentials are never shown: it is operated inside Qianbao."""
    found = session.scalar(select(Merchant).where(Merchant.system_code == POSTAL_EXPRESS))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return create_merchant(
                session, name_zh="中国邮政速递", name_en="China Post Express", category="postal_express", mdr_bp=0,
                city="北京", by=audit.Actor.system("merchants"), channel="system", system_code=POSTAL_EXPRESS,
            ).merchant
    except IntegrityError:
        found = session.scalar(select(Merchant).where(Merchant.system_code == POSTAL_EXPRESS))
        assert found is not None
        return found


# ---- signed API requests ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedRequest:
    merchant_no: str
    api_key: str
    timestamp: str
    nonce: str
    signature: str


def authenticate_request(session: Session, request: SignedRequest, method: str, path: str, body: bytes, *,
                         now: datetime | None = None) -> Merchant:
    """The merchant behind a signed API request, or a refusal (each 401 but MERCHANT_SUSPENDED's 403).

    Order of checks: headers present; timestamp within ±WINDOW_SECONDS (MERCHANT_TIMESTAMP_STALE); nonce shape
    (MERCHANT_NONCE_INVALID); merchant and API key known and matching, signature right
    (MERCHANT_SIGNATURE_INVALID — one code for all three, so ids and keys cannot be probed); then the nonce is
    recorded, and a nonce already seen is MERCHANT_NONCE_REPLAYED. Call it in its own unit of work and
    commit, so a nonce is spent even if the request is then refused.
    """
    current = now or now_utc()
    if not (request.merchant_no and request.api_key and request.timestamp and request.nonce and request.signature):
        raise QianbaoError("MERCHANT_SIGNATURE_MISSING")
    if not request.timestamp.isascii() or not request.timestamp.isdigit() or len(request.timestamp) > 12:
        raise QianbaoError("MERCHANT_TIMESTAMP_STALE", window=signing.WINDOW_SECONDS)
    if abs(current.timestamp() - int(request.timestamp)) > signing.WINDOW_SECONDS:
        raise QianbaoError("MERCHANT_TIMESTAMP_STALE", window=signing.WINDOW_SECONDS)
    if not signing.NONCE_PATTERN.fullmatch(request.nonce):
        raise QianbaoError("MERCHANT_NONCE_INVALID")
    merchant = merchant_by_no(session, request.merchant_no)
    key_ok = merchant is not None and secrets.compare_digest(merchant.api_key_hash,
                                                             signing.api_key_hash(request.api_key))
    if merchant is None or not key_ok or not signing.signature_matches(
            merchant.secret, method, path, request.timestamp, request.nonce, body, request.signature):
        raise QianbaoError("MERCHANT_SIGNATURE_INVALID")
    try:
        with session.begin_nested():
            session.add(MerchantNonce(merchant_id=merchant.id, nonce=request.nonce, seen_at=current))
            session.flush()
    except IntegrityError:
        raise QianbaoError("MERCHANT_NONCE_REPLAYED") from None
    return merchant


def purge_nonces(session: Session, *, now: datetime | None = None) -> int:
    """Forget nonces older than twice the window: a request that old is refused as stale anyway."""
    cutoff = (now or now_utc()) - timedelta(seconds=2 * signing.WINDOW_SECONDS)
    result = session.execute(delete(MerchantNonce).where(MerchantNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
