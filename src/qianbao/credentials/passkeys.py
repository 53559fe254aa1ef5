"""Passkeys (WebAuthn, 指纹/面容): register, sign in without a password, confirm a payment instead of the PIN.

Built on the `webauthn` library (py_webauthn), which does the cryptography and the protocol checks; this
module keeps the state the protocol needs on the server:

Challenges
    Every ceremony starts with options carrying a random 32-byte challenge, stored here (as its SHA-256)
    with its purpose, its principal (registration and step-up; a password-less sign-in has none yet),
    an optional binding (what a step-up confirms, e.g. "payment:<reference>"), the relying-party id it
    was issued for, and an expiry of 5 minutes. The browser's answer names the challenge inside its
    signed client data; the server finds the row by it and spends it at once, before verifying, so a
    challenge is accepted at most once whatever the outcome. Spending writes, so the refusals after it
    are `CredentialFailure`s: run these in `credentials.transaction(db)` to keep the challenge spent.

Rules
    user verification REQUIRED (the authenticator checked a fingerprint, face or device PIN), in the
    options and again on the response (PASSKEY_USER_NOT_VERIFIED); resident (discoverable) keys so the
    sign-in page needs no phone number; the relying-party id and origin are the caller's (the web layer
    derives them from settings.public_url or the request's host); at most 10 passkeys per principal.
    The stored signature counter must grow when the authenticator keeps one: an answer whose counter
    is not above the stored one is refused (PASSKEY_SIGN_COUNT), the sign of a cloned authenticator.
    Authenticators that keep no counter (always 0, as synced passkeys do) are accepted.

Functions (Session first, never commit)
    registration_options(s, p, rp_id=, user_name=, user_display_name=) -> dict (JSON for the browser)
    register_passkey(s, p, credential, rp_id=, origin=, name=) -> Passkey
        PASSKEY_CHALLENGE_INVALID, PASSKEY_INVALID, PASSKEY_USER_NOT_VERIFIED, PASSKEY_ALREADY_REGISTERED,
        PASSKEY_LIMIT
    authentication_options(s, rp_id=, ip=) -> dict                         a password-less sign-in
    authenticate_with_passkey(s, credential, rp_id=, origin=) -> Passkey   its owner is .principal
        PASSKEY_CHALLENGE_INVALID, PASSKEY_INVALID, PASSKEY_NOT_RECOGNISED, PASSKEY_USER_NOT_VERIFIED,
        PASSKEY_SIGN_COUNT, RATE_LIMITED (options, per IP)
    step_up_options(s, p, rp_id=, binding=None) -> dict                   PASSKEY_NONE without a passkey
    verify_passkey_assertion(s, p, credential, rp_id=, origin=, binding=None) -> Passkey
        the step-up: a payment confirmed with the passkey instead of the PIN; the same refusals, and the
        passkey must be `p`'s and the challenge issued to `p` for the same binding
    list_passkeys(s, p), has_passkey(s, p), remove_passkey(s, p, public_id)  NOT_FOUND for another's
    prune_challenges(s) / prune_job(db, settings)                         the worker deletes spent ones
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import webauthn
from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from qianbao.credentials import ratelimit
from qianbao.credentials.base import (
    CredentialFailure,
    Principal,
    as_utc,
    execute_count,
    keyed_digest,
    now_utc,
    resolve_settings,
)
from qianbao.db import Base, Database, UtcDateTime
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

REGISTER = "register"
LOGIN = "login"
STEP_UP = "step_up"
PURPOSES = frozenset({REGISTER, LOGIN, STEP_UP})

RP_NAME = "Qianbao 钱包"
CHALLENGE_BYTES = 32
CHALLENGE_TTL = timedelta(minutes=5)
# What the browser is told to wait for the person at the authenticator, in milliseconds.
CEREMONY_TIMEOUT_MS = 120_000
MAX_PASSKEYS = 10
NAME_LENGTH = 64
# Raw credential ids are at most 1023 bytes (WebAuthn L3); base64url makes that 1364 characters.
CREDENTIAL_ID_LENGTH = 1400


class Passkey(Base):
    """A registered WebAuthn credential: its id, COSE public key and signature counter, and its owner."""

    __tablename__ = "credential_passkey"
    __table_args__ = (Index("ix_credential_passkey_principal", "principal_type", "principal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[int] = mapped_column(BigInteger)
    # Names the passkey on the security page (remove), so the credential id itself is never in a URL.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    credential_id: Mapped[str] = mapped_column(String(CREDENTIAL_ID_LENGTH), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    aaguid: Mapped[str | None] = mapped_column(String(36))
    device_type: Mapped[str | None] = mapped_column(String(32))
    backed_up: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def principal(self) -> Principal:
        return Principal(self.principal_type, self.principal_id)


class PasskeyChallenge(Base):
    """One issued WebAuthn challenge (as its SHA-256): single use, 5 minutes, for one purpose."""

    __tablename__ = "credential_passkey_challenge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    principal_type: Mapped[str | None] = mapped_column(String(16))
    principal_id: Mapped[int | None] = mapped_column(BigInteger)
    binding: Mapped[str | None] = mapped_column(String(128))
    rp_id: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# ---- helpers ----------------------------------------------------------------------------------------

def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def user_handle(principal: Principal) -> bytes:
    """The WebAuthn user id of a principal: opaque, stable, and no personal value (a keyed digest)."""
    return bytes.fromhex(keyed_digest("passkey-user", str(principal)))[:32]


def _of(principal: Principal) -> Any:
    return (Passkey.principal_type == principal.type) & (Passkey.principal_id == principal.id)


def _issue(session: Session, purpose: str, rp_id: str, *, principal: Principal | None = None,
           binding: str | None = None) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown passkey purpose {purpose!r}")
    if binding is not None and len(binding) > 128:
        raise ValueError("a binding is at most 128 characters")
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    now = now_utc()
    session.add(PasskeyChallenge(
        challenge_hash=_hash(challenge), purpose=purpose, rp_id=rp_id,
        principal_type=None if principal is None else principal.type,
        principal_id=None if principal is None else principal.id,
        binding=binding, created_at=now, expires_at=now + CHALLENGE_TTL,
    ))
    session.flush()
    return challenge


def _take(session: Session, challenge: bytes, purpose: str, rp_id: str, *, principal: Principal | None = None,
          binding: str | None = None) -> None:
    """Spend the challenge the answer signed; PASSKEY_CHALLENGE_INVALID unless it is ours, unused, unexpired,
    for this purpose, relying party, principal and binding. Spending is a write the refusal must keep."""
    row = session.scalar(
        select(PasskeyChallenge).where(PasskeyChallenge.challenge_hash == _hash(challenge))
        .with_for_update().execution_options(populate_existing=True)
    )
    if row is None or row.used_at is not None:
        raise QianbaoError("PASSKEY_CHALLENGE_INVALID")
    now = now_utc()
    row.used_at = now
    session.flush()
    owner = None if row.principal_type is None else Principal(row.principal_type, row.principal_id or 0)
    if (as_utc(row.expires_at) <= now or row.purpose != purpose or row.rp_id != rp_id or owner != principal
            or row.binding != binding):
        raise CredentialFailure("PASSKEY_CHALLENGE_INVALID")


def _options_json(options: Any) -> dict[str, Any]:
    return json.loads(webauthn.options_to_json(options))  # type: ignore[no-any-return]


def _count(session: Session, principal: Principal) -> int:
    return session.scalar(select(func.count()).select_from(Passkey).where(_of(principal))) or 0


def _descriptors(session: Session, principal: Principal) -> list[PublicKeyCredentialDescriptor]:
    ids = session.scalars(select(Passkey.credential_id).where(_of(principal)).order_by(Passkey.id))
    return [PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(value)) for value in ids]


def _user_verified(flags: Any) -> bool:
    return bool(getattr(flags, "uv", False))


# ---- registration -----------------------------------------------------------------------------------

def registration_options(
    session: Session, principal: Principal, *, rp_id: str, user_name: str, user_display_name: str,
    rp_name: str = RP_NAME,
) -> dict[str, Any]:
    """Options for `navigator.credentials.create()` (as JSON-ready dict). `user_name` and
    `user_display_name` are what the authenticator shows in its account list: pass masked values."""
    if _count(session, principal) >= MAX_PASSKEYS:
        raise QianbaoError("PASSKEY_LIMIT", limit=MAX_PASSKEYS)
    challenge = _issue(session, REGISTER, rp_id, principal=principal)
    options = webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=rp_name, user_id=user_handle(principal), user_name=user_name,
        user_display_name=user_display_name, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(session, principal),
    )
    return _options_json(options)


def _parse_registration(credential: dict[str, Any] | str) -> tuple[RegistrationCredential, bytes, Any]:
    try:
        parsed = parse_registration_credential_json(credential if isinstance(credential, str)
                                                    else json.dumps(credential))
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
        flags = parse_attestation_object(parsed.response.attestation_object).auth_data.flags
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise QianbaoError("PASSKEY_INVALID") from None
    return parsed, challenge, flags


def register_passkey(
    session: Session, principal: Principal, credential: dict[str, Any] | str, *, rp_id: str, origin: str,
    name: str | None = None,
) -> Passkey:
    """Verify the browser's answer to `registration_options` and store the new passkey."""
    parsed, challenge, flags = _parse_registration(credential)
    _take(session, challenge, REGISTER, rp_id, principal=principal)
    if not _user_verified(flags):
        raise CredentialFailure("PASSKEY_USER_NOT_VERIFIED")
    try:
        verified = webauthn.verify_registration_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin,
            require_user_verification=True,
        )
    except WebAuthnException:
        raise CredentialFailure("PASSKEY_INVALID") from None
    if _count(session, principal) >= MAX_PASSKEYS:
        raise CredentialFailure("PASSKEY_LIMIT", limit=MAX_PASSKEYS)
    label = " ".join((name or "").split())[:NAME_LENGTH] or "Passkey"
    passkey = Passkey(
        principal_type=principal.type, principal_id=principal.id, public_id=secrets.token_urlsafe(12),
        credential_id=bytes_to_base64url(verified.credential_id), public_key=verified.credential_public_key,
        sign_count=verified.sign_count, name=label, aaguid=str(verified.aaguid or "")[:36] or None,
        device_type=str(getattr(verified.credential_device_type, "value", verified.credential_device_type))[:32],
        backed_up=bool(verified.credential_backed_up), created_at=now_utc(),
    )
    try:
        with session.begin_nested():
            session.add(passkey)
            session.flush()
    except IntegrityError:
        raise CredentialFailure("PASSKEY_ALREADY_REGISTERED") from None
    return passkey


# ---- authentication ---------------------------------------------------------------------------------

def authentication_options(
    session: Session, *, rp_id: str, ip: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Options for a password-less sign-in (`navigator.credentials.get()`): no allow-list, so the
    authenticator offers the passkeys it holds for this site. Rate-limited per IP like password sign-in."""
    s = resolve_settings(settings)
    if ip:
        ratelimit.hit(session, "passkey_ip", ip, s.login_ip_limit, s.login_ip_window_seconds)
    challenge = _issue(session, LOGIN, rp_id)
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _options_json(options)


def step_up_options(
    session: Session, principal: Principal, *, rp_id: str, binding: str | None = None
) -> dict[str, Any]:
    """Options for confirming an operation (a payment) with one of the principal's passkeys; `binding`
    names the operation, and `verify_passkey_assertion` must be given the same. PASSKEY_NONE without one."""
    allowed = _descriptors(session, principal)
    if not allowed:
        raise QianbaoError("PASSKEY_NONE")
    challenge = _issue(session, STEP_UP, rp_id, principal=principal, binding=binding)
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS, allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _options_json(options)


def _parse_assertion(credential: dict[str, Any] | str) -> tuple[AuthenticationCredential, bytes, Any]:
    try:
        parsed = parse_authentication_credential_json(credential if isinstance(credential, str)
                                                      else json.dumps(credential))
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
        auth_data = parse_authenticator_data(parsed.response.authenticator_data)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise QianbaoError("PASSKEY_INVALID") from None
    return parsed, challenge, auth_data


def _verify_assertion(
    session: Session, credential: dict[str, Any] | str, purpose: str, *, rp_id: str, origin: str,
    principal: Principal | None = None, binding: str | None = None,
) -> Passkey:
    parsed, challenge, auth_data = _parse_assertion(credential)
    _take(session, challenge, purpose, rp_id, principal=principal, binding=binding)
    passkey = session.scalar(
        select(Passkey).where(Passkey.credential_id == bytes_to_base64url(parsed.raw_id))
        .with_for_update().execution_options(populate_existing=True)
    )
    if passkey is None or (principal is not None and passkey.principal != principal):
        raise CredentialFailure("PASSKEY_NOT_RECOGNISED")
    handle = parsed.response.user_handle
    if handle and handle != user_handle(passkey.principal):
        raise CredentialFailure("PASSKEY_NOT_RECOGNISED")
    if not _user_verified(auth_data.flags):
        raise CredentialFailure("PASSKEY_USER_NOT_VERIFIED")
    try:
        # The counter is checked below, after the signature, so that a regression gets its own code.
        verified = webauthn.verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin,
            credential_public_key=passkey.public_key, credential_current_sign_count=0,
            require_user_verification=True,
        )
    except WebAuthnException:
        raise CredentialFailure("PASSKEY_INVALID") from None
    if (verified.new_sign_count > 0 or passkey.sign_count > 0) and verified.new_sign_count <= passkey.sign_count:
        raise CredentialFailure("PASSKEY_SIGN_COUNT")
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = bool(verified.credential_backed_up)
    passkey.last_used_at = now_utc()
    session.flush()
    return passkey


def authenticate_with_passkey(
    session: Session, credential: dict[str, Any] | str, *, rp_id: str, origin: str
) -> Passkey:
    """Verify a password-less sign-in; the signed-in principal is the returned passkey's `.principal`."""
    return _verify_assertion(session, credential, LOGIN, rp_id=rp_id, origin=origin)


def verify_passkey_assertion(
    session: Session, principal: Principal, credential: dict[str, Any] | str, *, rp_id: str, origin: str,
    binding: str | None = None,
) -> Passkey:
    """The step-up: `principal` confirmed the operation named by `binding` with one of their passkeys
    (in place of the payment PIN). Returns the passkey used; refuses as described in the module docstring."""
    return _verify_assertion(session, credential, STEP_UP, rp_id=rp_id, origin=origin, principal=principal,
                             binding=binding)


# ---- the security page ------------------------------------------------------------------------------

def list_passkeys(session: Session, principal: Principal) -> list[Passkey]:
    return list(session.scalars(select(Passkey).where(_of(principal)).order_by(Passkey.created_at, Passkey.id)))


def has_passkey(session: Session, principal: Principal) -> bool:
    return session.scalar(select(Passkey.id).where(_of(principal)).limit(1)) is not None


def remove_passkey(session: Session, principal: Principal, public_id: str) -> Passkey:
    """Remove one of the principal's passkeys; NOT_FOUND for anyone else's (ids cannot be probed)."""
    passkey = session.scalar(select(Passkey).where(Passkey.public_id == public_id, _of(principal)))
    if passkey is None:
        raise QianbaoError("NOT_FOUND")
    session.delete(passkey)
    session.flush()
    return passkey


def prune_challenges(session: Session) -> int:
    """Delete challenges that were spent or expired (an hour's grace keeps them for investigation)."""
    cutoff = now_utc() - timedelta(hours=1)
    stmt = delete(PasskeyChallenge).where(or_(PasskeyChallenge.expires_at < cutoff,
                                              PasskeyChallenge.used_at < cutoff))
    return execute_count(session, stmt)


def prune_job(db: Database, settings: Settings) -> int:
    """Worker job: prune spent and expired challenges."""
    with db.transaction() as session:
        return prune_challenges(session)


__all__ = [
    "LOGIN",
    "MAX_PASSKEYS",
    "REGISTER",
    "STEP_UP",
    "Passkey",
    "PasskeyChallenge",
    "authenticate_with_passkey",
    "authentication_options",
    "has_passkey",
    "list_passkeys",
    "prune_challenges",
    "prune_job",
    "register_passkey",
    "registration_options",
    "remove_passkey",
    "step_up_options",
    "user_handle",
    "verify_passkey_assertion",
]
