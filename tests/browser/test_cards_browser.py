"""A customer binds a bank card, tops up (seeing "processing" turn into "done" as the page polls), and withdraws,
in Chromium, against the real sandbox bank process (SPEC §5, §6.2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))

import card_helpers
import pytest
from card_helpers import LI_MING, PIN, YUAN, Flow
from customer_browser_helpers import phone_context, screenshot, signed_in_cookie, watch_console
from playwright.sync_api import BrowserContext, expect

from qianbao.db import Database
from qianbao.settings import Settings

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture(scope="session")
def card_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return card_helpers.start_bank(tmp_path_factory)


@pytest.fixture
def bank_client(card_bank_process: Any) -> Iterator[Any]:
    yield from card_helpers.bank_client_of(card_bank_process)


@pytest.fixture
def flow(db: Database, settings: Settings, app: Any, bank_client: Any, keyring: Any) -> Iterator[Flow]:
    yield from card_helpers.flow_over(db, settings, app, bank_client)


def test_bind_a_card_top_up_see_processing_then_done_and_withdraw(
    flow: Flow, new_context: Callable[..., BrowserContext], live_server: Any,
) -> None:
    holder = flow.holder(LI_MING)
    number = flow.bank_card(holder, balance=5_000 * YUAN)
    context = phone_context(new_context)
    signed_in_cookie(context, flow.db, flow.settings, holder.customer_id, live_server.url)
    page = context.new_page()
    errors = watch_console(page)

    # Bind: the card, then the code the bank texted.
    page.goto("/app/cards")
    page.get_by_test_id("card-add").click()
    page.get_by_label("银行卡号").fill(" ".join(number[i:i + 4] for i in range(0, len(number), 4)))
    page.get_by_label("持卡人姓名").fill(holder.name)
    page.get_by_label("身份证号").fill(holder.id_number)
    page.get_by_label("银行预留手机号").fill(holder.phone)
    page.get_by_test_id("card-bind-submit").click()
    expect(page.get_by_test_id("card-otp-intro")).to_contain_text(number[-4:])
    screenshot(page, "customer-card-code.png")
    page.get_by_label("银行短信验证码").fill(flow.bank_client.latest_otp(holder.phone))
    page.get_by_test_id("card-otp-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("二类钱包")
    expect(page.get_by_test_id("card-last4")).to_contain_text(number[-4:])
    assert number not in page.content()
    screenshot(page, "customer-cards.png")

    # Top up: processing while the bank works, done once its callback arrives (the page polls by itself).
    page.goto("/app/topup")
    page.get_by_label("充值金额（元）").fill("1500")
    page.get_by_test_id("topup-submit").click()
    status = page.get_by_test_id("movement-status")
    expect(status).to_have_attribute("data-status", "processing")
    expect(status).to_contain_text("充值处理中")
    screenshot(page, "customer-topup-processing.png")
    reference = page.get_by_test_id("movement-reference").inner_text()
    flow.settle(reference)
    flow.deliver()
    expect(status).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(status).to_contain_text("充值成功")
    assert flow.balance(holder).posted == 1_500 * YUAN

    # Withdraw: the fee is shown before the PIN; the bank pays out.
    page.goto("/app/withdraw")
    page.get_by_label("提现金额（元）").fill("1200")
    page.get_by_test_id("withdraw-next").click()
    expect(page.get_by_test_id("quote-fee")).to_have_text("¥0.20")
    expect(page.get_by_test_id("quote-total")).to_contain_text("¥1,200.20")
    screenshot(page, "customer-withdraw-confirm.png")
    page.get_by_label("支付密码").fill(PIN)
    page.get_by_test_id("withdraw-confirm").click()
    expect(status).to_have_attribute("data-status", "processing")
    flow.settle(page.get_by_test_id("movement-reference").inner_text())
    flow.deliver()
    expect(status).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(status).to_contain_text("提现成功")
    assert flow.balance(holder).posted == 300 * YUAN - 20
    assert flow.card_balance(number) == 5_000 * YUAN - 1_500 * YUAN + 1_200 * YUAN
    assert errors == []


def test_a_withdrawal_confirmed_with_a_passkey_instead_of_the_pin(
    flow: Flow, new_context: Callable[..., BrowserContext], live_server: Any,
) -> None:
    holder = flow.holder(LI_MING)
    bound = flow.bind_at_bank(holder)
    flow.fund(holder, bound.id, 800 * YUAN)
    origin = f"http://localhost:{live_server.port}"  # WebAuthn wants a domain as the relying party id
    context = phone_context(new_context)
    page = context.new_page()
    errors = watch_console(page)
    signed_in_cookie(context, flow.db, flow.settings, holder.customer_id, origin)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    page.goto(f"{origin}/app/security")
    page.get_by_test_id("passkey-add").click()
    page.wait_for_url("**/app/security?done=passkey_added")

    page.goto(f"{origin}/app/withdraw")
    page.get_by_label("提现金额（元）").fill("500")
    page.get_by_test_id("withdraw-next").click()
    expect(page.get_by_test_id("quote-fee")).to_have_text("¥0.00")
    page.get_by_test_id("withdraw-passkey").click()
    status = page.get_by_test_id("movement-status")
    expect(status).to_have_attribute("data-status", "processing")
    reference = page.get_by_test_id("movement-reference").inner_text()
    assert flow.operation(reference).confirmation == "passkey"
    assert flow.balance(holder).available == 300 * YUAN
    assert errors == []
