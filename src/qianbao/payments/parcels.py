"""Parcel payment (寄件支付, SPEC §6.2): the postal express merchant's shipping orders, paid from the wallet.

The built-in postal express merchant (`merchants.postal_express`) creates a shipping order for a sender
who holds a wallet — at the post office counter, from its pick-up courier's handset, or in the demo —
with the receiver's city, the weight and the price (`quote` gives the tariff when no price is given).
The waybill number (邮件号) is a UPU S10 number (EA12345678?CN with its check digit). The order is also the
merchant's own order (`merchants.create_order`, source "system", its number the waybill number), so the
postal express merchant sees it with its other orders, is notified when it is paid, and refunds it through
the merchants package; payments go through `merchants.pay_order`.

Then either
* the sender has an active withholding agreement (免密代扣) with postal express: the merchant charges the
  order at once under it (`withholding.charge`, confirmation "withholding", the 小额免密 daily cap
  applies). A refused charge (a cap, a limit, the balance) leaves the order waiting, with the reason, and
  the sender pays it in the app;
* or the sender pays it in the app in one tap, confirming with the PIN, a passkey or 小额免密 (`pay_order`).

An order is paid once (ORDER_ALREADY_PAID); a cancelled one cannot be paid (ORDER_CLOSED); an
order not paid within ORDER_HOURS expires (ORDER_EXPIRED).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.notices.outbox import enqueue_inbox
from qianbao.payments.bills_models import AWAITING_PAYMENT, CANCELLED, PAID, POSTAL_EXPRESS, ParcelOrder
from qianbao.pii.masking import mask_name, mask_phone

ORDER_HOURS = 72
MAX_WEIGHT_GRAMS = 50_000
CITY_MAX = 32
HOME_CITY = "上海"
# 长三角: the neighbouring provinces' cities get the regional tariff.
REGIONAL_CITIES = frozenset({"南京", "苏州", "无锡", "常州", "南通", "杭州", "宁波", "嘉兴", "湖州", "绍兴", "合肥"})
# (first kilogram, each further kilogram started), fen.
TARIFF = {"local": (1_000, 200), "regional": (1_200, 300), "national": (1_800, 600)}
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)

Confirm = Callable[[Session, int], str]


@dataclass(frozen=True)
class ParcelView:
    order_no: str
    customer_id: int
    sender: str  # masked
    receiver_city: str
    weight_grams: int
    price: int
    status: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    paid_via: str | None
    operation_reference: str | None
    charge_refused_code: str | None
    replayed: bool = False

    @property
    def expired(self) -> bool:
        return self.status == AWAITING_PAYMENT and self.expires_at <= datetime.now(UTC)


def _view(row: ParcelOrder, *, replayed: bool = False) -> ParcelView:
    return ParcelView(row.order_no, row.customer_id, _mask_sender(row.sender_name), row.receiver_city, row.weight_grams,
                      row.price, row.status, row.created_at, row.expires_at, row.paid_at, row.paid_via,
                      row.operation_reference, row.charge_refused_code, replayed)


def _mask_sender(sender: str) -> str:
    """The sender as lists show them: the masked legal name, or the masked phone number before real name."""
    return mask_phone(sender) if sender.startswith("+") or sender[:1].isdigit() else mask_name(sender)


def s10_check_digit(digits: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "0" if check == 10 else "5" if check == 11 else str(check)


def new_order_no() -> str:
    digits = f"{secrets.randbelow(10**8):08d}"
    return f"EA{digits}{s10_check_digit(digits)}CN"


def zone(city: str) -> str:
    name = city.strip().removesuffix("市")
    if name == HOME_CITY:
        return "local"
    return "regional" if name in REGIONAL_CITIES else "national"


def quote(receiver_city: str, weight_grams: int) -> int:
    """The postal express tariff in fen: the first kilogram, then each further kilogram started."""
    city = _city(receiver_city)
    weight = _weight(weight_grams)
    first, further = TARIFF[zone(city)]
    return first + further * max(0, math.ceil(weight / 1000) - 1)


def _city(value: str) -> str:
    city = (value or "").strip()
    if not city or len(city) > CITY_MAX:
        raise QianbaoError("PARCEL_CITY_INVALID")
    return city


def _weight(value: int) -> int:
    if type(value) is not int or not 0 < value <= MAX_WEIGHT_GRAMS:
        raise QianbaoError("PARCEL_WEIGHT_INVALID", max_kg=MAX_WEIGHT_GRAMS // 1000)
    return value


# ---- the merchant's side ------------------------------------------------------------------------------

def create_shipping_order(
    session: Session,
    *,
    customer_id: int,
    receiver_city: str,
    weight_grams: int,
    price: int | None = None,
    charge_under_agreement: bool = True,
    now: datetime | None = None,
) -> ParcelView:
    """The postal express merchant's shipping order for a sender holding a wallet (see the module docstring).

    PARCEL_CITY_INVALID, PARCEL_WEIGHT_INVALID, AMOUNT_NOT_POSITIVE, NOT_FOUND (no such wallet holder).
    """
    from qianbao.wallets.customers import get_customer, wallet_of_customer

    city, weight = _city(receiver_city), _weight(weight_grams)
    amount = quote(city, weight) if price is None else price
    if type(amount) is not int or amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    customer = get_customer(session, customer_id)
    wallet = wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    moment = now or datetime.now(UTC)
    row = ParcelOrder(order_no=new_order_no(), customer_id=customer_id, wallet_id=wallet.id,
                      sender_name=customer.legal_name or customer.phone, receiver_city=city,
                      weight_grams=weight, price=amount, status=AWAITING_PAYMENT, created_at=moment,
                      expires_at=moment + timedelta(hours=ORDER_HOURS), paid_at=None, paid_via=None,
                      operation_id=None, operation_reference=None, agreement_id=None, charge_refused_code=None)
    session.add(row)
    session.flush()
    from qianbao import merchants

    merchants.create_order(session, merchants.postal_express(session), merchant_order_no=row.order_no,
                           amount=amount, description=_description(row), expires_in=ORDER_HOURS * 3600,
                           source="system", now=moment)
    audit.record(session, action="parcel.order.create", actor=audit.Actor.system("postal_express"),
                 object_type="parcel_order", object_id=row.order_no,
                 details={"receiver_city": city, "weight_grams": weight, "price": amount})
    if charge_under_agreement:
        from qianbao.payments import withholding

        if withholding.active_agreement(session, customer_id, POSTAL_EXPRESS) is not None:
            try:
                with session.begin_nested():
                    return charge_order(session, row.order_no, now=moment)
            except QianbaoError as exc:
                again = session.scalar(select(ParcelOrder).where(ParcelOrder.order_no == row.order_no))
                assert again is not None
                row = again
                row.charge_refused_code = exc.code
                session.flush()
    enqueue_inbox(session, customer_id, "notice.parcel.awaiting.title", "notice.parcel.awaiting.body",
                  {"order_no": row.order_no, "city": city, "amount": _yuan(amount)})
    return _view(row)


def charge_order(session: Session, order_no: str, *, now: datetime | None = None) -> ParcelView:
    """The merchant charges an order under the sender's withholding agreement (see `withholding.charge`)."""
    from qianbao.payments import withholding

    moment = now or datetime.now(UTC)
    row = _locked(session, order_no)
    _payable(row, moment)
    key = f"parcel:withholding:{row.order_no}"
    op = withholding.charge(
        session, customer_id=row.customer_id, amount=row.price, key=key, order_reference=row.order_no,
        merchant=POSTAL_EXPRESS, now=moment, operation_key=f"merchant:{key}",
        pay=lambda wallet_id: _merchant_pay(session, row, wallet_id, "withholding", key, "merchant", moment),
    )
    _mark_paid(session, row, op, "withholding", moment)
    return _view(row)


def cancel_order(session: Session, order_no: str) -> ParcelView:
    """The merchant withdraws an unpaid order (the parcel was not sent)."""
    row = _locked(session, order_no)
    if row.status == PAID:
        raise QianbaoError("ORDER_ALREADY_PAID")
    if row.status == AWAITING_PAYMENT:
        from qianbao import merchants

        merchants.close_order(session, merchants.postal_express(session).id, row.order_no,
                              actor=audit.Actor.system("postal_express"), channel="system")
        row.status = CANCELLED
        session.flush()
        audit.record(session, action="parcel.order.cancel", actor=audit.Actor.system("postal_express"),
                     object_type="parcel_order", object_id=row.order_no)
    return _view(row)


# ---- the customer's side ------------------------------------------------------------------------------

def customer_orders(session: Session, customer_id: int, *, limit: int = 30) -> list[ParcelView]:
    """The customer's orders: those waiting for payment first, then the newest."""
    rows = session.scalars(select(ParcelOrder).where(ParcelOrder.customer_id == customer_id)
                           .order_by(ParcelOrder.created_at.desc(), ParcelOrder.id.desc()).limit(limit))
    views = [_view(row) for row in rows]
    return sorted(views, key=lambda view: not (view.status == AWAITING_PAYMENT and not view.expired))


def get_order(session: Session, customer_id: int, order_no: str) -> ParcelView:
    row = session.scalar(select(ParcelOrder).where(ParcelOrder.order_no == (order_no or "").strip().upper()[:13]))
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    return _view(row)


def pay_order(session: Session, *, customer_id: int, order_no: str, key: str, confirm: Confirm,
              channel: str = "app", now: datetime | None = None) -> ParcelView:
    """Pay one of the customer's orders in one tap (PIN / passkey / 小额免密 checked by `confirm`).

    Run it in `credentials.transaction(db)` so a wrong PIN's count is kept. The same key again answers
    with the paid order (`replayed=True`).
    """
    from qianbao import payments

    moment = now or datetime.now(UTC)
    row = _locked(session, order_no)
    if row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    if row.status == PAID and row.operation_id is not None:
        found = payments.find_operation(session, f"merchant:{key}")
        if found is not None and found.id == row.operation_id:
            return _view(row, replayed=True)
    _payable(row, moment)
    method = confirm(session, row.price)
    op = _merchant_pay(session, row, row.wallet_id, method, key, channel, moment)
    _mark_paid(session, row, op, "app", moment)
    return _view(row, replayed=op.replayed)


# ---- helpers ------------------------------------------------------------------------------------------

def _locked(session: Session, order_no: str) -> ParcelOrder:
    row = session.scalar(select(ParcelOrder).where(ParcelOrder.order_no == (order_no or "").strip().upper()[:13])
                         .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise QianbaoError("NOT_FOUND")
    return row


def _payable(row: ParcelOrder, moment: datetime) -> None:
    if row.status == PAID:
        raise QianbaoError("ORDER_ALREADY_PAID")
    if row.status == CANCELLED:
        raise QianbaoError("ORDER_CLOSED")
    if row.expires_at <= moment:
        raise QianbaoError("ORDER_EXPIRED")


def _mark_paid(session: Session, row: ParcelOrder, op: object, via: str, moment: datetime) -> None:
    row.status, row.paid_at, row.paid_via = PAID, moment, via
    row.operation_id = op.id  # type: ignore[attr-defined]
    row.operation_reference = op.reference  # type: ignore[attr-defined]
    row.charge_refused_code = None
    if via == "withholding":
        from qianbao.payments.bills_models import WithholdingCharge

        charge = session.scalar(select(WithholdingCharge).where(WithholdingCharge.operation_id == row.operation_id))
        row.agreement_id = charge.agreement_id if charge is not None else None
    session.flush()


def _description(row: ParcelOrder) -> str:
    return f"寄件 Parcel · {row.receiver_city} · {row.weight_grams / 1000:.2f} kg · {row.order_no}"


def _merchant_pay(session: Session, row: ParcelOrder, wallet_id: int, confirmation: str, key: str, channel: str,
                  moment: datetime) -> Any:
    """Pay the postal express merchant's order of this parcel; returns the payments Operation."""
    from qianbao import merchants

    order = merchants.get_order(session, merchants.postal_express(session).id, row.order_no)
    return merchants.pay_order(session, order, wallet_id, confirmation, key, channel=channel, kind="parcel",
                               now=moment).operation


def _yuan(fen: int) -> str:
    from qianbao.money import format_fen

    return format_fen(fen, "zh-CN", symbol=False)
