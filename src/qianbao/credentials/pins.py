"""The 6-digit payment PIN (支付密码): rules, storage, the daily lock and its counter reset.

Rules (SPEC §3.1 step 4), in this order:
    PIN_FORMAT            not exactly six digits (full-width digits are accepted as digits)
    PIN_TOO_SIMPLE        six equal digits (000000 … 999999); a run up or down by one without wrapping
                          (012345 … 456789, 987654 … 543210); a pair or triple said again (121212, 123123)
    PIN_IS_BIRTH_DATE     the birth date as YYMMDD (the last six digits of YYYYMMDD) or MMDDYY
    PIN_IS_ID_NUMBER_TAIL the last six characters of the resident ID number (a habit banks also forbid)

Storage: argon2id over an HMAC of the PIN under a key derived from the keyring ("pepper"). A PIN has only
a million values, so argon2 alone would not stop someone with a copy of the database from trying them
all; without the key, which is not in the database, they cannot start. The HMAC also covers the
principal, so a hash copied onto another principal's row does not verify.

Lock: wrong PINs are counted per Asia/Shanghai calendar day and are not cleared by a right one
("5 wrong tries in a day", SPEC §4). The fifth wrong PIN of a day locks payments until the next
Shanghai midnight (PIN_LOCKED with the time), or until a teller calls `reset_pin_lock`.
"""

from __future__ import annotations

import contextlib
import itertools
import unicodedata
from datetime import date, datetime

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.credentials import ratelimit
from qianbao.credentials.base import (
    CredentialFailure,
    Principal,
    as_utc,
    format_shanghai,
    hasher,
    keyed_digest,
    next_shanghai_midnight,
    now_utc,
    resolve_settings,
    shanghai_day,
)
from qianbao.credentials.models import PaymentPin
from qianbao.credentials.passwords import birth_date_forms
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

PIN_LENGTH = 6
MAX_FAILURES_PER_DAY = 5


def normalise(pin: str) -> str:
    return unicodedata.normalize("NFKC", pin).strip()


def is_too_simple(pin: str) -> bool:
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {-1}):
        return True
    return any(pin == pin[:period] * (PIN_LENGTH // period) for period in (2, 3))


def check_pin_rules(pin: str, *, birth_date: date | None = None, id_number: str | None = None) -> None:
    """Raise the first rule the PIN breaks (see the module docstring); return None if it passes."""
    text = normalise(pin)
    if len(text) != PIN_LENGTH or not text.isascii() or not text.isdigit():
        raise QianbaoError("PIN_FORMAT", length=PIN_LENGTH)
    if is_too_simple(text):
        raise QianbaoError("PIN_TOO_SIMPLE")
    if birth_date is not None and text in birth_date_forms(birth_date):
        raise QianbaoError("PIN_IS_BIRTH_DATE")
    if id_number and unicodedata.normalize("NFKC", id_number).strip().upper()[-PIN_LENGTH:] == text:
        raise QianbaoError("PIN_IS_ID_NUMBER_TAIL")


def _peppered(principal: Principal, pin: str) -> str:
    return keyed_digest("pin", str(principal), normalise(pin))


def _row(session: Session, principal: Principal) -> PaymentPin | None:
    stmt = (
        select(PaymentPin)
        .where(PaymentPin.principal_type == principal.type, PaymentPin.principal_id == principal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def has_pin(session: Session, principal: Principal) -> bool:
    stmt = select(PaymentPin.id).where(
        PaymentPin.principal_type == principal.type, PaymentPin.principal_id == principal.id
    )
    return session.scalar(stmt) is not None


def set_pin(
    session: Session,
    principal: Principal,
    pin: str,
    *,
    birth_date: date | None = None,
    id_number: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Set the first PIN; PIN_ALREADY_SET if there is one (use change or reset)."""
    check_pin_rules(pin, birth_date=birth_date, id_number=id_number)
    if _row(session, principal) is not None:
        raise QianbaoError("PIN_ALREADY_SET")
    now = now_utc()
    session.add(
        PaymentPin(
            principal_type=principal.type,
            principal_id=principal.id,
            hash=hasher(resolve_settings(settings)).hash(_peppered(principal, pin)),
            failed_count=0,
            created_at=now,
            changed_at=now,
        )
    )
    session.flush()


def _refuse_if_locked(row: PaymentPin) -> None:
    if row.locked_until is not None and as_utc(row.locked_until) > now_utc():
        raise CredentialFailure("PIN_LOCKED", until=format_shanghai(row.locked_until))


def _check(session: Session, row: PaymentPin, principal: Principal, pin: str, settings: Settings) -> None:
    """Verify against the row; count a wrong PIN (PIN_WRONG, or PIN_LOCKED at the day's fifth)."""
    _refuse_if_locked(row)
    ph = hasher(settings)
    candidate = _peppered(principal, pin)
    try:
        ph.verify(row.hash, candidate)
    except (VerificationError, InvalidHashError):
        now = now_utc()
        today = shanghai_day(now)
        if row.failed_day != today:
            row.failed_day = today
            row.failed_count = 0
        row.failed_count += 1
        if row.failed_count >= MAX_FAILURES_PER_DAY:
            row.locked_until = next_shanghai_midnight(now)
            session.flush()
            raise CredentialFailure("PIN_LOCKED", until=format_shanghai(row.locked_until)) from None
        session.flush()
        raise CredentialFailure("PIN_WRONG", tries_left=MAX_FAILURES_PER_DAY - row.failed_count) from None
    if ph.check_needs_rehash(row.hash):
        row.hash = ph.hash(candidate)
        session.flush()


def verify_pin(
    session: Session,
    principal: Principal,
    pin: str,
    *,
    ip: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Confirm a payment with the PIN; None when right, else PIN_NOT_SET / PIN_LOCKED / PIN_WRONG.

    Wrong PINs from `ip` are also rate-limited across all principals (settings.pin_ip_limit per
    settings.pin_ip_window_seconds): one device guessing the PINs of many stolen sessions. Only wrong PINs
    count, so many customers paying behind one address (a carrier's NAT, a shop's Wi-Fi) are never refused.
    """
    s = resolve_settings(settings)
    if ip:
        _refuse_if_ip_over_limit(session, ip, s)
    row = _row(session, principal)
    if row is None:
        raise CredentialFailure("PIN_NOT_SET")
    try:
        _check(session, row, principal, pin, s)
    except CredentialFailure:
        if ip:
            with contextlib.suppress(QianbaoError):
                ratelimit.hit(session, "pin_ip", ip, s.pin_ip_limit, s.pin_ip_window_seconds)
        raise


class _Probe(Exception):
    pass


def _refuse_if_ip_over_limit(session: Session, ip: str, s: Settings) -> None:
    """RATE_LIMITED when `ip` has used up its wrong PINs; counts nothing (the probe's hit is rolled back)."""
    try:
        with session.begin_nested():
            ratelimit.hit(session, "pin_ip", ip, s.pin_ip_limit, s.pin_ip_window_seconds)
            raise _Probe
    except _Probe:
        pass


def pin_locked_until(session: Session, principal: Principal) -> datetime | None:
    """When the PIN lock ends (aware UTC), or None when payments are not locked."""
    stmt = select(PaymentPin.locked_until).where(
        PaymentPin.principal_type == principal.type, PaymentPin.principal_id == principal.id
    )
    until = session.scalar(stmt)
    if until is None or as_utc(until) <= now_utc():
        return None
    return as_utc(until)


def change_pin(
    session: Session,
    principal: Principal,
    old_pin: str,
    new_pin: str,
    *,
    birth_date: date | None = None,
    id_number: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Change the PIN given the current one; a wrong current PIN counts toward the day's lock."""
    s = resolve_settings(settings)
    check_pin_rules(new_pin, birth_date=birth_date, id_number=id_number)
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PIN_NOT_SET")
    _check(session, row, principal, old_pin, s)
    if normalise(old_pin) == normalise(new_pin):
        raise QianbaoError("PIN_UNCHANGED")
    _store(row, principal, new_pin, s)


def reset_pin(
    session: Session,
    principal: Principal,
    new_pin: str,
    *,
    phone: str,
    otp_code: str,
    birth_date: date | None = None,
    id_number: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Forgotten PIN in the app: a code sent to `phone` for purpose `pin_reset` proves the phone, then the
    new PIN replaces the old and the lock is lifted. (The wallet flow may ask for more, e.g. the ID number,
    before calling this.)"""
    from qianbao.credentials import otp

    s = resolve_settings(settings)
    check_pin_rules(new_pin, birth_date=birth_date, id_number=id_number)
    otp.verify_otp(session, otp.PIN_RESET, phone, otp_code)
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PIN_NOT_SET")
    _store(row, principal, new_pin, s)


def reset_pin_by_staff(
    session: Session,
    principal: Principal,
    new_pin: str,
    *,
    by_staff_id: int,
    birth_date: date | None = None,
    id_number: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Counter reset of a forgotten PIN, typed by the customer on the PIN pad; lifts the lock too."""
    s = resolve_settings(settings)
    check_pin_rules(new_pin, birth_date=birth_date, id_number=id_number)
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PIN_NOT_SET")
    _store(row, principal, new_pin, s)
    row.lock_reset_by_staff_id = by_staff_id
    row.lock_reset_at = now_utc()
    session.flush()


def reset_pin_lock(session: Session, principal: Principal, by_staff_id: int) -> None:
    """A teller lifts the PIN lock after checking the customer at the counter; the day's count restarts."""
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PIN_NOT_SET")
    row.failed_count = 0
    row.locked_until = None
    row.lock_reset_by_staff_id = by_staff_id
    row.lock_reset_at = now_utc()
    session.flush()


def _store(row: PaymentPin, principal: Principal, pin: str, settings: Settings) -> None:
    row.hash = hasher(settings).hash(_peppered(principal, pin))
    row.changed_at = now_utc()
    row.failed_count = 0
    row.failed_day = None
    row.locked_until = None
