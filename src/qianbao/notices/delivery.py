"""Delivering the outbox: claim due messages, send them with no transaction open, record the outcome.

Each batch is three kinds of short transaction rather than one long one:

1. claim — pick due, unleased messages and lease them to this batch (`locked_until` = now + lease,
   `claim_token` = the batch's token). On PostgreSQL the pick is `SELECT ... FOR UPDATE SKIP LOCKED`,
   so concurrent workers take disjoint messages without waiting for each other; on SQLite the
   BEGIN IMMEDIATE write lock makes claims take turns.
2. send — hand each message to the handler for its kind. No transaction is open, so a slow gateway
   holds no lock and blocks no producer.
3. record — sent; or one more attempt and a later `available_at` (exponential backoff with jitter);
   or dead, with the last error kept. The update only applies while the batch's token is still on
   the row, so a worker whose lease was taken over cannot overwrite the new owner's outcome.

A worker that dies between 2 and 3 leaves its lease to expire; the message is then claimed and sent
again with the same idempotency key (the outbox message id), and the receiver keeps one copy (the
gateway's and the inbox's unique keys). At-least-once delivery to receivers that deduplicate is what
makes delivery exactly-once from the reader's point of view.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import StatementError

from qianbao.adapters.sms import SmsError, SmsGateway, SmsPermanentError, gateway_from_settings
from qianbao.db import Database
from qianbao.i18n import translate
from qianbao.notices import inbox
from qianbao.notices.models import DEAD, PENDING, SENT, OutboxMessage
from qianbao.notices.outbox import INBOX, SMS
from qianbao.settings import Settings

log = structlog.get_logger("qianbao.notices")

# Long enough for a whole batch through a slow gateway; a batch that runs late hands back what it has
# not started (see deliver_due) rather than let its lease lapse under a message in flight.
LEASE_SECONDS = 60.0
DEFAULT_BATCH = 50
ERROR_CHARS = 1000


class PermanentFailure(Exception):
    """The message can never be delivered as it stands: dead-letter it at once instead of retrying."""


@dataclass(frozen=True)
class Claimed:
    """A leased message, detached from any session while it is being sent."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


Handler = Callable[[Claimed], None]


def idempotency_key(message_id: int) -> str:
    """What receivers dedupe on: one outbox message, one delivery, however often it is handed over."""
    return f"outbox-{message_id}"


def backoff_seconds(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """The wait before the next try after `attempts` failed tries (1 = after the first failure).

    Doubles from `outbox_backoff_base_seconds` up to `outbox_backoff_max_seconds`, then takes a random
    point in the upper half of that ("equal jitter"): workers that failed together spread out, yet each
    wait is at least as long as the one before until the cap.
    """
    doublings = min(max(attempts - 1, 0), 62)
    ceiling = min(settings.outbox_backoff_max_seconds, settings.outbox_backoff_base_seconds * 2.0**doublings)
    return ceiling / 2 + (rng or random.Random()).random() * ceiling / 2


def default_handlers(db: Database, settings: Settings, gateway: SmsGateway | None = None) -> dict[str, Handler]:
    return {
        SMS: partial(_send_sms, gateway or gateway_from_settings(settings, db)),
        INBOX: partial(_write_inbox, db),
    }


def deliver_due(
    db: Database,
    settings: Settings,
    limit: int = DEFAULT_BATCH,
    *,
    gateway: SmsGateway | None = None,
    handlers: dict[str, Handler] | None = None,
    lease_seconds: float = LEASE_SECONDS,
    rng: random.Random | None = None,
) -> int:
    """Deliver up to `limit` due messages; returns how many were attempted (sent, retried or dead)."""
    handlers = handlers if handlers is not None else default_handlers(db, settings, gateway)
    token, lease_until, batch = _claim(db, limit, lease_seconds)
    hand_back_at = lease_until - timedelta(seconds=lease_seconds * 0.2)
    done = 0
    for position, message in enumerate(batch):
        if datetime.now(UTC) >= hand_back_at:
            _release(db, token, [m.id for m in batch[position:]])
            break
        try:
            handler = handlers.get(message.kind)
            if handler is None:
                raise PermanentFailure(f"UNKNOWN_KIND: {message.kind}")
            handler(message)
        except PermanentFailure as exc:
            _record_failure(db, settings, token, message, str(exc), permanent=True, rng=rng)
        except Exception as exc:
            if not isinstance(exc, SmsError):
                log.exception("outbox_handler_error", message_id=message.id, kind=message.kind)
            _record_failure(db, settings, token, message, _describe(exc), permanent=False, rng=rng)
        else:
            _record_sent(db, token, message)
        done += 1
    return done


def _claim(db: Database, limit: int, lease_seconds: float) -> tuple[str, datetime, list[Claimed]]:
    now = datetime.now(UTC)
    token = secrets.token_hex(16)
    lease_until = now + timedelta(seconds=lease_seconds)
    with db.transaction() as session:
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == PENDING,
                OutboxMessage.available_at <= now,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
            )
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(due))
        if not ids:
            return token, lease_until, []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(locked_until=lease_until, claim_token=token)
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload, OutboxMessage.attempts)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
        ).all()
    return token, lease_until, [Claimed(id=r[0], kind=r[1], payload=r[2], attempts=r[3]) for r in rows]


def _record_sent(db: Database, token: str, message: Claimed) -> None:
    values: dict[str, Any] = {"status": SENT, "sent_at": datetime.now(UTC), "locked_until": None, "claim_token": None}
    if message.kind == SMS:
        values["payload"] = _redacted_sms(message.payload)
    with db.transaction() as session:
        result = cast(CursorResult[Any], session.execute(_owned(message.id, token).values(**values)))
    if result.rowcount:
        log.info("outbox_sent", message_id=message.id, kind=message.kind, attempt=message.attempts + 1)
    else:
        log.warning("outbox_lease_lost", message_id=message.id, kind=message.kind)


def _record_failure(
    db: Database,
    settings: Settings,
    token: str,
    message: Claimed,
    error: str,
    *,
    permanent: bool,
    rng: random.Random | None,
) -> None:
    attempts = message.attempts + 1
    dead = permanent or attempts >= settings.outbox_max_attempts
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error[:ERROR_CHARS],
        "locked_until": None,
        "claim_token": None,
    }
    if dead:
        values["status"] = DEAD
    else:
        values["available_at"] = datetime.now(UTC) + timedelta(seconds=backoff_seconds(attempts, settings, rng))
    with db.transaction() as session:
        session.execute(_owned(message.id, token).values(**values))
    if dead:
        log.error("outbox_dead", message_id=message.id, kind=message.kind, attempts=attempts, error=error)
    else:
        log.warning("outbox_retry", message_id=message.id, kind=message.kind, attempts=attempts, error=error)


def _release(db: Database, token: str, ids: list[int]) -> None:
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == token)
            .values(locked_until=None, claim_token=None)
            .execution_options(synchronize_session=False)
        )


def _owned(message_id: int, token: str):  # type: ignore[no-untyped-def]
    return (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .execution_options(synchronize_session=False)
    )


def _redacted_sms(payload: dict[str, Any]) -> dict[str, Any]:
    """What a sent SMS keeps in the outbox: not the number, nor a text that may hold a one-time code.

    The payload is encrypted at rest anyway; dropping them as well is defence in depth (a leaked key
    file then still uncovers only the messages not yet sent). The receiver has the message under its
    idempotency key; the outbox row only needs to say what kind of text it was.
    """
    kept: dict[str, Any] = {"redacted": True}
    if "key" in payload:
        kept["key"] = payload["key"]
    return kept


def _describe(exc: Exception) -> str:
    # A database error's str() carries the statement's parameters, which may hold a phone number.
    if isinstance(exc, StatementError) and exc.orig is not None:
        first_line = (str(exc.orig).splitlines() or [""])[0]
        return f"{type(exc.orig).__name__}: {first_line}"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, SmsError) else str(exc)


def _send_sms(gateway: SmsGateway, message: Claimed) -> None:
    payload = message.payload
    try:
        phone = str(payload["phone"])
        if "text" in payload:
            text = str(payload["text"])
        else:
            key = str(payload["key"])
            text = translate(key, payload.get("lang"), **dict(payload.get("params") or {}))
            if text == key:
                raise PermanentFailure(f"UNKNOWN_TEXT_KEY: {key}")
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"PAYLOAD_INVALID: {type(exc).__name__} {exc}") from exc
    try:
        gateway.send(idempotency_key(message.id), phone, text)
    except SmsPermanentError as exc:
        raise PermanentFailure(str(exc)) from exc


def _write_inbox(db: Database, message: Claimed) -> None:
    payload = message.payload
    try:
        recipient_id = int(payload["recipient_id"])
        title_key = str(payload["title_key"])
        body_key = str(payload["body_key"])
        params = dict(payload.get("params") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"PAYLOAD_INVALID: {type(exc).__name__} {exc}") from exc
    with db.transaction() as session:
        inbox.write_notice(
            session,
            outbox_message_id=message.id,
            recipient_id=recipient_id,
            title_key=title_key,
            body_key=body_key,
            params=params,
        )
