"""No personal value appears unencrypted in the database: a phone number and the one-time codes texted to it
go through the real code paths (OTP issue, outbox, SMS delivery, audit log), then the stored bytes are
searched for them in every spelling.

On SQLite the search reads the database file and its write-ahead log byte for byte; on PostgreSQL it reads
every row of every table as text (`SELECT t::text FROM <table> t`). A value written to a plain column is
searched for too and must be found, so that the search provably sees what is stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from qianbao import audit
from qianbao.credentials import issue_otp, otp
from qianbao.db import Database
from qianbao.notices.delivery import deliver_due
from qianbao.notices.outbox import status_counts
from qianbao.pii.keyring import Keyring
from qianbao.pii.masking import mask_phone
from qianbao.settings import Settings

PHONE = "13957246813"
SPELLINGS = (PHONE, "+8613957246813", "8613957246813", "139 5724 6813", "139-5724-6813", "+86 139 5724 6813")
MASKED = "139****6813"
# Stored in a plain column (the audit entry's request id): the search must find it.
CONTROL = "qb-plain-control-4e7d19"
# A whole second, so that no stored time has microsecond digits a code could be mistaken for.
NOW = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)


def _code_pattern(code: str) -> re.Pattern[bytes]:
    # Bounded by non-hex characters: the six digits may occur by chance inside a stored hash (hex), but a
    # code written in clear stands apart — in an SMS text, a JSON string or a column of its own.
    return re.compile(rb"(?<![0-9A-Fa-f])" + code.encode() + rb"(?![0-9A-Fa-f])")


def _store_the_story(db: Database, settings: Settings) -> tuple[str, str]:
    """A code texted and delivered, a second one still waiting in the outbox, an audit entry; the codes."""
    with db.transaction() as session:
        delivered = issue_otp(session, otp.REGISTER, PHONE, settings=settings).code
        audit.record(
            session,
            action="credentials.otp_issued",
            actor=audit.Actor.system(),
            details={"phone": mask_phone(PHONE), "purpose": otp.REGISTER},
            request_id=CONTROL,
        )
    assert deliver_due(db, settings) == 1
    with db.transaction() as session:
        pending = issue_otp(session, otp.LOGIN_NEW_DEVICE, PHONE, settings=settings).code
    with db.read() as session:
        assert status_counts(session) == {"pending": 1, "sent": 1, "dead": 0}
    return delivered, pending


def _sqlite_bytes(db: Database) -> bytes:
    path = Path(make_url(db.url).database or "")
    # The main file and the write-ahead log, read while the engine is open (the log holds every page written
    # since the last checkpoint) and again after closing it (the checkpoint folds the log into the file).
    while_open = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file())
    db.dispose()
    after_close = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file())
    return while_open + after_close


def _postgres_rows_as_text(db: Database) -> bytes:
    tables = inspect(db.engine).get_table_names()
    assert "outbox_message" in tables and "sandbox_sms_message" in tables
    with db.engine.connect() as conn:
        rows = [
            row_text
            for table in tables
            for row_text in conn.execute(text(f'SELECT t::text FROM "{table}" AS t')).scalars()
        ]
    return "\n".join(rows).encode()


@pytest.fixture
def stored(db: Database, settings: Settings, keyring: Keyring) -> tuple[bytes, str, str]:
    """(everything stored, as bytes; the delivered code; the pending code)."""
    with time_machine.travel(NOW, tick=False):
        delivered, pending = _store_the_story(db, settings)
    data = _sqlite_bytes(db) if db.is_sqlite else _postgres_rows_as_text(db)
    return data, delivered, pending


def test_the_search_finds_values_stored_in_plain_columns(stored: tuple[bytes, str, str]) -> None:
    data, _, _ = stored
    assert CONTROL.encode() in data
    assert MASKED.encode() in data  # the audit entry's masked details: JSON columns are searched too


def test_the_phone_number_appears_in_no_spelling(stored: tuple[bytes, str, str]) -> None:
    data, _, _ = stored
    for spelling in SPELLINGS:
        assert spelling.encode() not in data, spelling
        assert spelling.encode("utf-16-le") not in data, spelling


def test_neither_the_delivered_nor_the_pending_code_appears(stored: tuple[bytes, str, str]) -> None:
    data, delivered, pending = stored
    for code in (delivered, pending):
        assert _code_pattern(code).search(data) is None, code
        assert code.encode("utf-16-le") not in data, code
