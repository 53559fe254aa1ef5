"""A transfer end to end in Chromium: the form, the recipient's masked name, the PIN, the result, the records."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from customer_browser_helpers import cheap, open_wallet, phone_context, screenshot, signed_in_cookie, watch_console
from playwright.sync_api import BrowserContext, expect

from qianbao import ledger, payments, wallets
from qianbao.payments import Order, Party

pytestmark = pytest.mark.browser

PIN = "258036"
SENDER, RECIPIENT = "13911110001", "13922220002"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def test_a_customer_transfers_to_a_mobile_number_and_sees_it_in_the_records(
    new_context: Callable[..., BrowserContext], live_server, db, settings,  # type: ignore[no-untyped-def]
) -> None:
    sender = open_wallet(db, settings, SENDER)
    recipient = open_wallet(db, settings, RECIPIENT)
    with db.transaction() as session:
        wallets.set_payment_pin(session, sender, PIN, settings=settings)
        wallet = wallets.wallet_of_customer(session, sender)
        assert wallet is not None
        clearing = payments.system_account(session, "bank_clearing:ICBC")
        payments.execute(session, Order(key="browser-fund", kind="topup", payer=Party.account(clearing, "工商银行"),
                                        payee=Party.wallet(wallet.id), amount=500_00, confirmation="system",
                                        channel="system"))
        sender_account = wallet.ledger_account_id
        target = wallets.wallet_of_customer(session, recipient)
        assert target is not None
        recipient_account = target.ledger_account_id
    context = phone_context(new_context)
    signed_in_cookie(context, db, settings, sender, live_server.url)
    page = context.new_page()
    errors = watch_console(page)

    page.goto("/app/transfer")
    page.get_by_label("收款人钱包号或手机号").fill(RECIPIENT)
    page.get_by_label("金额（元）").fill("88.80")
    page.get_by_label("备注").fill("生日快乐")
    page.get_by_test_id("transfer-next").click()

    expect(page.get_by_test_id("recipient-name")).to_have_text("139****0002")
    expect(page.get_by_test_id("preview-total")).to_contain_text("88.80")
    screenshot(page, "customer-transfer-confirm.png")
    page.get_by_label("支付密码").fill("000000")
    page.get_by_test_id("transfer-confirm").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("支付密码")
    page.get_by_label("支付密码").fill(PIN)
    page.get_by_test_id("transfer-confirm").click()

    expect(page.get_by_test_id("transfer-status")).to_have_attribute("data-status", "succeeded")
    reference = page.get_by_test_id("transfer-reference").inner_text()
    screenshot(page, "customer-transfer-done.png")

    page.goto("/app/records")
    first = page.get_by_test_id("record").first
    expect(first).to_have_attribute("data-reference", reference)
    expect(first).to_contain_text("转账")
    expect(first.get_by_test_id("record-amount")).to_contain_text("88.80")
    first.click()
    expect(page.get_by_test_id("record-counterparty")).to_contain_text("139****0002")
    assert errors == []

    with db.read() as session:
        assert ledger.balance(session, sender_account).posted == 500_00 - 88_80
        assert ledger.balance(session, recipient_account).posted == 88_80
