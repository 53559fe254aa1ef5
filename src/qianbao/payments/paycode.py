"""The customer-presented payment code (付款码, SPEC §6.2): the customer shows it, the merchant scans it.

Rules (docs/qr-payments.md):

* **The code.** 18 digits: "88", 15 random digits, a Luhn check digit (a misread is refused as
  PAYMENT_CODE_INVALID before any look-up). Shown as a QR code and as digits; only its keyed hash and its
  last four digits are stored. It lives `LIFETIME` (60 s) and is bound to the wallet that asked for it.
* **One live code per wallet.** Issuing a code supersedes the wallet's earlier unused codes: only the code
  on the screen pays. A superseded or timed-out code is PAYMENT_CODE_EXPIRED; a code already used (or in
  the middle of being confirmed) is PAYMENT_CODE_REUSED.
* **A charge** (`charge`, the merchant's scan) makes a merchant order for the amount (`merchants.create_order`,
  the merchant's own order number, which makes a retry of the same charge an idempotent replay) and
  - pays it at once, confirmation "password_free", when the customer turned 小额免密 on and the amount is
    within their threshold (`payments.password_free_allowed`) and within the day's password-free cap;
  - otherwise waits for the customer: the charge is "awaiting" for `CONFIRM_SECONDS` (120 s); the
    customer's payment-code page shows merchant and amount and asks for the PIN or passkey
    (`confirm_charge`) or a decline (`decline_charge`). Past the deadline the charge is "expired" and the
    merchant's order is closed.
* A charge refused by the payments core (limits, balance, frozen) raises and writes nothing: the code stays
  usable until it expires, and nothing moved.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from stdnum import luhn

from qianbao import audit
from qianbao.credentials.base import keyed_digest
from qianbao.errors import QianbaoError
from qianbao.payments.paycode_models import (
    ACTIVE,
    AWAITING,
    DECLINED,
    EXPIRED,
    SUCCEEDED,
    SUPERSEDED,
    USED,
    PaymentCode,
)

LIFETIME = timedelta(seconds=60)
CONFIRM_SECONDS = 120
PREFIX = "88"
LENGTH = 18
HASH_PURPOSE = "payments.paycode"


def now_utc() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _hash(code: str) -> str:
    return keyed_digest(HASH_PURPOSE, code)


def new_code() -> str:
    body = PREFIX + "".join(secrets.choice("0123456789") for _ in range(LENGTH - len(PREFIX) - 1))
    return body + luhn.calc_check_digit(body)


def normalise(code: str) -> str:
    """The 18 digits of a scanned or typed code (spaces and dashes dropped), or PAYMENT_CODE_INVALID."""
    digits = "".join(ch for ch in (code or "") if ch not in " -\t\r\n")
    if len(digits) != LENGTH or not digits.isascii() or not digits.isdigit() or not digits.startswith(PREFIX) \
            or not luhn.is_valid(digits):
        raise QianbaoError("PAYMENT_CODE_INVALID")
    return digits


def group(code: str) -> str:
    """18 digits as the app shows them: 4 4 4 6 — 8812 3456 7890 123456."""
    return f"{code[:4]} {code[4:8]} {code[8:12]} {code[12:]}"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    id: int


def issue(session: Session, customer_id: int, wallet_id: int, *, now: datetime | None = None) -> IssuedCode:
    """A new code for the wallet; its earlier unused codes stop working (superseded)."""
    moment = now or now_utc()
    session.execute(update(PaymentCode).where(PaymentCode.wallet_id == wallet_id, PaymentCode.status == ACTIVE)
                    .values(status=SUPERSEDED))
    code = new_code()
    row = PaymentCode(code_hash=_hash(code), code_tail=code[-4:], customer_id=customer_id, wallet_id=wallet_id,
                      status=ACTIVE, issued_at=moment, expires_at=moment + LIFETIME)
    session.add(row)
    session.flush()
    return IssuedCode(code, row.expires_at, row.id)


def revoke(session: Session, wallet_id: int) -> int:
    """The customer left the page or closed the code: every unused code of the wallet stops working."""
    result = session.execute(update(PaymentCode).where(PaymentCode.wallet_id == wallet_id,
                                                       PaymentCode.status == ACTIVE).values(status=SUPERSEDED))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- the merchant's charge ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Charge:
    """A charge as the merchant and the customer see it."""

    reference: str
    status: str              # "awaiting" | "succeeded" | "declined" | "expired"
    amount: int
    merchant_id: int
    merchant_order_no: str
    wallet_id: int
    customer_id: int
    code_tail: str
    confirmation: str | None
    operation_reference: str | None
    confirm_deadline: datetime | None
    created_at: datetime
    replayed: bool = False

    @property
    def failure_code(self) -> str | None:
        return {DECLINED: "PAYMENT_CODE_DECLINED", EXPIRED: "PAYMENT_CODE_CONFIRMATION_EXPIRED"}.get(self.status)


def _charge(row: PaymentCode, replayed: bool = False) -> Charge:
    assert row.reference and row.amount and row.merchant_id is not None and row.merchant_order_no
    return Charge(reference=row.reference, status=row.charge_status or AWAITING, amount=row.amount,
                  merchant_id=row.merchant_id, merchant_order_no=row.merchant_order_no, wallet_id=row.wallet_id,
                  customer_id=row.customer_id, code_tail=row.code_tail, confirmation=row.confirmation,
                  operation_reference=row.operation_reference, confirm_deadline=row.confirm_deadline,
                  created_at=row.used_at or row.issued_at, replayed=replayed)


def _lock(session: Session, row_id: int) -> PaymentCode:
    row = session.scalar(select(PaymentCode).where(PaymentCode.id == row_id).with_for_update()
                         .execution_options(populate_existing=True))
    assert row is not None
    return row


def _pay(session: Session, row: PaymentCode, confirmation: str, now: datetime) -> Any:
    from qianbao import merchants

    payment = merchants.pay_order(session, row.order_token or "", row.wallet_id, confirmation,
                                  f"paycode:{row.id}", channel="merchant", now=now)
    row.charge_status = SUCCEEDED
    row.confirmation = confirmation
    row.operation_reference = payment.operation.reference
    row.finished_at = now
    session.flush()
    return payment


def charge(session: Session, merchant: Any, code: str, *, amount: int, merchant_order_no: str,
           description: str, now: datetime | None = None) -> Charge:
    """The merchant scanned `code` and charges `amount` fen under its own order number.

    PAYMENT_CODE_INVALID / _EXPIRED / _REUSED; the merchants package's order refusals (ORDER_NO_TAKEN, ...);
    the payments core's refusals of a password-free charge (nothing moves, the code stays usable). The same
    charge again (same code, order number and amount) answers with the first one (`replayed`).
    """
    from qianbao import merchants, payments

    moment = now or now_utc()
    digits = normalise(code)
    found = session.scalar(select(PaymentCode).where(PaymentCode.code_hash == _hash(digits)))
    if found is None:
        raise QianbaoError("PAYMENT_CODE_INVALID")
    row = _lock(session, found.id)
    if row.status == USED:
        if row.merchant_id == merchant.id and row.merchant_order_no == merchant_order_no and row.amount == amount:
            return _charge(_settle(session, row, moment), replayed=True)
        raise QianbaoError("PAYMENT_CODE_REUSED")
    if row.status == SUPERSEDED or _as_utc(row.expires_at) <= moment:
        raise QianbaoError("PAYMENT_CODE_EXPIRED")

    created = merchants.create_order(session, merchant, merchant_order_no=merchant_order_no, amount=amount,
                                     description=description, now=moment,
                                     extra={"paycode": row.code_tail})
    order = created.order
    row.status = USED
    row.used_at = moment
    row.reference = "PC" + secrets.token_hex(10).upper()
    row.merchant_id = merchant.id
    row.merchant_order_no = order.merchant_order_no
    row.order_token = order.token
    row.amount = order.amount
    session.flush()

    if payments.password_free_allowed(session, row.customer_id, row.amount):
        try:
            with session.begin_nested():
                _pay(session, row, "password_free", moment)
        except QianbaoError as exc:
            if not (exc.code == "LIMIT_EXCEEDED" and exc.params.get("limit") == "password_free"):
                raise
            # The day's password-free total is spent: the customer confirms this one with the PIN instead.
            row = _lock(session, row.id)
        else:
            _record(session, row, "paycode.charge", merchant_id=merchant.id)
            return _charge(row)
    row.charge_status = AWAITING
    row.confirm_deadline = moment + timedelta(seconds=CONFIRM_SECONDS)
    session.flush()
    _record(session, row, "paycode.charge", merchant_id=merchant.id)
    return _charge(row)


def _record(session: Session, row: PaymentCode, action: str, **details: Any) -> None:
    audit.record(session, action=action, actor=audit.Actor.customer(row.customer_id), channel="merchant_api",
                 object_type="paycode", object_id=row.id,
                 details={"reference": row.reference, "amount": row.amount, "status": row.charge_status,
                          "tail": row.code_tail, **details})


def _settle(session: Session, row: PaymentCode, now: datetime) -> PaymentCode:
    """An awaiting charge past its deadline becomes "expired" and its order is closed."""
    if row.charge_status == AWAITING and row.confirm_deadline is not None \
            and _as_utc(row.confirm_deadline) <= now:
        _finish(session, row, EXPIRED, now)
    return row


def _finish(session: Session, row: PaymentCode, status: str, now: datetime) -> None:
    from qianbao import merchants

    row.charge_status = status
    row.finished_at = now
    session.flush()
    if row.merchant_id is not None and row.merchant_order_no:
        merchants.close_order(session, row.merchant_id, row.merchant_order_no,
                              actor=audit.Actor.customer(row.customer_id), channel="app")
    _record(session, row, f"paycode.{status}")


def get_charge(session: Session, reference: str, *, merchant_id: int | None = None,
               customer_id: int | None = None, now: datetime | None = None) -> Charge:
    """A charge by its reference, for its merchant or its customer (anyone else: NOT_FOUND). Settles a
    charge whose confirmation time ran out (write: call it in a transaction)."""
    row = session.scalar(select(PaymentCode).where(PaymentCode.reference == (reference or "")[:24]))
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id) \
            or (customer_id is not None and row.customer_id != customer_id):
        raise QianbaoError("NOT_FOUND")
    return _charge(_settle(session, _lock(session, row.id), now or now_utc()))


def awaiting_charge(session: Session, customer_id: int, *, now: datetime | None = None) -> Charge | None:
    """The customer's charge waiting for their confirmation, if any (the newest; expired ones settled)."""
    moment = now or now_utc()
    rows = session.scalars(select(PaymentCode).where(PaymentCode.customer_id == customer_id,
                                                     PaymentCode.charge_status == AWAITING)
                           .order_by(PaymentCode.id.desc())).all()
    waiting: Charge | None = None
    for row in rows:
        _settle(session, row, moment)
        if row.charge_status == AWAITING and waiting is None:
            waiting = _charge(row)
    return waiting


def _awaiting_row(session: Session, customer_id: int, reference: str, now: datetime) -> PaymentCode:
    row = session.scalar(select(PaymentCode).where(PaymentCode.reference == (reference or "")[:24]))
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    row = _settle(session, _lock(session, row.id), now)
    if row.charge_status == EXPIRED:
        raise QianbaoError("PAYMENT_CODE_CONFIRMATION_EXPIRED")
    if row.charge_status != AWAITING:
        raise QianbaoError("PAYMENT_CODE_REUSED")
    return row


def confirm_charge(session: Session, customer_id: int, reference: str, confirmation: str, *,
                   now: datetime | None = None) -> Charge:
    """The customer confirmed the awaiting charge (the caller verified the PIN or passkey: `confirmation`
    is "pin" or "passkey"). PAYMENT_CODE_CONFIRMATION_EXPIRED past the deadline (the order is closed, and
    that is committed only if the caller commits on refusal — the next read settles it anyway)."""
    moment = now or now_utc()
    if confirmation not in ("pin", "passkey"):
        raise ValueError("a payment-code charge waiting for the customer is confirmed by PIN or passkey")
    row = _awaiting_row(session, customer_id, reference, moment)
    _pay(session, row, confirmation, moment)
    _record(session, row, "paycode.confirmed", confirmation=confirmation)
    return _charge(row)


def decline_charge(session: Session, customer_id: int, reference: str, *, now: datetime | None = None) -> Charge:
    moment = now or now_utc()
    row = _awaiting_row(session, customer_id, reference, moment)
    _finish(session, row, DECLINED, moment)
    return _charge(row)


def settle_overdue(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Charges left awaiting past their deadline become "expired" (their orders closed); unused codes past
    their life are kept as they are (a look-up finds them expired). Returns how many charges expired."""
    moment = now or now_utc()
    rows = session.scalars(select(PaymentCode).where(PaymentCode.charge_status == AWAITING,
                                                     PaymentCode.confirm_deadline <= moment)
                           .order_by(PaymentCode.id).limit(limit)).all()
    settled = 0
    for found in rows:
        row = _settle(session, _lock(session, found.id), moment)
        settled += row.charge_status == EXPIRED
    return settled


def settle_job(db: Any, settings: Any) -> int:
    """Worker job `paycode_settle`."""
    with db.transaction() as session:
        return settle_overdue(session)


def amount_of_awaiting(session: Session, customer_id: int, reference: str, *, now: datetime | None = None) -> int:
    """What the customer is asked to confirm (for the passkey binding and the password-free check)."""
    return _charge(_awaiting_row(session, customer_id, reference, now or now_utc())).amount


__all__ = [
    "CONFIRM_SECONDS",
    "LIFETIME",
    "Charge",
    "IssuedCode",
    "awaiting_charge",
    "charge",
    "confirm_charge",
    "decline_charge",
    "get_charge",
    "group",
    "issue",
    "new_code",
    "normalise",
    "revoke",
    "settle_job",
    "settle_overdue",
]
