"""The merchant's pages and the ops console's merchant pages: sign-in, orders, refunds, the public checkout
that updates when paid, and who may reach what (merchant A never sees merchant B's orders)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from merchant_helpers import YUAN

from qianbao import access
from qianbao.merchants.models import Merchant, MerchantOrder, MerchantRefund

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def portal(app: Any, merchant_no: str, password: str) -> TestClient:
    """A browser that signed in to the merchant pages through the sign-in form."""
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/m/login")
    response = client.post("/m/login", data={"merchant_no": merchant_no, "password": password, "next": "/m",
                                             "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/m"
    return client


def test_a_merchant_signs_in_with_its_number_and_password_and_sees_its_orders(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    shop.order(m, 12 * YUAN, number="SHOP-1", description="邮票一版")
    client = portal(app, m.merchant_no, m.password)
    page = client.get("/m")
    assert page.status_code == 200 and "SHOP-1" in page.text and "邮票一版" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    client = TestClient(app, raise_server_exceptions=False)
    token = _csrf(client.get("/m/login").text)
    wrong = client.post("/m/login", data={"merchant_no": m.merchant_no, "password": "nope-nope-nope",
                                          "csrf_token": token})
    unknown = client.post("/m/login", data={"merchant_no": "800000000000000", "password": m.password,
                                            "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "商户号或密码不正确" in wrong.text and "商户号或密码不正确" in unknown.text


def test_merchant_pages_send_a_visitor_to_the_merchant_sign_in(client, shop) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/m", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/m/login?next=")


def test_a_merchant_cannot_open_another_merchants_order(app, shop) -> None:  # type: ignore[no-untyped-def]
    mine, other = shop.merchant(), shop.merchant(name="别家")
    order = shop.order(other, 12 * YUAN)
    client = portal(app, mine.merchant_no, mine.password)
    assert client.get(f"/m/orders/{order.token}").status_code == 404
    page = client.get("/m")
    refund = client.post(f"/m/orders/{order.token}/close", data={"csrf_token": _csrf(page.text)})
    assert refund.status_code == 404
    assert shop.get(other, order.merchant_order_no).status == "open"


def test_a_merchant_refunds_from_the_order_page(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    w = shop.wallet(100 * YUAN)
    order = shop.order(m, 30 * YUAN)
    shop.pay(order, w)
    client = portal(app, m.merchant_no, m.password)
    page = client.get(f"/m/orders/{order.token}")
    assert 'data-testid="refund-form"' in page.text
    done = client.post(f"/m/orders/{order.token}/refund", data={"amount": "12.50", "reason": "少发一件",
                                                                 "csrf_token": _csrf(page.text)})
    assert done.status_code == 200 and "退款已完成" in done.text
    assert shop.balance(w.account_id) == 70 * YUAN + 1250
    too_much = client.post(f"/m/orders/{order.token}/refund", data={"amount": "20", "csrf_token": _csrf(page.text)})
    assert too_much.status_code == 409 and 'data-code="REFUND_ABOVE_REMAINING"' in too_much.text
    assert shop.count(MerchantRefund) == 1


def test_a_form_without_the_csrf_token_is_refused(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    order = shop.order(m, 30 * YUAN)
    client = portal(app, m.merchant_no, m.password)
    response = client.post(f"/m/orders/{order.token}/close", data={})
    assert response.status_code == 403
    assert shop.get(m, order.merchant_order_no).status == "open"


def test_a_ticket_seller_confirms_a_paid_order_from_its_page(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(name="铁路票务")
    order = shop.order(m, 553 * YUAN, description="G1 北京南→上海虹桥 二等座")
    client = portal(app, m.merchant_no, m.password)
    page = client.get(f"/m/orders/{order.token}")
    assert 'data-testid="confirm-form"' not in page.text
    shop.pay(order, shop.wallet(1000 * YUAN))
    page = client.get(f"/m/orders/{order.token}")
    done = client.post(f"/m/orders/{order.token}/confirm", data={"csrf_token": _csrf(page.text)})
    assert 'data-testid="order-confirmed"' in done.text
    assert shop.get(m, order.merchant_order_no).confirmed_at is not None


def test_the_cashier_makes_a_checkout_order_and_the_checkout_page_updates_when_paid(app, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    client = portal(app, m.merchant_no, m.password)
    page = client.get("/m")
    made = client.post("/m/orders", data={"amount": "8.80", "description": "报纸", "csrf_token": _csrf(page.text)},
                       follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith("/m/checkout/")
    token = made.headers["location"].rsplit("/", 1)[1]
    anyone = TestClient(app, raise_server_exceptions=False)
    checkout = anyone.get(f"/m/checkout/{token}")
    assert checkout.status_code == 200 and "¥8.80" in checkout.text
    assert f'hx-get="/m/checkout/{token}/status"' in checkout.text and 'hx-trigger="every 2s"' in checkout.text
    qr = anyone.get(f"/m/checkout/{token}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml") and "<svg" in qr.text
    with shop.db.read() as session:
        order = session.query(MerchantOrder).filter_by(token=token).one()
        session.expunge(order)
    shop.pay(order, shop.wallet(20 * YUAN))
    status = anyone.get(f"/m/checkout/{token}/status")
    assert 'data-state="paid"' in status.text and "支付成功" in status.text
    assert "hx-trigger" not in status.text, "a paid checkout stops polling"
    assert anyone.get(f"/m/checkout/{token}/qr.svg").status_code == 404


def test_an_unknown_checkout_token_is_not_found(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/m/checkout/not-a-real-token").status_code == 404


def test_an_operator_creates_a_merchant_and_sees_its_credentials_once(staff_client, shop) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    form = operator.get("/ops/merchants/new")
    assert form.status_code == 200
    response = operator.post("/ops/merchants", data={
        "name_zh": "绿色生鲜", "name_en": "Green Grocer", "category": "retail", "mdr_bp": "45", "city": "上海",
        "notify_url": "", "csrf_token": operator.csrf_token})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    api_key = re.search(r'data-testid="api-key">([^<]+)<', response.text)
    secret = re.search(r'data-testid="hmac-secret">([^<]+)<', response.text)
    password = re.search(r'data-testid="portal-password">([^<]+)<', response.text)
    assert api_key and secret and password
    with shop.db.read() as session:
        merchant = session.query(Merchant).one()
        assert merchant.mdr_bp == 45 and merchant.created_by_staff_id == operator.staff.id
    detail = operator.get(f"/ops/merchants/{merchant.id}")
    assert secret.group(1) not in detail.text and api_key.group(1) not in detail.text


def test_an_operator_rotates_suspends_and_reactivates(staff_client, shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    operator = staff_client("operator")
    rotated = operator.post(f"/ops/merchants/{m.id}/rotate-secret", data={"csrf_token": operator.csrf_token})
    assert rotated.status_code == 200 and 'data-testid="hmac-secret"' in rotated.text
    no_reason = operator.post(f"/ops/merchants/{m.id}/suspend", data={"reason": " ", "csrf_token": operator.csrf_token})
    assert no_reason.status_code == 422 and 'data-code="MERCHANT_REASON_REQUIRED"' in no_reason.text
    operator.post(f"/ops/merchants/{m.id}/suspend", data={"reason": "投诉较多", "csrf_token": operator.csrf_token})
    with shop.db.read() as session:
        assert session.get(Merchant, m.id).status == "suspended"  # type: ignore[union-attr]
    operator.post(f"/ops/merchants/{m.id}/reactivate", data={"reason": "已整改", "csrf_token": operator.csrf_token})
    with shop.db.read() as session:
        assert session.get(Merchant, m.id).status == "active"  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/rotate-secret", "/suspend", "/reactivate", "/reset-password"])
def test_an_auditor_reads_merchants_but_changes_nothing(staff_client, shop, path: str) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    auditor = staff_client("auditor")
    assert auditor.get("/ops/merchants").status_code == 200
    detail = auditor.get(f"/ops/merchants/{m.id}")
    assert detail.status_code == 200 and 'data-testid="read-only"' in detail.text and "rotate-form" not in detail.text
    refused = auditor.post(f"/ops/merchants/{m.id}{path}", data={"reason": "x", "csrf_token": auditor.csrf_token})
    assert refused.status_code == 403
    assert auditor.get("/ops/merchants/new").status_code == 403
    with shop.db.read() as session:
        row = session.get(Merchant, m.id)
        assert row is not None and row.secret == m.secret and row.status == "active"


# ---- the merchants' own access matrix: every merchant route, with each kind of caller --------------------

def _merchant_routes(app: Any) -> list[tuple[str, str]]:
    try:
        from fastapi.routing import iter_route_contexts

        routes = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI copies the routes into app.routes
        routes = list(app.routes)
    found = []
    for route in routes:
        path = getattr(route, "path", "")
        if (path == "/m" or path.startswith("/m/")) and getattr(route, "methods", None):
            found += [(method, path) for method in route.methods - {"HEAD"} if not access.is_public(method, path)]
    return sorted(found)


def test_every_merchant_page_answers_callers_as_the_policy_says(app, shop, staff_client) -> None:  # type: ignore[no-untyped-def]
    from qianbao import credentials
    from qianbao.credentials import Principal
    from qianbao.web import auth

    owner, other = shop.merchant(), shop.merchant(name="别家")
    order = shop.order(owner, 30 * YUAN)
    routes = _merchant_routes(app)
    assert ("GET", "/m") in routes and ("POST", "/m/orders/{order_token}/refund") in routes
    owner_client, other_client = portal(app, owner.merchant_no, owner.password), portal(app, other.merchant_no,
                                                                                          other.password)
    operator = staff_client("operator")
    customer = TestClient(app, raise_server_exceptions=False)
    with shop.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(77), settings=shop.settings)
    customer.cookies.set(auth.customer_cookie(shop.settings).name, started.token)
    problems = []
    for method, path in routes:
        url = path.replace("{order_token}", order.token)
        for name, client in (("operator", operator), ("customer", customer)):
            response = client.request(method, url, data={"csrf_token": "x"}, follow_redirects=False)
            if not (response.status_code == 303 and response.headers["location"].startswith("/m/login")):
                problems.append(f"{method} {path} as {name}: {response.status_code}")
        if "{order_token}" in path:
            token = _csrf(other_client.get("/m").text)
            response = other_client.request(method, url, data={"csrf_token": token, "amount": "1"})
            if response.status_code != 404:
                problems.append(f"{method} {path} as another merchant: {response.status_code}")
        if method == "GET":
            response = owner_client.get(url)
            # the payment-code status fragment names a charge; without one there is nothing to show
            expected = 404 if path == "/m/paycode/status" else 200
            if response.status_code != expected:
                problems.append(f"{method} {path} as the owner: {response.status_code}")
    assert problems == []
