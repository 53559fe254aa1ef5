"""The tiers-and-limits policy (SPEC §2) and the minimum opening age (SPEC §3), read from database tables.

`tier_policy` holds one row per tier (balance cap, single payment, daily outflow, annual outflow, in fen,
NULL = no limit); `wallet_policy` one row of wallet-wide figures (the password-free daily total, the
static-QR daily total, the minimum age). The migration inserts the SPEC's defaults; the ops console
changes them through `update_tier_policy` / `update_wallet_policy`, each change audited with its reason.

A change of a tier's balance cap is applied at once to the ledger cap of every wallet of that tier, with
one set-based UPDATE in the same transaction, so the ledger's "no wallet above its cap" rule and the
policy never disagree. Lowering a cap below some wallets' balances is allowed: like a downgrade, it only
tightens future credits (those wallets accept no credit until they are back under it).

An emptied database (the PostgreSQL test fixtures truncate every table) gets the default rows back on
first read (`ensure_default_policy`), as the audit chain's head does; a running system never loses them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.ledger.models import LedgerAccount
from qianbao.ledger.validate import MAX_FEN
from qianbao.wallets.models import CLOSED, TIERS, TierPolicy, Wallet, WalletPolicy

YUAN = 100  # fen

# SPEC §2 defaults, in fen; the migration inserts the same figures.
DEFAULT_TIER_LIMITS: dict[int, dict[str, int | None]] = {
    4: {"balance_cap": 10_000 * YUAN, "single_payment_limit": 2_000 * YUAN,
        "daily_outflow_limit": 5_000 * YUAN, "annual_outflow_limit": 50_000 * YUAN},
    3: {"balance_cap": 20_000 * YUAN, "single_payment_limit": 5_000 * YUAN,
        "daily_outflow_limit": 10_000 * YUAN, "annual_outflow_limit": None},
    2: {"balance_cap": 500_000 * YUAN, "single_payment_limit": 50_000 * YUAN,
        "daily_outflow_limit": 100_000 * YUAN, "annual_outflow_limit": None},
    1: {"balance_cap": None, "single_payment_limit": None, "daily_outflow_limit": None,
        "annual_outflow_limit": None},
}
DEFAULT_WALLET_POLICY: dict[str, int | None] = {
    "password_free_daily_limit": 1_000 * YUAN,
    "static_qr_daily_limit": 500 * YUAN,
    "minimum_age": 18,
}
TIER_FIELDS = ("balance_cap", "single_payment_limit", "daily_outflow_limit", "annual_outflow_limit")
AMOUNT_POLICY_FIELDS = ("password_free_daily_limit", "static_qr_daily_limit")
MINIMUM_AGE_RANGE = (16, 100)
REASON_MAX = 500


@dataclass(frozen=True)
class TierLimits:
    """One tier's limits in fen; None = no limit."""

    tier: int
    balance_cap: int | None
    single_payment_limit: int | None
    daily_outflow_limit: int | None
    annual_outflow_limit: int | None
    updated_at: datetime | None = None
    updated_by_staff_id: int | None = None


@dataclass(frozen=True)
class WalletWidePolicy:
    password_free_daily_limit: int | None
    static_qr_daily_limit: int | None
    minimum_age: int
    updated_at: datetime | None = None
    updated_by_staff_id: int | None = None


@dataclass(frozen=True)
class WalletLimits:
    """What binds one wallet now: its tier's limits, the confirmation caps and its restrictions.

    The money package enforces these (SPEC §6); `can_pay` / `can_receive` sum up the status flags.
    """

    wallet_id: int
    tier: int
    balance_cap: int | None
    single_payment_limit: int | None
    daily_outflow_limit: int | None
    annual_outflow_limit: int | None
    password_free_daily_limit: int | None
    static_qr_daily_limit: int | None
    frozen: bool
    closed: bool
    outflow_restricted: bool
    outflow_restriction_reason: str | None

    @property
    def can_pay(self) -> bool:
        return not (self.frozen or self.closed or self.outflow_restricted)

    @property
    def can_receive(self) -> bool:
        return not (self.frozen or self.closed)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def ensure_default_policy(session: Session) -> None:
    """Insert the default rows that are missing (none on a migrated database); never overwrites a row."""
    now = datetime.now(UTC)
    insert = _insert(session)
    for tier, limits in DEFAULT_TIER_LIMITS.items():
        session.execute(
            insert(TierPolicy).values(tier=tier, updated_at=now, **limits).on_conflict_do_nothing(
                index_elements=["tier"]
            )
        )
    session.execute(
        insert(WalletPolicy).values(id=1, updated_at=now, **DEFAULT_WALLET_POLICY).on_conflict_do_nothing(
            index_elements=["id"]
        )
    )


def _tier_row(session: Session, tier: int, *, lock: bool = False, share: bool = False) -> TierPolicy:
    stmt = select(TierPolicy).where(TierPolicy.tier == tier).execution_options(populate_existing=True)
    if lock or share:
        stmt = stmt.with_for_update(read=share and not lock)
    row = session.scalar(stmt)
    if row is None:
        ensure_default_policy(session)
        row = session.scalar(stmt)
    assert row is not None
    return row


def _wallet_row(session: Session, *, lock: bool = False) -> WalletPolicy:
    stmt = select(WalletPolicy).where(WalletPolicy.id == 1).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        ensure_default_policy(session)
        row = session.scalar(stmt)
    assert row is not None
    return row


def _limits(row: TierPolicy) -> TierLimits:
    return TierLimits(
        tier=row.tier, balance_cap=row.balance_cap, single_payment_limit=row.single_payment_limit,
        daily_outflow_limit=row.daily_outflow_limit, annual_outflow_limit=row.annual_outflow_limit,
        updated_at=row.updated_at, updated_by_staff_id=row.updated_by_staff_id,
    )


def _wide(row: WalletPolicy) -> WalletWidePolicy:
    return WalletWidePolicy(
        password_free_daily_limit=row.password_free_daily_limit, static_qr_daily_limit=row.static_qr_daily_limit,
        minimum_age=row.minimum_age, updated_at=row.updated_at, updated_by_staff_id=row.updated_by_staff_id,
    )


def check_tier(tier: Any) -> int:
    if type(tier) is not int or tier not in TIERS:
        raise QianbaoError("TIER_INVALID", tier=str(tier)[:10])
    return tier


def tier_policy(session: Session, tier: int) -> TierLimits:
    return _limits(_tier_row(session, check_tier(tier)))


def all_tiers(session: Session) -> list[TierLimits]:
    """Every tier's limits, tier 4 (the least verified) first: the order of the consultation page."""
    rows = {row.tier: row for row in session.scalars(select(TierPolicy))}
    if len(rows) < len(TIERS):
        ensure_default_policy(session)
        rows = {row.tier: row for row in session.scalars(select(TierPolicy))}
    return [_limits(rows[tier]) for tier in sorted(TIERS, reverse=True)]


def wallet_policy(session: Session) -> WalletWidePolicy:
    return _wide(_wallet_row(session))


def minimum_age(session: Session) -> int:
    return _wallet_row(session).minimum_age


def balance_cap_for(session: Session, tier: int) -> int | None:
    """The tier's balance cap, read under a shared lock on the policy row (PostgreSQL FOR SHARE).

    A wallet entering the tier (opening, upgrade, downgrade) takes this lock until it commits, and a cap
    change takes the row exclusively: so either the change waits and its set-based UPDATE sees the
    wallet already in the tier, or the wallet waits and reads the new cap. Never a stale cap.
    """
    return _tier_row(session, tier, share=True).balance_cap


def check_reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise QianbaoError("REASON_REQUIRED")
    if len(text) > REASON_MAX:
        raise QianbaoError("REASON_TOO_LONG", max=REASON_MAX)
    return text


def _check_amount(field: str, value: Any) -> int | None:
    if value is None or (type(value) is int and 0 <= value <= MAX_FEN):
        return value
    raise QianbaoError("POLICY_VALUE_INVALID", field=field)


def _check_order(values: Mapping[str, int | None]) -> None:
    """single ≤ daily ≤ annual among those that are set (a missing one is no limit, so it never binds)."""
    ordered = [values[field] for field in ("single_payment_limit", "daily_outflow_limit", "annual_outflow_limit")]
    present = [value for value in ordered if value is not None]
    if any(a > b for a, b in itertools.pairwise(present)):
        raise QianbaoError("POLICY_LIMITS_ORDER")


def update_tier_policy(
    session: Session, tier: int, changes: Mapping[str, int | None], by_staff_id: int, reason: str
) -> TierLimits:
    """Change some of a tier's limits (fen; None = no limit), audited with the reason; returns the new limits.

    Refusals: TIER_INVALID, POLICY_VALUE_INVALID {field} (unknown field, not an int, negative, too large),
    POLICY_LIMITS_ORDER (single ≤ daily ≤ annual where set), REASON_REQUIRED, POLICY_UNCHANGED.
    A new balance cap is applied to the ledger cap of every wallet of the tier in the same transaction.
    """
    check_tier(tier)
    text = check_reason(reason)
    unknown = [field for field in changes if field not in TIER_FIELDS]
    if unknown:
        raise QianbaoError("POLICY_VALUE_INVALID", field=str(unknown[0])[:40])
    clean = {field: _check_amount(field, value) for field, value in changes.items()}
    row = _tier_row(session, tier, lock=True)
    before = {field: getattr(row, field) for field in TIER_FIELDS}
    after = {**before, **clean}
    _check_order(after)
    if after == before:
        raise QianbaoError("POLICY_UNCHANGED")
    for field, value in clean.items():
        setattr(row, field, value)
    row.updated_at = datetime.now(UTC)
    row.updated_by_staff_id = by_staff_id
    session.flush()
    recapped = 0
    if after["balance_cap"] != before["balance_cap"]:
        recapped = apply_tier_cap(session, tier, after["balance_cap"])
    audit.record(
        session, action="policy.tier.update", actor=audit.Actor.staff(by_staff_id), channel="ops",
        object_type="tier_policy", object_id=tier,
        details={"tier": tier, "before": before, "after": after, "reason": text, "wallets_recapped": recapped},
    )
    return _limits(row)


def apply_tier_cap(session: Session, tier: int, cap: int | None) -> int:
    """Set the ledger cap of every wallet of `tier` to `cap` in one UPDATE; returns how many accounts.

    This writes the ledger's own columns (cap and cap_changed_at, as `ledger.set_cap` does, one account
    at a time) because a policy change may touch millions of wallets: one statement, one transaction.
    """
    accounts = select(Wallet.ledger_account_id).where(Wallet.tier == tier).scalar_subquery()
    result = session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id.in_(accounts))
        .values(cap=cap, cap_changed_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def update_wallet_policy(
    session: Session, changes: Mapping[str, int | None], by_staff_id: int, reason: str
) -> WalletWidePolicy:
    """Change the confirmation caps (fen; None = no cap) or the minimum age (16–100), audited."""
    text = check_reason(reason)
    clean: dict[str, int | None] = {}
    for field, value in changes.items():
        if field in AMOUNT_POLICY_FIELDS:
            clean[field] = _check_amount(field, value)
        elif field == "minimum_age":
            low, high = MINIMUM_AGE_RANGE
            if type(value) is not int or not low <= value <= high:
                raise QianbaoError("POLICY_VALUE_INVALID", field=field)
            clean[field] = value
        else:
            raise QianbaoError("POLICY_VALUE_INVALID", field=str(field)[:40])
    row = _wallet_row(session, lock=True)
    fields = (*AMOUNT_POLICY_FIELDS, "minimum_age")
    before = {field: getattr(row, field) for field in fields}
    after = {**before, **clean}
    if after == before:
        raise QianbaoError("POLICY_UNCHANGED")
    for field, value in clean.items():
        setattr(row, field, value)
    row.updated_at = datetime.now(UTC)
    row.updated_by_staff_id = by_staff_id
    session.flush()
    audit.record(
        session, action="policy.wallet.update", actor=audit.Actor.staff(by_staff_id), channel="ops",
        object_type="wallet_policy", object_id=1, details={"before": before, "after": after, "reason": text},
    )
    return _wide(row)


def wallet_limits(session: Session, wallet: Wallet) -> WalletLimits:
    """The limits that bind `wallet` now (its tier's, the confirmation caps, its status and restriction)."""
    tier = tier_policy(session, wallet.tier)
    wide = wallet_policy(session)
    return WalletLimits(
        wallet_id=wallet.id, tier=wallet.tier, balance_cap=tier.balance_cap,
        single_payment_limit=tier.single_payment_limit, daily_outflow_limit=tier.daily_outflow_limit,
        annual_outflow_limit=tier.annual_outflow_limit, password_free_daily_limit=wide.password_free_daily_limit,
        static_qr_daily_limit=wide.static_qr_daily_limit, frozen=wallet.is_frozen, closed=wallet.status == CLOSED,
        outflow_restricted=wallet.outflow_restricted, outflow_restriction_reason=wallet.outflow_restriction_reason,
    )
