"""The sandbox bank's time rules, in process with a moved clock: code expiry, callback backoff, business days,
and the settlement file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sandbox_bank_helpers import ID_NUMBER, NAME, PHONE

from qianbao.db import Database
from qianbao.sandbox_bank import service
from qianbao.sandbox_bank.config import Behaviour, SandboxBankSettings
from qianbao.sandbox_bank.models import SandboxBase
from qianbao.sandbox_bank.service import BankError

MERCHANT = "QIANBAO-DEV"


@pytest.fixture
def bank_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'bank.db'}")
    SandboxBase.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def behaviour(tmp_path: Path) -> Behaviour:
    return Behaviour.from_settings(SandboxBankSettings(data_dir=tmp_path, processing_ms=0,
                                                       callback_backoff_seconds=2.0,
                                                       callback_backoff_max_seconds=60.0))


def _card(db: Database, balance: int = 100_000) -> str:
    with db.transaction() as session:
        return service.create_card(session, holder_name=NAME, id_number=ID_NUMBER, phone=PHONE,
                                   balance=balance).number


def _code(db: Database) -> str:
    import re

    with db.read() as session:
        text = service.outbox(session, PHONE)[0].text
    found = re.search(r"验证码(\d{6})", text)
    assert found
    return found.group(1)


def _token(db: Database, behaviour: Behaviour, number: str) -> str:
    with db.transaction() as session:
        challenge = service.start_binding(session, behaviour, MERCHANT, "req-" + number, number, NAME, ID_NUMBER,
                                          PHONE)
    with db.transaction() as session:
        return service.confirm_binding(session, MERCHANT, challenge.ref, _code(db)).token


def test_the_banks_code_expires_after_five_minutes(bank_db, behaviour) -> None:  # type: ignore[no-untyped-def]
    number = _card(bank_db)
    with bank_db.transaction() as session:
        challenge = service.start_binding(session, behaviour, MERCHANT, "req-expiry", number, NAME, ID_NUMBER, PHONE)
    code = _code(bank_db)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5, seconds=1), tick=False), \
            bank_db.transaction() as session, pytest.raises(BankError) as refusal:
        service.confirm_binding(session, MERCHANT, challenge.ref, code)
    assert (refusal.value.code, refusal.value.status) == ("OTP_EXPIRED", 410)


def test_a_wrong_code_is_counted_even_though_it_is_refused(bank_db, behaviour) -> None:  # type: ignore[no-untyped-def]
    from qianbao.sandbox_bank.app import _committing

    number = _card(bank_db)
    with bank_db.transaction() as session:
        challenge = service.start_binding(session, behaviour, MERCHANT, "req-count", number, NAME, ID_NUMBER, PHONE)
    right = _code(bank_db)
    wrong = "000000" if right != "000000" else "111111"
    with pytest.raises(BankError):
        _committing(bank_db, lambda session: service.confirm_binding(session, MERCHANT, challenge.ref, wrong))
    with pytest.raises(BankError) as refusal:
        _committing(bank_db, lambda session: service.confirm_binding(session, MERCHANT, challenge.ref, wrong))
    assert refusal.value.params == {"tries_left": 3}


def test_undelivered_callbacks_back_off_exponentially_to_a_cap(bank_db, behaviour) -> None:  # type: ignore[no-untyped-def]
    token = _token(bank_db, behaviour, _card(bank_db))
    with bank_db.transaction() as session:
        operation, _ = service.submit(session, behaviour, MERCHANT, "debit", token, 500, "k-backoff", None, None)
        service.settle(session, behaviour, operation.id)
    with bank_db.read() as session:
        (callback,) = service.pending_callbacks(session)
    start = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    waits = []
    for attempt in range(7):
        with time_machine.travel(start, tick=False), bank_db.transaction() as session:
            row = service.record_attempt(session, behaviour, callback.id, 503 if attempt % 2 else None, "timeout")
            waits.append((row.next_attempt_at - start).total_seconds())
    assert waits == [2, 4, 8, 16, 32, 60, 60]
    with bank_db.transaction() as session:
        row = service.record_attempt(session, behaviour, callback.id, 204)
    assert (row.status, row.attempts) == ("delivered", 8)


def _settled(db: Database, behaviour: Behaviour, token: str, key: str, kind: str, amount: int, at: datetime,
             **forced: Any) -> None:
    with time_machine.travel(at, tick=False):
        with db.transaction() as session:
            operation, _ = service.submit(session, behaviour, MERCHANT, kind, token, amount, key, f"ref-{key}", None)
        with db.transaction() as session:
            service.settle(session, behaviour, operation.id, **forced)


def test_the_settlement_file_lists_a_shanghai_business_days_operations(bank_db, behaviour) -> None:  # type: ignore[no-untyped-def]
    token = _token(bank_db, behaviour, _card(bank_db, balance=1_000_000))
    # 2026-11-24 15:59:59 UTC is 23:59:59 in Shanghai: the 24th; 16:00:00 UTC is already the 25th there.
    _settled(bank_db, behaviour, token, "k-late", "debit", 1_000, datetime(2026, 11, 24, 15, 59, 59, tzinfo=UTC))
    _settled(bank_db, behaviour, token, "k-next", "credit", 2_000, datetime(2026, 11, 24, 16, 0, 0, tzinfo=UTC))
    _settled(bank_db, behaviour, token, "k-fail", "debit", 3_000, datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
             status="failed", reason="INSUFFICIENT_FUNDS")
    with bank_db.read() as session:
        day24 = list(csv.reader(io.StringIO(service.settlement_csv(session, MERCHANT, date(2026, 11, 24)))))
        day25 = list(csv.reader(io.StringIO(service.settlement_csv(session, MERCHANT, date(2026, 11, 25)))))
        day26 = list(csv.reader(io.StringIO(service.settlement_csv(session, MERCHANT, date(2026, 11, 26)))))
    header = ["bank_ref", "merchant_key", "reference", "type", "amount_fen", "status", "reason", "completed_at"]
    assert day24[0] == day25[0] == day26[0] == header
    assert [row[1:] for row in day24[1:]] == [
        ["k-late", "ref-k-late", "debit", "1000", "succeeded", "", "2026-11-24T23:59:59+08:00"]]
    assert [row[1:] for row in day25[1:]] == [
        ["k-next", "ref-k-next", "credit", "2000", "succeeded", "", "2026-11-25T00:00:00+08:00"],
        ["k-fail", "ref-k-fail", "debit", "3000", "failed", "INSUFFICIENT_FUNDS", "2026-11-25T11:00:00+08:00"]]
    assert day26 == [header]
    assert all(row[0].startswith("BR") for row in day24[1:] + day25[1:])


def test_an_operation_still_processing_is_not_in_the_file(bank_db, behaviour) -> None:  # type: ignore[no-untyped-def]
    token = _token(bank_db, behaviour, _card(bank_db))
    with bank_db.transaction() as session:
        service.submit(session, behaviour, MERCHANT, "debit", token, 100, "k-open", None, None)
    today = datetime.now(service.SHANGHAI).date()
    with bank_db.read() as session:
        assert service.settlement_csv(session, MERCHANT, today).count("\r\n") == 1
