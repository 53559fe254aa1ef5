"""Login passwords: the rules a new password must pass, argon2id storage, lockout, change and reset.

Rules (SPEC §3.1, §4), checked in this order, each refusal with its own code:
    PASSWORD_TOO_SHORT          fewer than 8 characters
    PASSWORD_TOO_LONG           more than 128 characters (argon2 would take it; the cap stops abuse)
    PASSWORD_CONTAINS_PHONE     contains the holder's 11-digit mobile number
    PASSWORD_CONTAINS_BIRTH_DATE contains the ID card's birth date as YYMMDD or MMDDYY (so YYYYMMDD too),
                                also with - . / or spaces between the parts
    PASSWORD_TOO_COMMON         see `is_common_password`
The password is NFKC-normalised first, so full-width characters typed with a Chinese input method count
and hash like their ASCII forms.

Lockout: 5 wrong passwords in a row lock login for 15 minutes (LOGIN_LOCKED with the minutes left);
a correct password resets the count, and so does the end of a lock. Wrong old passwords in the change
flow count toward the same lock.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import re
import unicodedata
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.credentials import ratelimit
from qianbao.credentials.base import (
    CredentialFailure,
    Principal,
    as_utc,
    hasher,
    hasher_for,
    minutes_until,
    now_utc,
    resolve_settings,
)
from qianbao.credentials.models import LoginPassword
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

MIN_LENGTH = 8
MAX_LENGTH = 128
MAX_FAILURES = 5
LOCK_MINUTES = 15

# ---- rules ------------------------------------------------------------------------------------------

# Words people put in front of or behind a few simple digits: pinyin love phrases, QQ, site and keyboard
# fragments, and the one-letter prefixes sites forced on people ("a123456").
COMMON_WORDS = frozenset({
    "a", "aa", "aaa", "ab", "abc", "abcd", "q", "qq", "qwe", "qwer", "asd", "asdf", "zxc", "zxcv", "qaz",
    "wo", "woai", "woaini", "aini", "ai", "iloveyou", "ilove", "love", "lover",
    "baobei", "laopo", "laogong", "nihao", "mima", "password", "pass", "admin", "root", "user", "test",
    "wang", "zhang", "li", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu", "sun", "ma", "zhu",
    "hu", "guo", "he", "lin", "luo", "gao",
})
# Numbers with a meaning (520 我爱你, 1314 一生一世, 521, 7758 亲亲我吧) and lucky numbers.
LOVE_NUMBERS = frozenset({"520", "521", "1314", "5201314", "1314520", "5211314", "7758", "7758521", "168", "518"})
KEYBOARD_LINES = (
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
)
_WORD_DIGITS = re.compile(r"^([a-z]*)(\d*)$")
_DIGITS_WORD = re.compile(r"^(\d*)([a-z]*)$")
_DATE_SEPARATORS = re.compile(r"[-./\s]")


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped lists: the 20,000 most common passwords (Royce Williams' list as Django ships it)
    and a curated list of ones common among Chinese users. Lower case."""
    data = resources.files("qianbao.credentials") / "data"
    words: set[str] = set()
    with (data / "common-passwords.txt.gz").open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        words.update(line.strip() for line in fh)
    words.update(line.strip() for line in (data / "common-passwords-zh.txt").read_text("utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


def _is_repeat(text: str) -> bool:
    """One unit said at least twice: 88888888, 12121212, abcabcabc, woainiwoaini."""
    return len(text) >= 2 and (text + text).find(text, 1) < len(text)


def _is_run(text: str) -> bool:
    """Characters stepping by one, up or down: 12345678, 87654321, abcdefgh."""
    if len(text) < 3:
        return False
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return steps in ({1}, {-1}) and (text.isdigit() or text.isalpha())


def _is_keyboard_walk(text: str) -> bool:
    return len(text) >= 4 and any(text in line or text in line[::-1] for line in KEYBOARD_LINES)


def _is_date(digits: str) -> bool:
    """Eight digits that read as YYYYMMDD from 1900 to 2099 (a birthday, an anniversary)."""
    if len(digits) != 8 or not digits.isdigit() or digits[:2] not in ("19", "20"):
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return True


def _is_simple_digits(digits: str) -> bool:
    return (
        len(digits) <= 4
        or digits in LOVE_NUMBERS
        or _is_repeat(digits)
        or _is_run(digits)
        or _is_keyboard_walk(digits)
        or _is_date(digits)
        or any(digits == n + m for n in LOVE_NUMBERS for m in LOVE_NUMBERS)
    )


def is_common_password(password: str) -> bool:
    """True for a password an attacker tries first. Case-insensitive; a password is common when it is
    - on one of the shipped lists (`common_passwords`);
    - one unit repeated (88888888, 12121212, passpass), a run (12345678, 87654321, abcdefgh), a piece of
      a keyboard line (qwertyui, 1qaz2wsx), or an 8-digit date (19900101);
    - a common word with simple digits around it (woaini1314, qq123456, a12345678, 1314woaini,
      zhang888888, abc123456), where simple digits are at most 4 digits, a lover's number, a repeat,
      a run, a keyboard piece or a date.
    """
    text = normalise(password).lower()
    if text in common_passwords():
        return True
    if _is_repeat(text) or _is_run(text) or _is_keyboard_walk(text) or _is_date(text):
        return True
    for pattern, word_group, digit_group in ((_WORD_DIGITS, 1, 2), (_DIGITS_WORD, 2, 1)):
        match = pattern.match(text)
        if match is None:
            continue
        word, digits = match.group(word_group), match.group(digit_group)
        word_is_weak = word in COMMON_WORDS or _is_repeat(word) or _is_run(word) or _is_keyboard_walk(word)
        if word_is_weak and _is_simple_digits(digits):
            return True
    return False


def _national_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    if len(digits) == 15 and digits.startswith("0086"):
        return digits[4:]
    return digits


def birth_date_forms(birth_date: date) -> tuple[str, ...]:
    """How a birth date appears in a password or PIN: YYMMDD (the end of YYYYMMDD) and MMDDYY."""
    yy, mm, dd = f"{birth_date.year % 100:02d}", f"{birth_date.month:02d}", f"{birth_date.day:02d}"
    return (yy + mm + dd, mm + dd + yy)


def check_password_rules(password: str, *, phone: str | None = None, birth_date: date | None = None) -> None:
    """Raise the first rule the password breaks (see the module docstring); return None if it passes."""
    text = normalise(password)
    if len(text) < MIN_LENGTH:
        raise QianbaoError("PASSWORD_TOO_SHORT", min_length=MIN_LENGTH)
    if len(text) > MAX_LENGTH:
        raise QianbaoError("PASSWORD_TOO_LONG", max_length=MAX_LENGTH)
    if phone:
        national = _national_phone(phone)
        if len(national) >= 7 and national in text:
            raise QianbaoError("PASSWORD_CONTAINS_PHONE")
    if birth_date is not None:
        squeezed = _DATE_SEPARATORS.sub("", text)
        if any(form in text or form in squeezed for form in birth_date_forms(birth_date)):
            raise QianbaoError("PASSWORD_CONTAINS_BIRTH_DATE")
    if is_common_password(text):
        raise QianbaoError("PASSWORD_TOO_COMMON")


# ---- storage ----------------------------------------------------------------------------------------

def _row(session: Session, principal: Principal) -> LoginPassword | None:
    """The principal's password row, locked for this transaction (PostgreSQL; SQLite already serialises)."""
    stmt = (
        select(LoginPassword)
        .where(LoginPassword.principal_type == principal.type, LoginPassword.principal_id == principal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def has_password(session: Session, principal: Principal) -> bool:
    stmt = select(LoginPassword.id).where(
        LoginPassword.principal_type == principal.type, LoginPassword.principal_id == principal.id
    )
    return session.scalar(stmt) is not None


def set_password(
    session: Session,
    principal: Principal,
    password: str,
    *,
    phone: str | None = None,
    birth_date: date | None = None,
    settings: Settings | None = None,
) -> None:
    """Give a principal its first password (registration, account set-up at the counter).

    PASSWORD_ALREADY_SET if it has one: replacing a password goes through change or reset.
    """
    check_password_rules(password, phone=phone, birth_date=birth_date)
    if _row(session, principal) is not None:
        raise QianbaoError("PASSWORD_ALREADY_SET")
    now = now_utc()
    session.add(
        LoginPassword(
            principal_type=principal.type,
            principal_id=principal.id,
            hash=hasher(resolve_settings(settings)).hash(normalise(password)),
            failed_count=0,
            created_at=now,
            changed_at=now,
        )
    )
    session.flush()


def _matches(row: LoginPassword, password: str, settings: Settings) -> bool:
    ph = hasher(settings)
    try:
        ph.verify(row.hash, normalise(password))
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        return False
    if ph.check_needs_rehash(row.hash):
        # The parameters have changed since this hash was made: store it again under the current ones.
        row.hash = ph.hash(normalise(password))
    return True


def _burn_time(password: str, settings: Settings) -> None:
    """Spend what a real verification costs, so that an unknown account answers as slowly as a known one."""
    ph = hasher(settings)
    with contextlib.suppress(VerificationError):
        ph.verify(_dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism),
                  normalise(password))


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return hasher_for(time_cost, memory_kib, parallelism).hash("qianbao-no-such-account")


def _refuse_if_locked(row: LoginPassword) -> None:
    if row.locked_until is not None:
        now = now_utc()
        locked_until = as_utc(row.locked_until)
        if locked_until > now:
            raise CredentialFailure("LOGIN_LOCKED", minutes=minutes_until(locked_until, now))
        # The lock has run out: a fresh set of tries.
        row.locked_until = None
        row.failed_count = 0


def _count_failure(session: Session, row: LoginPassword, code: str) -> None:
    """Record one wrong password and raise: LOGIN_LOCKED at the fifth, else `code`."""
    row.failed_count += 1
    if row.failed_count >= MAX_FAILURES:
        row.failed_count = 0
        row.locked_until = now_utc() + timedelta(minutes=LOCK_MINUTES)
        session.flush()
        raise CredentialFailure("LOGIN_LOCKED", minutes=LOCK_MINUTES)
    session.flush()
    if code == "LOGIN_FAILED":
        raise CredentialFailure(code)
    raise CredentialFailure(code, tries_left=MAX_FAILURES - row.failed_count)


def verify_login(
    session: Session,
    principal: Principal | None,
    password: str,
    *,
    ip: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Check a sign-in password; return None when it is right, raise a CredentialFailure otherwise.

    `principal` is None when the phone number (or staff login) matched nobody: the answer is then the
    same LOGIN_FAILED, after the same argon2 work. Attempts from `ip` are rate-limited
    (settings.login_ip_limit per settings.login_ip_window_seconds) across all accounts.
    """
    s = resolve_settings(settings)
    if ip:
        ratelimit.hit(session, "login_ip", ip, s.login_ip_limit, s.login_ip_window_seconds)
    row = _row(session, principal) if principal is not None else None
    if row is None:
        _burn_time(password, s)
        raise CredentialFailure("LOGIN_FAILED")
    _refuse_if_locked(row)
    if not _matches(row, password, s):
        _count_failure(session, row, "LOGIN_FAILED")
    row.failed_count = 0
    row.locked_until = None
    session.flush()


def login_locked_until(session: Session, principal: Principal) -> datetime | None:
    """When the principal's login lock ends (aware UTC), or None when login is not locked."""
    stmt = select(LoginPassword.locked_until).where(
        LoginPassword.principal_type == principal.type, LoginPassword.principal_id == principal.id
    )
    until = session.scalar(stmt)
    if until is None or as_utc(until) <= now_utc():
        return None
    return as_utc(until)


def change_password(
    session: Session,
    principal: Principal,
    old_password: str,
    new_password: str,
    *,
    phone: str | None = None,
    birth_date: date | None = None,
    keep_session_id: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Change the password of a signed-in principal, who must give the current one.

    The new password is checked first, so a weak choice costs no try. A wrong old password counts
    toward the login lock (PASSWORD_OLD_WRONG with tries_left, LOGIN_LOCKED at the fifth). The new one
    must differ (PASSWORD_UNCHANGED). Every other session of the principal is revoked; the one named by
    `keep_session_id` (its public id: the session making the change) stays.
    """
    from qianbao.credentials import sessions

    s = resolve_settings(settings)
    check_password_rules(new_password, phone=phone, birth_date=birth_date)
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PASSWORD_NOT_SET")
    _refuse_if_locked(row)
    if not _matches(row, old_password, s):
        _count_failure(session, row, "PASSWORD_OLD_WRONG")
    if normalise(old_password) == normalise(new_password):
        raise QianbaoError("PASSWORD_UNCHANGED")
    _store(row, new_password, s)
    sessions.revoke_all(session, principal, reason="password_changed", except_public_id=keep_session_id)
    session.flush()


def reset_password(
    session: Session,
    principal: Principal,
    new_password: str,
    *,
    phone: str,
    otp_code: str,
    birth_date: date | None = None,
    settings: Settings | None = None,
) -> None:
    """Forgotten password: a code sent to the principal's `phone` for purpose `password_reset` (see
    `otp.issue_otp`) proves the phone; the new password replaces the old, the login lock is lifted and
    every session is revoked. The new password is checked before the code, so a weak choice does not
    use the code up.
    """
    from qianbao.credentials import otp, sessions

    s = resolve_settings(settings)
    check_password_rules(new_password, phone=phone, birth_date=birth_date)
    otp.verify_otp(session, otp.PASSWORD_RESET, phone, otp_code)
    row = _row(session, principal)
    if row is None:
        raise QianbaoError("PASSWORD_NOT_SET")
    _store(row, new_password, s)
    row.reset_by_staff_id = None
    sessions.revoke_all(session, principal, reason="password_reset")
    session.flush()


def reset_password_by_staff(
    session: Session,
    principal: Principal,
    new_password: str,
    *,
    by_staff_id: int,
    phone: str | None = None,
    birth_date: date | None = None,
    settings: Settings | None = None,
) -> None:
    """Counter reset (SPEC §3.2) after the teller checked the person: the customer types the new password
    on the PIN pad; the lock is lifted, every session revoked and the teller recorded. A principal without
    a password gets one."""
    from qianbao.credentials import sessions

    s = resolve_settings(settings)
    check_password_rules(new_password, phone=phone, birth_date=birth_date)
    row = _row(session, principal)
    if row is None:
        now = now_utc()
        row = LoginPassword(
            principal_type=principal.type, principal_id=principal.id, hash="", failed_count=0,
            created_at=now, changed_at=now,
        )
        session.add(row)
    _store(row, new_password, s)
    row.reset_by_staff_id = by_staff_id
    sessions.revoke_all(session, principal, reason="password_reset")
    session.flush()


def _store(row: LoginPassword, password: str, settings: Settings) -> None:
    row.hash = hasher(settings).hash(normalise(password))
    row.changed_at = now_utc()
    row.failed_count = 0
    row.locked_until = None
