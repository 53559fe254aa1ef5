"""The customer JSON API for cards, top-ups and withdrawals (bearer token, Idempotency-Key), against the real
sandbox bank process."""

from __future__ import annotations

from typing import Any

from card_helpers import LI_MING, LIU_YANG, PIN, YUAN, Api, Flow, api_client

from qianbao.cards.models import CardMovement


def _bind(flow: Flow, api: Api, holder: Any) -> tuple[str, dict[str, Any]]:
    number = flow.bank_card(holder)
    started = api.post("/api/v1/cards", {"card_number": number, "holder_name": holder.name,
                                         "id_number": holder.id_number, "phone": holder.phone})
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["bank_code"], body["card_type"], body["last4"], body["status"]) == ("PSBC", "debit", number[-4:],
                                                                                      "pending")
    confirmed = api.post(f"/api/v1/cards/bindings/{body['binding_id']}/confirm",
                         {"otp": flow.bank_client.latest_otp(holder.phone)})
    assert confirmed.status_code == 201, confirmed.text
    return number, confirmed.json()


def test_binding_over_the_api_returns_the_card_without_its_number(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    number, card = _bind(flow, api, holder)
    assert (card["bank_name"], card["card_type"], card["bin"], card["last4"], card["is_default"]) == (
        "中国邮政储蓄银行", "debit", number[:6], number[-4:], True)
    listed = api.get("/api/v1/cards").json()["cards"]
    assert [c["id"] for c in listed] == [card["id"]]
    assert number not in api.get(f"/api/v1/cards/{card['id']}").text


def test_a_refusal_is_problem_json_with_its_code(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    response = api.post("/api/v1/cards", {"card_number": "1234", "holder_name": holder.name,
                                          "id_number": holder.id_number})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "CARD_NUMBER_INVALID"


def test_a_topup_needs_an_idempotency_key_and_the_same_key_is_the_same_topup(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    _number, card = _bind(flow, api, holder)
    missing = api.post("/api/v1/topups", {"card_id": card["id"], "amount": "100.00"})
    assert (missing.status_code, missing.json()["code"]) == (400, "IDEMPOTENCY_KEY_MISSING")
    first = api.post("/api/v1/topups", {"amount": "100.00"}, key="topup-0001")  # the default card
    again = api.post("/api/v1/topups", {"amount": "100.00"}, key="topup-0001")
    assert first.status_code == 202 and again.status_code == 202
    assert first.json()["reference"] == again.json()["reference"] and again.json()["replayed"] is True
    assert first.json()["amount"] == {"fen": 100 * YUAN, "yuan": "100.00"}
    other = api.post("/api/v1/topups", {"amount": "200.00"}, key="topup-0001")
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert flow.count(CardMovement) == 1
    flow.settle(first.json()["reference"])
    flow.deliver()
    state = api.get(f"/api/v1/topups/{first.json()['reference']}").json()
    assert state["status"] == "succeeded" and state["resolved_at"] is not None


def test_a_withdrawal_over_the_api_quotes_then_confirms_with_the_pin(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    _number, card = _bind(flow, api, holder)
    flow.fund(holder, card["id"], 3_000 * YUAN)
    quote = api.get("/api/v1/withdrawals/quote", params={"card_id": card["id"], "amount": "2000.00"}).json()
    assert quote["fee"] == {"fen": 1_00, "yuan": "1.00"} and quote["total"]["fen"] == 2_000 * YUAN + 1_00
    no_pin = api.post("/api/v1/withdrawals", {"card_id": card["id"], "amount": "2000.00",
                                              "fee_fen": quote["fee"]["fen"]}, key="wd-0001")
    assert (no_pin.status_code, no_pin.json()["code"]) == (422, "PAYMENT_CONFIRMATION_REQUIRED")
    wrong = api.post("/api/v1/withdrawals", {"card_id": card["id"], "amount": "2000.00",
                                             "fee_fen": quote["fee"]["fen"], "pin": "111111"}, key="wd-0001")
    assert wrong.json()["code"] == "PIN_WRONG"
    assert flow.count(CardMovement) == 1
    made = api.post("/api/v1/withdrawals", {"card_id": card["id"], "amount": "2000.00",
                                            "fee_fen": quote["fee"]["fen"], "pin": PIN}, key="wd-0001")
    assert made.status_code == 202, made.text
    assert (made.json()["kind"], made.json()["fee"]["fen"]) == ("withdrawal", 1_00)
    assert flow.balance(holder).available == 1_000 * YUAN - 1_00


def test_unbinding_over_the_api_is_refused_while_money_is_in_flight(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    _number, card = _bind(flow, api, holder)
    started = api.post("/api/v1/topups", {"amount": "10.00"}, key="topup-0002").json()
    refused = api.delete(f"/api/v1/cards/{card['id']}")
    assert (refused.status_code, refused.json()["code"]) == (409, "CARD_IN_FLIGHT")
    flow.settle(started["reference"], status="failed", reason="DECLINED")
    flow.deliver()
    assert api.delete(f"/api/v1/cards/{card['id']}").status_code == 204
    assert api.get("/api/v1/cards").json()["cards"] == []


def test_another_customers_card_and_topup_are_not_found(flow: Flow, app: Any) -> None:
    holder = flow.holder(LI_MING)
    api = api_client(flow, app, holder)
    _number, card = _bind(flow, api, holder)
    started = api.post("/api/v1/topups", {"amount": "10.00"}, key="topup-0003").json()
    other = api_client(flow, app, flow.holder(LIU_YANG))
    for response in (other.get(f"/api/v1/cards/{card['id']}"), other.delete(f"/api/v1/cards/{card['id']}"),
                     other.get(f"/api/v1/topups/{started['reference']}"),
                     other.post(f"/api/v1/cards/{card['id']}/default")):
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    assert [c["id"] for c in api.get("/api/v1/cards").json()["cards"]] == [card["id"]]
