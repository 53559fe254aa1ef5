"""Top-up (充值, SPEC §6.2): money from a bound bank card into the wallet.

    start_topup(db, connector, customer_id=, card_id=, amount=, key=, channel="app") -> MovementView

1. In one unit of work: the card must be the customer's and bound; `payments.execute(kind="topup",
   payer=the bank's clearing account, payee=the wallet, pending=True)` holds the amount on the clearing
   account — the receiving wallet's checks apply here (WALLET_FROZEN, WALLET_CLOSED, and the tier's balance
   cap on the incoming amount: TOPUP_OVER_BALANCE_CAP{cap, room} — the holder's own balance, so the room left
   is told); and the card movement is written. It commits before the bank is called.
2. The bank debits the card (`connector.debit(token, amount, key, reference)`), with the movement's own key:
   a retry of the same top-up (same idempotency key) finds the same operation and movement and, while it is
   still processing, asks the bank again with the same key (the bank does it once).
3. The bank's signed callback — or its answer to the call, when final, or the sweep — posts the operation
   (the wallet is credited) or voids it (qianbao.cards.movements). "Processing" meanwhile.

A top-up needs no PIN: it moves money into the wallet, from a card the bank confirmed by its own code when
it was bound. It is not outflow and counts against no outflow limit.
"""

from __future__ import annotations

from typing import Any

from qianbao.cards import cards as card_store
from qianbao.cards import movements
from qianbao.cards.models import PROCESSING, TOPUP
from qianbao.cards.rules import card_label
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import CLOSED


def bank_key(reference: str) -> str:
    return f"qb-topup-{reference}"


def start_topup(db: Database, connector: Any, *, customer_id: int, card_id: str, amount: int, key: str,
                channel: str = "app", lang: str = "zh-CN") -> movements.MovementView:
    from qianbao import payments
    from qianbao.payments import Order, Party

    amount = movements.check_amount(amount)
    with db.transaction() as session:
        wallet = wallet_customers.wallet_of_customer(session, customer_id)
        if wallet is None or wallet.status == CLOSED:
            raise QianbaoError("WALLET_CLOSED")
        wallet_customers.get_wallet(session, wallet.id, lock=True)  # no unbinding while this top-up starts
        if wallet.is_frozen:
            raise QianbaoError("WALLET_FROZEN")
        card = card_store.get_card(session, customer_id, card_id, lock=True)
        clearing = movements.clearing_account(session, card.bank_code)
        label = card_label(card.bank_code, card.card_type, card.last4, lang)
        try:
            operation = payments.execute(session, Order(
                key=key, kind="topup", payer=Party.account(clearing, label), payee=Party.wallet(wallet.id),
                amount=amount, fee=0, confirmation="system", pending=True, timeout=movements.OPERATION_TIMEOUT,
                channel=channel, counterparty_label=label,
                details={"card": {"bank": card.bank_code, "type": card.card_type, "last4": card.last4}},
            ))
        except QianbaoError as exc:
            if exc.code == "RECIPIENT_CANNOT_RECEIVE":
                raise _over_cap(session, wallet.ledger_account_id, lang) from None
            raise
        movement = movements.by_operation(session, operation.id)
        if movement is None:
            movement = movements.create(session, kind=TOPUP, card=card, operation=operation, order_key=key,
                                        bank_key=bank_key(operation.reference), amount=amount, fee=0)
        call = (movement.bank_key, card.token, movement.amount, movement.reference) \
            if movement.status == PROCESSING else None
        replayed = bool(getattr(operation, "replayed", False))
    if call is not None:
        key_at_bank, token, fen, reference = call
        try:
            answer = connector.debit(token, fen, key_at_bank, reference)
        except Exception as exc:  # a refusal voids it, a network failure waits for the sweep
            movements.refuse_from_error(db, key_at_bank, exc)
        else:
            movements.settle_from_answer(db, key_at_bank, answer, source="call")
    with db.read() as session:
        movement = movements.by_operation(session, operation.id)
        assert movement is not None
        return movements.view(session, movement, replayed=replayed)


def _over_cap(session: Any, account_id: int, lang: str) -> QianbaoError:
    """The holder's own wallet would pass its tier's balance cap: say so, with the room left (it is their own
    balance, unlike a transfer's recipient, whose balance is never revealed)."""
    from qianbao import ledger
    from qianbao.money import format_fen

    cap = ledger.get_account(session, account_id).cap
    if cap is None:
        return QianbaoError("RECIPIENT_CANNOT_RECEIVE")
    balance = ledger.balance(session, account_id)
    room = max(0, cap - balance.posted - balance.incoming)
    return QianbaoError("TOPUP_OVER_BALANCE_CAP", cap=format_fen(cap, lang), room=format_fen(room, lang))


def get_topup(db: Database, customer_id: int, reference: str) -> movements.MovementView:
    with db.read() as session:
        return movements.view(session, movements.by_reference(session, customer_id, reference, TOPUP))
