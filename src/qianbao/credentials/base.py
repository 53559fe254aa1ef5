"""What the credential modules share: the principal, failures that must be kept, time, keys, argon2."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session

from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import current_keyring
from qianbao.settings import Settings, get_settings

# SPEC §2 and §4: days are Asia/Shanghai days whatever the server's own zone.
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, order=True)
class Principal:
    """Who a credential belongs to: a kind of party and its integer id in that party's own table."""

    type: str
    id: int

    def __post_init__(self) -> None:
        if not self.type or len(self.type) > 16 or not self.type.isascii():
            raise ValueError(f"principal type {self.type!r} must be 1-16 ASCII characters")

    @classmethod
    def customer(cls, customer_id: int) -> Principal:
        return cls("customer", customer_id)

    @classmethod
    def staff(cls, staff_id: int) -> Principal:
        return cls("staff", staff_id)

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


class CredentialFailure(QianbaoError):
    """A refusal that has changed the database and must be committed although it is raised.

    A wrong password, PIN or code counts a failed try, and the fifth sets a lock. Those writes are the
    whole point of the refusal, so they must survive it: run credential checks inside `transaction(db)`
    (below), which commits before re-raising a CredentialFailure and rolls back on anything else.
    Inside a plain `db.transaction()` the count would be rolled back with the exception.
    """


@contextmanager
def transaction(db: Database) -> Iterator[Session]:
    """Like `db.transaction()`, except that a CredentialFailure commits what was written, then propagates.

    Do the credential check first in the unit of work: whatever the caller wrote before it is committed
    with the failure count.
    """
    failure: CredentialFailure | None = None
    with db.transaction() as session:
        try:
            yield session
        except CredentialFailure as exc:
            failure = exc
    if failure is not None:
        raise failure


def execute_count(session: Session, statement: Executable) -> int:
    """Run a bulk UPDATE or DELETE and return how many rows it touched."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def resolve_settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else get_settings()


# ---- time -------------------------------------------------------------------------------------------

def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands timezone-aware columns back naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def shanghai_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(SHANGHAI).date()


def next_shanghai_midnight(moment: datetime) -> datetime:
    """The start of the next Asia/Shanghai calendar day after `moment`, in UTC."""
    tomorrow = shanghai_day(moment) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=SHANGHAI).astimezone(UTC)


def format_shanghai(moment: datetime) -> str:
    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def minutes_until(moment: datetime, now: datetime) -> int:
    """Whole minutes left, rounded up, and at least 1 while any time is left."""
    seconds = (as_utc(moment) - now).total_seconds()
    return max(1, -int(-seconds // 60))


# ---- keys -------------------------------------------------------------------------------------------

def derived_key(purpose: str) -> bytes:
    """A key for one use (OTP hashes, CSRF tokens, PIN pepper), derived from the keyring's hash key.

    The hash key is never rotated (look-up hashes depend on it), so neither are these; deriving keeps
    one use's values useless for another.
    """
    return hmac.new(current_keyring().hash_key, f"qianbao/credentials/{purpose}".encode(), hashlib.sha256).digest()


def keyed_digest(purpose: str, *parts: str) -> str:
    """HMAC-SHA256 (hex) of the parts, NUL-separated, under the key derived for `purpose`."""
    message = "\x00".join(parts).encode()
    return hmac.new(derived_key(purpose), message, hashlib.sha256).hexdigest()


# ---- argon2id ---------------------------------------------------------------------------------------

# The defaults are RFC 9106's second recommended option (argon2id, t=3, m=64 MiB, p=4), which is also
# argon2-cffi's default: about 0.15 s for one verification on one core of the reference machine.
DEFAULT_ARGON2 = RFC_9106_LOW_MEMORY


@lru_cache(maxsize=8)
def hasher_for(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for the configured parameters; hashes made under other parameters still verify,
    and `check_needs_rehash` tells when to store a new one."""
    return hasher_for(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)

