"""Top-ups and withdrawals while the bank works on them: the card movement, and how it ends (SPEC §6.2).

A movement is created in the same unit of work as its pending payments operation (`payments.execute(...,
pending=True)`), and committed before the bank is called, so that the bank's callback always finds it. It
then ends exactly once, whichever of these comes first:

- the bank's answer to the debit/credit call itself, when it is final (declined, or done at once);
- the bank's signed callback (`on_bank_callback`, registered with the bank connector's callback dispatcher);
- the sweep (`sweep`, a worker job): a movement still processing is looked up at the bank (`query(key)`)
  from `QUERY_AFTER` on, with a growing pause; a final answer ends it, and one still unknown at the
  deadline (`DEADLINE`) voids it (the top-up never credits the wallet; the withdrawal's money returns).

Ending it posts (`payments.complete`) or voids (`payments.fail`) the operation and marks the movement, under
a row lock; a second answer — the callback that arrives twice, or after the void — finds the movement ended
and changes nothing (it is audited as `card.movement.late` when it disagrees, for reconciliation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.cards.models import FAILED, PROCESSING, SUCCEEDED, TOPUP, BankCard, CardMovement
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.money import MAX_FEN

log = structlog.get_logger("qianbao.cards")

QUERY_AFTER = timedelta(seconds=30)
MAX_QUERY_PAUSE = timedelta(minutes=2)
DEADLINE = timedelta(minutes=10)
# The payments operation's own timeout: later than ours, so that our sweep (which asks the bank first) ends
# it; the ledger's expiry is the backstop if the worker were down.
OPERATION_TIMEOUT = int((DEADLINE + timedelta(minutes=5)).total_seconds())  # seconds, as Order.timeout takes it

# What the bank may say of a debit/credit (its call's answer, its callback, its query).
BANK_SUCCEEDED = frozenset({"succeeded", "success", "ok", "completed", "posted", "settled"})
BANK_FAILED = frozenset({"failed", "failure", "declined", "refused", "rejected", "reversed", "cancelled"})


@dataclass(frozen=True)
class MovementView:
    """A top-up or withdrawal as pages and the API show it."""

    reference: str
    kind: str
    status: str  # processing | succeeded | failed
    amount: int
    fee: int
    card_id: str
    bank_code: str
    card_type: str
    last4: str
    failure: str | None
    created_at: datetime
    resolved_at: datetime | None
    replayed: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def view(session: Session, movement: CardMovement, *, replayed: bool = False) -> MovementView:
    card = session.get(BankCard, movement.card_id)
    assert card is not None
    return MovementView(movement.reference, movement.kind, movement.status, movement.amount, movement.fee,
                        card.public_id, card.bank_code, card.card_type, card.last4, movement.failure,
                        movement.created_at, movement.resolved_at, replayed)


def check_amount(amount: Any) -> int:
    """An amount in fen from a caller: a positive int (AMOUNT_INVALID / AMOUNT_NOT_POSITIVE / AMOUNT_TOO_LARGE)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise QianbaoError("AMOUNT_INVALID")
    if amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    if amount > MAX_FEN:
        raise QianbaoError("AMOUNT_TOO_LARGE")
    return amount


def clearing_account(session: Session, bank_code: str) -> int:
    """The ledger account of a bank's clearing (payments' system account `bank_clearing:<BANK>`)."""
    from qianbao import payments

    return payments.system_account(session, f"bank_clearing:{bank_code}")


def create(session: Session, *, kind: str, card: BankCard, operation: Any, order_key: str, bank_key: str,
           amount: int, fee: int) -> CardMovement:
    now = _now()
    movement = CardMovement(
        kind=kind, card_id=card.id, wallet_id=card.wallet_id, customer_id=card.customer_id,
        operation_id=int(operation.id), reference=str(operation.reference), bank_key=bank_key,
        order_key=order_key, amount=amount, fee=fee, status=PROCESSING, query_count=0, created_at=now,
        next_query_at=now + QUERY_AFTER, deadline=now + DEADLINE,
    )
    session.add(movement)
    session.flush()
    return movement


def by_operation(session: Session, operation_id: int) -> CardMovement | None:
    return session.scalar(select(CardMovement).where(CardMovement.operation_id == operation_id))


def by_order_key(session: Session, order_key: str) -> CardMovement | None:
    return session.scalar(select(CardMovement).where(CardMovement.order_key == order_key))


def by_reference(session: Session, customer_id: int, reference: str, kind: str | None = None) -> CardMovement:
    """The customer's own movement by its public reference; NOT_FOUND for anyone else's."""
    stmt = select(CardMovement).where(CardMovement.reference == (reference or "")[:48],
                                      CardMovement.customer_id == customer_id)
    if kind is not None:
        stmt = stmt.where(CardMovement.kind == kind)
    movement = session.scalar(stmt)
    if movement is None:
        raise QianbaoError("NOT_FOUND")
    return movement


def _locked(session: Session, bank_key: str) -> CardMovement | None:
    return session.scalar(select(CardMovement).where(CardMovement.bank_key == bank_key).with_for_update()
                          .execution_options(populate_existing=True))


def outcome_of(status: Any) -> str | None:
    """"succeeded" / "failed" for a final bank status, None while the bank has no final answer."""
    text = str(getattr(status, "value", status) or "").strip().lower()
    if text in BANK_SUCCEEDED:
        return SUCCEEDED
    if text in BANK_FAILED:
        return FAILED
    return None


def settle(session: Session, bank_key: str, outcome: str, *, source: str, bank_status: str | None = None,
           reason: str | None = None) -> bool:
    """End the movement the bank knows by `bank_key`: post or void its operation. False (nothing changed)
    when it had already ended or is unknown."""
    from qianbao import payments

    movement = _locked(session, bank_key)
    if movement is None:
        log.warning("card_movement_unknown", source=source)
        return False
    if movement.status != PROCESSING:
        if movement.status != outcome:
            audit.record(session, action="card.movement.late", actor=audit.Actor.system("bank"), channel="system",
                         object_type="card_movement", object_id=movement.reference, outcome="refused",
                         details={"status": movement.status, "bank_says": outcome, "source": source})
        return False
    failure = None
    if outcome == SUCCEEDED:
        operation = payments.complete(session, movement.operation_id, key=f"{bank_key}:post")
        if operation.status != SUCCEEDED:
            # It could no longer be posted (the hold expired, the wallet cannot receive any more): it is
            # voided. A top-up's money was taken from the card: the sweep pays it back (`refund`).
            outcome, failure = FAILED, str(getattr(operation, "failure_reason", None) or "not_posted")[:64]
            if movement.kind == TOPUP:
                movement.refund = "due"
                movement.next_query_at = _now()
    else:
        failure = (reason or bank_status or "bank_failed")[:64]
        payments.fail(session, movement.operation_id, key=f"{bank_key}:void", reason=failure)
    movement.status = outcome
    movement.bank_status = (bank_status or "")[:24] or None
    movement.failure = failure
    movement.resolved_at = _now()
    session.flush()
    audit.record(session, action=f"card.{movement.kind}.{'succeeded' if outcome == SUCCEEDED else 'failed'}",
                 actor=audit.Actor.system("bank"), channel="system", object_type="card_movement",
                 object_id=movement.reference,
                 details={"amount": movement.amount, "fee": movement.fee, "source": source, "failure": failure})
    log.info("card_movement_settled", kind=movement.kind, reference=movement.reference, outcome=outcome,
             source=source)
    return True


def settle_from_answer(db: Database, bank_key: str, answer: Any, *, source: str) -> None:
    """The bank's answer to the debit/credit call: a final one ends the movement, anything else waits."""
    outcome = outcome_of(_get(answer, "status"))
    if outcome is None:
        return
    with db.transaction() as session:
        settle(session, bank_key, outcome, source=source, bank_status=str(_get(answer, "status")),
               reason=_get(answer, "reason") or _get(answer, "failure_reason"))


def refuse_from_error(db: Database, bank_key: str, exc: Exception) -> None:
    """The bank refused the call outright (a coded refusal, not a network failure): void the operation."""
    if isinstance(exc, QianbaoError) and exc.code not in UNCERTAIN_CODES:
        with db.transaction() as session:
            settle(session, bank_key, FAILED, source="call", reason=exc.code)


# Refusals after which the bank may still have acted (a timeout, a lost answer): the sweep asks it later.
UNCERTAIN_CODES = frozenset({"CARD_BANK_UNAVAILABLE", "BANK_UNAVAILABLE", "BANK_TIMEOUT", "SERVICE_UNAVAILABLE"})


def on_bank_callback(session: Session, payload: Any) -> bool:
    """The handler of the bank's verified callbacks (`qianbao.adapters.bank.callbacks`, kinds "debit" — a
    top-up — and "credit" — a withdrawal), in the callback endpoint's unit of work."""
    bank_key = str(_get(payload, "key") or _get(payload, "idempotency_key") or "")
    outcome = outcome_of(_get(payload, "status"))
    if not bank_key or outcome is None:
        return False
    return settle(session, bank_key, outcome, source="callback", bank_status=str(_get(payload, "status")),
                  reason=_get(payload, "reason") or _get(payload, "failure_reason"))


# ---- the sweep ----------------------------------------------------------------------------------------

def due(session: Session, now: datetime, limit: int = 100) -> list[tuple[str, datetime, int]]:
    stmt = (select(CardMovement.bank_key, CardMovement.deadline, CardMovement.query_count)
            .where(CardMovement.status == PROCESSING, CardMovement.next_query_at <= now)
            .order_by(CardMovement.next_query_at).limit(limit))
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def refunds_due(session: Session, limit: int = 100) -> list[tuple[str, str, int, str]]:
    """(bank key, card token, amount, reference) of the top-ups whose money goes back to the card."""
    stmt = (select(CardMovement.bank_key, BankCard.token, CardMovement.amount, CardMovement.reference)
            .join(BankCard, BankCard.id == CardMovement.card_id)
            .where(CardMovement.refund == "due").order_by(CardMovement.id).limit(limit))
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(stmt)]


def refund(db: Database, connector: Any, *, limit: int = 100) -> int:
    """Pay back to the card what a top-up took that the wallet could not receive (`credit` with the top-up's
    key + "-refund": asked again until the bank takes it, and done once). Returns how many were sent."""
    with db.read() as session:
        waiting = refunds_due(session, limit)
    sent = 0
    for bank_key, token, amount, reference in waiting:
        try:
            connector.credit(token, amount, f"{bank_key}-refund", reference)
        except Exception as exc:  # asked again on the next round
            log.warning("card_refund_failed", error=getattr(exc, "code", type(exc).__name__))
            continue
        with db.transaction() as session:
            movement = _locked(session, bank_key)
            if movement is not None and movement.refund == "due":
                movement.refund = "sent"
                audit.record(session, action="card.topup.refund", actor=audit.Actor.system("bank"),
                             channel="system", object_type="card_movement", object_id=movement.reference,
                             details={"amount": movement.amount})
                sent += 1
    return sent


def sweep(db: Database, connector: Any, *, now: datetime | None = None, limit: int = 100) -> int:
    """Ask the bank about every movement due for a look; end those it answers, void those past the deadline;
    pay back top-ups the wallet could not receive. Returns how many ended or were paid back."""
    moment = now or _now()
    with db.read() as session:
        waiting = due(session, moment, limit)
    ended = refund(db, connector, limit=limit)
    for bank_key, deadline, tries in waiting:
        answer: Any = None
        try:
            answer = connector.query(bank_key)
        except Exception as exc:  # the bank unreachable: decide by the deadline alone
            log.warning("card_movement_query_failed", error=type(exc).__name__)
        outcome = outcome_of(_get(answer, "status")) if answer is not None else None
        with db.transaction() as session:
            if outcome is not None:
                ended += settle(session, bank_key, outcome, source="query", bank_status=str(_get(answer, "status")),
                                reason=_get(answer, "reason") or _get(answer, "failure_reason"))
            elif moment >= deadline:
                ended += settle(session, bank_key, FAILED, source="timeout", reason="bank_timeout")
            else:
                movement = _locked(session, bank_key)
                if movement is not None and movement.status == PROCESSING:
                    movement.query_count = tries + 1
                    pause = min(QUERY_AFTER * (2 ** min(tries, 6)), MAX_QUERY_PAUSE)
                    movement.next_query_at = min(moment + pause, deadline)
    return ended


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _handle(session: Session, event: Any) -> None:
    on_bank_callback(session, event)


def register_callbacks() -> None:
    """Route the bank's debit and credit results here (done when this module is imported)."""
    from qianbao.adapters.bank import callbacks

    callbacks.register("debit", _handle)
    callbacks.register("credit", _handle)


register_callbacks()
