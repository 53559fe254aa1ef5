"""Withholding agreements (免密代扣, SPEC §6.2): a merchant may charge the wallet without a PIN, within caps.

The customer signs an agreement with a merchant (today the built-in postal express), confirming it with
the PIN or a passkey, and chooses two caps: per payment and per (Asia/Shanghai) calendar month, each at
most what the withholding policy allows (`withholding_policy`, one row, operators' configuration). One
active agreement per customer and merchant; the customer lists and cancels them on /app/agreements.

A charge (`charge`) is refused with a coded error, nothing moved:

    WITHHOLDING_AGREEMENT_INACTIVE   no agreement, or it was cancelled
    WITHHOLDING_PER_PAYMENT_CAP      the amount is above the per-payment cap {cap}
    WITHHOLDING_MONTHLY_CAP          this month's charges plus the amount pass the monthly cap {cap, remaining}

and otherwise goes through `payments.execute` with confirmation="withholding", so the wallet's own limits
apply too — the tier's single/daily/annual outflow caps and the 小额免密 daily cap that payments without
PIN or passkey share (SPEC §2). The agreement row is locked for the charge, so two charges at once cannot
together pass the monthly cap.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.notices.outbox import enqueue_inbox
from qianbao.payments.bills_models import (
    ACTIVE,
    AGREEMENT_MERCHANTS,
    CANCELLED,
    POSTAL_EXPRESS,
    WithholdingAgreement,
    WithholdingCharge,
    WithholdingPolicy,
)

CONFIRMED_WITH = ("pin", "passkey")


@dataclass(frozen=True)
class PolicyView:
    max_per_payment: int
    max_monthly: int


@dataclass(frozen=True)
class AgreementView:
    id: int
    public_id: str
    customer_id: int
    merchant: str
    per_payment_cap: int
    monthly_cap: int
    status: str
    signed_at: datetime
    cancelled_at: datetime | None
    month_used: int

    @property
    def month_remaining(self) -> int:
        return max(0, self.monthly_cap - self.month_used)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def month_of(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def _month_used(session: Session, agreement_id: int, month: str) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(WithholdingCharge.amount), 0)).where(
        WithholdingCharge.agreement_id == agreement_id, WithholdingCharge.month == month)) or 0)


def _view(session: Session, row: WithholdingAgreement, now: datetime | None = None) -> AgreementView:
    month = month_of(now or datetime.now(UTC))
    return AgreementView(row.id, row.public_id, row.customer_id, row.merchant, row.per_payment_cap, row.monthly_cap,
                         row.status, row.signed_at, row.cancelled_at, _month_used(session, row.id, month))


# ---- policy -------------------------------------------------------------------------------------------

# The most an agreement may allow by default, in fen; the migration inserts the same figures.
DEFAULT_MAX_PER_PAYMENT = 50_000
DEFAULT_MAX_MONTHLY = 200_000


def _policy_row(session: Session, *, lock: bool = False) -> WithholdingPolicy:
    stmt = select(WithholdingPolicy).where(WithholdingPolicy.id == 1).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:  # a database emptied by hand (the PostgreSQL tests): the defaults again
        dialect = session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(WithholdingPolicy)
        session.execute(insert.values(id=1, max_per_payment=DEFAULT_MAX_PER_PAYMENT, max_monthly=DEFAULT_MAX_MONTHLY,
                                      updated_at=datetime.now(UTC), updated_by_staff_id=None)
                        .on_conflict_do_nothing(index_elements=["id"]))
        row = session.scalar(stmt)
    assert row is not None
    return row


def policy(session: Session) -> PolicyView:
    row = _policy_row(session)
    return PolicyView(row.max_per_payment, row.max_monthly)


def update_policy(session: Session, *, max_per_payment: int, max_monthly: int, by_staff_id: int,
                  reason: str) -> PolicyView:
    """Change the most an agreement may allow (agreements signed earlier keep their caps); audited."""
    if not (reason or "").strip():
        raise QianbaoError("REASON_REQUIRED")
    for field, value in (("max_per_payment", max_per_payment), ("max_monthly", max_monthly)):
        if type(value) is not int or value <= 0:
            raise QianbaoError("POLICY_VALUE_INVALID", field=field)
    if max_monthly < max_per_payment:
        raise QianbaoError("POLICY_LIMITS_ORDER")
    row = _policy_row(session, lock=True)
    before = {"max_per_payment": row.max_per_payment, "max_monthly": row.max_monthly}
    if before == {"max_per_payment": max_per_payment, "max_monthly": max_monthly}:
        raise QianbaoError("POLICY_UNCHANGED")
    row.max_per_payment, row.max_monthly = max_per_payment, max_monthly
    row.updated_at, row.updated_by_staff_id = datetime.now(UTC), by_staff_id
    audit.record(session, action="withholding.policy.update", actor=audit.Actor.staff(by_staff_id, None),
                 channel="ops", object_type="withholding_policy", object_id=1,
                 details={"before": before, "after": {"max_per_payment": max_per_payment,
                                                      "max_monthly": max_monthly}, "reason": reason.strip()})
    return PolicyView(max_per_payment, max_monthly)


# ---- agreements ---------------------------------------------------------------------------------------

def sign(session: Session, customer_id: int, *, per_payment_cap: int, monthly_cap: int, confirmed_with: str,
         merchant: str = POSTAL_EXPRESS, key: str | None = None) -> AgreementView:
    """Sign an agreement (the caller has checked the PIN or passkey: `confirmed_with`); audited, notified.

    WITHHOLDING_CAP_INVALID{field, max} when a cap is not positive or above the policy, or the monthly
    cap is below the per-payment one; WITHHOLDING_AGREEMENT_EXISTS when one is active already.
    `key` (the API's Idempotency-Key, scoped) is remembered: `agreement_by_key` answers a retry.
    """
    from qianbao.wallets.customers import wallet_of_customer

    if merchant not in AGREEMENT_MERCHANTS:
        raise QianbaoError("NOT_FOUND")
    if confirmed_with not in CONFIRMED_WITH:
        raise QianbaoError("CONFIRMATION_REQUIRED")
    limits = policy(session)
    if type(per_payment_cap) is not int or not 0 < per_payment_cap <= limits.max_per_payment:
        raise QianbaoError("WITHHOLDING_CAP_INVALID", field="per_payment_cap", max=_yuan(limits.max_per_payment))
    if type(monthly_cap) is not int or not 0 < monthly_cap <= limits.max_monthly:
        raise QianbaoError("WITHHOLDING_CAP_INVALID", field="monthly_cap", max=_yuan(limits.max_monthly))
    if monthly_cap < per_payment_cap:
        raise QianbaoError("WITHHOLDING_CAP_INVALID", field="monthly_cap", max=_yuan(limits.max_monthly))
    wallet = wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    if active_agreement(session, customer_id, merchant) is not None:
        raise QianbaoError("WITHHOLDING_AGREEMENT_EXISTS")
    now = datetime.now(UTC)
    row = WithholdingAgreement(public_id="WA" + secrets.token_hex(9).upper(), customer_id=customer_id,
                               wallet_id=wallet.id, merchant=merchant, per_payment_cap=per_payment_cap,
                               monthly_cap=monthly_cap, status=ACTIVE, signed_at=now, confirmed_with=confirmed_with,
                               cancelled_at=None, sign_key=key)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except Exception as exc:  # the partial unique index: a concurrent signing won
        from sqlalchemy.exc import IntegrityError

        if isinstance(exc, IntegrityError):
            raise QianbaoError("WITHHOLDING_AGREEMENT_EXISTS") from None
        raise
    audit.record(session, action="withholding.sign", actor=audit.Actor.customer(customer_id),
                 object_type="withholding_agreement", object_id=row.public_id,
                 details={"merchant": merchant, "per_payment_cap": per_payment_cap, "monthly_cap": monthly_cap,
                          "confirmed_with": confirmed_with})
    params = _notice_params(row)
    enqueue_inbox(session, customer_id, "notice.withholding.signed.title", "notice.withholding.signed.body", params)
    return _view(session, row, now)


def _notice_params(row: WithholdingAgreement) -> dict[str, Any]:
    from qianbao.money import format_fen

    return {"per_payment": format_fen(row.per_payment_cap, "zh-CN", symbol=False),
            "monthly": format_fen(row.monthly_cap, "zh-CN", symbol=False)}


def agreement_by_key(session: Session, customer_id: int, key: str) -> AgreementView | None:
    """The agreement signed with this idempotency key, if any (a retried signing answers with it)."""
    row = session.scalar(select(WithholdingAgreement).where(WithholdingAgreement.sign_key == key))
    return _view(session, row) if row is not None and row.customer_id == customer_id else None


def active_agreement(session: Session, customer_id: int, merchant: str = POSTAL_EXPRESS) -> AgreementView | None:
    row = session.scalar(select(WithholdingAgreement).where(
        WithholdingAgreement.customer_id == customer_id, WithholdingAgreement.merchant == merchant,
        WithholdingAgreement.status == ACTIVE))
    return _view(session, row) if row is not None else None


def list_agreements(session: Session, customer_id: int) -> list[AgreementView]:
    """The customer's agreements, active ones first, newest first."""
    rows = session.scalars(select(WithholdingAgreement).where(WithholdingAgreement.customer_id == customer_id)
                           .order_by(WithholdingAgreement.signed_at.desc(), WithholdingAgreement.id.desc()))
    views = [_view(session, row) for row in rows]
    return sorted(views, key=lambda view: not view.active)


def get_agreement(session: Session, customer_id: int, public_id: str) -> AgreementView:
    row = session.scalar(select(WithholdingAgreement).where(WithholdingAgreement.public_id == (public_id or "")[:24]))
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    return _view(session, row)


def cancel(session: Session, customer_id: int, public_id: str) -> AgreementView:
    """Cancel one of the customer's agreements at once: every later charge is refused. Audited, notified."""
    row = session.scalar(select(WithholdingAgreement).where(WithholdingAgreement.public_id == (public_id or "")[:24])
                         .with_for_update())
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    if row.status != ACTIVE:
        raise QianbaoError("WITHHOLDING_AGREEMENT_INACTIVE")
    row.status, row.cancelled_at = CANCELLED, datetime.now(UTC)
    session.flush()
    audit.record(session, action="withholding.cancel", actor=audit.Actor.customer(customer_id),
                 object_type="withholding_agreement", object_id=row.public_id, details={"merchant": row.merchant})
    enqueue_inbox(session, customer_id, "notice.withholding.cancelled.title", "notice.withholding.cancelled.body",
                  _notice_params(row))
    return _view(session, row)


# ---- charging -----------------------------------------------------------------------------------------

def charge(
    session: Session,
    *,
    customer_id: int,
    amount: int,
    key: str,
    order_reference: str,
    payee: Any = None,
    counterparty_label: str | None = None,
    kind: str = "parcel",
    merchant: str = POSTAL_EXPRESS,
    details: dict[str, Any] | None = None,
    pay: Callable[[int], Any] | None = None,
    operation_key: str | None = None,
    now: datetime | None = None,
) -> Any:
    """Charge the customer's wallet under their active agreement with `merchant`; returns the payments
    Operation. The refusals are listed in the module docstring; a replayed key returns the first charge.

    The payment is `payments.execute(Order(key, kind, wallet → payee, confirmation="withholding"))`, or,
    when the merchant's own order is paid instead, `pay(wallet_id)` — which must pay with confirmation
    "withholding" — and `operation_key` the key its operation is stored under.
    """
    from qianbao import payments

    moment = now or datetime.now(UTC)
    found = payments.find_operation(session, operation_key or key)
    if found is not None and session.scalar(
            select(WithholdingCharge.id).where(WithholdingCharge.operation_id == found.id)) is not None:
        if found.amount != amount or found.order_reference != order_reference[:64]:
            raise QianbaoError("IDEMPOTENCY_KEY_REUSED")
        return replace(found, replayed=True)
    row = session.scalar(
        select(WithholdingAgreement).where(WithholdingAgreement.customer_id == customer_id,
                                           WithholdingAgreement.merchant == merchant,
                                           WithholdingAgreement.status == ACTIVE)
        .with_for_update().execution_options(populate_existing=True)
    )
    if row is None:
        raise QianbaoError("WITHHOLDING_AGREEMENT_INACTIVE")
    if type(amount) is not int or amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    if amount > row.per_payment_cap:
        raise QianbaoError("WITHHOLDING_PER_PAYMENT_CAP", cap=_yuan(row.per_payment_cap))
    month = month_of(moment)
    used = _month_used(session, row.id, month)
    if used + amount > row.monthly_cap:
        raise QianbaoError("WITHHOLDING_MONTHLY_CAP", cap=_yuan(row.monthly_cap),
                           remaining=_yuan(max(0, row.monthly_cap - used)))
    if pay is not None:
        op = pay(row.wallet_id)
        if op.confirmation != "withholding" or op.amount != amount:
            raise ValueError("a withholding charge must be paid with confirmation 'withholding', for its amount")
    else:
        op = payments.execute(session, _order(key, kind, row.wallet_id, payee, amount, counterparty_label or "",
                                              order_reference, {**(details or {}), "agreement": row.public_id}))
    if not op.replayed:
        session.add(WithholdingCharge(agreement_id=row.id, month=month, amount=amount, operation_id=op.id,
                                      operation_reference=op.reference, order_reference=order_reference[:64],
                                      created_at=moment))
        session.flush()
    return op


def _order(key: str, kind: str, wallet_id: int | None, payee: Any, amount: int, label: str, reference: str,
           details: dict[str, Any] | None) -> Any:
    from qianbao.payments import Order, Party

    assert wallet_id is not None
    return Order(key=key, kind=kind, payer=Party.wallet(wallet_id), payee=payee, amount=amount,
                 confirmation="withholding", channel="merchant", counterparty_label=label,
                 reference=reference[:64], details=details or {})


def _yuan(fen: int) -> str:
    from qianbao.money import format_fen

    return format_fen(fen, "zh-CN", symbol=False)


__all__ = [
    "ACTIVE",
    "CANCELLED",
    "AgreementView",
    "PolicyView",
    "active_agreement",
    "agreement_by_key",
    "cancel",
    "charge",
    "get_agreement",
    "list_agreements",
    "month_of",
    "policy",
    "sign",
    "update_policy",
]
