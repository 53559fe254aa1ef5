"""The ops console overview's figures (/ops): counted from the database on every visit, never made up.

    KYC queue        pending real-name submissions, how many are past the review target, the oldest wait
    wallets by tier  wallets that are not closed, per tier
    new today        wallets opened since midnight in Asia/Shanghai, per channel (app, counter)

The other work queues (risk, tickets, reconciliation) keep their empty states until their packages exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qianbao.wallets.models import CHANNELS, CLOSED, KYC_PENDING, TIERS, KycSubmission, Wallet
from qianbao.web.ops_views import KYC_REVIEW_SLA, db_of, lang_of, now_utc, waited_text
from qianbao.web.render import SHANGHAI


@dataclass(frozen=True)
class KycFigures:
    pending: int
    overdue: int
    oldest_waited: str | None


@dataclass(frozen=True)
class WalletFigures:
    by_tier: dict[int, int]
    today_by_channel: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_tier.values())

    @property
    def today_total(self) -> int:
        return sum(self.today_by_channel.values())


@dataclass(frozen=True)
class DashboardFigures:
    kyc: KycFigures
    wallets: WalletFigures


def shanghai_day_start(moment: datetime) -> datetime:
    """Midnight of `moment`'s day in Shanghai, as a UTC time."""
    day = moment.astimezone(SHANGHAI).date()
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def kyc_figures(session: Session, now: datetime, lang: str) -> KycFigures:
    pending = (KycSubmission.status == KYC_PENDING)
    count, oldest = session.execute(
        select(func.count(), func.min(KycSubmission.submitted_at)).where(pending)
    ).one()
    overdue = session.scalar(select(func.count()).select_from(KycSubmission)
                             .where(pending, KycSubmission.submitted_at <= now - KYC_REVIEW_SLA))
    return KycFigures(int(count or 0), int(overdue or 0), waited_text(now - oldest, lang) if oldest else None)


def wallet_figures(session: Session, now: datetime) -> WalletFigures:
    by_tier = dict.fromkeys(sorted(TIERS, reverse=True), 0)
    for tier, count in session.execute(
        select(Wallet.tier, func.count()).where(Wallet.status != CLOSED).group_by(Wallet.tier)
    ):
        by_tier[int(tier)] = int(count)
    start = shanghai_day_start(now)
    today = dict.fromkeys(CHANNELS, 0)
    for channel, count in session.execute(
        select(Wallet.opened_channel, func.count())
        .where(Wallet.opened_at >= start, Wallet.opened_at < start + timedelta(days=1))
        .group_by(Wallet.opened_channel)
    ):
        today[str(channel)] = int(count)
    return WalletFigures(by_tier, today)


def dashboard_figures(request: Request) -> DashboardFigures:
    now = now_utc()
    with db_of(request).read() as session:
        return DashboardFigures(kyc_figures(session, now, lang_of(request)), wallet_figures(session, now))
