"""Tiers and limits policy (SPEC §2): database tables with the defaults, edited with an audit record."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from wallet_helpers import LI_MING, OPERATOR, ZHAO_XIAOYU, Harness

from qianbao import ledger, wallets
from qianbao.audit.models import AuditEntry
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.wallets.models import TierPolicy

YUAN = 100


def _cap(db: Database, wallet_id: int) -> int | None:
    with db.read() as session:
        return ledger.get_account(session, wallets.get_wallet(session, wallet_id).ledger_account_id).cap


def test_the_policy_tables_hold_the_spec_defaults(db: Database) -> None:
    with db.read() as session:
        tiers = {t.tier: t for t in wallets.all_tiers(session)}
        wide = wallets.wallet_policy(session)
    assert (tiers[4].balance_cap, tiers[4].single_payment_limit, tiers[4].daily_outflow_limit,
            tiers[4].annual_outflow_limit) == (10_000 * YUAN, 2_000 * YUAN, 5_000 * YUAN, 50_000 * YUAN)
    assert (tiers[3].balance_cap, tiers[3].single_payment_limit, tiers[3].daily_outflow_limit,
            tiers[3].annual_outflow_limit) == (20_000 * YUAN, 5_000 * YUAN, 10_000 * YUAN, None)
    assert (tiers[2].balance_cap, tiers[2].single_payment_limit, tiers[2].daily_outflow_limit,
            tiers[2].annual_outflow_limit) == (500_000 * YUAN, 50_000 * YUAN, 100_000 * YUAN, None)
    assert (tiers[1].balance_cap, tiers[1].single_payment_limit, tiers[1].daily_outflow_limit,
            tiers[1].annual_outflow_limit) == (None, None, None, None)
    assert (wide.password_free_daily_limit, wide.static_qr_daily_limit, wide.minimum_age) == (
        1_000 * YUAN, 500 * YUAN, 18)


def test_all_tiers_lists_tier4_first_for_the_consultation_page(db: Database) -> None:
    with db.read() as session:
        assert [t.tier for t in wallets.all_tiers(session)] == [4, 3, 2, 1]


def test_an_emptied_policy_table_gets_the_defaults_back_on_first_read(db: Database) -> None:
    with db.transaction() as session:
        session.execute(TierPolicy.__table__.delete())
    with db.transaction() as session:
        assert wallets.tier_policy(session, 4).balance_cap == 10_000 * YUAN


def test_a_policy_change_is_saved_and_audited_with_its_reason(h: Harness, db: Database) -> None:
    h.run(wallets.update_tier_policy, 4, {"single_payment_limit": 1_500 * YUAN}, OPERATOR, "监管通知调整")
    with db.read() as session:
        assert wallets.tier_policy(session, 4).single_payment_limit == 1_500 * YUAN
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "policy.tier.update"))
    assert entry is not None and entry.actor_id == str(OPERATOR) and entry.channel == "ops"
    assert entry.details["reason"] == "监管通知调整"
    assert entry.details["before"]["single_payment_limit"] == 2_000 * YUAN
    assert entry.details["after"]["single_payment_limit"] == 1_500 * YUAN


def test_a_balance_cap_change_is_applied_to_the_ledger_cap_of_every_wallet_of_that_tier(
    h: Harness, db: Database
) -> None:
    tier4 = [h.register("13800138000"), h.register("13900139000")]
    tier3 = h.register("13700137000")
    h.real_name(tier3, LI_MING)
    h.run(wallets.update_tier_policy, 4, {"balance_cap": 8_000 * YUAN}, OPERATOR, "降低四类余额上限")
    assert [_cap(db, o.wallet_id) for o in tier4] == [8_000 * YUAN, 8_000 * YUAN]
    assert _cap(db, tier3.wallet_id) == 20_000 * YUAN
    h.run(wallets.update_tier_policy, 4, {"balance_cap": None}, OPERATOR, "取消上限")
    assert [_cap(db, o.wallet_id) for o in tier4] == [None, None]


def test_new_wallets_take_the_changed_cap(h: Harness, db: Database) -> None:
    h.run(wallets.update_tier_policy, 4, {"balance_cap": 9_000 * YUAN}, OPERATOR, "调整")
    assert _cap(db, h.register("13800138000").wallet_id) == 9_000 * YUAN


@pytest.mark.parametrize(("changes", "code"), [
    ({"balance_cap": -1}, "POLICY_VALUE_INVALID"),
    ({"balance_cap": 12.5}, "POLICY_VALUE_INVALID"),
    ({"balance_cap": True}, "POLICY_VALUE_INVALID"),
    ({"monthly_limit": 100}, "POLICY_VALUE_INVALID"),
    ({"single_payment_limit": 6_000 * YUAN}, "POLICY_LIMITS_ORDER"),
    ({"daily_outflow_limit": 60_000 * YUAN}, "POLICY_LIMITS_ORDER"),
    ({"single_payment_limit": 2_000 * YUAN}, "POLICY_UNCHANGED"),
])
def test_an_invalid_policy_change_is_refused_and_changes_nothing(
    h: Harness, db: Database, changes: dict, code: str
) -> None:
    assert h.refusal(wallets.update_tier_policy, 4, changes, OPERATOR, "test").code == code
    with db.read() as session:
        assert wallets.tier_policy(session, 4).single_payment_limit == 2_000 * YUAN


def test_a_policy_change_needs_a_reason(h: Harness) -> None:
    assert h.refusal(wallets.update_tier_policy, 4, {"balance_cap": 1}, OPERATOR, "").code == "REASON_REQUIRED"


def test_a_policy_change_names_a_real_tier(h: Harness) -> None:
    assert h.refusal(wallets.update_tier_policy, 5, {"balance_cap": 1}, OPERATOR, "x").code == "TIER_INVALID"


def test_an_unset_limit_never_binds_the_order_check(h: Harness, db: Database) -> None:
    # Tier 3 has no annual limit, so a daily limit above the old annual figures is fine.
    h.run(wallets.update_tier_policy, 3, {"daily_outflow_limit": 60_000 * YUAN}, OPERATOR, "调整")
    with db.read() as session:
        assert wallets.tier_policy(session, 3).daily_outflow_limit == 60_000 * YUAN


def test_the_confirmation_caps_and_minimum_age_are_configuration(h: Harness, db: Database) -> None:
    h.run(wallets.update_wallet_policy, {"password_free_daily_limit": 800 * YUAN, "minimum_age": 16}, OPERATOR,
          "调整")
    with db.read() as session:
        wide = wallets.wallet_policy(session)
    assert wide.password_free_daily_limit == 800 * YUAN and wide.minimum_age == 16
    assert h.refusal(wallets.update_wallet_policy, {"minimum_age": 12}, OPERATOR, "x").code == "POLICY_VALUE_INVALID"


def test_the_minimum_opening_age_comes_from_the_policy(h: Harness) -> None:
    opened = h.register("13800138000")
    h.run(wallets.update_wallet_policy, {"minimum_age": 30}, OPERATOR, "调整")
    with pytest.raises(QianbaoError) as caught:
        h.real_name(opened, ("刘洋", "510107200001010099"), valid_until=date(2028, 1, 10))  # 26 years old
    assert caught.value.code == "UNDER_AGE" and caught.value.params["minimum"] == 30


def test_a_lower_minimum_age_lets_a_16_year_old_open(h: Harness) -> None:
    opened = h.register("13800138000")
    h.run(wallets.update_wallet_policy, {"minimum_age": 16}, OPERATOR, "调整")
    assert h.real_name(opened, ZHAO_XIAOYU, valid_until=date(2027, 7, 1)).status == "approved"  # 16 since June


def test_wallet_limits_are_the_tiers_limits_with_the_confirmation_caps(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    with db.read() as session:
        limits = wallets.wallet_limits(session, wallets.get_wallet(session, opened.wallet_id))
    assert limits.tier == 4 and limits.single_payment_limit == 2_000 * YUAN
    assert limits.password_free_daily_limit == 1_000 * YUAN and limits.static_qr_daily_limit == 500 * YUAN
    assert limits.can_pay and limits.can_receive
