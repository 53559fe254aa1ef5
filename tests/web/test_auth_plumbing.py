"""Web auth plumbing (qianbao.web.auth): who is asking for pages and the API, CSRF on every state change,
cookies, and the security headers on every response."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from qianbao import credentials
from qianbao.credentials import Principal
from qianbao.settings import Settings
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, StaffContext, current_customer, current_staff, requires
from qianbao.web.render import TEMPLATES_PATH, csrf_input

HTML = {"accept": "text/html"}


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    """The app with a few probe routes behind each dependency (pages and API)."""

    @app.get("/api/probe/staff")
    def api_staff(staff: StaffContext = Depends(requires("ops.read"))) -> dict[str, object]:
        return {"id": staff.id, "role": staff.role}

    @app.post("/api/probe/staff")
    def api_staff_write(staff: StaffContext = Depends(requires("ops.staff"))) -> dict[str, object]:
        return {"written_by": staff.id}

    @app.get("/api/probe/customer")
    def api_customer(customer: CustomerContext = Depends(current_customer)) -> dict[str, object]:
        return {"customer_id": customer.customer_id}

    @app.post("/api/probe/customer")
    def api_customer_write(customer: CustomerContext = Depends(current_customer)) -> dict[str, object]:
        return {"customer_id": customer.customer_id}

    @app.get("/app/probe-private")
    def page_customer(customer: CustomerContext = Depends(current_customer)) -> dict[str, object]:
        return {"customer_id": customer.customer_id}

    @app.get("/teller/probe-any-staff")
    def page_any_staff(staff: StaffContext = Depends(current_staff())) -> dict[str, object]:
        return {"role": staff.role}

    return app


@pytest.fixture
def customer_token(db, settings: Settings) -> str:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return credentials.start_session(session, Principal.customer(77), settings=settings).token


def _anonymous(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def test_the_api_answers_a_visitor_without_a_session_with_a_401_problem(probe_app) -> None:  # type: ignore[no-untyped-def]
    response = _anonymous(probe_app).get("/api/probe/staff", headers=HTML)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_the_api_says_when_a_session_has_timed_out(probe_app, staff_client) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel("2026-11-25 02:00:00+00:00", tick=False) as clock:
        operator = staff_client("operator")
        assert operator.get("/api/probe/staff").json()["role"] == "operator"
        clock.shift(timedelta(minutes=16))
        response = operator.get("/api/probe/staff")
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_EXPIRED")


def test_an_htmx_request_without_a_session_is_sent_to_the_sign_in_page_whole(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ops/system-status", headers={**HTML, "hx-request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/ops/login?next=%2Fops%2Fsystem-status"


def test_a_signed_in_staff_member_of_another_role_is_forbidden(probe_app, staff_client) -> None:  # type: ignore[no-untyped-def]
    teller = staff_client("teller")
    response = teller.get("/api/probe/staff")
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")
    page = teller.get("/ops", headers=HTML)
    assert page.status_code == 403 and 'data-code="FORBIDDEN"' in page.text


def test_current_staff_without_roles_admits_every_staff_role(probe_app, staff_client) -> None:  # type: ignore[no-untyped-def]
    for role in ("teller", "supervisor", "operator", "auditor"):
        assert staff_client(role).get("/teller/probe-any-staff").json() == {"role": role}


def test_a_state_change_needs_the_sessions_csrf_token_as_field_or_header(probe_app, staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    other = staff_client("operator")
    missing = operator.post("/api/probe/staff")
    assert (missing.status_code, missing.json()["code"]) == (403, "CSRF_FAILED")
    foreign = operator.post("/api/probe/staff", headers={"X-CSRF-Token": other.csrf_token})
    assert foreign.json()["code"] == "CSRF_FAILED"
    by_header = operator.post("/api/probe/staff", headers={"X-CSRF-Token": operator.csrf_token})
    assert by_header.json() == {"written_by": operator.staff.id}
    by_field = operator.post("/api/probe/staff", data={"csrf_token": operator.csrf_token})
    assert by_field.json() == {"written_by": operator.staff.id}


def test_an_auditor_is_refused_every_state_change_even_with_a_valid_token(probe_app, staff_client) -> None:  # type: ignore[no-untyped-def]
    auditor = staff_client("auditor")
    assert auditor.get("/api/probe/staff").json()["role"] == "auditor"
    response = auditor.post("/api/probe/staff", headers={"X-CSRF-Token": auditor.csrf_token})
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_current_customer_reads_a_customer_session_only(probe_app, staff_client, customer_token, settings) -> None:  # type: ignore[no-untyped-def]
    customer = _anonymous(probe_app)
    customer.cookies.set(auth.customer_cookie(settings).name, customer_token)
    assert customer.get("/api/probe/customer").json() == {"customer_id": 77}
    # A staff session is no customer session, even moved into the customer cookie.
    operator = staff_client("operator")
    staff_token = operator.cookies.get(auth.staff_cookie(settings).name)
    impostor = _anonymous(probe_app)
    impostor.cookies.set(auth.customer_cookie(settings).name, staff_token)
    assert impostor.get("/api/probe/customer").status_code == 401
    assert operator.get("/api/probe/customer").status_code == 401


def test_a_customer_page_sends_a_visitor_to_the_customer_sign_in(probe_app) -> None:  # type: ignore[no-untyped-def]
    response = _anonymous(probe_app).get("/app/probe-private", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/app/login?next=%2Fapp%2Fprobe-private")


def test_a_customers_api_state_change_with_the_cookie_needs_the_csrf_header(  # type: ignore[no-untyped-def]
    probe_app, db, customer_token, settings
) -> None:
    customer = _anonymous(probe_app)
    customer.cookies.set(auth.customer_cookie(settings).name, customer_token)
    assert customer.post("/api/probe/customer").json()["code"] == "CSRF_FAILED"
    with db.transaction() as session:
        record = credentials.authenticate(session, customer_token)
        token = credentials.csrf_token(record)
    assert customer.post("/api/probe/customer", headers={"X-CSRF-Token": token}).json() == {"customer_id": 77}


@pytest.mark.parametrize("path", ["/", "/teller/login", "/healthz", "/static/qianbao.css", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path: str) -> None:  # type: ignore[no-untyped-def]
    headers = client.get(path, headers=HTML).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["content-security-policy"] == auth.CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "strict-transport-security" not in headers


def test_signed_in_pages_are_never_cached(staff_client) -> None:  # type: ignore[no-untyped-def]
    assert staff_client("operator").get("/ops", headers=HTML).headers["cache-control"] == "no-store"


def test_the_api_docs_page_gets_only_what_swagger_needs(client) -> None:  # type: ignore[no-untyped-def]
    policy = client.get("/api/docs").headers["content-security-policy"]
    assert policy == auth.DOCS_CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in policy


def test_the_shell_has_no_inline_script_style_or_event_handler_so_the_policy_can_forbid_them() -> None:
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    inline_style = re.compile(r"<style\b|\sstyle=", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    comment = re.compile(r"\{#.*?#\}", re.S)
    offenders = [
        str(path.relative_to(TEMPLATES_PATH)) for path in TEMPLATES_PATH.rglob("*.html")
        if inline_script.search(text := comment.sub("", path.read_text(encoding="utf-8")))
        or inline_style.search(text) or handler.search(text)
    ]
    assert offenders == []


def test_production_cookies_are_host_only_secure_and_add_hsts(settings: Settings, db) -> None:  # type: ignore[no-untyped-def]
    from qianbao.app import create_app

    secure = settings.model_copy(update={"cookie_secure": True})
    spec = auth.staff_cookie(secure)
    assert (spec.name, spec.secure, spec.httponly, spec.path, spec.samesite) == ("__Host-qb_staff", True, True,
                                                                                 "/", "lax")
    assert auth.customer_cookie(secure).name == "__Host-qb_session"
    with TestClient(create_app(secure, db), base_url="https://testserver") as client:
        assert client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_csrf_input_is_the_hidden_field_of_the_requests_token() -> None:
    request = SimpleNamespace(state=SimpleNamespace(csrf_token='tok"en'))
    assert str(csrf_input(request)) == '<input type="hidden" name="csrf_token" value="tok&#34;en">'  # type: ignore[arg-type]


def test_a_form_on_a_page_without_a_token_is_a_bug_caught_at_rendering() -> None:
    with pytest.raises(RuntimeError):
        csrf_input(SimpleNamespace(state=SimpleNamespace()))  # type: ignore[arg-type]


def test_dependencies_are_one_callable_per_action_or_role_set() -> None:
    assert requires("ops.read") is requires("ops.read")
    assert current_staff(["operator", "auditor"]) is current_staff(["auditor", "operator"])
    with pytest.raises(ValueError):
        requires("ops.everything")
    with pytest.raises(ValueError):
        current_staff(["customer"])
