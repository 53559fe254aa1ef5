"""Writing to the outbox, in the caller's transaction.

`enqueue` only adds a row to the caller's session and never commits: the message then exists exactly
when the business change that caused it commits, and vanishes with it on a rollback. Delivery is the
worker's job (`qianbao.notices.delivery.deliver_due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.notices.models import DEAD, PENDING, STATUSES, OutboxMessage

SMS = "sms"
INBOX = "inbox"


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    *,
    available_at: datetime | None = None,
) -> int:
    """Queue a message in the caller's transaction and return its id.

    With a `dedupe_key` already in the outbox nothing new is queued and the existing message's id is
    returned, so a producer that runs twice for one event still sends one notice.
    """
    now = datetime.now(UTC)
    values = {
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "available_at": available_at or now,
    }
    if dedupe_key is None:
        message = OutboxMessage(**values)
        session.add(message)
        session.flush()
        return message.id
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    new_id = session.scalar(stmt)
    if new_id is not None:
        return new_id
    existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    assert existing is not None  # the conflict that stopped the insert is this row
    return existing


def enqueue_sms(
    session: Session,
    phone: str,
    *,
    text: str | None = None,
    key: str | None = None,
    params: dict[str, Any] | None = None,
    lang: str = "zh-CN",
    dedupe_key: str | None = None,
) -> int:
    """Queue a text message: either the literal `text`, or an i18n `key` + `params` rendered in `lang`.

    With a key the wording is taken from the catalogue when the message is delivered.
    """
    if (text is None) == (key is None):
        raise ValueError("give exactly one of text or key")
    payload: dict[str, Any] = {"phone": phone}
    if text is not None:
        payload["text"] = text
    else:
        payload.update(key=key, params=params or {}, lang=lang)
    return enqueue(session, SMS, payload, dedupe_key)


def enqueue_inbox(
    session: Session,
    recipient_id: int,
    title_key: str,
    body_key: str,
    params: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
) -> int:
    """Queue an in-app notice for `recipient_id` (a customer id); keys are i18n message ids."""
    payload = {"recipient_id": recipient_id, "title_key": title_key, "body_key": body_key, "params": params or {}}
    return enqueue(session, INBOX, payload, dedupe_key)


def status_counts(session: Session) -> dict[str, int]:
    """How many messages are pending, sent and dead."""
    counts = dict.fromkeys(STATUSES, 0)
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    for status, count in rows:
        counts[status] = count
    return counts


def retry_dead(session: Session, ids: Iterable[int] | None = None) -> int:
    """Give dead messages (all, or the given ids) a fresh set of attempts, due now; returns how many."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == DEAD)
        .values(status=PENDING, attempts=0, available_at=datetime.now(UTC), locked_until=None, claim_token=None)
    )
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    return cast(CursorResult[Any], session.execute(stmt)).rowcount
