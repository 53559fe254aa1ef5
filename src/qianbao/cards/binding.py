"""Binding a bank card (SPEC §5): our checks, the bank's one-time code, the stored card.

Two steps, each its own unit of work around one call to the bank (the bank is never called with a database
transaction open, so a slow bank holds no lock):

    start_binding(db, connector, customer_id, number, holder_name, id_number, phone=None) -> BindingView
        checks, in this order: the wallet is open and its holder's real name verified (REAL_NAME_REQUIRED —
        tier 3 or better), the number (CARD_NUMBER_INVALID, CARD_UNKNOWN_BANK), the holder's name and ID
        number equal the wallet's real name (CARD_HOLDER_MISMATCH), the card is not bound already
        (CARD_ALREADY_BOUND) and the wallet has room (CARD_LIMIT_REACHED); then the bank sends its code to
        the phone it has for the card (the holder may name it; the wallet's phone by default).
    confirm_binding(db, connector, customer_id, binding_id, otp) -> CardView
        the bank checks the code (CARD_OTP_WRONG — five wrong codes end the binding:
        CARD_BINDING_TOO_MANY_TRIES; CARD_BINDING_EXPIRED once the bank's code has expired, ten minutes at
        most) and gives a vault token.
        The card is stored (token, BIN, last four, the number encrypted), the wallet's first card becomes its
        default, and a debit card — in the holder's own name, as checked — lifts the wallet to tier 2
        (`wallets.record_bank_card_verified`).

The domain functions under them (`check_binding`, `record_binding`, `finish_binding`, `fail_binding`) take
the session first and never commit, like the rest of the domain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit, wallets
from qianbao.cards import cards as card_store
from qianbao.cards.models import (
    BINDING_BOUND,
    BINDING_EXPIRED,
    BINDING_FAILED,
    BINDING_PENDING,
    BOUND,
    DEBIT,
    BankCard,
    CardBinding,
)
from qianbao.cards.rules import CheckedCard, check_card_number
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.hashing import normalise_id_number, normalise_name
from qianbao.pii.masking import mask_phone
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import CLOSED, Customer, Wallet

log = structlog.get_logger("qianbao.cards")

MAX_CARDS_PER_WALLET = 10
BINDING_MINUTES = 10
MAX_OTP_TRIES = 5


@dataclass(frozen=True)
class BindingView:
    """A binding waiting for the bank's code: what the page shows (never the number)."""

    id: str
    bank_code: str
    card_type: str
    last4: str
    phone_masked: str
    status: str
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _binding_view(row: CardBinding) -> BindingView:
    return BindingView(row.public_id, row.bank_code, row.card_type, row.last4, row.phone_masked, row.status,
                       row.expires_at)


# ---- the checks before the bank is asked ------------------------------------------------------------------

def _open_wallet(session: Session, customer_id: int) -> tuple[Customer, Wallet]:
    customer = wallet_customers.get_customer(session, customer_id)
    wallet = wallet_customers.wallet_of_customer(session, customer_id)
    if wallet is None or wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    if wallet.is_frozen:
        raise QianbaoError("WALLET_FROZEN")
    return customer, wallet


def check_binding(session: Session, customer_id: int, number: str, holder_name: str,
                  id_number: str) -> tuple[Customer, Wallet, CheckedCard]:
    """Everything we decide before the bank sends its code; refusals as in the module docstring."""
    customer, wallet = _open_wallet(session, customer_id)
    if not customer.is_real_name_verified or wallet.tier > 3:
        raise QianbaoError("REAL_NAME_REQUIRED")
    card = check_card_number(number)
    same_name = normalise_name(holder_name or "") == normalise_name(customer.legal_name or "")
    same_id = normalise_id_number(id_number or "") == normalise_id_number(customer.id_number or "")
    if not (same_name and same_id):
        raise QianbaoError("CARD_HOLDER_MISMATCH")
    if session.scalar(select(BankCard.id).where(BankCard.bound_hash == card.number_hash)) is not None:
        raise QianbaoError("CARD_ALREADY_BOUND", last4=card.last4)
    bound = session.scalar(select(func.count()).select_from(BankCard)
                           .where(BankCard.wallet_id == wallet.id, BankCard.status == BOUND)) or 0
    if bound >= MAX_CARDS_PER_WALLET:
        raise QianbaoError("CARD_LIMIT_REACHED", limit=MAX_CARDS_PER_WALLET)
    return customer, wallet, card


def record_binding(session: Session, customer: Customer, wallet: Wallet, card: CheckedCard, bank_ref: str,
                   phone: str, *, masked_phone: str | None = None,
                   expires_at: datetime | None = None) -> CardBinding:
    """Remember a binding the bank started; it waits until the bank's code expires (BINDING_MINUTES at most)."""
    now = _now()
    latest = now + timedelta(minutes=BINDING_MINUTES)
    row = CardBinding(
        public_id="cb_" + secrets.token_urlsafe(15), customer_id=customer.id, wallet_id=wallet.id,
        bank_ref=bank_ref[:64], bank_code=card.bank_code, card_type=card.card_type, bin=card.bin, last4=card.last4,
        number=card.number, number_hash=card.number_hash, phone_masked=(masked_phone or mask_phone(phone))[:24],
        status=BINDING_PENDING,
        tries=0, created_at=now,
        expires_at=min(expires_at or latest, latest),
    )
    session.add(row)
    session.flush()
    audit.record(session, action="card.binding.start", actor=audit.Actor.customer(customer.id), channel="app",
                 object_type="card_binding", object_id=row.public_id,
                 details={"bin": card.bin, "last4": card.last4, "bank": card.bank_code, "type": card.card_type})
    return row


def get_binding(session: Session, customer_id: int, public_id: str, *, lock: bool = False) -> CardBinding:
    """The customer's own binding; NOT_FOUND for anyone else's (ids cannot be probed)."""
    stmt = select(CardBinding).where(CardBinding.public_id == (public_id or "")[:24],
                                     CardBinding.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(stmt)
    if row is None:
        raise QianbaoError("NOT_FOUND")
    return row


def _require_open(row: CardBinding) -> None:
    if row.status == BINDING_EXPIRED or (row.status == BINDING_PENDING and row.expires_at <= _now()):
        raise QianbaoError("CARD_BINDING_EXPIRED")
    if row.status != BINDING_PENDING:
        raise QianbaoError("CARD_BINDING_CLOSED")


def fail_binding(session: Session, row: CardBinding, code: str) -> None:
    row.status = BINDING_EXPIRED if code == "CARD_BINDING_EXPIRED" else BINDING_FAILED
    row.failure_code = code
    row.number = None
    row.finished_at = _now()
    session.flush()
    audit.record(session, action="card.binding.fail", actor=audit.Actor.customer(row.customer_id), channel="app",
                 object_type="card_binding", object_id=row.public_id, outcome="refused",
                 details={"code": code, "last4": row.last4})


def wrong_code(session: Session, row: CardBinding) -> QianbaoError:
    """Count a wrong code: CARD_OTP_WRONG with the tries left, or the binding ends at the fifth."""
    row.tries += 1
    session.flush()
    if row.tries >= MAX_OTP_TRIES:
        fail_binding(session, row, "CARD_BINDING_TOO_MANY_TRIES")
        return QianbaoError("CARD_BINDING_TOO_MANY_TRIES")
    return QianbaoError("CARD_OTP_WRONG", tries_left=MAX_OTP_TRIES - row.tries)


def finish_binding(session: Session, row: CardBinding, token: str, *, last4: str | None = None) -> BankCard:
    """The bank accepted the code and gave its vault token: store the card (first one is the default), tell
    the holder, and lift the wallet to tier 2 for a debit card."""
    if last4 is not None and last4 != row.last4:
        raise QianbaoError("CARD_BANK_REFUSED")
    if row.status != BINDING_PENDING or row.number is None:
        raise QianbaoError("CARD_BINDING_CLOSED")
    wallet = wallet_customers.get_wallet(session, row.wallet_id, lock=True)
    if session.scalar(select(BankCard.id).where(BankCard.bound_hash == row.number_hash)) is not None:
        raise QianbaoError("CARD_ALREADY_BOUND", last4=row.last4)
    has_default = session.scalar(select(BankCard.id).where(BankCard.default_of_wallet == wallet.id)) is not None
    now = _now()
    card = BankCard(
        public_id="cd_" + secrets.token_urlsafe(15), customer_id=row.customer_id, wallet_id=wallet.id,
        bank_code=row.bank_code, card_type=row.card_type, bin=row.bin, last4=row.last4, number=row.number,
        number_hash=row.number_hash, bound_hash=row.number_hash, token=token,
        default_of_wallet=None if has_default else wallet.id, status=BOUND, bound_at=now,
    )
    try:
        with session.begin_nested():
            session.add(card)
            session.flush()
    except IntegrityError:
        raise QianbaoError("CARD_ALREADY_BOUND", last4=row.last4) from None
    row.status = BINDING_BOUND
    row.card_id = card.id
    row.finished_at = now
    row.number = None  # the card row keeps it
    session.flush()
    audit.record(session, action="card.bind", actor=audit.Actor.customer(row.customer_id), channel="app",
                 object_type="bank_card", object_id=card.public_id,
                 details={"bin": card.bin, "last4": card.last4, "bank": card.bank_code, "type": card.card_type,
                          "default": card.is_default})
    customer = wallet_customers.get_customer(session, row.customer_id)
    card_store.notify(session, customer, "bound", card)
    if card.card_type == DEBIT:
        wallets.record_bank_card_verified(session, wallet.id)
    return card


# ---- the two steps with the bank --------------------------------------------------------------------------

UNAVAILABLE_CODES = frozenset({"BANK_UNAVAILABLE", "CARD_BANK_UNAVAILABLE"})


def _bank_error(exc: Exception) -> QianbaoError:
    """What the customer is told when the bank refuses or cannot be reached (its BANK_* codes pass through)."""
    if isinstance(exc, QianbaoError):
        return exc
    return QianbaoError("CARD_BANK_UNAVAILABLE")


def start_binding(db: Database, connector: Any, customer_id: int, number: str, holder_name: str, id_number: str,
                  phone: str | None = None) -> BindingView:
    with db.read() as session:
        customer, _wallet, card = check_binding(session, customer_id, number, holder_name, id_number)
        bank_phone = (phone or "").strip() or customer.phone
        legal_name, legal_id = customer.legal_name or "", customer.id_number or ""
    try:
        challenge = connector.start_binding(card.number, legal_name, legal_id, bank_phone)
    except Exception as exc:  # the bank's refusal or a network failure, told as one code
        error = _bank_error(exc)
        with db.transaction() as session:
            audit.record(session, action="card.binding.start", actor=audit.Actor.customer(customer_id),
                         channel="app", outcome="refused",
                         details={"code": error.code, "bin": card.bin, "last4": card.last4})
        raise error from None
    with db.transaction() as session:
        customer, wallet, card = check_binding(session, customer_id, number, holder_name, id_number)
        row = record_binding(session, customer, wallet, card, str(_field(challenge, "ref")), bank_phone,
                             masked_phone=_field(challenge, "masked_phone", None),
                             expires_at=_field(challenge, "expires_at", None))
        return _binding_view(row)


def binding_view(db: Database, customer_id: int, binding_id: str) -> BindingView:
    with db.read() as session:
        return _binding_view(get_binding(session, customer_id, binding_id))


def confirm_binding(db: Database, connector: Any, customer_id: int, binding_id: str, otp: str) -> card_store.CardView:
    code = "".join((otp or "").split())
    refusal: QianbaoError | None = None
    bank_ref = ""
    with db.transaction() as session:
        row = get_binding(session, customer_id, binding_id, lock=True)
        try:
            _require_open(row)
        except QianbaoError as exc:
            if exc.code != "CARD_BINDING_EXPIRED" or row.status != BINDING_PENDING:
                raise
            fail_binding(session, row, exc.code)  # committed with this unit of work, then told
            refusal = exc
        else:
            if not code.isdigit() or not 4 <= len(code) <= 8:
                raise QianbaoError("CARD_OTP_INVALID")
            bank_ref = row.bank_ref
    if refusal is not None:
        raise refusal
    try:
        token = connector.confirm_binding(bank_ref, code)
    except Exception as exc:  # a wrong or spent code, or the bank unreachable
        error = _bank_error(exc)
        with db.transaction() as session:
            row = get_binding(session, customer_id, binding_id, lock=True)
            if row.status == BINDING_PENDING:
                if error.code in WRONG_CODE_CODES:
                    error = wrong_code(session, row)
                elif error.code in TOO_MANY_CODES:
                    fail_binding(session, row, "CARD_BINDING_TOO_MANY_TRIES")
                    error = QianbaoError("CARD_BINDING_TOO_MANY_TRIES")
                elif error.code in EXPIRED_CODE_CODES:
                    fail_binding(session, row, "CARD_BINDING_EXPIRED")
                    error = QianbaoError("CARD_BINDING_EXPIRED")
                elif error.code not in UNAVAILABLE_CODES:
                    fail_binding(session, row, error.code)
        raise error from None
    with db.transaction() as session:
        row = get_binding(session, customer_id, binding_id, lock=True)
        if row.status == BINDING_BOUND and row.card_id is not None:
            return card_store.view(session.get(BankCard, row.card_id))  # type: ignore[arg-type]
        _require_open(row)
        card = finish_binding(session, row, str(_field(token, "token")), last4=_field(token, "last4", None))
        return card_store.view(card)


# The bank connector's codes (qianbao.adapters.bank.connector) for a wrong code, for too many, and for a
# spent or timed-out binding.
WRONG_CODE_CODES = frozenset({"BANK_OTP_WRONG"})
TOO_MANY_CODES = frozenset({"BANK_OTP_TOO_MANY_TRIES"})
EXPIRED_CODE_CODES = frozenset({"BANK_OTP_EXPIRED", "BANK_BINDING_NOT_FOUND"})


def _field(obj: Any, name: str, *default: Any) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, *default) if default else obj[name]
    return getattr(obj, name, *default)


def unbind_card(db: Database, connector: Any, customer_id: int, card_id: str) -> card_store.CardView:
    """Unbind (CARD_IN_FLIGHT while a top-up or withdrawal on the card waits for the bank), then retire the
    vault token at the bank. The bank's retirement is best effort: the card is unbound on our side whatever
    the bank answers, and a token we no longer hold can never be used by us again."""
    with db.transaction() as session:
        card = card_store.get_card(session, customer_id, card_id)
        token = card.token
        result = card_store.unbind(session, customer_id, card_id)
    try:
        connector.unbind(token)
    except Exception as exc:  # the bank unreachable or the token already retired
        log.warning("card_token_retire_failed", error=getattr(exc, "code", type(exc).__name__))
    return result
