"""Credentials and sessions (SPEC §4): login passwords, payment PINs, SMS codes, TOTP, sessions, CSRF,
and the database-backed rate limiter they share. No web imports: pages and API routes call these.

Who owns a credential
    `Principal(type, id)` — Principal.customer(42), Principal.staff(7). Credentials hang off this pair,
    not off a foreign key, so this package knows no wallet or staff table.

Calling convention
    Functions take the SQLAlchemy Session first and never commit. Refusals raise QianbaoError with a
    catalogue code. Refusals that COUNT something (a wrong password, PIN, SMS code or TOTP code, and the
    lock the fifth one sets) raise `CredentialFailure`, a QianbaoError subclass whose writes must be
    committed although it propagates. So run credential checks in

        with credentials.transaction(db) as session:     # not db.transaction()
            credentials.verify_login(session, principal, password, ip=ip)
            started = credentials.start_session(session, principal, device_id=..., ...)

    which commits before re-raising a CredentialFailure and rolls back on any other error. Do the
    credential check first in such a unit of work: what was written before it is committed too.
    Functions that read settings take `settings=` (defaults to `get_settings()`); pass the app's.

Login password (passwords.py) — argon2id, rules and lockout
    check_password_rules(pw, phone=, birth_date=)      PASSWORD_TOO_SHORT / _TOO_LONG / _CONTAINS_PHONE /
                                                        _CONTAINS_BIRTH_DATE / _TOO_COMMON (live form checks)
    set_password(s, p, pw, phone=, birth_date=)        first password (registration, counter set-up)
    verify_login(s, p_or_None, pw, ip=)                LOGIN_FAILED, LOGIN_LOCKED(minutes); 5 wrong → 15 min
    change_password(s, p, old, new, keep_session_id=)  PASSWORD_OLD_WRONG(tries_left), PASSWORD_UNCHANGED;
                                                        revokes the principal's other sessions
    reset_password(s, p, new, phone=, otp_code=)       forgotten password after an SMS code (purpose
                                                        otp.PASSWORD_RESET); lifts the lock, revokes sessions
    reset_password_by_staff(s, p, new, by_staff_id=)   counter reset after an in-person check
    has_password, login_locked_until, is_common_password

Payment PIN (pins.py) — 6 digits, argon2id over a keyed pre-hash
    check_pin_rules(pin, birth_date=, id_number=)      PIN_FORMAT / PIN_TOO_SIMPLE / PIN_IS_BIRTH_DATE /
                                                        PIN_IS_ID_NUMBER_TAIL
    set_pin, change_pin, verify_pin(s, p, pin, ip=)    PIN_WRONG(tries_left), PIN_LOCKED(until);
                                                        5 wrong in a Shanghai day → locked to next midnight
    reset_pin_lock(s, p, by_staff_id)                  the counter lifts the lock
    reset_pin(s, p, new, phone=, otp_code=), reset_pin_by_staff(...), has_pin, pin_locked_until

SMS one-time codes (otp.py)
    issue_otp(s, purpose, phone, ip=, lang=)           → IssuedOtp; queues the SMS in the outbox;
                                                        OTP_RESEND_TOO_SOON(seconds), RATE_LIMITED(retry_after)
    verify_otp(s, purpose, phone, code)                OTP_WRONG(tries_left), OTP_TOO_MANY_TRIES, OTP_EXPIRED,
                                                        OTP_USED, OTP_NOT_REQUESTED; single use
    resend_wait_seconds(s, purpose, phone)             for the "resend in N s" button
    purposes: otp.REGISTER, LOGIN_NEW_DEVICE, PASSWORD_RESET, PIN_RESET, BIND_CARD, CHANGE_PHONE,
              COUNTER_PAIRING, STEP_UP

Dynamic password, TOTP (totp.py)
    begin_totp_enrolment(s, p, account_name=)          → TotpEnrolment(uri, secret); qr_svg(uri), qr_png(uri)
    confirm_totp_enrolment(s, p, code)                 the first code completes enrolment
    verify_totp(s, p, code)                            TOTP_WRONG(tries_left), TOTP_CODE_USED, TOTP_LOCKED,
                                                        TOTP_NOT_ENROLLED; ±1 step; a step is never reused
    disable_totp(s, p, code), remove_totp(s, p), has_totp(s, p)

Sessions (sessions.py)
    start_session(s, p, device_id=, user_agent=, ip=, role=, branch_id=, replaces_token=)
                                                        → StartedSession(token, record); rotates the old one
    authenticate(s, token, ip=) → UserSession | None    slides the 15-minute idle timeout
    require_session(s, token, ip=) → UserSession        UNAUTHENTICATED / SESSION_EXPIRED
    rotate_session, end_session, list_sessions, revoke_session(s, p, public_id), revoke_all,
    principal_of(record), is_new_device(s, p, device_id), new_device_id()
    session_cookie(settings), device_cookie(settings)  CookieSpec → .set_cookie_kwargs(value)

CSRF (csrf.py)
    csrf_token(user_session | device_id), verify_csrf(user_session | device_id, token)  CSRF_FAILED;
    FORM_FIELD = "csrf_token", HEADER = "X-CSRF-Token"

Rate limiter (ratelimit.py)
    hit(s, bucket, key, limit, window_seconds)          RATE_LIMITED(retry_after); sliding-window estimate,
                                                        race-safe upsert; reset(s, bucket, key); prune(s)

The worker job `credentials_prune` (jobs.py) deletes old rate-limit windows, ended sessions and spent
codes. docs/credentials.md explains every rule and the choices behind it.
"""

from qianbao.credentials import csrf, otp, passwords, pins, ratelimit, sessions, totp
from qianbao.credentials.base import CredentialFailure, Principal, transaction
from qianbao.credentials.csrf import csrf_token, verify_csrf
from qianbao.credentials.otp import IssuedOtp, issue_otp, resend_wait_seconds, verify_otp
from qianbao.credentials.passwords import (
    change_password,
    check_password_rules,
    has_password,
    is_common_password,
    login_locked_until,
    reset_password,
    reset_password_by_staff,
    set_password,
    verify_login,
)
from qianbao.credentials.pins import (
    change_pin,
    check_pin_rules,
    has_pin,
    pin_locked_until,
    reset_pin,
    reset_pin_by_staff,
    reset_pin_lock,
    set_pin,
    verify_pin,
)
from qianbao.credentials.sessions import (
    CookieSpec,
    StartedSession,
    authenticate,
    device_cookie,
    end_session,
    is_new_device,
    list_sessions,
    new_device_id,
    principal_of,
    require_session,
    revoke_all,
    revoke_session,
    rotate_session,
    session_cookie,
    start_session,
)
from qianbao.credentials.totp import (
    TotpEnrolment,
    begin_totp_enrolment,
    confirm_totp_enrolment,
    disable_totp,
    has_totp,
    qr_png,
    qr_svg,
    remove_totp,
    verify_totp,
)

__all__ = [
    "CookieSpec",
    "CredentialFailure",
    "IssuedOtp",
    "Principal",
    "StartedSession",
    "TotpEnrolment",
    "authenticate",
    "begin_totp_enrolment",
    "change_password",
    "change_pin",
    "check_password_rules",
    "check_pin_rules",
    "confirm_totp_enrolment",
    "csrf",
    "csrf_token",
    "device_cookie",
    "disable_totp",
    "end_session",
    "has_password",
    "has_pin",
    "has_totp",
    "is_common_password",
    "is_new_device",
    "issue_otp",
    "list_sessions",
    "login_locked_until",
    "new_device_id",
    "otp",
    "passwords",
    "pin_locked_until",
    "pins",
    "principal_of",
    "qr_png",
    "qr_svg",
    "ratelimit",
    "remove_totp",
    "require_session",
    "resend_wait_seconds",
    "reset_password",
    "reset_password_by_staff",
    "reset_pin",
    "reset_pin_by_staff",
    "reset_pin_lock",
    "revoke_all",
    "revoke_session",
    "rotate_session",
    "session_cookie",
    "sessions",
    "set_password",
    "set_pin",
    "start_session",
    "totp",
    "transaction",
    "verify_csrf",
    "verify_login",
    "verify_otp",
    "verify_pin",
    "verify_totp",
]
