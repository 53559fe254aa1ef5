"""`audit.record`: an append-only, hash-chained entry in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog
import time_machine
from audit_helpers import tamper, write_entries
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from qianbao import audit
from qianbao.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from qianbao.audit.service import compute_hash
from qianbao.db import Database
from qianbao.errors import QianbaoError


def _entries(db: Database) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_entries_take_gapless_sequence_numbers_from_one(db: Database) -> None:
    write_entries(db, 4)
    assert [e.seq for e in _entries(db)] == [1, 2, 3, 4]


def test_each_entry_links_to_the_hash_of_the_one_before(db: Database) -> None:
    write_entries(db, 3)
    entries = _entries(db)
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]


def test_the_chain_head_names_the_last_entry(db: Database) -> None:
    write_entries(db, 3)
    with db.read() as session:
        head = session.get_one(AuditChainHead, 1)
    assert (head.last_seq, head.last_hash) == (3, _entries(db)[-1].hash)


def test_an_entry_hash_is_sha256_over_its_fields_and_the_previous_hash(db: Database) -> None:
    write_entries(db, 2)
    for entry in _entries(db):
        assert entry.hash == compute_hash(entry) and len(entry.hash) == 64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 99),
        ("occurred_at", datetime(2030, 1, 1, tzinfo=UTC)),
        ("actor_type", "customer"),
        ("actor_id", "1"),
        ("branch_id", "SH001"),
        ("channel", "counter"),
        ("action", "wallet.unfreeze"),
        ("object_type", "card"),
        ("object_id", "W9999"),
        ("outcome", "refused"),
        ("details", {"reason": "其他"}),
        ("request_id", "forged-request"),
        ("prev_hash", "f" * 64),
    ],
)
def test_the_hash_covers_every_field(db: Database, field: str, value: object) -> None:
    write_entries(db, 1)
    entry = _entries(db)[0]
    setattr(entry, field, value)
    assert compute_hash(entry) != entry.hash


def test_an_action_that_rolls_back_leaves_no_entry_and_no_gap(db: Database) -> None:
    write_entries(db, 1)
    with pytest.raises(RuntimeError), db.transaction() as session:
        audit.record(session, action="wallet.freeze", actor=audit.Actor.staff(7), channel="ops")
        raise RuntimeError("the freeze itself failed")
    write_entries(db, 1)
    assert [e.seq for e in _entries(db)] == [1, 2]


def test_occurred_at_is_the_utc_time_of_the_action(db: Database) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 3, 4, 5, 678901, tzinfo=UTC), tick=False), \
            db.transaction() as session:
        audit.record(session, action="staff.login", actor=audit.Actor.staff(1, "BJ001"), channel="counter")
    occurred = _entries(db)[0].occurred_at
    assert occurred.replace(tzinfo=occurred.tzinfo or UTC) == datetime(2026, 11, 25, 3, 4, 5, 678901, tzinfo=UTC)


def test_the_request_id_of_the_current_request_is_recorded(db: Database) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-12345678")
    try:
        with db.transaction() as session:
            audit.record(session, action="wallet.open", actor=audit.Actor.customer(5))
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    assert _entries(db)[0].request_id == "req-12345678"


@pytest.mark.parametrize(
    ("actor", "channel"),
    [(audit.Actor.customer(1), "app"), (audit.Actor.merchant(2), "merchant_api"), (audit.SYSTEM, "system")],
)
def test_the_channel_defaults_from_the_actor(db: Database, actor: audit.Actor, channel: str) -> None:
    with db.transaction() as session:
        entry = audit.record(session, action="x.y", actor=actor)
    assert entry.channel == channel


def test_a_staff_action_must_name_its_channel(db: Database) -> None:
    with pytest.raises(ValueError), db.transaction() as session:
        audit.record(session, action="wallet.freeze", actor=audit.Actor.staff(7))


@pytest.mark.parametrize(
    "bad",
    [{"actor": audit.Actor("robot")}, {"channel": "fax"}, {"outcome": "maybe"}],
    ids=["actor_type", "channel", "outcome"],
)
def test_values_outside_the_spec_lists_are_refused(db: Database, bad: dict) -> None:
    kwargs = {"action": "x.y", "actor": audit.Actor.customer(1), **bad}
    with pytest.raises(ValueError), db.transaction() as session:
        audit.record(session, **kwargs)


@pytest.mark.parametrize("details", [{"phone": "13812345678"}, {"id_number": "11010519491231002X"}])
def test_a_raw_personal_value_in_details_is_refused(db: Database, details: dict) -> None:
    with pytest.raises(ValueError, match="masked"), db.transaction() as session:
        audit.record(session, action="wallet.open", actor=audit.Actor.customer(1), details=details)


def test_masked_details_are_stored_as_given(db: Database) -> None:
    details = {"phone": "138****5678", "id_number": "1101**********002X", "limits": {"daily": 500000}, "tags": ["a"]}
    with db.transaction() as session:
        audit.record(session, action="wallet.open", actor=audit.Actor.customer(1), details=details)
    assert _entries(db)[0].details == details


def test_details_that_are_not_plain_json_are_refused(db: Database) -> None:
    with pytest.raises(ValueError), db.transaction() as session:
        audit.record(session, action="x.y", actor=audit.SYSTEM, details={"when": datetime.now(UTC)})


def test_the_database_refuses_to_update_or_delete_an_entry(db: Database) -> None:
    write_entries(db, 2)
    for statement in ("UPDATE audit_entry SET action = 'x' WHERE seq = 1", "DELETE FROM audit_entry WHERE seq = 2",
                      "DELETE FROM audit_chain_head"):
        with pytest.raises(DBAPIError), db.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(_entries(db)) == 2


def test_recording_stops_with_a_coded_error_when_the_chain_head_was_deleted(db: Database) -> None:
    write_entries(db, 2)
    tamper(db, "DELETE FROM audit_chain_head")
    with pytest.raises(QianbaoError) as exc, db.transaction() as session:
        audit.record(session, action="x.y", actor=audit.SYSTEM)
    assert exc.value.code == "AUDIT_CHAIN_BROKEN"
