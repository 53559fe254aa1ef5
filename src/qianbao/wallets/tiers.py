"""Tier changes (SPEC §2): up when the holder adds verification, down only by an operator with a reason.

    tier 4 → 3   real-name approved (app, automatically or by a KYC reviewer)
    → 2          a bank card in the holder's own name bound and verified (`record_bank_card_verified`,
                 called by the cards package)
    → 1          identity verified in person at a counter

A wallet never moves down by itself: an upgrade to a tier it already has or passed changes nothing.
`downgrade_by_operator` is the only way down. Every change appends a `wallet_tier_change` row and sets
the ledger cap of the wallet's account to the new tier's balance cap. A downgrade whose new cap is below
the current balance is allowed: it only tightens future credits (the ledger then accepts no credit
until the balance is back under the cap); nothing already in the wallet is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit, ledger
from qianbao.errors import QianbaoError
from qianbao.wallets import policy
from qianbao.wallets.customers import get_customer, get_wallet
from qianbao.wallets.models import (
    CAUSE_BANK_CARD,
    CAUSE_OPERATOR,
    CLOSED,
    Wallet,
    WalletTierChange,
)
from qianbao.wallets.notify import notify, tail


@dataclass(frozen=True)
class TierChange:
    wallet_id: int
    from_tier: int | None
    to_tier: int
    cause: str
    reason: str | None
    by_staff_id: int | None
    branch_id: int | None
    channel: str
    changed_at: datetime


def change_tier(
    session: Session,
    wallet: Wallet,
    to_tier: int,
    *,
    cause: str,
    channel: str,
    reason: str | None = None,
    by_staff_id: int | None = None,
    branch_id: int | None = None,
) -> WalletTierChange:
    """Move `wallet` to `to_tier`, write the history row and follow with the ledger cap (no checks here)."""
    now = datetime.now(UTC)
    change = WalletTierChange(
        wallet_id=wallet.id, from_tier=wallet.tier, to_tier=to_tier, cause=cause, reason=reason,
        by_staff_id=by_staff_id, branch_id=branch_id, channel=channel, changed_at=now,
    )
    wallet.tier = to_tier
    session.add(change)
    session.flush()
    ledger.set_cap(session, wallet.ledger_account_id, policy.balance_cap_for(session, to_tier))
    return change


def upgrade(
    session: Session,
    wallet: Wallet,
    to_tier: int,
    *,
    cause: str,
    channel: str,
    by_staff_id: int | None = None,
    branch_id: int | None = None,
) -> WalletTierChange | None:
    """Move up to `to_tier` if that is higher than the current tier (a lower number); else change nothing."""
    policy.check_tier(to_tier)
    if wallet.status == CLOSED or to_tier >= wallet.tier:
        return None
    return change_tier(session, wallet, to_tier, cause=cause, channel=channel, by_staff_id=by_staff_id,
                       branch_id=branch_id)


def record_bank_card_verified(session: Session, wallet_id: int) -> bool:
    """A card in the holder's own name was bound and verified (cards package): the wallet reaches tier 2.

    REAL_NAME_REQUIRED when the holder has no verified real name (a card's holder is matched against
    it). True when the tier changed; a wallet already at tier 2 or 1 stays where it is.
    """
    wallet = get_wallet(session, wallet_id, lock=True)
    customer = get_customer(session, wallet.customer_id)
    if not customer.is_real_name_verified:
        raise QianbaoError("REAL_NAME_REQUIRED")
    change = upgrade(session, wallet, 2, cause=CAUSE_BANK_CARD, channel="app")
    if change is None:
        return False
    audit.record(
        session, action="wallet.tier.upgrade", actor=audit.Actor.customer(customer.id), channel="app",
        object_type="wallet", object_id=wallet.id,
        details={"from_tier": change.from_tier, "to_tier": 2, "cause": CAUSE_BANK_CARD},
    )
    notify(session, customer, "tier_upgraded", {"wallet_tail": tail(wallet.number), "tier": 2})
    return True


def downgrade_by_operator(
    session: Session, wallet_id: int, to_tier: int, reason: str, by_staff_id: int
) -> TierChange:
    """An operator moves a wallet down (to a higher tier number) with a reason; audited, the holder told.

    Refusals: TIER_INVALID, TIER_NOT_DOWNGRADE (the same tier or a better one), REASON_REQUIRED,
    WALLET_CLOSED, NOT_FOUND.
    """
    policy.check_tier(to_tier)
    text = policy.check_reason(reason)
    wallet = get_wallet(session, wallet_id, lock=True)
    if wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    if to_tier <= wallet.tier:
        raise QianbaoError("TIER_NOT_DOWNGRADE", tier=wallet.tier, to_tier=to_tier)
    change = change_tier(session, wallet, to_tier, cause=CAUSE_OPERATOR, channel="ops", reason=text,
                         by_staff_id=by_staff_id)
    customer = get_customer(session, wallet.customer_id)
    notify(session, customer, "tier_downgraded", {"wallet_tail": tail(wallet.number), "tier": to_tier})
    audit.record(
        session, action="wallet.tier.downgrade", actor=audit.Actor.staff(by_staff_id), channel="ops",
        object_type="wallet", object_id=wallet.id,
        details={"from_tier": change.from_tier, "to_tier": to_tier, "reason": text},
    )
    return _view(change)


def tier_history(session: Session, wallet_id: int) -> list[TierChange]:
    """The wallet's tiers, oldest first (the opening tier is the first row)."""
    rows = session.scalars(
        select(WalletTierChange).where(WalletTierChange.wallet_id == wallet_id).order_by(WalletTierChange.id)
    )
    return [_view(row) for row in rows]


def _view(row: WalletTierChange) -> TierChange:
    return TierChange(
        wallet_id=row.wallet_id, from_tier=row.from_tier, to_tier=row.to_tier, cause=row.cause, reason=row.reason,
        by_staff_id=row.by_staff_id, branch_id=row.branch_id, channel=row.channel, changed_at=row.changed_at,
    )
