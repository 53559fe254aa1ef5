"""Paying merchants and refunding: the functions the customer side calls (dynamic order QR, static QR, the
postal express merchant's orders) and the merchant's refunds (docs/merchants.md, "Money").

Who bears the merchant discount (MDR): the merchant. The payer pays exactly the order amount A, through
`payments.execute(kind="merchant_payment", payer=wallet, payee=merchant account, amount=A, fee=0)` — limits,
history, notices and idempotency are the payments core's. In the same database transaction the discount
F = round(A × mdr_bp / 10 000) moves merchant → fee income (ledger code `mdr`, reference = the payment's
reference, key derived from it), so the merchant nets A − F. Both commit or neither does.

A refund of R returns the discount pro rata: the cumulative discount returned after it is
floor(F × refunded so far / A), so a full refund returns all of F and parts never return more. The fee
part moves fee income → merchant first (ledger code `mdr_return`), then `payments.execute(kind="refund",
payer=merchant account, payee=the original payer's wallet, amount=R, reference=the original payment's
reference)`: the customer's history shows the refund next to the payment.

Concurrency: the order row is locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
writers) before any check, so two payments of one order pay it once and two partial refunds can never
together pass what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit, ledger
from qianbao.errors import QianbaoError
from qianbao.merchants import notify
from qianbao.merchants.models import CLOSED, OPEN, PAID, SOURCE_STATIC, Merchant, MerchantOrder, MerchantRefund
from qianbao.merchants.orders import (
    check_amount,
    check_order_no,
    fee_for,
    get_order,
    lock_order,
    order_by_token,
    order_state,
)
from qianbao.merchants.registry import get_merchant, merchant_by_no, require_active

REASON_MAX = 200


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Payment:
    """What `pay_order` / `pay_static` answer: the order (paid) and the payments core's operation."""

    order: MerchantOrder
    operation: Any  # qianbao.payments.Operation
    merchant: Merchant
    replayed: bool


@dataclass(frozen=True)
class Refund:
    refund: MerchantRefund
    order: MerchantOrder
    operation: Any
    replayed: bool


def _payer_label(session: Session, wallet_id: int) -> str | None:
    from qianbao import wallets
    from qianbao.pii.masking import mask_name, mask_phone

    try:
        customer = wallets.get_customer(session, wallets.get_wallet(session, wallet_id).customer_id)
    except QianbaoError:
        return None
    return mask_name(customer.legal_name) if customer.legal_name else mask_phone(customer.phone)


def _fee_income(session: Session) -> int:
    from qianbao import payments

    return payments.system_account(session, "fee_income")


def order_for_payment(session: Session, merchant_no: str, token: str) -> MerchantOrder:
    """The order a scanned dynamic code names (merchant number from the account template, the order's token
    from the reference label 62-05): ORDER_NOT_FOUND unless both agree. For showing the order before the
    payer confirms; `pay_order` checks its state again under the lock."""
    order = order_by_token(session, token)
    merchant = get_merchant(session, order.merchant_id)
    if merchant.merchant_no != (merchant_no or "").strip():
        raise QianbaoError("ORDER_NOT_FOUND")
    return order


def check_payable(order: MerchantOrder, merchant: Merchant, now: datetime | None = None) -> None:
    """ORDER_ALREADY_PAID / ORDER_CLOSED / ORDER_EXPIRED / MERCHANT_SUSPENDED, or nothing."""
    if order.status == PAID:
        raise QianbaoError("ORDER_ALREADY_PAID")
    if order.status == CLOSED:
        raise QianbaoError("ORDER_CLOSED")
    if order_state(order, now) != OPEN:
        raise QianbaoError("ORDER_EXPIRED")
    require_active(merchant)


def pay_order(session: Session, order: MerchantOrder | str, wallet_id: int, confirmation: str, key: str, *,
              static_qr: bool = False, channel: str = "app", kind: str = "merchant_payment",
              now: datetime | None = None) -> Payment:
    """The customer pays an open order (by the order or its token) from `wallet_id`.

    `confirmation` is what the caller verified ("pin", "passkey", "password_free", "withholding"); `key` the
    caller's idempotency key, already scoped (e.g. f"app:{customer_id}:{client_key}"). The same key again
    answers with the same payment (`replayed`). Refusals: ORDER_NOT_FOUND, ORDER_ALREADY_PAID, ORDER_CLOSED,
    ORDER_EXPIRED, MERCHANT_SUSPENDED, and the payments core's (LIMIT_EXCEEDED, INSUFFICIENT_BALANCE, ...):
    nothing moves and the order stays open. `kind` is the history's type: "merchant_payment", or "parcel"
    for the postal express merchant's shipping orders.
    """
    if kind not in ("merchant_payment", "parcel"):
        raise ValueError(f"pay_order pays merchant orders, not {kind!r}")
    from qianbao import payments

    moment = now or now_utc()
    token = order if isinstance(order, str) else order.token
    row = lock_order(session, order_by_token(session, token).id)
    merchant = get_merchant(session, row.merchant_id)
    if row.status == PAID and row.operation_id is not None:
        previous = payments.find_operation(session, f"merchant:{key}")
        if previous is not None and previous.id == row.operation_id:
            return Payment(row, previous, merchant, True)
    check_payable(row, merchant, moment)
    operation = payments.execute(session, payments.Order(
        key=f"merchant:{key}", kind=kind, payer=payments.Party.wallet(wallet_id),
        payee=payments.Party.account(merchant.ledger_account_id, merchant.name_zh), amount=row.amount, fee=0,
        confirmation=confirmation, static_qr=static_qr, channel=channel, counterparty_label=merchant.name_zh,
        reference=row.merchant_order_no[:64],
        details={"merchant_no": merchant.merchant_no, "merchant": merchant.name_zh,
                 "merchant_en": merchant.name_en, "merchant_order_no": row.merchant_order_no,
                 "description": row.description, "order_token": row.token},
    ), now=moment)
    fee = fee_for(row.amount, merchant.mdr_bp)
    if fee:
        ledger.create_transfer(session, key=f"merchants:mdr:{operation.reference}",
                               debit=merchant.ledger_account_id, credit=_fee_income(session), amount=fee,
                               code="mdr", reference=operation.reference)
    row.status = PAID
    row.paid_at = moment
    row.fee = fee
    row.payer_wallet_id = wallet_id
    # execute labelled the paying wallet as _payer_label does (the masked real name, else the masked phone),
    # from the wallet and holder it has just read: no second look-up.
    row.payer_label = (operation.payer_label if operation.payer_wallet_id == wallet_id and operation.payer_label
                       else _payer_label(session, wallet_id))
    row.operation_id = operation.id
    row.operation_reference = operation.reference
    session.flush()
    notify.enqueue(session, merchant, row, "order.paid")
    return Payment(row, operation, merchant, operation.replayed)


def pay_static(session: Session, merchant_no: str, wallet_id: int, amount: int, confirmation: str, key: str, *,
               note: str | None = None, channel: str = "app", now: datetime | None = None) -> Payment:
    """The customer scanned the merchant's static code and typed `amount` (fen): an order is made for it
    (source "static", order number "S" + the key's digest) and paid with `static_qr=True`, so it counts
    against the static-QR daily cap. The same key again answers with the same payment; with another amount or
    note, IDEMPOTENCY_KEY_REUSED."""
    import hashlib

    merchant = merchant_by_no(session, merchant_no)
    if merchant is None:
        raise QianbaoError("MERCHANT_NOT_FOUND")
    require_active(merchant)
    fen = check_amount(amount)
    number = "S" + hashlib.sha256(f"{wallet_id}:{key}".encode()).hexdigest()[:31]
    description = (note or "").strip()[:60] or "扫码付款 Static QR payment"
    from qianbao.merchants.orders import create_order

    try:
        created = create_order(session, merchant, merchant_order_no=number, amount=fen, description=description,
                               source=SOURCE_STATIC, now=now)
    except QianbaoError as exc:
        # The order number is the key's: taken means the key was used for another payment (amount or note).
        if exc.code == "ORDER_NO_TAKEN":
            raise QianbaoError("IDEMPOTENCY_KEY_REUSED") from None
        raise
    return pay_order(session, created.order, wallet_id, confirmation, key, static_qr=True, channel=channel, now=now)


def refund(session: Session, merchant_id: int, merchant_order_no: str, *, refund_no: str, amount: int,
           reason: str | None = None, actor: audit.Actor, channel: str = "merchant_api",
           now: datetime | None = None) -> Refund:
    """Refund `amount` fen of a paid order to the wallet that paid it.

    Idempotent by the merchant's `refund_no`: the same refund number with the same order and amount answers
    with the first refund (`replayed`); with anything else REFUND_NO_REUSED. Refusals: ORDER_NOT_PAID (open,
    closed or expired), REFUND_ABOVE_REMAINING (with what is left), and the payments core's (the merchant's
    balance short: INSUFFICIENT_BALANCE; the wallet cannot receive: RECIPIENT_CANNOT_RECEIVE) — nothing moves.
    """
    from qianbao import payments

    moment = now or now_utc()
    number = check_order_no(refund_no, "REFUND_NO_INVALID")
    fen = check_amount(amount)
    text = " ".join((reason or "").split()) or None
    if text is not None and len(text) > REASON_MAX:
        raise QianbaoError("REFUND_REASON_INVALID", max=REASON_MAX)
    order = lock_order(session, get_order(session, merchant_id, merchant_order_no).id)
    merchant = get_merchant(session, merchant_id)
    existing = session.scalar(select(MerchantRefund).where(MerchantRefund.merchant_id == merchant_id,
                                                           MerchantRefund.refund_no == number))
    if existing is not None:
        if existing.order_id != order.id or existing.amount != fen:
            raise QianbaoError("REFUND_NO_REUSED", refund_no=number)
        previous = payments.get_operation(session, existing.operation_id) if existing.operation_id else None
        return Refund(existing, order, previous, True)
    if order.status != PAID or order.payer_wallet_id is None or order.operation_reference is None:
        raise QianbaoError("ORDER_NOT_PAID")
    remaining = order.amount - order.refunded_amount
    if fen > remaining:
        raise QianbaoError("REFUND_ABOVE_REMAINING", remaining=remaining,
                           remaining_yuan=f"{remaining // 100}.{remaining % 100:02d}")
    refunded_after = order.refunded_amount + fen
    fee_back = order.fee * refunded_after // order.amount - order.refunded_fee
    key = f"merchants:refund:{merchant.id}:{number}"
    if fee_back:
        ledger.create_transfer(session, key=f"{key}:mdr", debit=_fee_income(session),
                               credit=merchant.ledger_account_id, amount=fee_back, code="mdr_return",
                               reference=order.operation_reference)
    operation = payments.execute(session, payments.Order(
        key=key, kind="refund", payer=payments.Party.account(merchant.ledger_account_id, merchant.name_zh),
        payee=payments.Party.wallet(order.payer_wallet_id), amount=fen, fee=0, confirmation="system",
        channel="merchant" if channel != "app" else "app", counterparty_label=merchant.name_zh,
        reference=order.operation_reference,
        details={"merchant_no": merchant.merchant_no, "merchant": merchant.name_zh, "merchant_en": merchant.name_en,
                 "merchant_order_no": order.merchant_order_no, "refund_no": number,
                 "original_reference": order.operation_reference, "reason": text},
    ), now=moment)
    order.refunded_amount = refunded_after
    order.refunded_fee += fee_back
    row = MerchantRefund(merchant_id=merchant.id, order_id=order.id, refund_no=number, amount=fen,
                         fee_returned=fee_back, reason=text, status="succeeded", operation_id=operation.id,
                         operation_reference=operation.reference, channel=channel, created_at=moment)
    session.add(row)
    session.flush()
    audit.record(session, action="merchant.refund", actor=actor, channel=channel, object_type="merchant_order",
                 object_id=order.id, details={"merchant_order_no": order.merchant_order_no, "refund_no": number,
                                              "amount": fen, "fee_returned": fee_back,
                                              "operation": operation.reference})
    notify.enqueue(session, merchant, order, "order.refunded", refund_no=number)
    return Refund(row, order, operation, False)


def order_for_merchant_token(session: Session, merchant_id: int, token: str) -> MerchantOrder:
    """The merchant's own order by its token (the merchant pages address orders by token)."""
    order = order_by_token(session, token)
    if order.merchant_id != merchant_id:
        raise QianbaoError("ORDER_NOT_FOUND")
    return order


__all__ = ["Payment", "Refund", "check_payable", "order_for_merchant_token", "order_for_payment", "pay_order",
           "pay_static", "refund"]
