"""A cashier in the browser: signs in to the merchant pages, makes a checkout, and the checkout page shows the
QR code and turns to "paid" by itself (htmx polling) when the customer pays; then refunds from the order page."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from qianbao import audit, merchants, payments, wallets
from qianbao.payments import Order, Party

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Any) -> Any:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def _wallet(db: Any, settings: Any, fen: int) -> int:
    phone = "+8613912345678"
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, None, "zh-CN", send=False, settings=settings)
    with db.transaction() as session:
        _customer, wallet = wallets.complete_registration(session, phone, issued.code, "Lantern-Harbour-42", True,
                                                          settings=settings)
        clearing = payments.system_account(session, "bank_clearing:TESTBANK")
        payments.execute(session, Order(key="browser-topup", kind="topup", payer=Party.account(clearing, "测试银行"),
                                        payee=Party.wallet(wallet.id), amount=fen, confirmation="system",
                                        channel="system"))
        return int(wallet.id)


def test_a_cashiers_checkout_turns_to_paid_by_itself(page: Page, live_server, db, settings) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        created = merchants.create_merchant(session, name_zh="邮政便利店", name_en="Post Convenience Store",
                                            category="retail", mdr_bp=60, by=audit.Actor.system("test"),
                                            settings=settings)
        number, password = created.credentials.merchant_no, created.credentials.password
    wallet_id = _wallet(db, settings, 10_000)

    page.goto("/m")
    expect(page).to_have_url(re.compile(r"/m/login\?next="))
    page.get_by_label("商户号").fill(number)
    page.get_by_label("密码").fill(password or "")
    page.get_by_role("button", name="登录").click()
    page.get_by_label("金额（元）").fill("8.80")
    page.get_by_label("商品描述").fill("报纸一份")
    page.get_by_role("button", name="生成收款码").click()

    expect(page.get_by_test_id("checkout-amount")).to_have_text("¥8.80")
    expect(page.get_by_test_id("checkout-qr")).to_be_visible()
    token = page.url.rsplit("/", 1)[1]
    if os.environ.get("QIANBAO_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["QIANBAO_SCREENSHOTS"], "merchant-checkout.png"))

    with db.transaction() as session:
        merchants.pay_order(session, token, wallet_id, "pin", "browser-pay")
    expect(page.get_by_test_id("checkout-paid")).to_be_visible(timeout=8_000)
    expect(page.get_by_test_id("checkout-qr")).to_have_count(0)

    page.goto(f"/m/orders/{token}")
    page.get_by_label("退款金额（元）").fill("3")
    page.get_by_role("button", name="退款", exact=True).click()
    expect(page.get_by_test_id("notice")).to_be_visible()
    expect(page.get_by_test_id("order-state")).to_have_text("部分退款")
