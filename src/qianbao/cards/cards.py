"""A wallet's bound cards: list, look up, choose the default, unbind (SPEC §5).

    list_cards(session, customer_id) -> [CardView]       default first, then by when bound
    get_card(session, customer_id, card_id, lock=False)  NOT_FOUND for another customer's card or an unbound one
    set_default(session, customer_id, card_id) -> CardView
    unbind(session, customer_id, card_id) -> CardView    CARD_IN_FLIGHT while a top-up or withdrawal on it waits
                                                         for the bank; the next card (oldest) becomes the default

Several cards per wallet, exactly one default while any is bound. Unbinding keeps the row (history and
reconciliation name it) but frees its number for binding again and drops the vault token from use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.cards.models import BOUND, PROCESSING, UNBOUND, BankCard, CardMovement
from qianbao.errors import QianbaoError
from qianbao.notices.outbox import enqueue_inbox, enqueue_sms
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import Customer


@dataclass(frozen=True)
class CardView:
    """A bound card as pages and the API show it: never the number, never the token."""

    id: str
    bank_code: str
    card_type: str
    bin: str
    last4: str
    is_default: bool
    status: str
    bound_at: datetime


def view(card: BankCard) -> CardView:
    return CardView(card.public_id, card.bank_code, card.card_type, card.bin, card.last4, card.is_default,
                    card.status, card.bound_at)


def notify(session: Session, customer: Customer, event: str, card: BankCard) -> None:
    """An in-app notice and an SMS of a card event (bound, unbound): keys notice.card.<event>.* / sms.card.<event>."""
    from qianbao.cards.rules import bank_name

    params = {"last4": card.last4, "bank": bank_name(card.bank_code, customer.lang)}
    enqueue_inbox(session, customer.id, f"notice.card.{event}.title", f"notice.card.{event}.body", params)
    enqueue_sms(session, customer.phone, key=f"sms.card.{event}", params=params, lang=customer.lang)


def _bound(customer_id: int):  # type: ignore[no-untyped-def]
    return select(BankCard).where(BankCard.customer_id == customer_id, BankCard.status == BOUND)


def list_cards(session: Session, customer_id: int) -> list[CardView]:
    rows = session.scalars(_bound(customer_id).order_by(BankCard.default_of_wallet.is_(None), BankCard.bound_at,
                                                        BankCard.id))
    return [view(row) for row in rows]


def get_card(session: Session, customer_id: int, card_id: str, *, lock: bool = False) -> BankCard:
    stmt = _bound(customer_id).where(BankCard.public_id == (card_id or "")[:24])
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    card = session.scalar(stmt)
    if card is None:
        raise QianbaoError("NOT_FOUND")
    return card


def default_card(session: Session, customer_id: int) -> CardView | None:
    cards = list_cards(session, customer_id)
    return cards[0] if cards else None


def set_default(session: Session, customer_id: int, card_id: str) -> CardView:
    card = get_card(session, customer_id, card_id)
    wallet_customers.get_wallet(session, card.wallet_id, lock=True)  # one default change at a time per wallet
    card = get_card(session, customer_id, card_id, lock=True)
    if card.is_default:
        return view(card)
    current = session.scalar(select(BankCard).where(BankCard.default_of_wallet == card.wallet_id).with_for_update())
    if current is not None:
        current.default_of_wallet = None
        session.flush()  # the unique column is free before it is taken
    card.default_of_wallet = card.wallet_id
    session.flush()
    audit.record(session, action="card.default", actor=audit.Actor.customer(customer_id), channel="app",
                 object_type="bank_card", object_id=card.public_id, details={"last4": card.last4})
    return view(card)


def in_flight(session: Session, card_db_id: int) -> bool:
    stmt = select(CardMovement.id).where(CardMovement.card_id == card_db_id, CardMovement.status == PROCESSING)
    return session.scalar(stmt.limit(1)) is not None


def unbind(session: Session, customer_id: int, card_id: str) -> CardView:
    card = get_card(session, customer_id, card_id)
    wallet_customers.get_wallet(session, card.wallet_id, lock=True)  # serialises with new top-ups on the card
    card = get_card(session, customer_id, card_id, lock=True)
    if in_flight(session, card.id):
        raise QianbaoError("CARD_IN_FLIGHT", last4=card.last4)
    was_default = card.is_default
    card.status = UNBOUND
    card.bound_hash = None
    card.default_of_wallet = None
    card.unbound_at = datetime.now(UTC)
    session.flush()
    if was_default:
        successor = session.scalar(
            select(BankCard).where(BankCard.wallet_id == card.wallet_id, BankCard.status == BOUND)
            .order_by(BankCard.bound_at, BankCard.id).limit(1))
        if successor is not None:
            successor.default_of_wallet = card.wallet_id
            session.flush()
    audit.record(session, action="card.unbind", actor=audit.Actor.customer(customer_id), channel="app",
                 object_type="bank_card", object_id=card.public_id, details={"last4": card.last4})
    notify(session, wallet_customers.get_customer(session, customer_id), "unbound", card)
    return view(card)
