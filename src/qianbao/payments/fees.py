"""The fee schedule (收费标准, SPEC §6.3): one rule per operation kind, in `payments_fee_rule`.

A rule: `free_monthly` fen a wallet may move free of charge per Asia/Shanghai month; beyond it,
`rate_ppm` (parts per million) of the charged part, rounded half up to the fen, at least `min_fee`
and at most `max_fee` (None = no ceiling). A kind without a rule costs nothing.

Defaults (inserted by the migration, restored on first read of an emptied database):
withdrawal — 1,000 yuan a month free, then 0.1% with a minimum of 0.10 yuan; transfer — free.
The merchant discount rate is the merchant's (merchants package), not a customer fee.

The fee is quoted before the customer confirms (`quote_fee`) and the caller passes that figure to
`execute` as `Order.fee`; it posts to fee income in the same linked ledger group as the operation.
Operators change a rule with `update_fee_rule`, audited with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.ledger.validate import MAX_FEN
from qianbao.payments.limits import Buckets, used
from qianbao.payments.models import KINDS, FeeRule

YUAN = 100
DEFAULT_FEE_RULES: dict[str, dict[str, int | None]] = {
    "withdrawal": {"free_monthly": 1_000 * YUAN, "rate_ppm": 1_000, "min_fee": 10, "max_fee": None},
    "transfer": {"free_monthly": 0, "rate_ppm": 0, "min_fee": 0, "max_fee": None},
}
FEE_FIELDS = ("free_monthly", "rate_ppm", "min_fee", "max_fee")
REASON_MAX = 500


@dataclass(frozen=True)
class FeeSchedule:
    kind: str
    free_monthly: int
    rate_ppm: int
    min_fee: int
    max_fee: int | None
    updated_at: datetime | None = None
    updated_by_staff_id: int | None = None

    @property
    def is_free(self) -> bool:
        return self.rate_ppm == 0 and self.min_fee == 0

    def fee_for(self, amount: int, used_this_month: int = 0) -> int:
        """The fee for `amount` fen when `used_this_month` fen of the kind already went out this month."""
        if self.is_free:
            return 0
        free_left = max(self.free_monthly - used_this_month, 0)
        charged = max(amount - free_left, 0)
        if charged == 0:
            return 0
        fee = (charged * self.rate_ppm + 500_000) // 1_000_000
        fee = max(fee, self.min_fee)
        if self.max_fee is not None:
            fee = min(fee, self.max_fee)
        return fee


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def ensure_default_fee_rules(session: Session) -> None:
    now = datetime.now(UTC)
    for kind, values in DEFAULT_FEE_RULES.items():
        session.execute(
            _insert(session)(FeeRule).values(kind=kind, updated_at=now, **values)
            .on_conflict_do_nothing(index_elements=["kind"])
        )


def _view(row: FeeRule) -> FeeSchedule:
    return FeeSchedule(kind=row.kind, free_monthly=row.free_monthly, rate_ppm=row.rate_ppm, min_fee=row.min_fee,
                       max_fee=row.max_fee, updated_at=row.updated_at, updated_by_staff_id=row.updated_by_staff_id)



def _rows(session: Session) -> dict[str, FeeRule]:
    rows = {row.kind: row for row in session.scalars(select(FeeRule).execution_options(populate_existing=True))}
    if not rows:
        ensure_default_fee_rules(session)
        rows = {row.kind: row for row in session.scalars(select(FeeRule))}
    return rows


def fee_rules(session: Session) -> list[FeeSchedule]:
    """Every rule, in the order of the kinds (the ops console's table)."""
    rows = _rows(session)
    return [_view(rows[kind]) for kind in KINDS if kind in rows]


def fee_rule(session: Session, kind: str) -> FeeSchedule | None:
    row = _rows(session).get(kind)
    return None if row is None else _view(row)


def counted_kinds(session: Session, kind: str | None = None) -> frozenset[str]:
    """Kinds whose monthly total a fee rule needs (a free allowance that is not the whole fee); with `kind`,
    only that kind's rule is read (execute asks for its own kind on every payment)."""
    if kind is not None:
        row = session.get(FeeRule, kind)
        if row is None and kind in DEFAULT_FEE_RULES:
            row_rules = _rows(session)
            row = row_rules.get(kind)
        if row is None:
            return frozenset()
        rule = _view(row)
        return frozenset({kind}) if rule.free_monthly > 0 and not rule.is_free else frozenset()
    return frozenset(rule.kind for rule in fee_rules(session) if rule.free_monthly > 0 and not rule.is_free)


def quote_fee(session: Session, kind: str, amount: int, *, wallet_id: int | None = None,
              now: datetime | None = None) -> int:
    """The fee in fen for `amount` of `kind` paid by `wallet_id` now (its monthly free allowance counted)."""
    if kind not in KINDS:
        raise QianbaoError("PAYMENT_KIND_INVALID", kind=str(kind)[:24])
    if type(amount) is not int or amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    rule = fee_rule(session, kind)
    if rule is None or rule.is_free:
        return 0
    so_far = 0
    if wallet_id is not None and rule.free_monthly > 0:
        so_far = used(session, wallet_id, Buckets.at(now or datetime.now(UTC)).monthly(kind))
    return rule.fee_for(amount, so_far)


def _check_value(field: str, value: Any) -> int | None:
    if field == "max_fee" and value is None:
        return None
    if type(value) is not int or value < 0 or value > MAX_FEN:
        raise QianbaoError("POLICY_VALUE_INVALID", field=field)
    if field == "rate_ppm" and value > 1_000_000:
        raise QianbaoError("POLICY_VALUE_INVALID", field=field)
    return value


def update_fee_rule(session: Session, kind: str, changes: Mapping[str, int | None], by_staff_id: int,
                    reason: str) -> FeeSchedule:
    """Change (or create) the rule of `kind`, audited with the reason.

    Refusals: PAYMENT_KIND_INVALID, POLICY_VALUE_INVALID{field}, FEE_MIN_ABOVE_MAX, REASON_REQUIRED,
    REASON_TOO_LONG, POLICY_UNCHANGED.
    """
    from qianbao.wallets.policy import check_reason

    if kind not in KINDS:
        raise QianbaoError("PAYMENT_KIND_INVALID", kind=str(kind)[:24])
    text = check_reason(reason)
    unknown = [field for field in changes if field not in FEE_FIELDS]
    if unknown:
        raise QianbaoError("POLICY_VALUE_INVALID", field=str(unknown[0])[:40])
    clean = {field: _check_value(field, value) for field, value in changes.items()}
    _rows(session)
    row = session.scalar(select(FeeRule).where(FeeRule.kind == kind).with_for_update())
    if row is None:
        row = FeeRule(kind=kind, free_monthly=0, rate_ppm=0, min_fee=0, max_fee=None,
                      updated_at=datetime.now(UTC))
        session.add(row)
        session.flush()
    before = {field: getattr(row, field) for field in FEE_FIELDS}
    after = {**before, **clean}
    if after == before:
        raise QianbaoError("POLICY_UNCHANGED")
    if after["max_fee"] is not None and after["min_fee"] > after["max_fee"]:
        raise QianbaoError("FEE_MIN_ABOVE_MAX")
    for field, value in clean.items():
        setattr(row, field, value)
    row.updated_at = datetime.now(UTC)
    row.updated_by_staff_id = by_staff_id
    session.flush()
    audit.record(
        session, action="policy.fee.update", actor=audit.Actor.staff(by_staff_id), channel="ops",
        object_type="fee_rule", object_id=kind, details={"kind": kind, "before": before, "after": after,
                                                         "reason": text},
    )
    return _view(row)
