"""Binding a card at the sandbox bank: its checks, its own code texted to the card's phone, tries, tokens."""

from __future__ import annotations

import re
import secrets

import pytest
from sandbox_bank_helpers import ID_NUMBER, NAME, PHONE, bind, new_card, signed_request

from qianbao.adapters.bank import bins
from qianbao.errors import QianbaoError


def test_binding_texts_a_six_digit_code_to_the_cards_phone_and_not_to_the_caller(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    number = new_card(sandbox_bank)
    answer = signed_request(sandbox_bank.url, "POST", "/v1/bindings", {
        "request_id": secrets.token_urlsafe(12), "card_number": number, "holder_name": NAME,
        "id_number": ID_NUMBER, "phone": PHONE})
    assert answer.status_code == 201 and answer.json()["masked_phone"] == "138****0003"
    (text,) = [m["text"] for m in sandbox_bank.outbox(PHONE)]
    code = re.search(r"验证码(\d{6})", text)
    assert code and number[-4:] in text and number not in text
    assert code.group(1) not in answer.text


def test_the_right_code_gives_a_vault_token_with_bank_type_and_last_four(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    number = new_card(sandbox_bank, prefix="622202")
    token = bind(sandbox_bank, sandbox_bank.connector(), number)
    assert token.token.startswith("tok_") and number not in token.token
    assert (token.bank_code, token.card_type, token.last4) == ("ICBC", "debit", number[-4:])


def test_the_right_code_sent_again_returns_the_same_token(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    connector = sandbox_bank.connector()
    challenge = connector.start_binding(new_card(sandbox_bank), NAME, ID_NUMBER, PHONE)
    code = sandbox_bank.latest_otp(PHONE)
    assert connector.confirm_binding(challenge.ref, code) == connector.confirm_binding(challenge.ref, code)


def test_a_retried_start_with_the_same_request_id_sends_one_text(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    number = new_card(sandbox_bank)
    payload = {"request_id": secrets.token_urlsafe(12), "card_number": number, "holder_name": NAME,
               "id_number": ID_NUMBER, "phone": PHONE}
    first = signed_request(sandbox_bank.url, "POST", "/v1/bindings", payload)
    second = signed_request(sandbox_bank.url, "POST", "/v1/bindings", payload)
    assert first.status_code == second.status_code == 201
    assert first.json()["binding_ref"] == second.json()["binding_ref"]
    assert len(sandbox_bank.outbox(PHONE)) == 1


@pytest.mark.parametrize(("change", "code"), [
    ({"holder_name": "李明明"}, "BANK_HOLDER_MISMATCH"),
    ({"id_number": "11010519491231002X"}, "BANK_HOLDER_MISMATCH"),
    ({"phone": "13900000000"}, "BANK_PHONE_MISMATCH"),
])
def test_the_holder_and_phone_must_match_the_cards(sandbox_bank, change, code) -> None:  # type: ignore[no-untyped-def]
    number = new_card(sandbox_bank)
    args = {"holder_name": NAME, "id_number": ID_NUMBER, "phone": PHONE, **change}
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector().start_binding(number, **args)
    assert refusal.value.code == code
    assert sandbox_bank.outbox() == []


def test_a_number_failing_luhn_or_outside_any_bin_is_invalid(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    number = new_card(sandbox_bank)
    wrong_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    unknown_bin = bins.card_number("411111", 16, 1)
    for bad in (wrong_digit, unknown_bin):
        with pytest.raises(QianbaoError) as refusal:
            sandbox_bank.connector().start_binding(bad, NAME, ID_NUMBER, PHONE)
        assert refusal.value.code == "BANK_CARD_INVALID"


def test_a_card_the_bank_does_not_hold_is_unknown(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector().start_binding(bins.card_number("621799", 19, 999_999_999), NAME, ID_NUMBER, PHONE)
    assert refusal.value.code == "BANK_CARD_UNKNOWN"


def test_a_frozen_card_cannot_be_bound(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector().start_binding(new_card(sandbox_bank, frozen=True), NAME, ID_NUMBER, PHONE)
    assert refusal.value.code == "BANK_CARD_FROZEN"


def test_wrong_codes_count_down_and_the_fifth_ends_the_binding(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    connector = sandbox_bank.connector()
    challenge = connector.start_binding(new_card(sandbox_bank), NAME, ID_NUMBER, PHONE)
    right = sandbox_bank.latest_otp(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    seen = []
    for _ in range(5):
        with pytest.raises(QianbaoError) as refusal:
            connector.confirm_binding(challenge.ref, wrong)
        seen.append((refusal.value.code, refusal.value.params.get("tries_left")))
    assert seen == [("BANK_OTP_WRONG", 4), ("BANK_OTP_WRONG", 3), ("BANK_OTP_WRONG", 2), ("BANK_OTP_WRONG", 1),
                    ("BANK_OTP_TOO_MANY_TRIES", None)]
    with pytest.raises(QianbaoError) as refusal:
        connector.confirm_binding(challenge.ref, right)
    assert refusal.value.code == "BANK_OTP_TOO_MANY_TRIES"


def test_an_unknown_binding_reference_is_not_found(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QianbaoError) as refusal:
        sandbox_bank.connector().confirm_binding("BND20260101NOPE", "123456")
    assert refusal.value.code == "BANK_BINDING_NOT_FOUND"


def test_the_demo_customers_cards_are_seeded(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    from qianbao.sandbox_bank.demo import DEMO_CARDS

    for card in DEMO_CARDS:
        held = sandbox_bank.card(card.number)
        assert (held["holder_name"], held["id_number"], held["phone"]) == (card.holder_name, card.id_number,
                                                                          card.phone)
        assert bins.lookup(card.number).bank_code == card.bank_code  # type: ignore[union-attr]
