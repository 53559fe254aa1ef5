"""Pay a water bill and a parcel in Chromium: look up what is due, confirm with the PIN, the receipt, my
billers; then the postal express order in one tap; then a withholding agreement charges the next parcel,
and is cancelled."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from customer_browser_helpers import cheap, open_wallet, phone_context, screenshot, signed_in_cookie, watch_console
from playwright.sync_api import BrowserContext, expect

from qianbao import ledger, merchants, payments, wallets
from qianbao.adapters.billers.references import with_check_digit
from qianbao.money import parse_yuan
from qianbao.payments import Order, Party, parcels

pytestmark = pytest.mark.browser

PIN = "258036"
PHONE = "13933330003"
WATER = with_check_digit("310012345")


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings).model_copy(update={"biller_latency_ms": 0})


def test_a_customer_pays_a_water_bill_and_a_parcel(
    new_context: Callable[..., BrowserContext], live_server, db, settings,  # type: ignore[no-untyped-def]
) -> None:
    customer_id = open_wallet(db, settings, PHONE)
    with db.transaction() as session:
        wallets.set_payment_pin(session, customer_id, PIN, settings=settings)
        wallet = wallets.wallet_of_customer(session, customer_id)
        assert wallet is not None
        clearing = payments.system_account(session, "bank_clearing:ICBC")
        payments.execute(session, Order(key="browser-fund", kind="topup", payer=Party.account(clearing, "工商银行"),
                                        payee=Party.wallet(wallet.id), amount=500_00, confirmation="system",
                                        channel="system"))
        account = wallet.ledger_account_id
        order = parcels.create_shipping_order(session, customer_id=customer_id, receiver_city="杭州",
                                              weight_grams=2_300)
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)

    # the bill
    page.goto("/app/bills")
    page.get_by_test_id("biller-SH-WATER").click()
    page.get_by_label("户号 / 缴费号码").fill(WATER[:-1] + str((int(WATER[-1]) + 1) % 10))
    page.get_by_test_id("bill-lookup").click()
    expect(page.locator("#reference-error")).to_contain_text("户号有误")
    page.get_by_label("户号 / 缴费号码").fill(WATER)
    page.get_by_test_id("bill-lookup").click()
    expect(page.get_by_test_id("due-biller")).to_have_text("上海市自来水")
    amount_text = page.get_by_test_id("due-amount").inner_text()
    screenshot(page, "customer-bill-confirm.png")
    page.get_by_label("支付密码").fill(PIN)
    page.get_by_test_id("bill-pay").click()
    expect(page.get_by_test_id("bill-receipt")).to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("receipt-amount")).to_have_text(amount_text)
    expect(page.get_by_test_id("receipt-confirmation")).not_to_be_empty()
    screenshot(page, "customer-bill-receipt.png")
    paid_fen = parse_yuan(amount_text.replace("¥", "").replace(",", ""))

    page.goto("/app/bills")
    expect(page.get_by_test_id("saved-biller")).to_contain_text(WATER[:4])
    screenshot(page, "customer-bills.png")
    page.get_by_test_id("saved-lookup").click()
    expect(page.get_by_test_id("nothing-due")).to_be_visible()

    # the parcel
    page.goto("/app")
    page.get_by_role("link", name="寄快递").click()
    expect(page.get_by_test_id(f"parcel-{order.order_no}")).to_contain_text("杭州")
    expect(page.get_by_test_id(f"parcel-{order.order_no}").get_by_test_id("parcel-price")).to_contain_text("18.00")
    screenshot(page, "customer-parcels.png")
    page.get_by_test_id(f"parcel-{order.order_no}").get_by_label("支付密码").fill(PIN)
    page.get_by_test_id("parcel-pay").click()
    expect(page.get_by_test_id("notice")).to_contain_text("运费已支付")
    expect(page.get_by_test_id("parcels-none-waiting")).to_be_visible()
    expect(page.get_by_test_id("parcels-history")).to_contain_text(order.order_no)

    # a withholding agreement: the next parcel is charged when it is sent, then the agreement is cancelled
    page.get_by_test_id("parcels-agreement-link").click()
    page.get_by_label("单笔额度（元）").fill("50")
    page.get_by_label("每月额度（元）").fill("200")
    page.get_by_label("支付密码").fill(PIN)
    page.get_by_test_id("agreement-sign").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已开通免密代扣")
    expect(page.get_by_test_id("agreement")).to_have_attribute("data-status", "active")
    screenshot(page, "customer-agreements.png")
    with db.transaction() as session:
        charged = parcels.create_shipping_order(session, customer_id=customer_id, receiver_city="上海",
                                                weight_grams=800)
    assert (charged.status, charged.paid_via) == ("paid", "withholding")
    page.goto("/app/agreements")
    expect(page.get_by_test_id("agreement-used")).to_contain_text("10.00")
    page.get_by_test_id("agreement-cancel").click()
    expect(page.get_by_test_id("agreement")).to_have_attribute("data-status", "cancelled")
    page.goto("/app/parcels")
    expect(page.get_by_test_id("parcels-history")).to_contain_text("免密代扣")
    assert errors == []

    with db.read() as session:
        assert ledger.balance(session, account).posted == 500_00 - paid_fen - 18_00 - 10_00
        billers_account = ledger.account_by_code(session, "BILLER-SH-WATER")
        assert billers_account is not None and ledger.balance(session, billers_account.id).posted == paid_fen
    with db.transaction() as session:
        postal = merchants.postal_express(session).ledger_account_id
        assert ledger.balance(session, postal).posted == 28_00
