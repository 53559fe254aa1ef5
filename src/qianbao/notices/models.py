"""Tables of the notices package: the transactional outbox and the in-app inbox.

An outbox payload holds what the message is for, and for an SMS that is a phone number and a text that
may carry a one-time code: the whole payload is one encrypted column (EncryptedJSON), so nothing in it
can be searched in SQL. Find messages by their plain columns (status, kind, dedupe_key) only.
Times are `UtcDateTime`: stored in UTC, aware in Python on both databases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime
from qianbao.pii.crypto import EncryptedJSON

PENDING = "pending"
SENT = "sent"
DEAD = "dead"
STATUSES = (PENDING, SENT, DEAD)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change that causes it.

    A pending message is claimable when it is due (`available_at`) and not leased to a worker
    (`locked_until` empty or past); the worker that leased it proves it with `claim_token` when it
    records the outcome, so a worker whose lease was taken over cannot overwrite the new owner's result.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status"),
        Index("ix_outbox_message_due", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    # Producers that might enqueue the same notice twice (a retried request) name it; NULLs never clash.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxNotice(Base):
    """One in-app notice for one recipient; the text is an i18n key plus params, rendered when read.

    `outbox_message_id` is the delivery's idempotency key: a message handed over twice (after a crash
    between writing the notice and marking the message sent) still makes one notice. It is not a
    foreign key on purpose, so that old outbox rows can be purged without touching people's notices.
    """

    __tablename__ = "inbox_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(Integer, unique=True)
    recipient_id: Mapped[int] = mapped_column(BigInteger, index=True)
    title_key: Mapped[str] = mapped_column(String(100))
    body_key: Mapped[str] = mapped_column(String(100))
    # Encrypted: a producer may put a name or an amount in the params, and the inbox outlives the outbox.
    params: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
