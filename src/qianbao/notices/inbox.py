"""The in-app inbox: notices written by the outbox worker, read and marked read by their recipient."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.notices.models import InboxNotice


def write_notice(
    session: Session,
    *,
    outbox_message_id: int,
    recipient_id: int,
    title_key: str,
    body_key: str,
    params: dict[str, Any] | None = None,
) -> bool:
    """Store the notice for one outbox message unless it is already there; True if this call stored it.

    The unique `outbox_message_id` decides (ON CONFLICT DO NOTHING), so two deliveries of one message,
    even concurrent ones, leave one notice.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(InboxNotice)
        .values(
            outbox_message_id=outbox_message_id,
            recipient_id=recipient_id,
            title_key=title_key,
            body_key=body_key,
            params=params or {},
            created_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["outbox_message_id"])
        .returning(InboxNotice.id)
    )
    return session.scalar(stmt) is not None


def list_notices(
    session: Session, recipient_id: int, *, unread_only: bool = False, limit: int = 50
) -> list[InboxNotice]:
    """The recipient's notices, newest first."""
    stmt = select(InboxNotice).where(InboxNotice.recipient_id == recipient_id)
    if unread_only:
        stmt = stmt.where(InboxNotice.read_at.is_(None))
    stmt = stmt.order_by(InboxNotice.created_at.desc(), InboxNotice.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def unread_count(session: Session, recipient_id: int) -> int:
    stmt = select(func.count()).where(InboxNotice.recipient_id == recipient_id, InboxNotice.read_at.is_(None))
    return session.scalar(stmt) or 0


def mark_read(session: Session, recipient_id: int, notice_id: int) -> None:
    """Mark one of the recipient's notices read; someone else's notice is NOT_FOUND, not FORBIDDEN,
    so that ids cannot be probed."""
    notice = session.get(InboxNotice, notice_id)
    if notice is None or notice.recipient_id != recipient_id:
        raise QianbaoError("NOT_FOUND")
    if notice.read_at is None:
        notice.read_at = datetime.now(UTC)


def mark_all_read(session: Session, recipient_id: int) -> int:
    stmt = (
        update(InboxNotice)
        .where(InboxNotice.recipient_id == recipient_id, InboxNotice.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return cast(CursorResult[Any], session.execute(stmt)).rowcount
