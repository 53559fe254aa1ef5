"""The ops overview's figures (issue 5): real counts from the database — real-name submissions waiting for
review and the oldest wait, wallets by tier, wallets opened today (Asia/Shanghai) by channel — and empty
states when there is nothing to count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ops_helpers import (
    HTML,
    LI_MING,
    cheap_argon2,
    pending,
    register,
    submit,
    visible,
)

from qianbao.settings import Settings

# 00:10 on 25 November in Shanghai is still the 24th in UTC.
JUST_AFTER_MIDNIGHT = datetime(2026, 11, 24, 16, 10, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return cheap_argon2(settings)


def tile(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</section>', page, re.S)
    assert match, testid
    return visible(match.group(1))


def test_the_overview_counts_the_kyc_queue_and_its_oldest_wait(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(JUST_AFTER_MIDNIGHT, tick=False):
        pending(db, settings)
    with time_machine.travel(JUST_AFTER_MIDNIGHT + timedelta(hours=20), tick=False):
        pending(db, settings)
    with time_machine.travel(JUST_AFTER_MIDNIGHT + timedelta(hours=26), tick=False):
        page = staff_client("operator").get("/ops", headers=HTML).text
    kyc = tile(page, "tile-kyc")
    assert kyc.startswith("实名审核 2 件实名申请待审核 最早的一件已等待 1 天 2 小时 1 件已超过 24 小时处理时限")
    assert "暂无待审核的实名申请" not in page


def test_the_overview_counts_wallets_by_tier_and_the_wallets_opened_today_by_channel(
    db, settings, staff_client  # type: ignore[no-untyped-def]
) -> None:
    with time_machine.travel(JUST_AFTER_MIDNIGHT - timedelta(minutes=20), tick=False):
        register(db, settings)  # 23:50 on the 24th in Shanghai: yesterday
    with time_machine.travel(JUST_AFTER_MIDNIGHT, tick=False):
        verified = register(db, settings)
        submit(db, settings, verified, *LI_MING)
        page = staff_client("auditor").get("/ops", headers=HTML).text
    by_tier = tile(page, "wallets-by-tier")
    assert "4类 1 3类 1 2类 0 1类 0" in by_tier and "共 2 个未销户钱包" in by_tier
    assert tile(page, "wallets-today").endswith("手机银行 App 1 柜面 0")


def test_an_empty_overview_shows_empty_states_not_zeros(staff_client) -> None:  # type: ignore[no-untyped-def]
    page = staff_client("operator").get("/ops", headers=HTML).text
    assert "暂无待审核的实名申请" in tile(page, "tile-kyc")
    assert "还没有开通任何钱包" in tile(page, "wallets-by-tier")
    assert "今天还没有新开钱包" in tile(page, "wallets-today")
    assert 'class="stat-value"' not in page
