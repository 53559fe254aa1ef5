"""Bank callbacks over HTTP with the real sandbox bank process, and a refund race through the merchant API.

Top-up over the customer API; the bank's signed callback tampered with, wrongly signed, stale or replayed is
401 and changes nothing; the genuine one delivered twice credits once; a callback after the top-up was
voided changes nothing. Two partial refunds at once that together exceed the payment: one is refused."""

from __future__ import annotations

import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from acceptance_helpers import PIN, YUAN, Customer, Live

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

import card_helpers
import customer_pay_helpers
from sqlalchemy import select

from qianbao.adapters.bank import signing
from qianbao.adapters.bank.models import BankCallbackEvent
from qianbao.cards import movements

CALLBACK_PATH = "/api/bank/callbacks"


def holder_with_card(live: Live, sandbox_bank: Any) -> tuple[Customer, str, Any]:
    connector = sandbox_bank.connector()
    live.app.state.bank_connector = connector
    flow = card_helpers.Flow(live.db, live.settings, connector, card_helpers._PHONES, bank_client=sandbox_bank)
    holder = flow.holder(card_helpers.LI_MING)
    bound = flow.bind_at_bank(holder)
    with live.db.read() as session:
        from qianbao import wallets

        wallet = wallets.get_wallet(session, holder.wallet_id)
        customer = Customer(holder.customer_id, holder.wallet_id, int(wallet.ledger_account_id), wallet.number,
                            holder.phone)
    live.sign_in(customer)
    return customer, bound.id, connector


def start_topup(live: Live, customer: Customer, card_id: str, fen: int) -> str:
    answer = live.http.post("/api/v1/topups", json={"card_id": card_id, "amount": f"{fen // 100}.00"},
                            headers={**customer.auth, "idempotency-key": uuid.uuid4().hex})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "processing"
    return str(body["reference"])


def settled_callback(sandbox_bank: Any, reference: str, **settle: Any) -> dict[str, Any]:
    (operation,) = sandbox_bank.operations(f"qb-topup-{reference}")
    sandbox_bank.settle(operation["bank_ref"], **settle)
    (item,) = sandbox_bank.pending_callbacks()
    return dict(item)


def post(live: Live, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    answer = live.http.post(CALLBACK_PATH, content=body, headers={**headers, "content-type": "application/json"})
    return answer.status_code, answer.json()


def resigned(sandbox_bank: Any, body: bytes, *, now: float | None = None) -> dict[str, str]:
    return signing.sign(sandbox_bank.callback_secret, sandbox_bank.merchant_id, "POST", CALLBACK_PATH, body, now=now)


def topup_status(live: Live, customer: Customer, reference: str) -> str:
    answer = live.http.get(f"/api/v1/topups/{reference}", headers=customer.auth)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["status"])


def event_count(live: Live) -> int:
    with live.db.read() as session:
        return len(list(session.scalars(select(BankCallbackEvent))))


def test_bank_callbacks_tampered_unsigned_stale_or_replayed_change_nothing_and_the_genuine_one_credits_once(
        live: Live, sandbox_bank: Any) -> None:
    customer, card_id, connector = holder_with_card(live, sandbox_bank)
    reference = start_topup(live, customer, card_id, 500 * YUAN)
    item = settled_callback(sandbox_bank, reference)
    body = item["body"].encode()
    headers = dict(item["headers"])

    tampered = json.dumps({**json.loads(body), "amount": 50_000 * YUAN}).encode()
    bad_signature = {**headers, signing.SIGNATURE: "0" * 64}
    stale = resigned(sandbox_bank, body, now=time.time() - 600)
    refusals = [post(live, headers, tampered), post(live, bad_signature, body), post(live, stale, body)]
    assert [(status, answer["code"]) for status, answer in refusals] == [
        (401, "BANK_CALLBACK_SIGNATURE_INVALID"), (401, "BANK_CALLBACK_SIGNATURE_INVALID"),
        (401, "BANK_CALLBACK_STALE")]
    assert live.balance(customer) == 0 and topup_status(live, customer, reference) == "processing"
    assert event_count(live) == 0

    # The genuine callback, then the same request again (a replayed nonce), then the bank's own retry with a
    # fresh signature: credited once.
    status, accepted = post(live, headers, body)
    assert (status, accepted["status"]) == (200, "accepted")
    replay_status, replay = post(live, headers, body)
    assert (replay_status, replay["code"]) == (401, "BANK_CALLBACK_REPLAYED")
    status, duplicate = post(live, resigned(sandbox_bank, body), body)
    assert (status, duplicate["status"]) == (200, "duplicate")
    assert live.balance(customer) == 500 * YUAN and live.api_balance(customer) == 500 * YUAN
    assert topup_status(live, customer, reference) == "succeeded"
    assert event_count(live) == 1
    live.ledger_ok()
    connector.close()


def test_a_callback_after_the_topup_was_voided_changes_nothing(live: Live, sandbox_bank: Any) -> None:
    customer, card_id, connector = holder_with_card(live, sandbox_bank)
    reference = start_topup(live, customer, card_id, 80 * YUAN)
    with live.db.read() as session:
        from qianbao.cards.models import CardMovement

        created = session.scalar(select(CardMovement.created_at).where(CardMovement.reference == reference))
    # the bank never answered in time: the sweep voids it
    assert movements.sweep(live.db, connector, now=created + movements.DEADLINE + timedelta(seconds=1)) == 1
    assert topup_status(live, customer, reference) == "failed"
    item = settled_callback(sandbox_bank, reference)  # the bank finally says yes
    status, _ = post(live, dict(item["headers"]), item["body"].encode())
    assert status == 200
    assert topup_status(live, customer, reference) == "failed"
    assert live.balance(customer) == 0 and live.api_balance(customer) == 0
    live.ledger_ok()
    connector.close()


def test_two_partial_refunds_at_once_above_the_payment_one_is_refused(live: Live) -> None:
    payer = live.sign_in(live.open())
    live.fund(payer, 1_000 * YUAN)
    shop = customer_pay_helpers.shop(live.db, live.settings)
    for round_no in range(3):
        order_no = f"ACC-{round_no}"
        payload = customer_pay_helpers.order_code(live.db, shop, 100 * YUAN, number=order_no)
        paid = live.http.post("/api/v1/qr-payments", json={"payload": payload, "pin": PIN},
                              headers={**payer.auth, "idempotency-key": uuid.uuid4().hex})
        assert paid.status_code == 201, paid.text
        path = f"/api/merchant/v1/orders/{order_no}/refunds"
        bodies = [{"refund_no": f"{order_no}-R{n}", "amount": 60 * YUAN} for n in (1, 2)]
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda body, path=path: customer_pay_helpers.signed(live.http, shop, "POST", path, body), bodies))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[0] == 201 and statuses[1] != 201, [a.text for a in answers]
        refused = next(answer.json() for answer in answers if answer.status_code != 201)
        assert refused["code"] == "REFUND_ABOVE_REMAINING", refused
    assert live.balance(payer) == 1_000 * YUAN - 3 * 40 * YUAN
    assert customer_pay_helpers.balance(live.db, shop.account_id) == 3 * 40 * YUAN
    live.ledger_ok()
