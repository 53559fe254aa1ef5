"""Outflow limits (SPEC §2), counted atomically in `payments_usage`.

A paying wallet's outflow is counted in period buckets (Asia/Shanghai days and years):

    day:<yyyy-mm-dd>     amount + fee of outflow kinds                   tier's daily outflow limit
    year:<yyyy>          amount + fee of outflow kinds                   tier's annual outflow limit
    pwfree:<yyyy-mm-dd>  amount + fee confirmed without PIN or passkey   password-free daily cap
    sqr:<yyyy-mm-dd>     amount + fee paid to a static merchant QR code  static-QR daily cap
    month:<kind>:<yyyy-mm>  amount of the kind (no limit: the fee schedule's free monthly allowance)

All the buckets of one payment grow with ONE statement, a conditional multi-row UPSERT:

    INSERT ... VALUES (:wallet, :bucket1, :amount1), (:wallet, :bucket2, :amount2), ...
    ON CONFLICT (wallet_id, bucket) DO UPDATE SET used = used + excluded.used
        WHERE (excluded.bucket = :bucket1 AND used + excluded.used <= :limit1) OR ...
    RETURNING bucket, used

A bucket missing from what comes back would pass its cap: the first such bucket, in the order below,
is the limit named, and the whole payment is refused (it runs under `execute`'s SAVEPOINT, so the
other buckets' increments are rolled back with it). The row lock that PostgreSQL takes for each update
(and SQLite's single writer under BEGIN IMMEDIATE) makes the check and the increment one step, so two
concurrent payments can never together pass a cap; the rows are always locked in the same order, so
two payments of one wallet never deadlock. The single-payment limit needs no counter.
A failed operation gives its buckets back (`release`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.credentials.base import SHANGHAI
from qianbao.errors import QianbaoError
from qianbao.money import format_fen
from qianbao.payments.models import OUTFLOW_KINDS, PASSWORD_FREE_CONFIRMATIONS, FeeRule, PaymentUsage
from qianbao.wallets.models import CLOSED, TierPolicy, Wallet, WalletPolicy
from qianbao.wallets.policy import WalletLimits, wallet_limits

SINGLE = "single"
DAILY = "daily"
ANNUAL = "annual"
PASSWORD_FREE = "password_free"
STATIC_QR = "static_qr"


def _yuan(fen: int) -> str:
    return format_fen(max(fen, 0), "en", symbol=False)


def limit_exceeded(limit: str, remaining: int) -> QianbaoError:
    """LIMIT_EXCEEDED naming the limit and what is left of it (yuan text, and fen for API clients)."""
    remaining = max(remaining, 0)
    return QianbaoError("LIMIT_EXCEEDED", limit=limit, remaining=_yuan(remaining), remaining_fen=remaining)


@dataclass(frozen=True)
class Buckets:
    day: str
    year: str
    password_free: str
    static_qr: str
    month: str  # yyyy-mm

    @classmethod
    def at(cls, moment: datetime) -> Buckets:
        local = moment.astimezone(SHANGHAI)
        day = local.date().isoformat()
        return cls(day=f"day:{day}", year=f"year:{local.year}", password_free=f"pwfree:{day}",
                   static_qr=f"sqr:{day}", month=local.strftime("%Y-%m"))

    def monthly(self, kind: str) -> str:
        return f"month:{kind}:{self.month}"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def used(session: Session, wallet_id: int, bucket: str) -> int:
    value = session.scalar(
        select(PaymentUsage.used).where(PaymentUsage.wallet_id == wallet_id, PaymentUsage.bucket == bucket)
    )
    return int(value or 0)


def consume(session: Session, wallet_id: int, bucket: str, amount: int, cap: int | None, name: str) -> None:
    """Add `amount` to the bucket if it stays within `cap` (None = no cap), else LIMIT_EXCEEDED{name}."""
    if cap is not None and amount > cap:
        raise limit_exceeded(name, cap - used(session, wallet_id, bucket))
    insert = _insert(session)
    stmt = insert(PaymentUsage).values(wallet_id=wallet_id, bucket=bucket, used=amount)
    grown = PaymentUsage.used + stmt.excluded.used
    stmt = stmt.on_conflict_do_update(
        index_elements=["wallet_id", "bucket"], set_={"used": grown},
        where=None if cap is None else grown <= cap,
    ).returning(PaymentUsage.used)
    if session.execute(stmt).first() is None:
        assert cap is not None
        raise limit_exceeded(name, cap - used(session, wallet_id, bucket))


def release(session: Session, wallet_id: int, usage: Mapping[str, int]) -> None:
    """Give back what a failed operation counted (never below zero)."""
    for bucket in sorted(usage):
        amount = int(usage[bucket])
        if amount <= 0:
            continue
        session.execute(
            update(PaymentUsage)
            .where(PaymentUsage.wallet_id == wallet_id, PaymentUsage.bucket == bucket)
            .values(used=PaymentUsage.used - amount)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PaymentUsage)
            .where(PaymentUsage.wallet_id == wallet_id, PaymentUsage.bucket == bucket, PaymentUsage.used < 0)
            .values(used=0)
            .execution_options(synchronize_session=False)
        )


def limits_of(session: Session, wallet: Wallet, fee_kind: str | None = None) -> tuple[WalletLimits, bool]:
    """`wallets.wallet_limits`, and whether the fee schedule needs the monthly total of `fee_kind` (a free
    allowance that is not the whole fee), read in ONE query: every payment reads them. An emptied database
    falls back to the functions that restore the default rows."""
    row = session.execute(
        select(TierPolicy, WalletPolicy, FeeRule).join_from(TierPolicy, WalletPolicy, WalletPolicy.id == 1)
        .outerjoin(FeeRule, FeeRule.kind == (fee_kind or ""))
        .where(TierPolicy.tier == wallet.tier)
    ).first()
    if row is None:
        from qianbao.payments.fees import counted_kinds

        return wallet_limits(session, wallet), bool(fee_kind and counted_kinds(session, fee_kind))
    tier, wide, fee = row
    counted = fee is not None and fee.free_monthly > 0 and not (fee.rate_ppm == 0 and fee.min_fee == 0)
    return WalletLimits(
        wallet_id=wallet.id, tier=wallet.tier, balance_cap=tier.balance_cap,
        single_payment_limit=tier.single_payment_limit, daily_outflow_limit=tier.daily_outflow_limit,
        annual_outflow_limit=tier.annual_outflow_limit, password_free_daily_limit=wide.password_free_daily_limit,
        static_qr_daily_limit=wide.static_qr_daily_limit, frozen=wallet.is_frozen, closed=wallet.status == CLOSED,
        outflow_restricted=wallet.outflow_restricted, outflow_restriction_reason=wallet.outflow_restriction_reason,
    ), counted


def check_can_pay(limits: WalletLimits) -> None:
    if limits.closed:
        raise QianbaoError("WALLET_CLOSED")
    if limits.frozen:
        raise QianbaoError("WALLET_FROZEN")
    if limits.outflow_restricted:
        raise QianbaoError("WALLET_OUTFLOW_RESTRICTED", reason=limits.outflow_restriction_reason or "")


def count_outflow(
    session: Session,
    wallet: Wallet,
    *,
    kind: str,
    amount: int,
    fee: int,
    confirmation: str,
    static_qr: bool,
    now: datetime,
) -> dict[str, int]:
    """Check the paying wallet and count the payment in its buckets; returns {bucket: fen} counted.

    Refusals: WALLET_CLOSED, WALLET_FROZEN, WALLET_OUTFLOW_RESTRICTED, LIMIT_EXCEEDED{limit, remaining}.
    Every kind checks the wallet's status; only outflow kinds are held to the limits.
    The monthly total of the kind is counted too when the fee schedule's free allowance needs it.
    """
    limits, monthly = limits_of(session, wallet, kind)
    check_can_pay(limits)
    usage: dict[str, int] = {}
    if kind not in OUTFLOW_KINDS:
        return usage
    total = amount + fee
    buckets = Buckets.at(now)
    if limits.single_payment_limit is not None and amount > limits.single_payment_limit:
        raise limit_exceeded(SINGLE, limits.single_payment_limit)
    steps: list[tuple[str, int | None, str]] = []
    if confirmation in PASSWORD_FREE_CONFIRMATIONS:
        steps.append((buckets.password_free, limits.password_free_daily_limit, PASSWORD_FREE))
    if static_qr:
        steps.append((buckets.static_qr, limits.static_qr_daily_limit, STATIC_QR))
    steps.append((buckets.day, limits.daily_outflow_limit, DAILY))
    steps.append((buckets.year, limits.annual_outflow_limit, ANNUAL))
    # no limit: nothing to count (a cap set later counts from then on)
    counted: list[tuple[str, int, int | None, str]] = [(bucket, total, cap, name) for bucket, cap, name in steps
                                                       if cap is not None]
    if monthly:
        counted.append((buckets.monthly(kind), amount, None, "monthly"))
    consume_all(session, wallet.id, counted)
    return {bucket: fen for bucket, fen, _cap, _name in counted}


def consume_all(session: Session, wallet_id: int, steps: list[tuple[str, int, int | None, str]]) -> None:
    """`consume` of every (bucket, amount, cap, name) in ONE statement; the refusal named is the one the
    steps one by one, in this order, would meet first (LIMIT_EXCEEDED{name}). Run it under a SAVEPOINT:
    a refusal leaves the other buckets' increments for the caller to roll back."""
    first_over = next((i for i, (_b, fen, cap, _n) in enumerate(steps) if cap is not None and fen > cap),
                      len(steps))
    rows = steps[:first_over]
    if rows:
        insert = _insert(session)
        stmt = insert(PaymentUsage).values([{"wallet_id": wallet_id, "bucket": bucket, "used": fen}
                                            for bucket, fen, _cap, _name in rows])
        grown = PaymentUsage.used + stmt.excluded.used
        capped = [and_(stmt.excluded.bucket == bucket, grown <= cap) for bucket, _fen, cap, _name in rows
                  if cap is not None]
        free = [bucket for bucket, _fen, cap, _name in rows if cap is None]
        if free:
            capped.append(stmt.excluded.bucket.in_(free))
        stmt = stmt.on_conflict_do_update(
            index_elements=["wallet_id", "bucket"], set_={"used": grown}, where=or_(*capped),
        ).returning(PaymentUsage.bucket)
        grew = set(session.scalars(stmt))
        for bucket, _fen, cap, name in rows:
            if bucket not in grew:
                assert cap is not None
                raise limit_exceeded(name, cap - used(session, wallet_id, bucket))
    if first_over < len(steps):
        bucket, _fen, cap, name = steps[first_over]
        assert cap is not None
        raise limit_exceeded(name, cap - used(session, wallet_id, bucket))


@dataclass(frozen=True)
class Remaining:
    """What a wallet may still pay now, in fen (None = no limit): shown on the pages before confirming."""

    single: int | None
    daily: int | None
    annual: int | None
    password_free: int | None
    static_qr: int | None


def remaining(session: Session, wallet: Wallet, *, now: datetime) -> Remaining:
    limits = wallet_limits(session, wallet)
    buckets = Buckets.at(now)

    def left(cap: int | None, bucket: str) -> int | None:
        return None if cap is None else max(cap - used(session, wallet.id, bucket), 0)

    return Remaining(
        single=limits.single_payment_limit,
        daily=left(limits.daily_outflow_limit, buckets.day),
        annual=left(limits.annual_outflow_limit, buckets.year),
        password_free=left(limits.password_free_daily_limit, buckets.password_free),
        static_qr=left(limits.static_qr_daily_limit, buckets.static_qr),
    )
