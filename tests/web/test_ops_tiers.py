"""The tiers-and-limits policy in the ops console (issue 5 item 4, SPEC §2): the four tiers' limits, the
confirmation caps and the minimum age read from the policy tables; an operator edits them in yuan (blank =
no limit) with a required reason; each change is audited and a new balance cap reaches the ledger; a bad
value is refused next to its field with what was typed kept; auditors read only."""

from __future__ import annotations

import re

import pytest
from ops_helpers import (
    HTML,
    audit_entries,
    cheap_argon2,
    error_code,
    post,
    register,
    visible,
)

from qianbao import ledger, wallets
from qianbao.settings import Settings

TIER4 = {"balance_cap": "10000.00", "single_payment_limit": "2000.00", "daily_outflow_limit": "5000.00",
         "annual_outflow_limit": "50000.00"}
WIDE = {"password_free_daily_limit": "1000.00", "static_qr_daily_limit": "500.00", "minimum_age": "18"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return cheap_argon2(settings)


def tier_policy(db, tier: int) -> wallets.TierLimits:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return wallets.tier_policy(session, tier)


def wide_policy(db) -> wallets.WalletWidePolicy:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return wallets.wallet_policy(session)


def row_text(page: str, tier: int) -> str:
    match = re.search(rf'<tr data-testid="tier-row-{tier}">(.*?)</tr>', page, re.S)
    assert match
    return visible(match.group(1))


def field_error(page: str, field_id: str) -> tuple[str, str]:
    match = re.search(rf'id="{field_id}-error" data-testid="field-error" data-code="([A-Z_]+)">([^<]*)<', page)
    assert match, f"no error shown at {field_id}"
    return match.group(1), match.group(2)


def test_the_page_shows_each_tier_the_confirmation_caps_and_the_minimum_age(staff_client) -> None:  # type: ignore[no-untyped-def]
    page = staff_client("operator").get("/ops/config/tiers", headers=HTML)
    assert page.status_code == 200
    assert row_text(page.text, 4).split("手机号验证")[1].split()[:4] == ["¥10,000.00", "¥2,000.00", "¥5,000.00",
                                                                     "¥50,000.00"]
    assert "¥20,000.00 ¥5,000.00 ¥10,000.00 不限" in row_text(page.text, 3)
    assert "¥500,000.00 ¥50,000.00 ¥100,000.00 不限" in row_text(page.text, 2)
    assert "不限 不限 不限 不限" in row_text(page.text, 1)
    policy = visible(page.text.split('data-testid="wallet-policy"')[1].split("</dl>")[0])
    assert policy == "> 小额免密日累计限额 ¥1,000.00 静态码支付日累计限额 ¥500.00 最低开户年龄 18 周岁"
    assert 'data-testid="tier-form-4"' in page.text and 'value="10000.00"' in page.text


def test_the_configuration_menu_opens_on_tiers_and_limits(staff_client) -> None:  # type: ignore[no-untyped-def]
    response = staff_client("auditor").get("/ops/config", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ops/config/tiers"


def test_an_operator_changes_a_limit_in_yuan_and_the_change_is_audited_with_its_reason(
    db, staff_client  # type: ignore[no-untyped-def]
) -> None:
    operator = staff_client("operator")
    response = post(operator, "/ops/config/tiers/4", **{**TIER4, "daily_outflow_limit": "4,000.50"},
                    reason="季度风控评估")
    assert response.status_code == 303 and response.headers["location"] == "/ops/config/tiers?done=tier4#tier4"
    assert tier_policy(db, 4).daily_outflow_limit == 4_000_50
    [entry] = audit_entries(db, "policy.tier.update", "success")
    assert (entry.actor_id, entry.channel) == (str(operator.staff.id), "ops")
    assert entry.details["before"]["daily_outflow_limit"] == 5_000_00
    assert entry.details["after"]["daily_outflow_limit"] == 4_000_50 and entry.details["reason"] == "季度风控评估"
    page = operator.get("/ops/config/tiers?done=tier4", headers=HTML).text
    assert "4类钱包的限额已更新" in page
    changes = visible(page.split('data-testid="policy-changes"')[1])
    assert "日累计支出限额: ¥5,000.00 → ¥4,000.50" in changes and "季度风控评估" in changes


def test_a_blank_field_means_no_limit(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    post(staff_client("operator"), "/ops/config/tiers/4", **{**TIER4, "annual_outflow_limit": ""}, reason="取消年累计")
    assert tier_policy(db, 4).annual_outflow_limit is None


def test_a_new_balance_cap_reaches_the_ledger_cap_of_every_wallet_of_the_tier(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holders = [register(db, settings) for _ in range(2)]
    post(staff_client("operator"), "/ops/config/tiers/4", **{**TIER4, "balance_cap": "8000"}, reason="下调余额上限")
    with db.read() as session:
        caps = {ledger.get_account(session, wallets.get_wallet(session, h.wallet_id).ledger_account_id).cap
                for h in holders}
    assert caps == {8_000_00}


def test_a_change_needs_a_reason_and_keeps_what_was_typed(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/tiers/3",
                    balance_cap="25000", single_payment_limit="5000", daily_outflow_limit="10000",
                    annual_outflow_limit="", reason="")
    assert response.status_code == 422
    assert field_error(response.text, "tier3-reason") == ("REASON_REQUIRED", "请填写原因。")
    assert 'id="tier3-balance_cap" name="balance_cap" type="text" value="25000"' in response.text
    assert tier_policy(db, 3).balance_cap == 20_000_00
    assert [e.details["code"] for e in audit_entries(db, "policy.tier.update", "refused")] == ["REASON_REQUIRED"]


def test_an_amount_that_is_not_money_is_refused_next_to_its_field(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/tiers/4", balance_cap="一万",
                    single_payment_limit="-5", daily_outflow_limit="5000.001", annual_outflow_limit="50000",
                    reason="测试")
    assert response.status_code == 422
    assert field_error(response.text, "tier4-balance_cap")[0] == "POLICY_AMOUNT_INVALID"
    assert field_error(response.text, "tier4-single_payment_limit")[0] == "POLICY_AMOUNT_INVALID"
    assert field_error(response.text, "tier4-daily_outflow_limit") == ("AMOUNT_TOO_MANY_DECIMALS",
                                                                       "金额最多保留两位小数。")
    assert 'value="一万"' in response.text and 'value="-5"' in response.text
    assert tier_policy(db, 4).balance_cap == 10_000_00


def test_limits_out_of_order_are_refused_above_the_form(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/tiers/4", **{**TIER4, "single_payment_limit": "6000"},
                    reason="测试")
    assert response.status_code == 422 and 'data-code="POLICY_LIMITS_ORDER"' in response.text
    assert "单笔限额 ≤ 日累计限额 ≤ 年累计限额" in response.text
    assert tier_policy(db, 4).single_payment_limit == 2_000_00


def test_a_form_that_changes_nothing_is_refused(staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/tiers/4", **TIER4, reason="没有变化")
    assert response.status_code == 422 and 'data-code="POLICY_UNCHANGED"' in response.text


def test_there_are_only_four_tiers(staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/tiers/5", **TIER4, reason="测试")
    assert response.status_code == 404


def test_zero_is_a_limit_that_allows_nothing(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    response = post(staff_client("operator"), "/ops/config/wallet-policy",
                    **{**WIDE, "password_free_daily_limit": "0"}, reason="暂停小额免密")
    assert response.status_code == 303
    assert wide_policy(db).password_free_daily_limit == 0


def test_the_minimum_age_is_edited_and_kept_between_16_and_100(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    assert post(operator, "/ops/config/wallet-policy", **{**WIDE, "minimum_age": "20"},
                reason="监管要求").status_code == 303
    assert wide_policy(db).minimum_age == 20
    for typed in ("15", "十八"):
        response = post(operator, "/ops/config/wallet-policy", **{**WIDE, "minimum_age": typed}, reason="测试")
        assert response.status_code == 422
        assert field_error(response.text, "wallet-minimum_age") == ("POLICY_AGE_INVALID",
                                                                    "最低开户年龄须为 16 至 100 之间的整数（周岁）。")
    assert wide_policy(db).minimum_age == 20
    [entry] = audit_entries(db, "policy.wallet.update", "success")
    assert entry.details["after"]["minimum_age"] == 20 and entry.details["reason"] == "监管要求"


def test_an_auditor_reads_the_policy_without_forms_and_is_refused_a_change(db, staff_client) -> None:  # type: ignore[no-untyped-def]
    auditor = staff_client("auditor")
    page = auditor.get("/ops/config/tiers", headers=HTML).text
    assert "¥10,000.00" in page and 'data-testid="read-only"' in page
    assert "<form" not in page.split('class="console-main"')[1]
    for path, data in (("/ops/config/tiers/4", {**TIER4, "balance_cap": "1"}), ("/ops/config/wallet-policy", WIDE)):
        response = post(auditor, path, **data, reason="审计")
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert tier_policy(db, 4).balance_cap == 10_000_00


def test_a_teller_is_refused_the_policy_pages(staff_client) -> None:  # type: ignore[no-untyped-def]
    teller = staff_client("teller")
    assert teller.get("/ops/config/tiers", headers=HTML).status_code == 403
    assert post(teller, "/ops/config/tiers/4", **TIER4, reason="柜员").status_code == 403


def test_the_policy_page_reads_in_english(staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    operator.cookies.set("lang", "en")
    text = visible(operator.get("/ops/config/tiers", headers=HTML).text)
    assert "Tiers and limits" in text and "Balance cap" in text and "No limit" in text and "CN¥10,000.00" in text
