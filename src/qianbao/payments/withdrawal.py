"""Withdrawal (提现, SPEC §6.2, §6.3): money from the wallet to a bound debit card.

    quote_withdrawal(db, customer_id, card_id, amount) -> WithdrawalQuote       what the customer confirms
    start_withdrawal(db, connector, customer_id=, card_id=, amount=, fee=, key=, confirmation=, channel=)
    begin_closing_payout(session, ...) / send_to_bank(db, connector, operation_id)   closing a wallet at the
        counter: the whole balance to a bound debit card, free (`closing_fee`), in the counter's unit of work

Rules:
- only to a bound debit card of the customer (a credit card cannot receive a withdrawal:
  CARD_CREDIT_NOT_ALLOWED);
- the fee comes from the fee schedule (`payments.quote_fee`), is shown before the customer confirms, and the
  confirmed figure must still be the schedule's when the withdrawal starts (WITHDRAWAL_FEE_CHANGED
  otherwise: the customer confirms the new one);
- the caller has checked the PIN or the passkey (`confirmation` says which);
- `payments.execute(kind="withdrawal", payer=the wallet, payee=the bank's clearing account, pending=True)`
  holds amount + fee on the wallet, with every outflow limit of its tier; the bank pays the card out
  (`connector.credit`); the bank's success posts it, its failure or the deadline voids it: the money
  returns to the wallet and the limit usage is released (qianbao.cards.movements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.cards import cards as card_store
from qianbao.cards import movements
from qianbao.cards.models import CREDIT, PROCESSING, WITHDRAWAL, BankCard
from qianbao.cards.rules import card_label
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import CLOSED

CONFIRMATIONS = ("pin", "passkey")


@dataclass(frozen=True)
class WithdrawalQuote:
    card: card_store.CardView
    amount: int
    fee: int

    @property
    def total(self) -> int:
        return self.amount + self.fee


def bank_key(reference: str) -> str:
    return f"qb-withdrawal-{reference}"


def _debit_card(session: Any, customer_id: int, card_id: str, *, lock: bool = False) -> Any:
    card = card_store.get_card(session, customer_id, card_id, lock=lock)
    if card.card_type == CREDIT:
        raise QianbaoError("CARD_CREDIT_NOT_ALLOWED", last4=card.last4)
    return card


def _wallet(session: Any, customer_id: int, *, lock: bool = False) -> Any:
    wallet = wallet_customers.wallet_of_customer(session, customer_id)
    if wallet is None or wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    return wallet_customers.get_wallet(session, wallet.id, lock=True) if lock else wallet


def quote_withdrawal(db: Database, customer_id: int, card_id: str, amount: int) -> WithdrawalQuote:
    from qianbao import payments

    amount = movements.check_amount(amount)
    with db.read() as session:
        wallet = _wallet(session, customer_id)
        card = _debit_card(session, customer_id, card_id)
        fee = payments.quote_fee(session, "withdrawal", amount, wallet_id=wallet.id)
        return WithdrawalQuote(card_store.view(card), amount, fee)


def start_withdrawal(db: Database, connector: Any, *, customer_id: int, card_id: str, amount: int,
                     fee: int | None, key: str, confirmation: str, channel: str = "app",
                     lang: str = "zh-CN") -> movements.MovementView:
    from qianbao import payments
    from qianbao.payments import Order, Party

    if confirmation not in CONFIRMATIONS:
        raise QianbaoError("PAYMENT_CONFIRMATION_REQUIRED")
    amount = movements.check_amount(amount)
    with db.transaction() as session:
        wallet = _wallet(session, customer_id, lock=True)
        card = _debit_card(session, customer_id, card_id, lock=True)
        previous = movements.by_order_key(session, key)
        scheduled = payments.quote_fee(session, "withdrawal", amount, wallet_id=wallet.id)
        # A retry of a withdrawal already made keeps its own fee; a new one must confirm the schedule's.
        charged = previous.fee if previous is not None else scheduled
        if previous is None and fee is not None and fee != scheduled:
            raise QianbaoError("WITHDRAWAL_FEE_CHANGED", fee=scheduled)
        clearing = movements.clearing_account(session, card.bank_code)
        label = card_label(card.bank_code, card.card_type, card.last4, lang)
        order = Order(
            key=key, kind="withdrawal", payer=Party.wallet(wallet.id), payee=Party.account(clearing, label),
            amount=amount, fee=charged, confirmation=confirmation, pending=True,
            timeout=movements.OPERATION_TIMEOUT, channel=channel, counterparty_label=label,
            details={"card": {"bank": card.bank_code, "type": card.card_type, "last4": card.last4}},
        )
        operation = payments.execute(session, order)
        movement = movements.by_operation(session, operation.id)
        if movement is None:
            movement = movements.create(session, kind=WITHDRAWAL, card=card, operation=operation, order_key=key,
                                        bank_key=bank_key(operation.reference), amount=amount, fee=charged)
        call = (movement.bank_key, card.token, movement.amount, movement.reference) \
            if movement.status == PROCESSING else None
        replayed = bool(getattr(operation, "replayed", False))
    if call is not None:
        key_at_bank, token, fen, reference = call
        try:
            answer = connector.credit(token, fen, key_at_bank, reference)
        except Exception as exc:  # a refusal voids it, a network failure waits for the sweep
            movements.refuse_from_error(db, key_at_bank, exc)
        else:
            movements.settle_from_answer(db, key_at_bank, answer, source="call")
    with db.read() as session:
        movement = movements.by_operation(session, operation.id)
        assert movement is not None
        return movements.view(session, movement, replayed=replayed)


def get_withdrawal(db: Database, customer_id: int, reference: str) -> movements.MovementView:
    with db.read() as session:
        return movements.view(session, movements.by_reference(session, customer_id, reference, WITHDRAWAL))


# ---- closing a wallet at the counter: the whole balance to a bound debit card ------------------------------

def closing_fee(session: Any, amount: int, *, wallet_id: int) -> int:
    """The fee of the payout that closes a wallet: closing is free (docs/counter.md). It is the figure passed to
    `payments.execute` as `Order.fee`, so the payments core posts it like any fee (0 here)."""
    return 0


def begin_closing_payout(session: Any, *, customer_id: int, card_id: str, amount: int, key: str,
                         channel: str = "counter", lang: str = "zh-CN") -> tuple[Any, Any]:
    """In the caller's unit of work: the pending withdrawal of `amount` (the wallet's whole available balance)
    to the customer's bound debit card, and its card movement. The caller has verified the PIN, commits, then
    calls `send_to_bank`. Returns (operation, movement); a retry with the same key finds them."""
    from qianbao import payments
    from qianbao.payments import Order, Party

    amount = movements.check_amount(amount)
    wallet = _wallet(session, customer_id, lock=True)
    card = _debit_card(session, customer_id, card_id, lock=True)
    fee = closing_fee(session, amount, wallet_id=wallet.id)
    clearing = movements.clearing_account(session, card.bank_code)
    label = card_label(card.bank_code, card.card_type, card.last4, lang)
    operation = payments.execute(session, Order(
        key=key, kind="withdrawal", payer=Party.wallet(wallet.id), payee=Party.account(clearing, label),
        amount=amount, fee=fee, confirmation="pin", pending=True, timeout=movements.OPERATION_TIMEOUT,
        channel=channel, counterparty_label=label, note="wallet closing",
        details={"card": {"bank": card.bank_code, "type": card.card_type, "last4": card.last4}, "closing": True},
    ))
    movement = movements.by_operation(session, operation.id)
    if movement is None:
        movement = movements.create(session, kind=WITHDRAWAL, card=card, operation=operation, order_key=key,
                                    bank_key=bank_key(operation.reference), amount=amount, fee=fee)
    return operation, movement


def send_to_bank(db: Database, connector: Any, operation_id: int) -> None:
    """Ask the bank to pay the card (again, with the same bank key, if it is still processing: the bank
    applies it once). A final answer ends the movement; otherwise the callback or the sweep will."""
    with db.read() as session:
        movement = movements.by_operation(session, operation_id)
        if movement is None or movement.status != PROCESSING:
            return
        card = session.get(BankCard, movement.card_id)
        assert card is not None
        call = (movement.bank_key, card.token, movement.amount, movement.reference)
    key_at_bank, token, fen, reference = call
    try:
        answer = connector.credit(token, fen, key_at_bank, reference)
    except Exception as exc:  # a refusal voids it, a network failure waits for the sweep
        movements.refuse_from_error(db, key_at_bank, exc)
    else:
        movements.settle_from_answer(db, key_at_bank, answer, source="call")
