"""The customer app's cards, top-up and withdrawal pages over HTTP, against the real sandbox bank process."""

from __future__ import annotations

import re
from typing import Any

from card_helpers import LI_MING, PIN, PSBC_CREDIT, YUAN, Flow, hidden, location, web_client

from qianbao.cards.models import CardMovement


def _bind(flow: Flow, app: Any, browser: Any, prefix: str = "621799") -> tuple[str, str]:
    """Bind a card through the pages: (the card number, the page after binding)."""
    holder = browser.holder
    number = flow.bank_card(holder, prefix)
    page = browser.post("/app/cards/new", {"card_number": number, "holder_name": holder.name,
                                           "id_number": holder.id_number, "phone": holder.phone})
    assert page.status_code == 200, page.text[:400]
    action = re.search(r'action="(/app/cards/bindings/[^"]+)"', page.text)
    assert action is not None
    done = browser.post(action.group(1), {"otp": flow.bank_client.latest_otp(holder.phone)})
    return number, browser.get(location(done)).text


def test_binding_through_the_pages_shows_the_bank_the_last_four_and_the_new_tier(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    assert "还没有绑定银行卡" in browser.get("/app/cards").text
    number, page = _bind(flow, app, browser)
    assert "银行卡已绑定，您的钱包已升级为二类钱包。" in page
    assert "中国邮政储蓄银行" in page and number[-4:] in page and number not in page
    assert flow.tier(holder) == 2


def test_the_code_page_names_the_masked_phone_and_a_wrong_code_is_told_with_tries_left(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    number = flow.bank_card(holder)
    page = browser.post("/app/cards/new", {"card_number": number, "holder_name": holder.name,
                                           "id_number": holder.id_number, "phone": holder.phone})
    assert holder.phone[:3] + "****" + holder.phone[-4:] in page.text and number not in page.text
    action = re.search(r'action="(/app/cards/bindings/[^"]+)"', page.text)
    assert action is not None
    wrong = browser.post(action.group(1), {"otp": "000000"})
    assert wrong.status_code == 422 and "还可尝试 4 次" in wrong.text
    assert flow.cards(holder) == []


def test_a_refused_binding_is_told_next_to_the_form_without_the_number(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    number = flow.bank_card(holder)
    page = browser.post("/app/cards/new", {"card_number": number, "holder_name": "李敏",
                                           "id_number": holder.id_number, "phone": holder.phone})
    assert page.status_code == 422 and "只能绑定本人的银行卡" in page.text
    assert number not in page.text


def test_a_holder_without_real_name_is_sent_to_real_name_first(flow: Flow, app: Any) -> None:
    holder = flow.holder(None)
    page = web_client(flow, app, holder).get("/app/cards/new")
    assert 'data-testid="realname-needed"' in page.text and 'data-testid="card-bind-form"' not in page.text


def test_a_topup_page_shows_processing_polls_and_then_shows_done(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    form = browser.get("/app/topup").text
    card_id = re.search(r'name="card_id" value="([^"]+)" checked', form)
    assert card_id is not None
    posted = browser.post("/app/topup", {"card_id": card_id.group(1), "amount": "300.00",
                                         "client_key": hidden(form, "client_key")})
    status_path = location(posted)
    page = browser.get(status_path).text
    reference = status_path.rsplit("/", 1)[1]
    assert 'data-status="processing"' in page and f'hx-get="{status_path}/status"' in page
    assert 'hx-trigger="every 2s"' in page
    flow.settle(reference)
    flow.deliver()
    fragment = browser.get(status_path + "/status").text
    assert 'data-status="succeeded"' in fragment and "hx-get" not in fragment and "充值成功" in fragment
    assert flow.balance(holder).posted == 300 * YUAN


def test_submitting_the_same_topup_form_twice_is_one_topup(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    form = browser.get("/app/topup").text
    data = {"card_id": re.search(r'name="card_id" value="([^"]+)"', form).group(1),  # type: ignore[union-attr]
            "amount": "12.30", "client_key": hidden(form, "client_key")}
    assert location(browser.post("/app/topup", data)) == location(browser.post("/app/topup", data))
    assert flow.count(CardMovement) == 1


def test_a_withdrawal_shows_the_fee_before_the_pin_and_a_wrong_pin_moves_nothing(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    card_id = flow.cards(holder)[0].id
    flow.fund(holder, card_id, 3_000 * YUAN)
    quote = browser.post("/app/withdraw/quote", {"card_id": card_id, "amount": "2000"})
    assert quote.status_code == 200
    assert re.search(r'data-testid="quote-fee">¥1\.00<', quote.text)
    assert re.search(r'data-testid="quote-total">.*¥2,001\.00', quote.text)
    form = {"card_id": card_id, "amount": hidden(quote.text, "amount"), "fee": hidden(quote.text, "fee"),
            "client_key": hidden(quote.text, "client_key")}
    wrong = browser.post("/app/withdraw", {**form, "pin": "111111"})
    assert wrong.status_code in (401, 403, 422) and "支付密码不正确" in wrong.text
    assert flow.count(CardMovement) == 1 and flow.balance(holder).available == 3_000 * YUAN
    done = browser.post("/app/withdraw", {**form, "pin": PIN})
    status_path = location(done)
    assert 'data-status="processing"' in browser.get(status_path).text
    assert flow.balance(holder).available == 1_000 * YUAN - 1_00


def test_a_holder_with_only_a_credit_card_is_told_withdrawals_need_a_debit_card(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser, PSBC_CREDIT)
    page = browser.get("/app/withdraw").text
    assert "没有可提现的储蓄卡" in page and 'data-testid="withdraw-form"' not in page


def test_unbinding_a_card_with_money_in_flight_is_refused_on_the_page(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    card_id = flow.cards(holder)[0].id
    flow.topup(holder, card_id, 10 * YUAN)
    page = browser.post(f"/app/cards/{card_id}/unbind")
    assert page.status_code == 409 and "处理中的充值或提现" in page.text
    assert [c.id for c in flow.cards(holder)] == [card_id]


def test_the_pages_read_in_english_when_switched(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    browser.client.cookies.set("lang", "en")
    cards = browser.get("/app/cards?lang=en").text
    assert "Bank cards" in cards and "Postal Savings Bank of China" in cards and "Debit card" in cards
    assert "Top up" in browser.get("/app/topup?lang=en").text


def test_the_pages_carry_no_inline_script_or_style(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    browser = web_client(flow, app, holder)
    _bind(flow, app, browser)
    detail = f"/app/cards/{flow.cards(holder)[0].id}"
    for path in ("/app/cards", "/app/cards/new", "/app/topup", "/app/withdraw", detail):
        html = browser.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html and "onclick" not in html, path


def test_the_me_page_leads_to_the_cards(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    page = web_client(flow, app, holder).get("/app/me").text
    assert 'href="/app/cards" data-testid="me-cards"' in page and "绑卡、充值与提现" in page
