"""`execute`: the one function through which every customer-facing money movement goes.

Inside the caller's transaction (under a SAVEPOINT, so a refusal leaves nothing behind even when the
caller goes on and commits), in this order:

1. the order is checked (kinds, amounts, lengths) and fingerprinted;
2. idempotency: the operation row is INSERTed first with its UNIQUE key (ON CONFLICT DO NOTHING). A key
   seen before answers with the original operation (`replayed=True`) when the order is the same, and
   IDEMPOTENCY_KEY_REUSED otherwise. Two concurrent requests with one key queue on that unique index
   (PostgreSQL) or on the single writer (SQLite); the second sees the first's row;
3. the receiving wallet must be able to receive (RECIPIENT_CANNOT_RECEIVE, balance never revealed);
4. the paying wallet's status and limits are counted atomically (`limits.count_outflow`);
5. ONE linked ledger group: the main leg payer → payee and, with a fee, payer → fee income
   (`pending=True` places holds that `complete` posts and `fail` voids);
6. the history entries (one per wallet touched) and, for a finished operation, the debit and credit
   notices (in-app + SMS) through the outbox.

Payments are recorded by the operation row and the ledger's journal; the hash-chained audit log (one
global lock) records staff and security actions, not each payment.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao import ledger
from qianbao.errors import QianbaoError
from qianbao.ledger import AccountKind, Leg
from qianbao.ledger.validate import MAX_FEN
from qianbao.money import format_fen
from qianbao.notices.models import PENDING as OUTBOX_PENDING
from qianbao.notices.models import OutboxMessage
from qianbao.notices.outbox import INBOX, SMS
from qianbao.payments import limits
from qianbao.payments.models import (
    CHANNELS,
    CONFIRMATIONS,
    FAILED,
    IN,
    KINDS,
    OUT,
    PROCESSING,
    SUCCEEDED,
    PaymentEntry,
    PaymentOperation,
)
from qianbao.pii.masking import mask_name, mask_phone
from qianbao.wallets.models import CLOSED, Customer, Wallet

KEY_MAX = 100
LABEL_MAX = 120
NOTE_MAX = 200
REFERENCE_MAX = 64
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O: read aloud over the phone


# ---------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Party:
    """One side of an operation: a customer wallet, or any other ledger account with its label."""

    wallet_id: int | None = None
    account_id: int | None = None
    label: str | None = None

    @classmethod
    def wallet(cls, wallet_id: int, label: str | None = None) -> Party:
        return cls(wallet_id=wallet_id, label=label)

    @classmethod
    def account(cls, ledger_account_id: int, label: str) -> Party:
        return cls(account_id=ledger_account_id, label=label)

    def canonical(self) -> dict[str, Any]:
        return {"wallet": self.wallet_id, "account": self.account_id}


@dataclass(frozen=True)
class Order:
    key: str
    kind: str
    payer: Party
    payee: Party
    amount: int
    fee: int = 0
    confirmation: str = "pin"
    static_qr: bool = False
    pending: bool = False
    timeout: int | None = None
    channel: str = "app"
    counterparty_label: str | None = None
    note: str | None = None
    reference: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What makes two orders with one key "the same request" (labels and details are display only)."""
        body = {
            "kind": self.kind, "payer": self.payer.canonical(), "payee": self.payee.canonical(),
            "amount": self.amount, "fee": self.fee, "confirmation": self.confirmation,
            "static_qr": self.static_qr, "pending": self.pending, "timeout": self.timeout,
            "channel": self.channel, "note": self.note, "reference": self.reference,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Operation:
    id: int
    reference: str
    kind: str
    status: str
    amount: int
    fee: int
    payer_wallet_id: int | None
    payee_wallet_id: int | None
    payer_account_id: int
    payee_account_id: int
    payer_label: str | None
    payee_label: str | None
    confirmation: str
    channel: str
    counterparty_label: str | None
    note: str | None
    order_reference: str | None
    details: dict[str, Any]
    ledger_transfer_ids: list[int]
    pending: bool
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    replayed: bool = False


def _view(row: PaymentOperation, *, replayed: bool = False) -> Operation:
    return Operation(
        id=row.id, reference=row.reference, kind=row.kind, status=row.status, amount=row.amount, fee=row.fee,
        payer_wallet_id=row.payer_wallet_id, payee_wallet_id=row.payee_wallet_id,
        payer_account_id=row.payer_account_id, payee_account_id=row.payee_account_id,
        payer_label=row.payer_label, payee_label=row.payee_label, confirmation=row.confirmation,
        channel=row.channel, counterparty_label=row.counterparty_label, note=row.note,
        order_reference=row.order_reference, details=dict(row.details or {}),
        ledger_transfer_ids=list(row.ledger_transfer_ids or []), pending=row.pending,
        failure_reason=row.failure_reason, created_at=row.created_at, completed_at=row.completed_at,
        replayed=replayed,
    )


# --------------------------------------------------------------------------------------- system accounts

_SYSTEM = {
    "fee_income": (AccountKind.FEE_INCOME, "FEE-INCOME", "Fee income"),
    "promotion_expense": (AccountKind.PROMOTION_EXPENSE, "PROMOTION-EXPENSE", "Promotion expense"),
    "suspense": (AccountKind.SUSPENSE, "SUSPENSE", "Suspense"),
}


def system_account(session: Session, name: str) -> int:
    """The ledger account id of a system account, opened on first use.

    Names: "fee_income", "promotion_expense", "suspense", "bank_clearing:<BANK>" (code BC-<BANK>, e.g.
    "bank_clearing:ICBC" → BC-ICBC). PAYMENT_SYSTEM_ACCOUNT_UNKNOWN otherwise.
    """
    if name in _SYSTEM:
        kind, code, label = _SYSTEM[name]
        return ledger.ensure_account(session, kind, code, name=label).id
    prefix, _, bank = name.partition(":")
    bank = bank.strip().upper()
    if prefix == "bank_clearing" and bank and bank.replace("_", "").replace("-", "").isalnum() and len(bank) <= 30:
        return ledger.ensure_account(session, AccountKind.BANK_CLEARING, f"BC-{bank}", name=f"{bank} clearing").id
    raise QianbaoError("PAYMENT_SYSTEM_ACCOUNT_UNKNOWN", name=str(name)[:40])


# ----------------------------------------------------------------------------------------------- helpers


def wallet_label(customer: Customer) -> str:
    """How a wallet holder is named to the other party: the masked real name, else the masked phone."""
    if customer.legal_name:
        return mask_name(customer.legal_name)
    return mask_phone(customer.phone)


def new_reference(now: datetime) -> str:
    """A public operation reference: the Shanghai date and 12 random characters (≈ 61 bits)."""
    from qianbao.credentials.base import SHANGHAI

    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    return day + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))


def _text(value: Any, maximum: int, code: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise QianbaoError(code, max=maximum)
    value = " ".join(value.split())
    if len(value) > maximum:
        raise QianbaoError(code, max=maximum)
    return value or None


def _check(order: Order) -> Order:
    if not isinstance(order.key, str) or not 0 < len(order.key) <= KEY_MAX:
        raise QianbaoError("IDEMPOTENCY_KEY_MISSING" if not order.key else "LEDGER_IDEMPOTENCY_KEY_INVALID",
                           max=KEY_MAX)
    if order.kind not in KINDS:
        raise QianbaoError("PAYMENT_KIND_INVALID", kind=str(order.kind)[:24])
    if order.confirmation not in CONFIRMATIONS:
        raise QianbaoError("PAYMENT_CONFIRMATION_INVALID", confirmation=str(order.confirmation)[:24])
    if order.channel not in CHANNELS:
        raise QianbaoError("PAYMENT_CHANNEL_INVALID", channel=str(order.channel)[:24])
    if type(order.amount) is not int or order.amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    if type(order.fee) is not int or order.fee < 0:
        raise QianbaoError("AMOUNT_INVALID")
    if order.amount + order.fee > MAX_FEN:
        raise QianbaoError("AMOUNT_TOO_LARGE")
    if order.timeout is not None and not order.pending:
        raise QianbaoError("LEDGER_TIMEOUT_INVALID")
    for party in (order.payer, order.payee):
        if (party.wallet_id is None) == (party.account_id is None):
            raise QianbaoError("PAYMENT_PARTY_INVALID")
    if order.payer.canonical() == order.payee.canonical():
        raise QianbaoError("PAYMENT_SAME_PARTY")
    if not isinstance(order.details, dict):
        raise QianbaoError("PAYMENT_DETAILS_INVALID")
    try:
        encoded = json.dumps(order.details, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise QianbaoError("PAYMENT_DETAILS_INVALID") from exc
    if len(encoded) > 4000:
        raise QianbaoError("PAYMENT_DETAILS_INVALID")
    return replace(
        order,
        note=_text(order.note, NOTE_MAX, "PAYMENT_NOTE_TOO_LONG"),
        counterparty_label=_text(order.counterparty_label, LABEL_MAX, "PAYMENT_LABEL_TOO_LONG"),
        reference=_text(order.reference, REFERENCE_MAX, "PAYMENT_REFERENCE_TOO_LONG"),
        payer=replace(order.payer, label=_text(order.payer.label, LABEL_MAX, "PAYMENT_LABEL_TOO_LONG")),
        payee=replace(order.payee, label=_text(order.payee.label, LABEL_MAX, "PAYMENT_LABEL_TOO_LONG")),
    )


@dataclass
class _Side:
    wallet: Wallet | None
    customer: Customer | None
    account_id: int
    label: str | None


def _resolve_all(session: Session, *parties: Party) -> list[_Side]:
    """The sides of the parties; wallets and their holders read in ONE query (NOT_FOUND for a wallet id
    that names no wallet)."""
    ids = [p.wallet_id for p in parties if p.wallet_id is not None]
    if any(type(wallet_id) is not int for wallet_id in ids):
        raise QianbaoError("NOT_FOUND")
    found: dict[int, tuple[Wallet, Customer]] = {}
    if ids:
        rows = session.execute(
            select(Wallet, Customer).join(Customer, Customer.id == Wallet.customer_id).where(Wallet.id.in_(ids))
            .execution_options(populate_existing=True)
        ).all()
        found = {wallet.id: (wallet, customer) for wallet, customer in rows}
    sides = []
    for party in parties:
        if party.wallet_id is None:
            assert party.account_id is not None
            sides.append(_Side(None, None, party.account_id, party.label))
            continue
        if party.wallet_id not in found:
            raise QianbaoError("NOT_FOUND")
        wallet, customer = found[party.wallet_id]
        sides.append(_Side(wallet, customer, wallet.ledger_account_id, party.label or wallet_label(customer)))
    return sides


def _resolve(session: Session, party: Party) -> _Side:
    return _resolve_all(session, party)[0]


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _existing(session: Session, key: str, fingerprint: str) -> Operation | None:
    row = session.scalar(select(PaymentOperation).where(PaymentOperation.idempotency_key == key)
                         .execution_options(populate_existing=True))
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise QianbaoError("IDEMPOTENCY_KEY_REUSED")
    return _view(row, replayed=True)


def _yuan(fen: int) -> str:
    return format_fen(fen, "en", symbol=False)


def _notices(op: PaymentOperation, side: _Side, event: str, counterparty: str | None, amount: int,
             moment: datetime) -> list[dict[str, Any]]:
    """The outbox rows of one notice to a wallet holder: in-app and SMS (the payloads `enqueue_inbox` and
    `enqueue_sms` write), deduplicated per operation, wallet and event."""
    customer, wallet = side.customer, side.wallet
    if customer is None or wallet is None:
        return []
    params = {"amount": _yuan(amount), "tail": wallet.number[-4:], "counterparty": counterparty or "",
              "reference": op.reference, "kind": op.kind}
    dedupe = f"payments:{op.id}:{wallet.id}:{event}"
    common = {"status": OUTBOX_PENDING, "attempts": 0, "created_at": moment, "available_at": moment}
    return [
        {**common, "kind": INBOX, "dedupe_key": f"{dedupe}:inbox",
         "payload": {"recipient_id": customer.id, "title_key": f"notice.payments.{event}.title",
                     "body_key": f"notice.payments.{event}.body", "params": params}},
        {**common, "kind": SMS, "dedupe_key": f"{dedupe}:sms",
         "payload": {"phone": customer.phone, "key": f"sms.payments.{event}", "params": params,
                     "lang": customer.lang}},
    ]


def _enqueue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Queue the notices in ONE statement, in the caller's transaction (a retry queues nothing twice)."""
    if rows:
        session.execute(_insert(session)(OutboxMessage).values(rows)
                        .on_conflict_do_nothing(index_elements=["dedupe_key"]))


def _counterparties(order_label: str | None, payer: _Side, payee: _Side) -> tuple[str | None, str | None]:
    """(what the payer's history shows, what the payee's shows).

    The payer sees the order's counterparty label, else the payee's label; the payee sees the payer's
    label, or the order's label when the payer is not a wallet (a bank card at top-up, say).
    """
    for_payer = order_label or payee.label
    for_payee = payer.label if payer.wallet is not None else (order_label or payer.label)
    return for_payer, for_payee


def _map_ledger_error(exc: QianbaoError, payer: _Side, payee: _Side, session: Session) -> QianbaoError:
    code = exc.code
    account = str(exc.params.get("account", ""))

    def is_payee() -> bool:
        return account == ledger.get_account(session, payee.account_id).code

    if code == "LEDGER_INSUFFICIENT_FUNDS":
        return QianbaoError("INSUFFICIENT_BALANCE")
    if code == "LEDGER_CAP_EXCEEDED":
        return QianbaoError("RECIPIENT_CANNOT_RECEIVE")
    if code in ("LEDGER_ACCOUNT_FROZEN", "LEDGER_ACCOUNT_CLOSED"):
        if is_payee():
            return QianbaoError("RECIPIENT_CANNOT_RECEIVE")
        if payer.wallet is not None:
            return QianbaoError("WALLET_FROZEN" if code == "LEDGER_ACCOUNT_FROZEN" else "WALLET_CLOSED")
    return exc


# ------------------------------------------------------------------------------------------------ execute


def execute(session: Session, order: Order, *, now: datetime | None = None) -> Operation:
    """Carry out `order` (see the module docstring); returns the Operation. Never commits."""
    order = _check(order)
    fingerprint = order.fingerprint()
    moment = now or datetime.now(UTC)
    with session.begin_nested():
        payer, payee = _resolve_all(session, order.payer, order.payee)
        if payer.account_id == payee.account_id:
            raise QianbaoError("PAYMENT_SAME_PARTY")
        for_payer, for_payee = _counterparties(order.counterparty_label, payer, payee)
        row = session.scalars(
            _insert(session)(PaymentOperation).values(
                reference=new_reference(moment), idempotency_key=order.key, fingerprint=fingerprint,
                kind=order.kind, status=PROCESSING, payer_wallet_id=order.payer.wallet_id,
                payer_account_id=payer.account_id, payer_label=payer.label, payee_wallet_id=order.payee.wallet_id,
                payee_account_id=payee.account_id, payee_label=payee.label, amount=order.amount, fee=order.fee,
                confirmation=order.confirmation, static_qr=order.static_qr, channel=order.channel,
                counterparty_label=for_payer, note=order.note, order_reference=order.reference,
                details=order.details, usage={}, ledger_transfer_ids=[], pending=order.pending,
                failure_reason=None, created_at=moment, completed_at=None,
            ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(PaymentOperation),
            execution_options={"populate_existing": True},
        ).first()
        if row is None:  # the key was used before (or a concurrent request with it committed first)
            found = _existing(session, order.key, fingerprint)
            assert found is not None
            return found
        return _carry_out(session, row, order, payer, payee, for_payee, moment)


def _carry_out(session: Session, row: PaymentOperation, order: Order, payer: _Side, payee: _Side,
               for_payee: str | None, moment: datetime) -> Operation:
    if payee.wallet is not None and (payee.wallet.is_frozen or payee.wallet.status == CLOSED):
        raise QianbaoError("RECIPIENT_CANNOT_RECEIVE")
    usage: dict[str, int] = {}
    if payer.wallet is not None:
        usage = limits.count_outflow(
            session, payer.wallet, kind=order.kind, amount=order.amount, fee=order.fee,
            confirmation=order.confirmation, static_qr=order.static_qr, now=moment,
        )
    legs = [Leg(payer.account_id, payee.account_id, order.amount, order.kind[:32], row.reference)]
    if order.fee:
        legs.append(Leg(payer.account_id, system_account(session, "fee_income"), order.fee, "fee", row.reference))
    try:
        transfers = ledger.create_group(
            session, key=f"pay:{order.key}", legs=legs, pending=order.pending, timeout=order.timeout,
        )
    except QianbaoError as exc:
        raise _map_ledger_error(exc, payer, payee, session) from exc
    status = PROCESSING if order.pending else SUCCEEDED
    row.status = status
    row.usage = usage
    row.ledger_transfer_ids = [t.id for t in transfers]
    row.completed_at = None if order.pending else moment
    if payer.wallet is not None:
        session.add(PaymentEntry(wallet_id=payer.wallet.id, operation_id=row.id, direction=OUT, amount=order.amount,
                                 fee=order.fee, kind=order.kind, status=status, counterparty=row.counterparty_label,
                                 created_at=moment))
    if payee.wallet is not None:
        session.add(PaymentEntry(wallet_id=payee.wallet.id, operation_id=row.id, direction=IN, amount=order.amount,
                                 fee=0, kind=order.kind, status=status, counterparty=for_payee, created_at=moment))
    session.flush()
    if status == SUCCEEDED:
        _notify_done(session, row, payer, payee, for_payee)
    return _view(row)


def _notify_done(session: Session, row: PaymentOperation, payer: _Side, payee: _Side, for_payee: str | None) -> None:
    moment = datetime.now(UTC)
    _enqueue(session, _notices(row, payer, "debit", row.counterparty_label, row.amount + row.fee, moment)
             + _notices(row, payee, "credit", for_payee, row.amount, moment))


# ---------------------------------------------------------------------------------------- complete / fail


def _locked(session: Session, operation_id: int) -> PaymentOperation:
    row = session.scalar(select(PaymentOperation).where(PaymentOperation.id == operation_id)
                         .with_for_update().execution_options(populate_existing=True)) \
        if type(operation_id) is int else None
    if row is None:
        raise QianbaoError("PAYMENT_NOT_FOUND")
    return row


def _sides(session: Session, row: PaymentOperation) -> tuple[_Side, _Side]:
    def party(wallet_id: int | None, account_id: int, label: str | None) -> Party:
        return Party(wallet_id=wallet_id, label=label) if wallet_id is not None else Party(account_id=account_id,
                                                                                            label=label)

    payer, payee = _resolve_all(session, party(row.payer_wallet_id, row.payer_account_id, row.payer_label),
                                party(row.payee_wallet_id, row.payee_account_id, row.payee_label))
    return payer, payee


def _set_status(session: Session, row: PaymentOperation, status: str, moment: datetime,
                reason: str | None = None) -> None:
    row.status = status
    row.completed_at = moment
    row.failure_reason = reason
    session.execute(update(PaymentEntry).where(PaymentEntry.operation_id == row.id).values(status=status)
                    .execution_options(synchronize_session=False))


def session_entry_label(row: PaymentOperation) -> str | None:
    return row.payer_label if row.payer_wallet_id is not None else (row.counterparty_label or row.payer_label)


def complete(session: Session, operation_id: int, *, key: str, now: datetime | None = None) -> Operation:
    """Post a pending operation (the bank's callback said yes, the payout went through).

    Idempotent: an operation already succeeded comes back unchanged (`replayed=True`). One already failed
    is refused (PAYMENT_ALREADY_FINISHED{state}). When the hold can no longer be posted — it expired, or
    the receiving wallet can no longer take the money (frozen, closed, over its cap) — the hold is
    released, the operation is marked failed and returned with status "failed" (so the caller sees it,
    and the marking commits): a top-up's caller then gives the card its money back.
    """
    moment = now or datetime.now(UTC)
    row = _locked(session, operation_id)
    if row.status == SUCCEEDED:
        return _view(row, replayed=True)
    if row.status == FAILED:
        raise QianbaoError("PAYMENT_ALREADY_FINISHED", state=row.status)
    payer, payee = _sides(session, row)
    pending_id = row.ledger_transfer_ids[0]
    try:
        with session.begin_nested():
            ledger.post_pending(session, key=f"pay:{key}", pending_id=pending_id)
    except QianbaoError as exc:
        if exc.code in ("LEDGER_PENDING_EXPIRED", "LEDGER_PENDING_ALREADY_VOIDED"):
            return _failed(session, row, payer, payee, "expired", moment)
        if exc.code in ("LEDGER_CAP_EXCEEDED", "LEDGER_ACCOUNT_FROZEN", "LEDGER_ACCOUNT_CLOSED"):
            with session.begin_nested():
                ledger.void_pending(session, key=f"pay:{key}:void", pending_id=pending_id)
            return _failed(session, row, payer, payee, "RECIPIENT_CANNOT_RECEIVE", moment)
        raise
    _set_status(session, row, SUCCEEDED, moment)
    session.flush()
    _notify_done(session, row, payer, payee, session_entry_label(row))
    return _view(row)


def fail(session: Session, operation_id: int, *, key: str, reason: str, now: datetime | None = None) -> Operation:
    """Void a pending operation (the bank refused, the payout failed); its limit usage is given back.

    Idempotent: an operation already failed comes back unchanged (`replayed=True`); one that succeeded is
    refused (PAYMENT_ALREADY_FINISHED{state}). A hold the ledger already released (expired) is fine.
    """
    moment = now or datetime.now(UTC)
    row = _locked(session, operation_id)
    if row.status == FAILED:
        return _view(row, replayed=True)
    if row.status == SUCCEEDED:
        raise QianbaoError("PAYMENT_ALREADY_FINISHED", state=row.status)
    payer, payee = _sides(session, row)
    try:
        with session.begin_nested():
            ledger.void_pending(session, key=f"pay:{key}", pending_id=row.ledger_transfer_ids[0])
    except QianbaoError as exc:
        if exc.code not in ("LEDGER_PENDING_EXPIRED", "LEDGER_PENDING_ALREADY_VOIDED"):
            raise
    return _failed(session, row, payer, payee, (reason or "failed")[:200], moment)


def _failed(session: Session, row: PaymentOperation, payer: _Side, payee: _Side, reason: str,
            moment: datetime) -> Operation:
    if row.payer_wallet_id is not None and row.usage:
        limits.release(session, row.payer_wallet_id, row.usage)
    _set_status(session, row, FAILED, moment, reason)
    session.flush()
    _enqueue(session, _notices(row, payer, "failed", row.counterparty_label, row.amount + row.fee, moment)
             + _notices(row, payee, "failed", session_entry_label(row), row.amount, moment))
    return _view(row)


def expire_overdue(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Mark failed the processing operations whose ledger hold has expired (or was voided); returns how many.

    The ledger's own sweep releases the money; this gives the limit usage back and tells the customer.
    """
    moment = now or datetime.now(UTC)
    ids = list(session.scalars(
        select(PaymentOperation.id).where(PaymentOperation.status == PROCESSING, PaymentOperation.pending.is_(True))
        .order_by(PaymentOperation.id).limit(limit * 5)
    ))
    done = 0
    for op_id in ids:
        row = _locked(session, op_id)
        if row.status != PROCESSING or not row.ledger_transfer_ids:
            continue
        transfer = ledger.get_transfer(session, row.ledger_transfer_ids[0])
        expired = transfer.status in ("expired", "voided") or (
            transfer.status == "pending" and transfer.timeout_at is not None and transfer.timeout_at <= moment)
        if not expired:
            continue
        payer, payee = _sides(session, row)
        _failed(session, row, payer, payee, "expired", moment)
        done += 1
        if done >= limit:
            break
    return done


# ------------------------------------------------------------------------------------------------ reading


def get_operation(session: Session, reference_or_id: str | int) -> Operation:
    """An operation by its public reference (str) or its id (int); PAYMENT_NOT_FOUND."""
    if type(reference_or_id) is int:
        row = session.get(PaymentOperation, reference_or_id)
    elif isinstance(reference_or_id, str) and 0 < len(reference_or_id) <= 24:
        row = session.scalar(select(PaymentOperation).where(PaymentOperation.reference == reference_or_id.upper()))
    else:
        row = None
    if row is None:
        raise QianbaoError("PAYMENT_NOT_FOUND")
    return _view(row)


def find_operation(session: Session, key: str) -> Operation | None:
    """The operation made under an idempotency key, if any (for a caller resuming after a crash)."""
    row = session.scalar(select(PaymentOperation).where(PaymentOperation.idempotency_key == key))
    return None if row is None else _view(row)


def expire_job(db: Any, settings: Any) -> int:
    """Worker job `payments_expire`: mark failed the pending operations whose hold timed out."""
    with db.transaction() as session:
        return expire_overdue(session)
