"""Freezing wallets (SPEC §10): the holder's loss report (挂失) and an operator's freeze, and lifting them.

A frozen wallet receives nothing and pays nothing: its ledger account is frozen in the same transaction
(`ledger.freeze`), and the wallet's status says why:

    frozen_lost   the holder reported a lost phone (in the app from any signed-in device, or through the
                  hotline, entered by an operator). All the holder's other sessions are signed out.
                  Lifted in person at a counter (channel "counter"), after the teller checks the person.
                  Reporting again is harmless (the same wallet comes back).
    frozen_ops    an operator froze it with a reason (risk, a legal order). Lifted by an operator
                  (channel "ops"). An operator freeze of a wallet already frozen for loss takes over.

Lifting through the other channel is refused (WALLET_UNFREEZE_AT_COUNTER, WALLET_UNFREEZE_BY_OPERATOR).
Every change is audited and the holder gets an in-app notice and an SMS.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from qianbao import audit, ledger
from qianbao.credentials import Principal, revoke_all
from qianbao.errors import QianbaoError
from qianbao.wallets import policy
from qianbao.wallets.customers import get_customer, get_wallet
from qianbao.wallets.models import ACTIVE, CLOSED, FROZEN_LOST, FROZEN_OPS, Wallet
from qianbao.wallets.notify import notify, tail

UNFREEZE_CHANNEL = {FROZEN_LOST: "counter", FROZEN_OPS: "ops"}


def _set_status(wallet: Wallet, status: str, reason: str | None) -> None:
    wallet.status = status
    wallet.status_reason = reason
    wallet.status_changed_at = datetime.now(UTC)


def report_loss(
    session: Session,
    wallet_id: int,
    *,
    customer_id: int | None = None,
    by_staff_id: int | None = None,
    keep_session_id: str | None = None,
) -> Wallet:
    """Freeze the wallet for loss at once. From the app pass `customer_id` (someone else's wallet is
    NOT_FOUND) and the reporting session's public id as `keep_session_id`; from the hotline pass the
    operator's `by_staff_id`."""
    wallet = get_wallet(session, wallet_id, lock=True)
    if customer_id is not None and wallet.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    if wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    if wallet.status == FROZEN_LOST:
        return wallet
    if wallet.status == FROZEN_OPS:
        raise QianbaoError("WALLET_ALREADY_FROZEN")
    _set_status(wallet, FROZEN_LOST, "loss reported")
    ledger.freeze(session, wallet.ledger_account_id)
    revoke_all(session, Principal.customer(wallet.customer_id), reason="loss_reported",
               except_public_id=keep_session_id)
    session.flush()
    customer = get_customer(session, wallet.customer_id)
    notify(session, customer, "frozen_lost", {"wallet_tail": tail(wallet.number)})
    actor = audit.Actor.customer(customer.id) if by_staff_id is None else audit.Actor.staff(by_staff_id)
    audit.record(session, action="wallet.freeze.loss", actor=actor, channel="app" if by_staff_id is None else "ops",
                 object_type="wallet", object_id=wallet.id)
    return wallet


def freeze_wallet(session: Session, wallet_id: int, reason: str, by_staff_id: int) -> Wallet:
    """An operator freezes a wallet with a reason (REASON_REQUIRED, WALLET_ALREADY_FROZEN, WALLET_CLOSED)."""
    text = policy.check_reason(reason)
    wallet = get_wallet(session, wallet_id, lock=True)
    if wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    if wallet.status == FROZEN_OPS:
        raise QianbaoError("WALLET_ALREADY_FROZEN")
    previous = wallet.status
    _set_status(wallet, FROZEN_OPS, text)
    ledger.freeze(session, wallet.ledger_account_id)
    session.flush()
    customer = get_customer(session, wallet.customer_id)
    notify(session, customer, "frozen_ops", {"wallet_tail": tail(wallet.number)})
    audit.record(session, action="wallet.freeze.ops", actor=audit.Actor.staff(by_staff_id), channel="ops",
                 object_type="wallet", object_id=wallet.id, details={"reason": text, "previous_status": previous})
    return wallet


def unfreeze_wallet(
    session: Session, wallet_id: int, reason: str, by_staff_id: int, *, channel: str, branch_id: int | None = None
) -> Wallet:
    """Lift a freeze: a loss freeze at the counter (in person), an operator's freeze in the ops console."""
    text = policy.check_reason(reason)
    wallet = get_wallet(session, wallet_id, lock=True)
    if not wallet.is_frozen:
        raise QianbaoError("WALLET_NOT_FROZEN")
    if UNFREEZE_CHANNEL[wallet.status] != channel:
        code = "WALLET_UNFREEZE_AT_COUNTER" if wallet.status == FROZEN_LOST else "WALLET_UNFREEZE_BY_OPERATOR"
        raise QianbaoError(code)
    previous = wallet.status
    _set_status(wallet, ACTIVE, None)
    ledger.unfreeze(session, wallet.ledger_account_id)
    session.flush()
    customer = get_customer(session, wallet.customer_id)
    notify(session, customer, "unfrozen", {"wallet_tail": tail(wallet.number)})
    audit.record(session, action="wallet.unfreeze", actor=audit.Actor.staff(by_staff_id, branch_id), channel=channel,
                 object_type="wallet", object_id=wallet.id, details={"reason": text, "previous_status": previous})
    return wallet
