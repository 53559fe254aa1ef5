"""Each step of opening a wallet refuses bad input in the browser with its own message next to the form:
a wrong SMS code, a weak password, unaccepted terms, an under-age ID, a wrong check digit, a file that is not
an image, and a PIN like 123456."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from customer_browser_helpers import (
    PASSWORD,
    cheap,
    id_photo,
    open_wallet,
    phone_context,
    signed_in_cookie,
    sms_code,
    watch_console,
)
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

PHONE = "13912345678"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def _fill_registration(page: Page, code: str, password: str = PASSWORD, terms: bool = True) -> None:
    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("登录密码").fill(password)
    page.get_by_label("再次输入密码").fill(password)
    page.get_by_label("我已阅读并同意").set_checked(terms)
    page.get_by_test_id("open-wallet").click()


def test_registration_refuses_a_wrong_code_a_weak_password_and_unaccepted_terms(  # type: ignore[no-untyped-def]
    new_context: Callable[..., BrowserContext], db, settings
) -> None:
    page = phone_context(new_context).new_page()
    errors = watch_console(page)
    page.goto("/app/register")
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_test_id("send-code").click()
    code = sms_code(db, settings, PHONE)

    _fill_registration(page, "000000" if code != "000000" else "111111")
    expect(page.locator("#code-error")).to_have_text("验证码不正确，还可尝试 4 次。")
    expect(page.get_by_label("短信验证码")).to_have_attribute("aria-invalid", "true")

    _fill_registration(page, code, password="woaini1314")
    expect(page.locator("#password-error")).to_contain_text("过于常见")

    _fill_registration(page, code, terms=False)
    expect(page.locator("#terms-error")).to_contain_text("请阅读并同意服务协议和隐私政策")
    expect(page.get_by_label("短信验证码")).to_have_value(code)

    _fill_registration(page, code)
    page.wait_for_url("**/app?welcome=1")
    assert errors == []


def _realname(page: Page, tmp_path: Path, *, name: str, id_number: str, front: Path | None = None) -> None:
    page.goto("/app/realname")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("居民身份证号码").fill(id_number)
    page.get_by_label("长期有效").check()
    page.locator("#photo-front").set_input_files(front or id_photo(tmp_path, "front"))
    page.locator("#photo-back").set_input_files(id_photo(tmp_path, "back"))
    page.get_by_test_id("realname-submit").click()


def test_real_name_and_pin_refuse_an_under_age_id_a_wrong_check_digit_a_non_image_and_123456(  # type: ignore[no-untyped-def]
    new_context: Callable[..., BrowserContext], live_server, db, settings, tmp_path: Path
) -> None:
    customer_id = open_wallet(db, settings, PHONE)
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)

    _realname(page, tmp_path, name="赵小雨", id_number="330106201006010084")
    expect(page.locator("#id_number-error")).to_contain_text("开通钱包须年满18周岁")
    expect(page.get_by_label("居民身份证号码")).to_have_value("330106201006010084")

    _realname(page, tmp_path, name="王秀英", id_number="110105194912310021")
    expect(page.locator("#id_number-error")).to_contain_text("校验位不符")

    not_an_image = tmp_path / "scan.jpg"
    not_an_image.write_bytes(b"%PDF-1.4\nthis is a document, not a photo\n")
    _realname(page, tmp_path, name="刘洋", id_number="510107200001010099", front=not_an_image)
    expect(page.locator("#front-error")).to_contain_text("不是有效的图片")

    page.goto("/app/pin")
    page.get_by_role("textbox", name="支付密码", exact=True).fill("123456")
    page.get_by_label("再次输入支付密码").fill("123456")
    page.get_by_test_id("pin-submit").click()
    expect(page.locator("#pin-error")).to_contain_text("连续的数字")
    assert errors == []
