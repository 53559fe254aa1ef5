"""The customer JSON API's sign-in and bearer tokens (qianbao.api.customer_auth): the web sign-in's steps and
rules over JSON, server-side sessions behind the token, sign-out, the wallet summary, the Idempotency-Key
convention."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from fastapi import Depends
from fastapi.testclient import TestClient

from qianbao import credentials, ledger, wallets
from qianbao.adapters.sms import latest_messages
from qianbao.api.customer_auth import ApiCustomer, api_customer, idempotency_key
from qianbao.credentials import Principal
from qianbao.credentials.models import UserSession
from qianbao.db import Database
from qianbao.ledger import AccountKind
from qianbao.notices.delivery import deliver_due
from qianbao.notices.models import OutboxMessage
from qianbao.settings import Settings

PHONE = "13912345678"
PASSWORD = "Lotus-Pond-2026"
DEVICE = "api-test-device-0001"
JSON = {"accept": "application/json"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def open_wallet(db: Database, settings: Settings, phone: str = PHONE) -> int:
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, send=False, settings=settings)
    with db.transaction() as session:
        customer, _wallet = wallets.complete_registration(session, phone, issued.code, PASSWORD, True,
                                                          settings=settings)
        return int(customer.id)


def known_device(db: Database, settings: Settings, customer_id: int, device: str = DEVICE) -> None:
    with db.transaction() as session:
        credentials.start_session(session, Principal.customer(customer_id), device_id=device, settings=settings)


def texted_code(db: Database, settings: Settings, phone: str = PHONE) -> str:
    deliver_due(db, settings)
    with db.read() as session:
        for message in latest_messages(session, phone=phone):
            found = re.search(r"\b(\d{6})\b", message.text)
            if found:
                return found.group(1)
    raise AssertionError("no code was texted")


def sign_in(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/sessions", json=body, headers=JSON)


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "authorization": f"Bearer {token}"}


def signed_in_token(client: TestClient, db: Database, settings: Settings, customer_id: int) -> str:
    known_device(db, settings, customer_id)
    response = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def sessions_of(db: Database, customer_id: int) -> list[UserSession]:
    with db.read() as session:
        rows = list(session.query(UserSession).filter_by(principal_type="customer", principal_id=customer_id))
        for row in rows:
            session.expunge(row)
        return rows


# ---- signing in ------------------------------------------------------------------------------------------

def test_a_known_device_gets_a_bearer_token_for_phone_and_password(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    known_device(db, settings, customer_id)
    response = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "signed_in" and body["token_type"] == "Bearer" and body["device_id"] == DEVICE
    assert body["idle_timeout_seconds"] == 15 * 60
    assert response.headers["cache-control"] == "no-store"
    wallet = client.get("/api/v1/wallet", headers=bearer(body["token"]))
    assert wallet.status_code == 200


def test_the_token_is_a_server_side_session_listed_with_the_others(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    token = signed_in_token(client, db, settings, customer_id)
    with db.read() as session:
        listed = credentials.list_sessions(session, Principal.customer(customer_id), settings=settings)
        public_ids = [row.public_id for row in listed]
    me = client.get("/api/v1/wallet", headers=bearer(token))
    assert me.status_code == 200
    assert len(public_ids) == 2  # the known device's earlier session and the API's
    # the token itself is stored only as its hash
    assert all(token not in (row.token_hash or "") for row in sessions_of(db, customer_id))


def test_a_new_device_needs_the_sms_code_before_a_token(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    first = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE)
    assert first.status_code == 200
    step = first.json()
    assert step["status"] == "sms_required" and step["sent"] is True and step["masked_phone"] == "139****5678"
    assert "token" not in step
    assert sessions_of(db, customer_id) == []
    second = sign_in(client, ticket=step["ticket"], code=texted_code(db, settings), device_id=DEVICE)
    assert second.status_code == 201
    assert second.json()["status"] == "signed_in"
    with db.read() as session:
        assert not credentials.is_new_device(session, Principal.customer(customer_id), DEVICE)


def test_a_sign_in_on_a_new_device_sends_the_new_device_notice(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    code = texted_code(db, settings)
    sign_in(client, ticket=step["ticket"], code=code, device_id=DEVICE)
    with db.read() as session:
        keys = [row.payload.get("key") for row in session.query(OutboxMessage).all()]
    assert "sms.security.new_device" in keys


def test_without_a_device_id_the_server_issues_one_to_keep(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD).json()
    assert step["status"] == "sms_required" and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", step["device_id"])
    done = sign_in(client, ticket=step["ticket"], code=texted_code(db, settings), device_id=step["device_id"])
    assert done.status_code == 201
    again = sign_in(client, phone=PHONE, password=PASSWORD, device_id=step["device_id"])
    assert again.status_code == 201, "the issued device is now a known one"


def test_a_malformed_device_id_is_refused(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    response = sign_in(client, phone=PHONE, password=PASSWORD, device_id="short")
    assert (response.status_code, response.json()["code"]) == (422, "DEVICE_ID_INVALID")


def test_the_ticket_works_only_with_the_device_it_was_issued_to(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    code = texted_code(db, settings)
    response = sign_in(client, ticket=step["ticket"], code=code, device_id="another-device-00001")
    assert (response.status_code, response.json()["code"]) == (400, "SIGNIN_TICKET_INVALID")
    assert sessions_of(db, customer_id) == []


def test_a_ticket_without_a_device_id_is_refused(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    response = sign_in(client, ticket=step["ticket"], code=texted_code(db, settings))
    assert (response.status_code, response.json()["code"]) == (400, "SIGNIN_TICKET_INVALID")


def test_the_ticket_expires_after_five_minutes(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    code = texted_code(db, settings)
    with time_machine.travel(timedelta(minutes=5, seconds=2), tick=False):
        response = sign_in(client, ticket=step["ticket"], code=code, device_id=DEVICE)
    assert (response.status_code, response.json()["code"]) == (400, "SIGNIN_TICKET_INVALID")
    assert sessions_of(db, customer_id) == []


def test_a_wrong_sms_code_counts_and_says_the_tries_left(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    right = texted_code(db, settings)
    wrong = "000000" if right != "000000" else "111111"
    response = sign_in(client, ticket=step["ticket"], code=wrong, device_id=DEVICE)
    assert (response.status_code, response.json()["code"]) == (422, "OTP_WRONG")
    assert response.json()["code"] == "OTP_WRONG" and response.json()["params"]["tries_left"] == 4
    for _ in range(4):
        last = sign_in(client, ticket=step["ticket"], code=wrong, device_id=DEVICE)
    assert last.json()["code"] == "OTP_TOO_MANY_TRIES"
    dead = sign_in(client, ticket=step["ticket"], code=right, device_id=DEVICE)
    assert dead.json()["code"] == "OTP_TOO_MANY_TRIES"
    assert sessions_of(db, customer_id) == []


def test_signing_in_again_within_the_minute_reuses_the_code_sent(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    open_wallet(db, settings)
    sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE)
    code = texted_code(db, settings)
    again = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    assert again["status"] == "sms_required" and again["sent"] is False and 0 < again["resend_after"] <= 60
    done = sign_in(client, ticket=again["ticket"], code=code, device_id=DEVICE)
    assert done.status_code == 201


def test_with_totp_enrolled_the_dynamic_password_is_the_last_step(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    principal = Principal.customer(customer_id)
    with db.transaction() as session:
        enrolment = credentials.begin_totp_enrolment(session, principal, account_name=PHONE)
        credentials.confirm_totp_enrolment(session, principal, pyotp.TOTP(enrolment.secret).now())
    known_device(db, settings, customer_id)
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    assert step["status"] == "totp_required"
    with time_machine.travel(timedelta(seconds=31), tick=False):
        done = sign_in(client, ticket=step["ticket"], code=pyotp.TOTP(enrolment.secret).now(), device_id=DEVICE)
    assert done.status_code == 201, done.text


def test_a_new_device_with_totp_needs_the_sms_code_then_the_dynamic_password(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    principal = Principal.customer(customer_id)
    with db.transaction() as session:
        enrolment = credentials.begin_totp_enrolment(session, principal, account_name=PHONE)
        credentials.confirm_totp_enrolment(session, principal, pyotp.TOTP(enrolment.secret).now())
    step = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    assert step["status"] == "sms_required"
    totp_step = sign_in(client, ticket=step["ticket"], code=texted_code(db, settings), device_id=DEVICE).json()
    assert totp_step["status"] == "totp_required"
    assert sessions_of(db, customer_id) == []
    with time_machine.travel(timedelta(seconds=31), tick=False):
        done = sign_in(client, ticket=totp_step["ticket"], code=pyotp.TOTP(enrolment.secret).now(), device_id=DEVICE)
    assert done.status_code == 201


def test_a_wrong_password_is_refused_like_an_unknown_number(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    wrong = sign_in(client, phone=PHONE, password="Not-The-Password-1", device_id=DEVICE)
    unknown = sign_in(client, phone="13700000000", password=PASSWORD, device_id=DEVICE)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "LOGIN_FAILED")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "LOGIN_FAILED")
    assert sessions_of(db, customer_id) == []


def test_five_wrong_passwords_lock_the_api_sign_in_as_the_web_one(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    known_device(db, settings, customer_id)
    answers = [sign_in(client, phone=PHONE, password="Not-The-Password-1", device_id=DEVICE) for _ in range(5)]
    assert [a.json()["code"] for a in answers] == ["LOGIN_FAILED"] * 4 + ["LOGIN_LOCKED"]
    right = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE)
    assert (right.status_code, right.json()["code"]) == (423, "LOGIN_LOCKED")
    assert len(sessions_of(db, customer_id)) == 1  # only known_device's
    # The web's sign-in shares the lock.
    with db.read() as session:
        assert credentials.login_locked_until(session, Principal.customer(customer_id)) is not None


def test_sign_in_attempts_are_rate_limited_per_ip(app, db, settings) -> None:  # type: ignore[no-untyped-def]
    app.state.settings = settings.model_copy(update={"login_ip_limit": 2})
    open_wallet(db, settings)
    client = TestClient(app, raise_server_exceptions=False)
    codes = [sign_in(client, phone=PHONE, password="Not-The-Password-1", device_id=DEVICE) for _ in range(3)]
    assert [c.json()["code"] for c in codes] == ["LOGIN_FAILED", "LOGIN_FAILED", "RATE_LIMITED"]
    assert codes[2].status_code == 429 and int(codes[2].headers["retry-after"]) > 0


def test_sign_in_without_phone_or_password_is_refused(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    response = sign_in(client, device_id=DEVICE)
    assert (response.status_code, response.json()["code"]) == (401, "LOGIN_FAILED")


# ---- the bearer token -------------------------------------------------------------------------------------

def test_no_token_is_401_unauthenticated_with_a_bearer_challenge(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/wallet", headers=JSON)
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401_unauthenticated(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/wallet", headers=bearer("not-a-token"))
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_idle_for_fifteen_minutes_is_expired(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    token = signed_in_token(client, db, settings, customer_id)
    with time_machine.travel(timedelta(minutes=15, seconds=1), tick=False):
        response = client.get("/api/v1/wallet", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_EXPIRED")
    after = client.get("/api/v1/wallet", headers=bearer(token))
    assert (after.status_code, after.json()["code"]) == (401, "UNAUTHENTICATED"), "the timed-out session was ended"


def test_each_call_slides_the_idle_timeout(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    token = signed_in_token(client, db, settings, customer_id)
    with time_machine.travel(timedelta(minutes=10), tick=False):
        assert client.get("/api/v1/wallet", headers=bearer(token)).status_code == 200
    with time_machine.travel(timedelta(minutes=20), tick=False):
        assert client.get("/api/v1/wallet", headers=bearer(token)).status_code == 200


def test_a_token_revoked_on_the_security_page_stops_working(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    known_device(db, settings, customer_id)
    body = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    with db.transaction() as session:
        credentials.revoke_session(session, Principal.customer(customer_id), body["session_id"])
    response = client.get("/api/v1/wallet", headers=bearer(body["token"]))
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")


def test_signing_out_ends_the_token(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    token = signed_in_token(client, db, settings, customer_id)
    assert client.delete("/api/v1/sessions/current", headers=bearer(token)).status_code == 204
    response = client.get("/api/v1/wallet", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
    assert client.delete("/api/v1/sessions/current", headers=bearer(token)).status_code == 401


def test_a_staff_token_is_not_a_customer_bearer_token(client, db, settings, make_staff, staff_session) -> None:  # type: ignore[no-untyped-def]
    token, _csrf = staff_session(make_staff("operator"))
    response = client.get("/api/v1/wallet", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")


def test_the_session_cookie_is_not_accepted_for_the_bearer_api(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    from qianbao.web import auth

    customer_id = open_wallet(db, settings)
    with db.transaction() as session:
        token = credentials.start_session(session, Principal.customer(customer_id), settings=settings).token
    client.cookies.set(auth.customer_cookie(settings).name, token)
    response = client.get("/api/v1/wallet", headers=JSON)
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")


# ---- the wallet -------------------------------------------------------------------------------------------

def test_the_wallet_shows_number_tier_balance_and_limits(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    with db.transaction() as session:
        wallet = wallets.wallet_of_customer(session, customer_id)
        assert wallet is not None
        number, account = wallet.number, wallet.ledger_account_id
        clearing = ledger.ensure_account(session, AccountKind.BANK_CLEARING, "TEST-CLEARING").id
        ledger.create_transfer(session, key="t:fund", debit=clearing, credit=account, amount=12_345, code="topup")
        ledger.create_transfer(session, key="t:hold", debit=account, credit=clearing, amount=2_000, code="withdrawal",
                               pending=True)
    token = signed_in_token(client, db, settings, customer_id)
    body = client.get("/api/v1/wallet", headers=bearer(token)).json()
    assert body["wallet_number"] == number and body["wallet_number_display"].replace(" ", "") == number
    assert (body["tier"], body["status"], body["currency"]) == (4, "active", "CNY")
    assert body["balance"] == {"posted": {"fen": 12_345, "yuan": "123.45"}, "held": {"fen": 2_000, "yuan": "20.00"},
                               "available": {"fen": 10_345, "yuan": "103.45"}}
    limits = body["limits"]
    assert limits["balance_cap"] == {"fen": 1_000_000, "yuan": "10000.00"}
    assert limits["single_payment"]["fen"] == 200_000 and limits["daily_outflow"]["fen"] == 500_000
    assert limits["annual_outflow"]["fen"] == 5_000_000
    assert limits["can_pay"] is True and limits["can_receive"] is True


def test_a_customer_sees_only_their_own_wallet(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    mine = open_wallet(db, settings)
    other = open_wallet(db, settings, phone="13811112222")
    token = signed_in_token(client, db, settings, mine)
    body = client.get("/api/v1/wallet", headers=bearer(token)).json()
    with db.read() as session:
        other_wallet = wallets.wallet_of_customer(session, other)
        assert other_wallet is not None
        assert body["wallet_number"] != other_wallet.number


# ---- the dependency and the Idempotency-Key convention ---------------------------------------------------

@pytest.fixture
def probe(app):  # type: ignore[no-untyped-def]
    @app.post("/api/v1/test-probe")
    def probe_route(customer: ApiCustomer = Depends(api_customer),
                    key: str = Depends(idempotency_key)) -> dict[str, Any]:
        return {"customer_id": customer.customer_id, "wallet_id": customer.wallet_id,
                "session_id": customer.session_id, "key": key}

    return app


def test_api_customer_gives_the_customer_wallet_and_session(probe, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    known_device(db, settings, customer_id)
    body = sign_in(client, phone=PHONE, password=PASSWORD, device_id=DEVICE).json()
    answer = client.post("/api/v1/test-probe", headers={**bearer(body["token"]), "Idempotency-Key": "order-42"}).json()
    with db.read() as session:
        wallet = wallets.wallet_of_customer(session, customer_id)
        assert wallet is not None
    assert answer == {"customer_id": customer_id, "wallet_id": wallet.id, "session_id": body["session_id"],
                      "key": f"api:{customer_id}:order-42"}


def test_a_write_without_an_idempotency_key_is_refused(probe, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    token = signed_in_token(client, db, settings, open_wallet(db, settings))
    response = client.post("/api/v1/test-probe", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (400, "IDEMPOTENCY_KEY_MISSING")


def test_a_malformed_idempotency_key_is_refused(probe, client, db, settings) -> None:  # type: ignore[no-untyped-def]
    token = signed_in_token(client, db, settings, open_wallet(db, settings))
    response = client.post("/api/v1/test-probe", headers={**bearer(token), "Idempotency-Key": "x" * 65})
    assert (response.status_code, response.json()["code"]) == (422, "IDEMPOTENCY_KEY_INVALID")
