"""The development SMS gateway: behaves like a provider, but "delivers" into its own table.

Like a real provider it takes time to answer (`sms_latency_ms`), sometimes fails in a way worth
retrying (`sms_failure_rate`), refuses numbers that are not mainland mobiles and over-long texts, and
accepts each message id once. Tests, the demo and the ops page read what it sent through
`latest_messages`, for example to pick up a one-time code.

Its table is in the wallet's own database, so the number and the text (which may hold a one-time code)
are stored encrypted; the filter by number goes through the keyed look-up hash beside them.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.adapters.sms import (
    MAX_TEXT_CHARS,
    SendResult,
    SmsPermanentError,
    SmsTransientError,
    recipient,
)
from qianbao.adapters.sms.models import SandboxSmsMessage
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile
from qianbao.pii.hashing import lookup_hash


class DevSmsGateway:
    def __init__(
        self,
        db: Database,
        *,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        max_chars: int = MAX_TEXT_CHARS,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.max_chars = max_chars
        self.rng = rng or random.Random()

    def send(self, message_id: str, phone: str, text: str) -> SendResult:
        # Refusals a provider makes up front, before any latency: they never succeed on retry.
        if not text.strip():
            raise SmsPermanentError("TEXT_EMPTY")
        if len(text) > self.max_chars:
            raise SmsPermanentError("TEXT_TOO_LONG", f"{len(text)} > {self.max_chars} characters")
        e164 = recipient(phone)

        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise SmsTransientError("GATEWAY_UNAVAILABLE", "simulated provider failure")

        with self.db.transaction() as session:
            inserted = _insert_once(session, message_id=message_id, phone=e164, text=text)
            row_id = session.scalar(
                select(SandboxSmsMessage.id).where(SandboxSmsMessage.message_id == message_id)
            )
        return SendResult(provider_id=f"dev-{row_id}", duplicate=not inserted)


def _insert_once(session: Session, *, message_id: str, phone: str, text: str) -> bool:
    """Insert unless the message id is already there; True if this call stored it.

    ON CONFLICT DO NOTHING rather than select-then-insert: two workers holding the same message after a
    lease expiry may both get here, and the unique key must decide, not a read that both pass.
    """
    values = {
        "message_id": message_id,
        "phone": phone,
        "phone_hash": lookup_hash("phone", phone),
        "text": text,
        "created_at": datetime.now(UTC),
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(SandboxSmsMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(SandboxSmsMessage.id)
    )
    # RETURNING rather than rowcount: drivers disagree on rowcount for a row the conflict clause skipped.
    return session.scalar(stmt) is not None


def latest_messages(session: Session, phone: str | None = None, limit: int = 50) -> list[SandboxSmsMessage]:
    stmt = select(SandboxSmsMessage)
    if phone:
        try:
            e164 = parse_mobile(phone)
        except QianbaoError:
            return []
        stmt = stmt.where(SandboxSmsMessage.phone_hash == lookup_hash("phone", e164))
    stmt = stmt.order_by(SandboxSmsMessage.created_at.desc(), SandboxSmsMessage.id.desc()).limit(limit)
    return list(session.scalars(stmt))
