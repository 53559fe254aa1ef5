"""A new user opens a wallet in the customer app, in a real browser at phone size: in Chinese from a fresh
database through registration, the opening notice, real-name with two ID photos and the payment PIN; and the
registration again in English."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from customer_browser_helpers import PASSWORD, cheap, id_photo, phone_context, screenshot, sms_code, watch_console
from playwright.sync_api import BrowserContext, expect

from qianbao.notices.delivery import deliver_due

pytestmark = pytest.mark.browser

PHONE = "13912345678"
# In the sandbox identity register (docs/identity.md): the verifier matches this name and number.
NAME, ID_NUMBER = "刘洋", "510107200001010099"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def test_a_new_user_opens_a_wallet_in_chinese_verifies_the_real_name_and_sets_the_pin(  # type: ignore[no-untyped-def]
    new_context: Callable[..., BrowserContext], db, settings, tmp_path: Path
) -> None:
    page = phone_context(new_context).new_page()
    errors = watch_console(page)
    page.goto("/app")
    page.get_by_role("link", name="立即开通").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("开通钱包")

    page.get_by_label("手机号").fill(PHONE)
    screenshot(page, "customer-register.png")
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-sent")).to_contain_text("139****5678")
    expect(page.get_by_test_id("resend")).to_be_disabled()
    expect(page.get_by_test_id("resend")).to_contain_text("秒后可重新获取")

    page.get_by_label("短信验证码").fill(sms_code(db, settings, PHONE))
    page.get_by_label("登录密码").fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_label("我已阅读并同意").check()
    page.get_by_test_id("open-wallet").click()

    page.wait_for_url("**/app?welcome=1")
    expect(page.get_by_test_id("welcome")).to_contain_text("钱包开通成功")
    expect(page.get_by_test_id("wallet-tier")).to_have_text("四类")
    expect(page.get_by_test_id("wallet-number")).to_have_text(re.compile(r"^\d{4} \d{4} \d{4} \d{4}$"))
    expect(page.get_by_test_id("wallet-holder")).to_have_text("139****5678")
    expect(page.get_by_test_id("wallet-balance")).to_have_text("¥0.00")

    deliver_due(db, settings)
    page.get_by_test_id("go-notices").click()
    expect(page.get_by_test_id("notices")).to_contain_text("钱包开通成功")

    page.goto("/app")
    page.get_by_test_id("go-realname").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("实名认证")
    page.get_by_label("姓名").fill(NAME)
    page.get_by_label("居民身份证号码").fill(ID_NUMBER)
    page.locator("#valid-until").fill("2035-06-30")
    page.locator("#photo-front").set_input_files(id_photo(tmp_path, "front"))
    page.locator("#photo-back").set_input_files(id_photo(tmp_path, "back"))
    screenshot(page, "customer-realname.png")
    page.get_by_test_id("realname-submit").click()

    expect(page.get_by_test_id("realname-status")).to_have_attribute("data-state", "approved")
    expect(page.get_by_role("heading", level=2)).to_have_text("实名认证已通过")
    page.get_by_test_id("go-pin").click()
    page.get_by_role("textbox", name="支付密码", exact=True).fill("258036")
    page.get_by_label("再次输入支付密码").fill("258036")
    page.get_by_test_id("pin-submit").click()
    expect(page.get_by_test_id("notice")).to_have_text("支付密码设置成功。")

    page.goto("/app")
    expect(page.get_by_test_id("wallet-tier")).to_have_text("三类")
    expect(page.get_by_test_id("wallet-holder")).to_have_text("刘*")
    expect(page.get_by_test_id("wallet-limits")).to_contain_text("¥20,000.00")
    screenshot(page, "customer-home-signed-in.png")
    assert errors == []


def test_registration_works_in_english(new_context: Callable[..., BrowserContext], db, settings) -> None:  # type: ignore[no-untyped-def]
    page = phone_context(new_context, locale="en-US").new_page()
    errors = watch_console(page)
    page.goto("/app/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a wallet")
    page.get_by_label("Mobile number").fill(PHONE)
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-sent")).to_contain_text("A code has been sent to 139****5678")
    expect(page.get_by_test_id("resend")).to_contain_text("New code in")
    page.get_by_label("SMS code").fill(sms_code(db, settings, PHONE))
    page.get_by_label("Login password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_label("I have read and accept").check()
    page.get_by_test_id("open-wallet").click()
    page.wait_for_url("**/app?welcome=1")
    expect(page.get_by_test_id("welcome")).to_contain_text("Your wallet is open!")
    expect(page.get_by_test_id("wallet-tier")).to_have_text("Tier 4")
    assert errors == []
