"""The bank's signed callbacks: check them, accept each event once, hand it to the registered handler.

The cards / top-up / withdrawal code registers what happens when the bank reports a result:

    from qianbao.adapters.bank import callbacks

    def on_debit(session: Session, event: callbacks.BankEvent) -> None:   # a top-up's card debit
        ...  # payments.complete(...) or payments.fail(..., reason=event.reason)

    callbacks.register("debit", on_debit)     # "credit": a withdrawal's payout to the card

at import time of a module the app imports. The endpoint (`qianbao.api.bank_callbacks`, POST
/api/bank/callbacks) runs, in ONE unit of work:

1. `authenticate`: the signature (the callback secret), the timestamp (±5 minutes) and the nonce (not seen
   before) — refusals BANK_CALLBACK_SIGNATURE_INVALID, BANK_CALLBACK_STALE, BANK_CALLBACK_REPLAYED (401),
   and nothing is written;
2. `parse_event`: the JSON body (BANK_CALLBACK_MALFORMED, 400);
3. `accept`: an event already accepted is a duplicate delivery (200, nothing happens again); otherwise it is
   recorded and its handler runs in the same transaction — so the record and the handler's effects commit
   together or not at all. No handler for the kind: BANK_CALLBACK_UNHANDLED (503), nothing is recorded and
   the bank delivers again later. A handler that raises rolls everything back (the bank retries too).

Handlers run once per event, but they must still tolerate an event for an operation they already settled
another way (the worker asked the bank with `query` and completed it first): check the operation's state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.adapters.bank import signing
from qianbao.adapters.bank.connector import failure_reason
from qianbao.adapters.bank.models import BankCallbackEvent, BankCallbackNonce
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings


@dataclass(frozen=True)
class BankEvent:
    """The result of a debit or credit, as the bank reported it."""

    event_id: str
    kind: str  # "debit" (a top-up took money from the card) | "credit" (a withdrawal paid the card)
    key: str  # the idempotency key the wallet sent with the debit/credit
    bank_ref: str
    reference: str | None
    amount: int  # fen
    status: str  # "succeeded" | "failed"
    reason: str | None  # for a failure, the wallet's code: BANK_INSUFFICIENT_FUNDS, BANK_CARD_FROZEN, ...
    bank_reason: str | None  # the bank's own code
    occurred_at: datetime

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


Handler = Callable[[Session, BankEvent], None]
KINDS = frozenset({"debit", "credit"})
_registry: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Route the bank's events of `kind` ("debit" or "credit") to `handler(session, event)`."""
    if kind not in KINDS:
        raise ValueError(f"unknown bank event kind {kind!r}; one of {sorted(KINDS)}")
    _registry[kind] = handler


def unregister(kind: str) -> None:
    _registry.pop(kind, None)


def handler_for(kind: str) -> Handler | None:
    return _registry.get(kind)


_REFUSALS = {
    "SIGNATURE_MISSING": "BANK_CALLBACK_SIGNATURE_INVALID",
    "SIGNATURE_INVALID": "BANK_CALLBACK_SIGNATURE_INVALID",
    "TIMESTAMP_STALE": "BANK_CALLBACK_STALE",
}


def authenticate(session: Session, settings: Settings, headers: Mapping[str, str], method: str, path: str,
                 body: bytes, *, now: float | None = None) -> signing.Signed:
    """Check a callback's signature, timestamp and nonce, and remember the nonce (in this transaction)."""
    try:
        signed = signing.verify({settings.bank_merchant_id: settings.bank_callback_secret}, headers, method, path,
                                body, now=now)
    except signing.SignatureError as exc:
        raise QianbaoError(_REFUSALS[exc.code]) from None
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(BankCallbackNonce).values(
        merchant=signed.merchant, nonce=signed.nonce, received_at=datetime.now(UTC),
    ).on_conflict_do_nothing(index_elements=["merchant", "nonce"]).returning(BankCallbackNonce.id)
    if session.execute(stmt).scalar() is None:  # the row was there already
        raise QianbaoError("BANK_CALLBACK_REPLAYED")
    return signed


def parse_event(body: bytes) -> BankEvent:
    """The event in a callback's JSON body; BANK_CALLBACK_MALFORMED for anything else."""
    try:
        data: Any = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        kind, status, amount = data["kind"], data["status"], data["amount"]
        if kind not in KINDS or status not in ("succeeded", "failed") or type(amount) is not int or amount <= 0:
            raise ValueError("bad fields")
        for name in ("event_id", "key", "bank_ref"):
            if not isinstance(data[name], str) or not 0 < len(data[name]) <= 200:
                raise ValueError(name)
        reference, reason = data.get("reference"), data.get("reason")
        if (reference is not None and not isinstance(reference, str)) or (
                reason is not None and not isinstance(reason, str)):
            raise ValueError("bad strings")
        occurred = datetime.fromisoformat(data["occurred_at"])
        if occurred.tzinfo is None:
            raise ValueError("naive time")
    except (ValueError, KeyError, TypeError):
        raise QianbaoError("BANK_CALLBACK_MALFORMED") from None
    return BankEvent(event_id=data["event_id"], kind=kind, key=data["key"], bank_ref=data["bank_ref"],
                     reference=reference, amount=amount, status=status,
                     reason=failure_reason(reason) if status == "failed" else None, bank_reason=reason,
                     occurred_at=occurred.astimezone(UTC))


def accept(session: Session, event: BankEvent) -> bool:
    """Record the event and run its handler; False (and nothing done) for an event accepted before."""
    seen = session.scalar(select(BankCallbackEvent.id).where(BankCallbackEvent.event_id == event.event_id))
    if seen is not None:
        return False
    handler = _registry.get(event.kind)
    if handler is None:
        raise QianbaoError("BANK_CALLBACK_UNHANDLED", kind=event.kind)
    session.add(BankCallbackEvent(event_id=event.event_id, kind=event.kind, key=event.key[:200],
                                  bank_ref=event.bank_ref, status=event.status, received_at=datetime.now(UTC)))
    session.flush()
    handler(session, event)
    return True


def receive(session: Session, settings: Settings, headers: Mapping[str, str], method: str, path: str,
            body: bytes) -> tuple[BankEvent, bool]:
    """All three steps: (the event, whether it was new)."""
    authenticate(session, settings, headers, method, path, body)
    event = parse_event(body)
    return event, accept(session, event)


# ---- housekeeping -------------------------------------------------------------------------------------

NONCE_KEEP = timedelta(seconds=2 * signing.TOLERANCE_SECONDS)
_PRUNE_INTERVAL = 60.0
_last_prune = 0.0
_prune_lock = threading.Lock()


def prune_nonces(session: Session, *, now: datetime | None = None) -> int:
    """Forget nonces older than twice the timestamp tolerance: such a callback is refused as stale anyway."""
    cutoff = (now or datetime.now(UTC)) - NONCE_KEEP
    result = session.execute(delete(BankCallbackNonce).where(BankCallbackNonce.received_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_job(db: Database, settings: Settings) -> int:
    """The worker job `bank_callback_nonces`: at most once a minute per process."""
    global _last_prune
    with _prune_lock:
        now_mono = time.monotonic()
        if _last_prune and now_mono - _last_prune < _PRUNE_INTERVAL:
            return 0
        _last_prune = now_mono
    with db.transaction() as session:
        return prune_nonces(session)


__all__ = ["KINDS", "BankEvent", "Handler", "accept", "authenticate", "handler_for", "parse_event", "prune_job",
           "prune_nonces", "receive", "register", "unregister"]
