"""The sandbox bank's signed callbacks: delivered to the wallet's endpoint, accepted once, retried until a 2xx."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sandbox_bank_helpers import bind, new_card

from qianbao.adapters.bank import callbacks, signing
from qianbao.sandbox_bank.config import DEV_CALLBACK_SECRET


@pytest.fixture
def handled() -> Iterator[list[callbacks.BankEvent]]:
    seen: list[callbacks.BankEvent] = []
    previous = callbacks.handler_for("debit")
    callbacks.register("debit", lambda session, event: seen.append(event))
    yield seen
    if previous is not None:
        callbacks.register("debit", previous)
    else:
        callbacks.unregister("debit")


def _debit(sandbox_bank: Any, key: str, amount: int = 1_000) -> str:
    number = new_card(sandbox_bank, balance=100_000)
    token = bind(sandbox_bank, sandbox_bank.connector(), number).token
    sandbox_bank.connector().debit(token, amount, key=key)
    return number


def test_the_banks_callback_is_accepted_by_the_wallet(sandbox_bank, client, handled) -> None:  # type: ignore[no-untyped-def]
    sandbox_bank.configure(callback_url="http://127.0.0.1:8000/api/bank/callbacks")
    _debit(sandbox_bank, "topup:cb")
    sandbox_bank.settle()
    assert sandbox_bank.deliver_to(client) == [200]
    (event,) = handled
    assert (event.kind, event.key, event.status, event.amount) == ("debit", "topup:cb", "succeeded", 1_000)
    (callback,) = sandbox_bank.callbacks("topup:cb")
    assert (callback["status"], callback["attempts"]) == ("delivered", 1)
    assert sandbox_bank.deliver_to(client) == [], "a delivered callback is not sent again"


def test_a_lost_acknowledgement_makes_the_bank_deliver_again_and_the_wallet_ignores_the_copy(  # type: ignore[no-untyped-def]
        sandbox_bank, client, handled) -> None:
    _debit(sandbox_bank, "topup:lost")
    sandbox_bank.settle()
    answers: list[int] = []

    def send_but_lose_the_first_answer(path: str, headers: dict[str, str], body: bytes) -> int:
        response = client.post(path, content=body, headers=headers)
        answers.append(response.json()["status"])
        return 502 if len(answers) == 1 else response.status_code

    assert sandbox_bank.deliver_callbacks(send_but_lose_the_first_answer) == [502]
    assert sandbox_bank.deliver_callbacks(send_but_lose_the_first_answer) == [200]
    assert answers == ["accepted", "duplicate"]
    assert len(handled) == 1
    (callback,) = sandbox_bank.callbacks("topup:lost")
    assert (callback["status"], callback["attempts"], callback["last_status"]) == ("delivered", 2, 200)


class _Wallet(BaseHTTPRequestHandler):
    """A wallet that answers 500 to the first two deliveries, then 200; it keeps what it received."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    acknowledged: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, dict(self.headers.items()), body))
        status = 500 if len(self.received) <= 2 else 200
        self.send_response(status)
        self.end_headers()
        if status == 200:
            self.acknowledged.set()

    def log_message(self, *args: Any) -> None:
        pass


def test_pushed_callbacks_are_retried_with_backoff_until_acknowledged(sandbox_bank) -> None:  # type: ignore[no-untyped-def]
    _Wallet.received, _Wallet.acknowledged = [], threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Wallet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/bank/callbacks?via=test"
        sandbox_bank.configure(callback_mode="push", auto_process=True, callback_url=url,
                               callback_backoff_seconds=0.05)
        number = new_card(sandbox_bank, balance=100_000)
        token = bind(sandbox_bank, sandbox_bank.connector(), number).token
        sandbox_bank.connector(notify_url=None).debit(token, 2_000, key="topup:push")
        assert _Wallet.acknowledged.wait(timeout=30), "the bank kept delivering until the wallet said 200"
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Wallet.received) == 3
    nonces = set()
    for path, headers, body in _Wallet.received:
        assert path == "/api/bank/callbacks?via=test"
        signed = signing.verify({"QIANBAO-DEV": DEV_CALLBACK_SECRET}, headers, "POST", path, body)
        nonces.add(signed.nonce)
        assert json.loads(body)["key"] == "topup:push"
    assert len(nonces) == 3, "every attempt is signed afresh"
    assert len({json.loads(body)["event_id"] for _, _, body in _Wallet.received}) == 1
    (callback,) = sandbox_bank.callbacks("topup:push")
    assert (callback["status"], callback["attempts"]) == ("delivered", 3)
    assert sandbox_bank.card(number)["balance"] == 98_000
