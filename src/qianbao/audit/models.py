"""Tables of the audit log: the hash-chained entries and the single chain-head row.

`audit_entry` is append-only. Each entry's `hash` is SHA-256 over a canonical JSON of its fields and
the previous entry's hash (`prev_hash`), so editing, removing or reordering an entry breaks the links
after it. `audit_chain_head` is one row holding the last sequence number and hash: writers lock it to
append (no fork under concurrency) and the verifier compares it with the last entry (a deleted tail).

Database triggers refuse UPDATE and DELETE on the entries and DELETE of the head, so that application
code cannot change history by mistake; they do not stop someone who can drop a trigger, which is what
the hash chain and `qianbao audit verify` are for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check

ACTOR_TYPES = ("customer", "staff", "system", "merchant")
CHANNELS = ("app", "counter", "merchant_api", "ops", "system")
OUTCOMES = ("success", "refused", "failed")
GENESIS_HASH = "0" * 64
HEAD_ID = 1


class AuditEntry(Base):
    """One audited action. `details` carries masked values only (see `qianbao.audit.service.record`)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint(in_check("actor_type", ACTOR_TYPES), name="actor_type"),
        CheckConstraint(in_check("channel", CHANNELS), name="channel"),
        CheckConstraint(in_check("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_audit_entry_occurred_at", "occurred_at"),
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_actor", "actor_type", "actor_id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    branch_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The one row (id 1) naming the chain's last entry; locked by every append."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint(f"id = {HEAD_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
