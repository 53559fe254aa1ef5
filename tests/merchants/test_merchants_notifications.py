"""Signed asynchronous notifications to a real local HTTP receiver: retried with the schedule's backoff
until the merchant answers 2xx, given up after the last try, visible per order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from merchant_helpers import YUAN
from sqlalchemy import select

from qianbao.merchants import notify, signing
from qianbao.merchants.models import MerchantNotification


@dataclass
class Receiver:
    """A merchant's notify endpoint: answers the queued statuses in turn (then 200), keeps what it got."""

    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k: v for k, v in self.headers.items()}, body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"SUCCESS")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pay/notify?shop=7"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _notification(shop, order_id: int) -> MerchantNotification:  # type: ignore[no-untyped-def]
    with shop.db.read() as session:
        row = session.scalar(select(MerchantNotification).where(MerchantNotification.order_id == order_id))
        assert row is not None
        session.expunge(row)
        return row


def test_a_notification_is_signed_with_the_merchants_secret(shop, receiver, clock) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(notify_url=receiver.url)
    order = shop.order(m, 12 * YUAN)
    shop.pay(order, shop.wallet(50 * YUAN))
    assert notify.deliver_due(shop.db, shop.settings) == 1
    headers, body = receiver.received[0]
    assert signing.signature_matches(m.secret, "POST", "/pay/notify?shop=7", headers["X-Qianbao-Timestamp"],
                                     headers["X-Qianbao-Nonce"], body, headers["X-Qianbao-Signature"])
    assert headers["X-Qianbao-Merchant"] == m.merchant_no
    payload = json.loads(body)
    assert payload["event"] == "order.paid" and payload["order"]["merchant_order_no"] == order.merchant_order_no
    assert payload["notification_id"] == headers["X-Qianbao-Notification"]
    assert _notification(shop, order.id).status == "delivered"


def test_a_notification_is_retried_with_backoff_until_the_merchant_answers_2xx(shop, receiver, clock) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(notify_url=receiver.url)
    order = shop.order(m, 12 * YUAN)
    shop.pay(order, shop.wallet(50 * YUAN))
    receiver.answers = [500, 302, 404]
    assert notify.deliver_due(shop.db, shop.settings) == 1
    row = _notification(shop, order.id)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert notify.deliver_due(shop.db, shop.settings) == 0, "not due before the first wait"
    for wait, status in ((15, 302), (15, 404)):
        clock.shift(timedelta(seconds=wait - 1))
        assert notify.deliver_due(shop.db, shop.settings) == 0
        clock.shift(timedelta(seconds=1))
        assert notify.deliver_due(shop.db, shop.settings) == 1
        assert _notification(shop, order.id).last_status_code == status
    clock.shift(timedelta(seconds=30))
    assert notify.deliver_due(shop.db, shop.settings) == 1
    row = _notification(shop, order.id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 4, 200)
    clock.shift(timedelta(hours=30))
    assert notify.deliver_due(shop.db, shop.settings) == 0, "an acknowledged notification is never sent again"
    ids = {json.loads(body)["notification_id"] for _, body in receiver.received}
    assert len(receiver.received) == 4 and len(ids) == 1


def test_a_notification_nobody_acknowledges_is_given_up_after_the_last_try(shop, clock) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:  # a port with nobody listening: every try is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    m = shop.merchant(notify_url=f"http://127.0.0.1:{port}/notify")
    order = shop.order(m, 12 * YUAN)
    shop.pay(order, shop.wallet(50 * YUAN))
    for wait in (0, *notify.RETRY_SCHEDULE_SECONDS):
        clock.shift(timedelta(seconds=wait))
        assert notify.deliver_due(shop.db, shop.settings) == 1
    row = _notification(shop, order.id)
    assert (row.status, row.attempts) == ("failed", notify.MAX_ATTEMPTS)
    assert row.last_error and "Connect" in row.last_error
    clock.shift(timedelta(days=2))
    assert notify.deliver_due(shop.db, shop.settings) == 0


def test_a_refund_notifies_too_and_the_order_shows_its_notifications(client, shop, receiver, clock) -> None:  # type: ignore[no-untyped-def]
    from merchant_helpers import signed_request
    m = shop.merchant(notify_url=receiver.url)
    order = shop.order(m, 12 * YUAN, number="N-1")
    shop.pay(order, shop.wallet(50 * YUAN))
    shop.refund(m, "N-1", "NR-1", 2 * YUAN)
    assert notify.deliver_due(shop.db, shop.settings) == 2
    events = [json.loads(body)["event"] for _, body in receiver.received]
    assert events == ["order.paid", "order.refunded"]
    shown = signed_request(client, m, "GET", "/api/merchant/v1/orders/N-1").json()["notifications"]
    assert [(n["event"], n["status"], n["attempts"]) for n in shown] == [
        ("order.paid", "delivered", 1), ("order.refunded", "delivered", 1)]


def test_an_order_without_a_notify_url_queues_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    shop.pay(shop.order(m, 12 * YUAN), shop.wallet(50 * YUAN))
    assert shop.count(MerchantNotification) == 0


def test_a_rolled_back_payment_notifies_nobody(shop, receiver) -> None:  # type: ignore[no-untyped-def]
    from qianbao import merchants

    m = shop.merchant(notify_url=receiver.url)
    order = shop.order(m, 12 * YUAN)
    w = shop.wallet(50 * YUAN)
    with pytest.raises(RuntimeError), shop.db.transaction() as session:
        merchants.pay_order(session, order.token, w.wallet_id, "pin", "k")
        raise RuntimeError("crash after paying, before commit")
    assert shop.count(MerchantNotification) == 0 and shop.balance(w.account_id) == 50 * YUAN
