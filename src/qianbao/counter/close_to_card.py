"""Closing a wallet at the counter with its balance paid out to a bound debit card (issue 7 item 4).

    debit_cards(s, customer_id) -> [CardView]              the cards the teller may choose (bank + last four)
    payout_details(s, wallet, customer_id, card_id) -> {}  checked when the close starts (services.start_service)
    begin_payout(s, close_op) -> payout op                 after the PIN on the pad (services.pad_confirm)
    send_to_bank(db, connector, close_op_id)               after that commit: the bank is asked to pay the card
    settle_close(s, teller_id, close_op_id) -> close op    the payout's end decides: close, or the money is back

The payout is a counter operation of its own (`card_payout`) and a withdrawal of the cards package
(`payments.withdrawal.begin_closing_payout`, channel "counter", fee from `closing_fee`: closing is free),
pending until the bank's answer, callback or the sweep ends its card movement. Both operations wait in
`awaiting_bank`; `settle_close` then finishes them: succeeded → the payout's receipt, the wallet closes
(balance, holds and incoming must be 0) with the close's receipt; failed → both `failed`
(COUNTER_PAYOUT_FAILED), the money is back in the wallet, which stays open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from qianbao import audit, ledger
from qianbao.cards import cards as card_store
from qianbao.cards import movements
from qianbao.cards.models import CREDIT
from qianbao.cards.models import FAILED as MOVEMENT_FAILED
from qianbao.cards.models import SUCCEEDED as MOVEMENT_SUCCEEDED
from qianbao.counter import core
from qianbao.counter.models import (
    AWAITING_BANK,
    CARD_PAYOUT,
    CLOSE_WALLET,
    FAILED_OP,
    SUCCEEDED,
    CounterOperation,
    CounterSession,
)
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.money import format_fen
from qianbao.payments import withdrawal
from qianbao.wallets.customers import get_wallet


def debit_cards(session: Session, customer_id: int) -> list[card_store.CardView]:
    return [card for card in card_store.list_cards(session, customer_id) if card.card_type != CREDIT]


def _check_empty_of_movements(balance: ledger.Balance) -> None:
    if balance.held or balance.incoming:
        raise QianbaoError("COUNTER_WALLET_IN_FLIGHT")


def payout_details(session: Session, wallet: Any, customer_id: int, card_id: str) -> dict[str, Any]:
    """The checks of a close to a card, before anything is written; the masked card for the operation."""
    if not debit_cards(session, customer_id):
        raise QianbaoError("COUNTER_NO_DEBIT_CARD")
    card = card_store.get_card(session, customer_id, card_id)  # NOT_FOUND for anyone else's
    if card.card_type == CREDIT:
        raise QianbaoError("CARD_CREDIT_NOT_ALLOWED", last4=card.last4)
    balance = ledger.balance(session, wallet.ledger_account_id)
    _check_empty_of_movements(balance)
    if balance.posted <= 0:
        raise QianbaoError("COUNTER_NOTHING_TO_PAY_OUT")
    return {"payout_card": card.public_id, "payout_bank": card.bank_code, "payout_last4": card.last4}


def begin_payout(session: Session, close_op: CounterOperation) -> CounterOperation:
    """The customer's PIN was verified: the whole available balance leaves for the card (held on the wallet
    until the bank answers); the close waits for it."""
    assert close_op.wallet_id is not None and close_op.customer_id is not None
    wallet = get_wallet(session, close_op.wallet_id, lock=True)
    if wallet.is_frozen:
        raise QianbaoError("COUNTER_WALLET_FROZEN")
    balance = ledger.balance(session, wallet.ledger_account_id)
    _check_empty_of_movements(balance)
    if balance.posted <= 0:
        raise QianbaoError("COUNTER_NOTHING_TO_PAY_OUT")
    day = session.get(CounterSession, close_op.session_id)
    assert day is not None
    facts = {k: v for k, v in close_op.details.items() if not k.startswith("payout_op")}
    payout = core._new_operation(session, day, CARD_PAYOUT, client_key=f"{close_op.client_key}:payout"[:80],
                                 status=AWAITING_BANK, amount=balance.posted, wallet=wallet,
                                 details={**facts, "close_reference": close_op.reference},
                                 id_check=close_op.id_check)
    operation, _movement = withdrawal.begin_closing_payout(
        session, customer_id=close_op.customer_id, card_id=str(close_op.details["payout_card"]),
        amount=balance.posted, key=f"counter:{close_op.reference}:payout", channel="counter")
    payout.payment_reference = str(operation.reference)
    payout.details = {**payout.details, "fee": int(operation.fee)}
    close_op.details = {**close_op.details, "payout_op": payout.id, "payout_reference": payout.reference}
    core._finish(close_op, AWAITING_BANK)
    close_op.completed_at = None
    session.flush()
    audit.record(session, action="counter.card_payout.start", actor=audit.Actor.staff(close_op.teller_id,
                 close_op.branch_id), channel="counter", object_type=core.SUBJECT_OPERATION, object_id=payout.id,
                 details={"wallet_id": wallet.id, "amount": balance.posted, "last4": close_op.details["payout_last4"],
                          "close_operation": close_op.id, "confirmed_on": "pinpad"})
    return payout


def _payment_id(session: Session, payout: CounterOperation) -> int:
    from qianbao import payments

    assert payout.payment_reference is not None
    return int(payments.get_operation(session, payout.payment_reference).id)


def send_to_bank(db: Database, connector: Any, close_op_id: int) -> None:
    """After the PIN's commit (and again on the teller's "check" if still processing): ask the bank to pay."""
    with db.read() as session:
        close_op = session.get(CounterOperation, close_op_id)
        if close_op is None or close_op.status != AWAITING_BANK:
            return
        payout = session.get(CounterOperation, int(close_op.details["payout_op"]))
        assert payout is not None
        payment_id = _payment_id(session, payout)
    withdrawal.send_to_bank(db, connector, payment_id)


def payout_status(session: Session, close_op: CounterOperation) -> str | None:
    """processing | succeeded | failed for a close to a card waiting for (or past) its payout; else None."""
    if "payout_op" not in close_op.details:
        return None
    payout = session.get(CounterOperation, int(close_op.details["payout_op"]))
    assert payout is not None
    movement = movements.by_operation(session, _payment_id(session, payout))
    return None if movement is None else movement.status


def settle_close(session: Session, teller_id: int, close_op_id: int) -> CounterOperation:
    """The teller completes the close once the payout has ended (COUNTER_PAYOUT_PENDING while it has not)."""
    from qianbao.counter.services import _close_wallet

    teller = core._teller(session, teller_id)
    close_op = core.get_operation(session, close_op_id, branch_id=teller.branch_id, lock=True)
    if close_op.kind != CLOSE_WALLET or close_op.status != AWAITING_BANK:
        raise QianbaoError("COUNTER_OPERATION_STATE", state=close_op.status)
    payout = session.get(CounterOperation, int(close_op.details["payout_op"]), with_for_update=True)
    assert payout is not None
    status = payout_status(session, close_op)
    if status not in (MOVEMENT_SUCCEEDED, MOVEMENT_FAILED):
        raise QianbaoError("COUNTER_PAYOUT_PENDING")
    actor = core._actor(teller)
    if status == MOVEMENT_FAILED:
        for op in (payout, close_op):
            core._finish(op, FAILED_OP, "COUNTER_PAYOUT_FAILED")
        session.flush()
        audit.record(session, action="counter.card_payout.failed", actor=actor, channel="counter",
                     object_type=core.SUBJECT_OPERATION, object_id=payout.id, outcome="refused",
                     details={"wallet_id": payout.wallet_id, "amount": payout.amount})
        return close_op
    core._finish(payout, SUCCEEDED)
    session.flush()
    audit.record(session, action="counter.card_payout", actor=actor, channel="counter",
                 object_type=core.SUBJECT_OPERATION, object_id=payout.id,
                 details={"wallet_id": payout.wallet_id, "amount": payout.amount})
    core._issue_receipt(session, payout)
    try:
        with session.begin_nested():
            _close_wallet(session, close_op)
    except QianbaoError as exc:  # money arrived meanwhile, or the wallet was frozen: it stays open
        core._finish(close_op, FAILED_OP, exc.code)
        session.flush()
        audit.record(session, action="counter.close_wallet.failed", actor=actor, channel="counter",
                     object_type=core.SUBJECT_OPERATION, object_id=close_op.id, outcome="refused",
                     details={"wallet_id": close_op.wallet_id, "code": exc.code})
        return close_op
    core._finish(close_op, SUCCEEDED)
    session.flush()
    audit.record(session, action="counter.close_wallet", actor=actor, channel="counter",
                 object_type=core.SUBJECT_OPERATION, object_id=close_op.id,
                 details={"wallet_id": close_op.wallet_id, "paid_out_to": close_op.details.get("payout_last4"),
                          "amount": format_fen(payout.amount or 0)})
    core._issue_receipt(session, close_op)
    return close_op
