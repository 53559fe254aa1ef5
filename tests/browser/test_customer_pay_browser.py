"""Scan to pay in Chromium: a QR picture decoded in the browser by the vendored zxing-wasm, the phone camera
(Chromium's fake video capture playing a Y4M file of a QR code), and the payment code confirmed on the page."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import CHROMIUM, CHROMIUM_ARGS, LiveServer
from customer_browser_helpers import cheap, phone_context, signed_in_cookie, watch_console
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from qianbao.payments import emvqr, paycode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from customer_pay_helpers import PIN, YUAN, balance, holder, order_code, order_status, shop

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def picture(payload: str, path: Path) -> Path:
    path.write_bytes(emvqr.png(payload, scale=6))
    return path


def y4m(payload: str, path: Path, width: int = 640, height: int = 480, frames: int = 20) -> Path:
    """A short raw video (YUV4MPEG2, 4:2:0) of the QR code on white: what Chromium's fake camera plays."""
    code = Image.open(io.BytesIO(emvqr.png(payload, scale=4, border=4))).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(code, ((width - code.width) // 2, (height - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def pay_on_confirm_page(page: Page) -> None:
    expect(page.get_by_test_id("pay-merchant")).to_have_text("老王面馆")
    page.get_by_test_id("pay-pin").fill(PIN)
    page.get_by_test_id("pay-submit").click()
    expect(page.get_by_test_id("pay-done")).to_have_attribute("data-status", "succeeded")


def test_a_qr_picture_is_decoded_in_the_browser_and_paid(new_context: Callable[..., BrowserContext], live_server,
                                                         db, settings, tmp_path: Path) -> None:
    h = holder(db, settings, fund=500 * YUAN)
    s = shop(db, settings)
    payload = order_code(db, s, 2372)
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, h.customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)
    page.goto("/app/pay")
    expect(page.get_by_test_id("scan")).to_have_attribute("data-ready", "true")
    with page.expect_request("**/app/pay/scan") as sent:
        page.get_by_test_id("scan-picture").set_input_files(picture(payload, tmp_path / "code.png"))
    # The browser read the code: the server got the text, not the picture.
    assert payload in (sent.value.post_data or "")
    expect(page.get_by_test_id("pay-amount")).to_have_text("¥23.72")
    pay_on_confirm_page(page)
    expect(page.get_by_test_id("done-amount")).to_have_text("¥23.72")
    assert balance(db, h.account_id) == 500 * YUAN - 2372 and order_status(db, s, "T-1001") == "paid"
    assert errors == []


def test_a_refused_code_is_explained_on_the_scan_page(new_context: Callable[..., BrowserContext], live_server,
                                                      db, settings, tmp_path: Path) -> None:
    h = holder(db, settings, fund=500 * YUAN)
    s = shop(db, settings)
    payload = order_code(db, s, 2372)
    damaged = payload[:-4] + ("0000" if not payload.endswith("0000") else "0001")
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, h.customer_id, live_server.url)
    page = context.new_page()
    page.goto("/app/pay")
    page.get_by_text("手动输入收款码内容").click()
    page.get_by_test_id("scan-payload").fill(damaged)
    page.get_by_test_id("scan-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("校验失败")
    assert balance(db, h.account_id) == 500 * YUAN


@pytest.fixture
def camera_browser(playwright_instance: Playwright, tmp_path: Path, db, settings) -> Iterator[tuple[Browser, Any]]:  # type: ignore[no-untyped-def]
    s = shop(db, settings)
    payload = order_code(db, s, 1888, number="CAM-1")
    video = y4m(payload, tmp_path / "camera.y4m")
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])
    yield browser, s
    browser.close()


def test_the_camera_reads_the_merchants_code_and_the_customer_pays(camera_browser, live_server: LiveServer,
                                                                   db, settings) -> None:
    browser, s = camera_browser
    h = holder(db, settings, fund=500 * YUAN)
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    context.grant_permissions(["camera"], origin=live_server.url)
    signed_in_cookie(context, db, settings, h.customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)
    page.goto("/app/pay")
    expect(page.get_by_test_id("scan")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("scan-camera").click()
    expect(page.get_by_test_id("pay-amount")).to_have_text("¥18.88")
    pay_on_confirm_page(page)
    assert order_status(db, s, "CAM-1") == "paid" and balance(db, h.account_id) == 500 * YUAN - 1888
    assert errors == []
    context.close()


def test_the_payment_code_is_shown_charged_and_confirmed_with_the_pin(new_context: Callable[..., BrowserContext],
                                                                      live_server, db, settings) -> None:
    h = holder(db, settings, fund=500 * YUAN)
    s = shop(db, settings)
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, h.customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)
    page.goto("/app/paycode")
    digits = page.get_by_test_id("paycode-digits")
    expect(digits).to_have_text(re.compile(r"^88\d\d \d{4} \d{4} \d{6}$"))
    code = digits.inner_text().replace(" ", "")
    # The cashier scans it: a charge above the (unset) password-free threshold waits for the customer.
    with db.transaction() as session:
        from qianbao import merchants

        charge = paycode.charge(session, merchants.get_merchant(session, s.id), code, amount=120 * YUAN,
                                merchant_order_no="TILL-7", description="超市购物")
    assert charge.status == "awaiting"
    confirm = page.get_by_test_id("paycode-confirm")
    expect(confirm).to_contain_text("老王面馆")
    expect(confirm).to_contain_text("¥120.00")
    page.get_by_test_id("paycode-pin").fill(PIN)
    page.get_by_test_id("paycode-confirm-submit").click()
    expect(page.get_by_test_id("pay-done")).to_have_attribute("data-status", "succeeded")
    assert balance(db, h.account_id) == 380 * YUAN and order_status(db, s, "TILL-7") == "paid"
    assert errors == []
