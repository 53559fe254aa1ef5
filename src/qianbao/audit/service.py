"""Writing the audit log: `record(session, action=..., actor=..., ...)` inside the caller's transaction.

Appends are serialised on the chain-head row: PostgreSQL locks it with SELECT ... FOR UPDATE until the
caller's transaction ends (so two writers can never take the same sequence number or link to the same
previous entry); SQLite needs nothing more than the BEGIN IMMEDIATE every write transaction already
opens with. Because the entry and the head move together in the caller's transaction, an action that
rolls back leaves neither an entry nor a gap in the sequence.

The head lock is held until commit, so audited transactions run one at a time past this point:
call `record` as the last step of a unit of work, after the row locks the work itself needs, to keep
the wait short and the lock order the same everywhere (domain rows first, audit head last).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.audit.models import (
    ACTOR_TYPES,
    CHANNELS,
    GENESIS_HASH,
    HEAD_ID,
    OUTCOMES,
    AuditChainHead,
    AuditEntry,
)
from qianbao.errors import QianbaoError

HASH_VERSION = 1
DEFAULT_CHANNEL = {"customer": "app", "merchant": "merchant_api", "system": "system"}
# Keys under which a caller is most likely to pass a personal value; those values must come masked.
_PERSONAL_KEYS = frozenset({"id_number", "resident_id", "phone", "mobile", "card_number", "card_no"})


@dataclass(frozen=True)
class Actor:
    """Who acted: a customer, a staff member (with their branch), a merchant, or the system itself."""

    type: str
    id: str | None = None
    branch_id: str | None = None

    @classmethod
    def customer(cls, customer_id: int | str) -> Actor:
        return cls("customer", str(customer_id))

    @classmethod
    def staff(cls, staff_id: int | str, branch_id: int | str | None = None) -> Actor:
        return cls("staff", str(staff_id), None if branch_id is None else str(branch_id))

    @classmethod
    def merchant(cls, merchant_id: int | str) -> Actor:
        return cls("merchant", str(merchant_id))

    @classmethod
    def system(cls, name: str | None = None) -> Actor:
        return cls("system", name)


SYSTEM = Actor.system()


def canonical(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every field but the hash itself, as sorted compact JSON."""
    occurred = entry.occurred_at
    if occurred.tzinfo is not None:
        occurred = occurred.astimezone(UTC).replace(tzinfo=None)
    body = {
        "v": HASH_VERSION,
        "seq": entry.seq,
        "occurred_at": occurred.isoformat(timespec="microseconds") + "Z",
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "branch_id": entry.branch_id,
        "channel": entry.channel,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "outcome": entry.outcome,
        "details": entry.details,
        "request_id": entry.request_id,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def record(
    session: Session,
    *,
    action: str,
    actor: Actor,
    channel: str | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, in the caller's transaction (never commits).

    `action` is a dotted code such as "staff.login" or "wallet.freeze"; `channel` defaults from the
    actor (customer → app, merchant → merchant_api, system → system) and is required for staff
    (counter or ops). `request_id` defaults to the current request's id.

    `details` is stored as JSON and covered by the hash. It must never hold a raw personal value:
    pass ID numbers, phone numbers, card numbers and names through `qianbao.pii.masking` first
    (the log is read by auditors and kept for years, unencrypted). Under the keys most likely to
    carry one (id_number, phone, mobile, card_number...) a value without a mask character `*` is
    refused with ValueError. Floats are accepted only when finite; money is int fen as everywhere.
    """
    if actor.type not in ACTOR_TYPES:
        raise ValueError(f"actor type {actor.type!r} is not one of {ACTOR_TYPES}")
    channel = channel or DEFAULT_CHANNEL.get(actor.type)
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r} is not one of {CHANNELS}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {OUTCOMES}")
    clean_details = _clean_details(details or {})
    if request_id is None:
        request_id = structlog.contextvars.get_contextvars().get("request_id")

    head = _lock_head(session)
    entry = AuditEntry(
        seq=head.last_seq + 1,
        occurred_at=datetime.now(UTC),
        actor_type=actor.type,
        actor_id=actor.id,
        branch_id=actor.branch_id,
        channel=channel,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        outcome=outcome,
        details=clean_details,
        request_id=request_id,
        prev_hash=head.last_hash,
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=entry.seq, last_hash=entry.hash)
    )
    session.flush([entry])
    return entry


@dataclass(frozen=True)
class _Head:
    last_seq: int
    last_hash: str


def _lock_head(session: Session) -> _Head:
    query = (
        select(AuditChainHead.last_seq, AuditChainHead.last_hash)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
    )
    row = session.execute(query).one_or_none()
    if row is None:
        # The migration creates the head; it is missing only on an emptied database (tests truncate
        # every table). Create it, or wait for a concurrent writer that is creating it, then lock it.
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(AuditChainHead)
            .values(id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        row = session.execute(query).one()
        if row.last_seq == 0 and session.scalar(select(AuditEntry.seq).limit(1)) is not None:
            # A fresh head over existing entries would fork the chain: someone deleted the head row.
            raise QianbaoError("AUDIT_CHAIN_BROKEN", reason="chain head row missing")
    return _Head(row.last_seq, row.last_hash)


def _clean_details(details: dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy exactly as the database will give it back, so the hash can be recomputed."""
    for key, value in details.items():
        if key.lower() in _PERSONAL_KEYS and isinstance(value, str | int) and "*" not in str(value):
            raise ValueError(f"audit details {key!r} must be masked (qianbao.pii.masking), not a raw value")
    try:
        text = json.dumps(details, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON values: {exc}") from exc
    return json.loads(text)


def latest(session: Session, *, limit: int = 50, before_seq: int | None = None) -> list[AuditEntry]:
    """The newest entries first (for the ops console), optionally only those before a sequence number."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return list(session.scalars(query))


__all__ = ["SYSTEM", "Actor", "compute_hash", "latest", "record"]
