"""Passkeys (WebAuthn, SPEC §4): registration, password-less sign-in and the payment step-up, against a
software authenticator; then the customer app's JSON API that the browser calls."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from soft_authenticator import SoftAuthenticator
from webauthn.helpers import bytes_to_base64url

from qianbao import credentials, wallets
from qianbao.credentials import Principal, passkeys
from qianbao.web import auth

RP_ID = "wallet.example.cn"
ORIGIN = "https://wallet.example.cn"


def _options(run: Any, principal: Principal) -> dict[str, Any]:
    return run(passkeys.registration_options, principal, rp_id=RP_ID, user_name="139****5678",
               user_display_name="139****5678")


def _register(run: Any, principal: Principal, authenticator: SoftAuthenticator | None = None) -> SoftAuthenticator:
    authenticator = authenticator or SoftAuthenticator()
    answer = authenticator.create(_options(run, principal), ORIGIN)
    run(passkeys.register_passkey, principal, answer, rp_id=RP_ID, origin=ORIGIN, name="Pixel 8")
    return authenticator


def _login_options(run: Any) -> dict[str, Any]:
    return run(passkeys.authentication_options, rp_id=RP_ID)


# ---- registration -----------------------------------------------------------------------------------

def test_registration_options_require_user_verification_and_a_discoverable_key(run, alice) -> None:  # type: ignore[no-untyped-def]
    options = _options(run, alice)
    selection = options["authenticatorSelection"]
    assert selection["userVerification"] == "required" and selection["residentKey"] == "required"
    assert options["rp"]["id"] == RP_ID and options["user"]["name"] == "139****5678"
    assert options["user"]["id"] == bytes_to_base64url(passkeys.user_handle(alice))
    assert options["user"]["id"] != bytes_to_base64url(passkeys.user_handle(Principal.customer(alice.id + 1)))


def test_a_registered_passkey_is_stored_with_its_key_and_counter(run, db, alice) -> None:  # type: ignore[no-untyped-def]
    _register(run, alice)
    with db.read() as session:
        [stored] = passkeys.list_passkeys(session, alice)
    assert (stored.name, stored.sign_count, stored.principal) == ("Pixel 8", 0, alice)
    assert stored.public_key and len(stored.public_id) >= 16


def test_registration_without_user_verification_is_refused(run, refusal, db, alice) -> None:  # type: ignore[no-untyped-def]
    answer = SoftAuthenticator().create(_options(run, alice), ORIGIN, user_verified=False)
    assert refusal(passkeys.register_passkey, alice, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_USER_NOT_VERIFIED"
    with db.read() as session:
        assert not passkeys.has_passkey(session, alice)


def test_a_registration_answer_from_another_origin_is_refused(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    answer = SoftAuthenticator().create(_options(run, alice), "https://phish.example.com")
    assert refusal(passkeys.register_passkey, alice, answer, rp_id=RP_ID, origin=ORIGIN).code == "PASSKEY_INVALID"


def test_a_registration_challenge_is_accepted_once(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    options = _options(run, alice)
    first, second = SoftAuthenticator(), SoftAuthenticator()
    run(passkeys.register_passkey, alice, first.create(options, ORIGIN), rp_id=RP_ID, origin=ORIGIN)
    assert refusal(passkeys.register_passkey, alice, second.create(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN).code == "PASSKEY_CHALLENGE_INVALID"


def test_a_failed_answer_still_spends_the_challenge(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    options = _options(run, alice)
    authenticator = SoftAuthenticator()
    refusal(passkeys.register_passkey, alice, authenticator.create(options, "https://phish.example.com"),
            rp_id=RP_ID, origin=ORIGIN)
    assert refusal(passkeys.register_passkey, alice, authenticator.create(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN).code == "PASSKEY_CHALLENGE_INVALID"


def test_a_registration_challenge_expires_after_5_minutes(run, refusal, alice, clock) -> None:  # type: ignore[no-untyped-def]
    options = _options(run, alice)
    clock.shift(timedelta(minutes=5, seconds=1))
    assert refusal(passkeys.register_passkey, alice, SoftAuthenticator().create(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN).code == "PASSKEY_CHALLENGE_INVALID"


def test_a_challenge_issued_to_one_customer_does_not_register_for_another(run, refusal, alice, bob) -> None:  # type: ignore[no-untyped-def]
    answer = SoftAuthenticator().create(_options(run, alice), ORIGIN)
    assert refusal(passkeys.register_passkey, bob, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_CHALLENGE_INVALID"


def test_the_same_authenticator_cannot_be_added_twice(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    again = authenticator.create(_options(run, alice), ORIGIN)
    assert refusal(passkeys.register_passkey, alice, again, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_ALREADY_REGISTERED"


def test_at_most_10_passkeys_per_customer(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    for _ in range(passkeys.MAX_PASSKEYS):
        _register(run, alice)
    error = refusal(passkeys.registration_options, alice, rp_id=RP_ID, user_name="x", user_display_name="x")
    assert (error.code, error.params) == ("PASSKEY_LIMIT", {"limit": 10})


def test_a_malformed_answer_is_refused(refusal, alice) -> None:  # type: ignore[no-untyped-def]
    assert refusal(passkeys.register_passkey, alice, {"id": "x"}, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_INVALID"


# ---- sign-in ----------------------------------------------------------------------------------------

def test_a_passkey_signs_its_owner_in_without_a_password(run, db, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    options = _login_options(run)
    assert options["userVerification"] == "required" and options.get("allowCredentials", []) == []
    used = run(passkeys.authenticate_with_passkey, authenticator.get(options, ORIGIN), rp_id=RP_ID, origin=ORIGIN)
    assert used.principal == alice
    with db.read() as session:
        [stored] = passkeys.list_passkeys(session, alice)
    assert stored.sign_count == 1 and stored.last_used_at is not None


def test_sign_in_without_user_verification_is_refused(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    answer = authenticator.get(_login_options(run), ORIGIN, user_verified=False)
    assert refusal(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_USER_NOT_VERIFIED"


def test_a_counter_that_does_not_grow_is_refused_as_a_possible_clone(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    run(passkeys.authenticate_with_passkey, authenticator.get(_login_options(run), ORIGIN, sign_count=7),
        rp_id=RP_ID, origin=ORIGIN)
    clone = authenticator.get(_login_options(run), ORIGIN, sign_count=7)
    assert refusal(passkeys.authenticate_with_passkey, clone, rp_id=RP_ID, origin=ORIGIN).code == "PASSKEY_SIGN_COUNT"


def test_an_authenticator_without_a_counter_is_accepted_every_time(run, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    for _ in range(2):
        answer = authenticator.get(_login_options(run), ORIGIN, sign_count=0)
        assert run(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).principal == alice


def test_an_unknown_passkey_is_not_recognised(run, refusal) -> None:  # type: ignore[no-untyped-def]
    answer = SoftAuthenticator().get(_login_options(run), ORIGIN)
    assert refusal(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_NOT_RECOGNISED"


def test_a_signature_by_another_key_is_refused(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    impostor = SoftAuthenticator()
    impostor.credential_id, impostor.user_handle = authenticator.credential_id, authenticator.user_handle
    answer = impostor.get(_login_options(run), ORIGIN)
    assert refusal(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).code == "PASSKEY_INVALID"


def test_a_sign_in_answer_for_another_site_is_refused(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    answer = authenticator.get(_login_options(run), ORIGIN, rp_id="phish.example.com")
    assert refusal(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).code == "PASSKEY_INVALID"


def test_a_sign_in_challenge_is_single_use(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    options = _login_options(run)
    run(passkeys.authenticate_with_passkey, authenticator.get(options, ORIGIN), rp_id=RP_ID, origin=ORIGIN)
    assert refusal(passkeys.authenticate_with_passkey, authenticator.get(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN).code == "PASSKEY_CHALLENGE_INVALID"


def test_a_registration_challenge_does_not_sign_anyone_in(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    options = _options(run, alice)
    answer = authenticator.get({"challenge": options["challenge"], "rpId": RP_ID}, ORIGIN)
    assert refusal(passkeys.authenticate_with_passkey, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_CHALLENGE_INVALID"


def test_sign_in_options_are_rate_limited_per_ip(run, refusal, settings) -> None:  # type: ignore[no-untyped-def]
    limited = settings.model_copy(update={"login_ip_limit": 2})
    for _ in range(2):
        run(passkeys.authentication_options, rp_id=RP_ID, ip="192.0.2.9", settings=limited)
    assert refusal(passkeys.authentication_options, rp_id=RP_ID, ip="192.0.2.9", settings=limited).code == \
        "RATE_LIMITED"


# ---- the step-up that confirms a payment ------------------------------------------------------------

def test_a_payment_is_confirmed_with_the_passkey_bound_to_it(run, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    options = run(passkeys.step_up_options, alice, rp_id=RP_ID, binding="payment:P123")
    assert [c["id"] for c in options["allowCredentials"]] == [bytes_to_base64url(authenticator.credential_id)]
    used = run(passkeys.verify_passkey_assertion, alice, authenticator.get(options, ORIGIN), rp_id=RP_ID,
               origin=ORIGIN, binding="payment:P123")
    assert used.principal == alice


def test_a_step_up_answer_does_not_confirm_another_payment(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    options = run(passkeys.step_up_options, alice, rp_id=RP_ID, binding="payment:P123")
    assert refusal(passkeys.verify_passkey_assertion, alice, authenticator.get(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN, binding="payment:P999").code == "PASSKEY_CHALLENGE_INVALID"


def test_another_customers_passkey_does_not_confirm_a_payment(run, refusal, alice, bob) -> None:  # type: ignore[no-untyped-def]
    _register(run, alice)
    bobs = _register(run, bob)
    options = run(passkeys.step_up_options, alice, rp_id=RP_ID)
    assert refusal(passkeys.verify_passkey_assertion, alice, bobs.get(options, ORIGIN), rp_id=RP_ID,
                   origin=ORIGIN).code == "PASSKEY_NOT_RECOGNISED"


def test_a_sign_in_challenge_does_not_confirm_a_payment(run, refusal, alice) -> None:  # type: ignore[no-untyped-def]
    authenticator = _register(run, alice)
    answer = authenticator.get(_login_options(run), ORIGIN)
    assert refusal(passkeys.verify_passkey_assertion, alice, answer, rp_id=RP_ID, origin=ORIGIN).code == \
        "PASSKEY_CHALLENGE_INVALID"


def test_without_a_passkey_the_step_up_asks_for_the_pin(refusal, alice) -> None:  # type: ignore[no-untyped-def]
    assert refusal(passkeys.step_up_options, alice, rp_id=RP_ID).code == "PASSKEY_NONE"


# ---- the security page's list -----------------------------------------------------------------------

def test_a_passkey_is_removed_only_by_its_owner(run, refusal, db, alice, bob) -> None:  # type: ignore[no-untyped-def]
    _register(run, alice)
    with db.read() as session:
        public_id = passkeys.list_passkeys(session, alice)[0].public_id
    assert refusal(passkeys.remove_passkey, bob, public_id).code == "NOT_FOUND"
    run(passkeys.remove_passkey, alice, public_id)
    with db.read() as session:
        assert not passkeys.has_passkey(session, alice)


def test_spent_and_expired_challenges_are_pruned(run, db, alice, clock) -> None:  # type: ignore[no-untyped-def]
    _options(run, alice)
    _login_options(run)
    assert run(passkeys.prune_challenges) == 0
    clock.shift(timedelta(hours=2))
    assert run(passkeys.prune_challenges) == 2


# ---- the JSON API -----------------------------------------------------------------------------------

HOST_ORIGIN = "http://testserver"


@pytest.fixture
def customer(db, settings) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        issued = wallets.start_registration(session, "13912345678", send=False, settings=settings)
    with db.transaction() as session:
        holder, _ = wallets.complete_registration(session, "13912345678", issued.code, "Lotus-Pond-2026", True,
                                                  settings=settings)
        return int(holder.id)


def _signed_in(client, db, settings, customer_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(customer_id), settings=settings)
        token, csrf = started.token, credentials.csrf_token(started.record)
    client.cookies.set(auth.customer_cookie(settings).name, token)
    return csrf


def _api_register(client, csrf: str) -> SoftAuthenticator:  # type: ignore[no-untyped-def]
    headers = {"X-CSRF-Token": csrf}
    options = client.post("/api/v1/customer/passkeys/register/options", headers=headers).json()
    assert options["rp"]["id"] == "testserver"
    authenticator = SoftAuthenticator()
    created = client.post("/api/v1/customer/passkeys/register", headers=headers,
                          json={"credential": authenticator.create(options, HOST_ORIGIN)})
    assert created.status_code == 201, created.text
    return authenticator


def test_the_api_registers_a_passkey_and_signs_in_with_it(client, db, settings, customer) -> None:  # type: ignore[no-untyped-def]
    authenticator = _api_register(client, _signed_in(client, db, settings, customer))
    # Named after the browser that added it; the test client's User-Agent names no browser.
    assert [item["name"] for item in client.get("/api/v1/customer/passkeys").json()] == ["未知设备"]
    client.cookies.clear()
    client.get("/app/login", headers={"accept": "text/html"})
    csrf = credentials.csrf_token(client.cookies.get(auth.device_cookie(settings).name))
    options = client.post("/api/v1/customer/passkeys/login/options", headers={"X-CSRF-Token": csrf}).json()
    signed = client.post("/api/v1/customer/passkeys/login", headers={"X-CSRF-Token": csrf},
                         json={"credential": authenticator.get(options, HOST_ORIGIN), "next": "/app/security"})
    assert signed.status_code == 200 and signed.json() == {"redirect": "/app/security"}
    assert client.get("/app/security", headers={"accept": "text/html"}).status_code == 200


def test_the_api_refuses_a_passkey_answer_as_problem_json(client, db, settings, customer) -> None:  # type: ignore[no-untyped-def]
    authenticator = _api_register(client, _signed_in(client, db, settings, customer))
    client.cookies.clear()
    client.get("/app/login", headers={"accept": "text/html"})
    csrf = credentials.csrf_token(client.cookies.get(auth.device_cookie(settings).name))
    options = client.post("/api/v1/customer/passkeys/login/options", headers={"X-CSRF-Token": csrf}).json()
    response = client.post("/api/v1/customer/passkeys/login", headers={"X-CSRF-Token": csrf},
                           json={"credential": authenticator.get(options, HOST_ORIGIN, user_verified=False)})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "PASSKEY_USER_NOT_VERIFIED"


def test_the_api_needs_the_csrf_header(client, db, settings, customer) -> None:  # type: ignore[no-untyped-def]
    _signed_in(client, db, settings, customer)
    assert client.post("/api/v1/customer/passkeys/register/options").status_code == 403


def test_another_customers_passkey_is_not_found_through_the_api(client, db, settings, customer, run) -> None:  # type: ignore[no-untyped-def]
    stranger = Principal.customer(customer + 1000)
    _register(run, stranger)
    with db.read() as session:
        public_id = passkeys.list_passkeys(session, stranger)[0].public_id
    csrf = _signed_in(client, db, settings, customer)
    response = client.delete(f"/api/v1/customer/passkeys/{public_id}", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 404
    page = client.post(f"/app/security/passkeys/{public_id}/remove", data={"csrf_token": csrf},
                       headers={"accept": "text/html"})
    assert page.status_code == 404
    with db.read() as session:
        assert passkeys.has_passkey(session, stranger)


def test_the_worker_prunes_passkey_challenges(db, settings, run, alice, clock) -> None:  # type: ignore[no-untyped-def]
    from qianbao.worker import jobs

    [job] = [job for job in jobs() if job.name == "passkey_challenges_prune"]
    _options(run, alice)
    clock.shift(timedelta(hours=2))
    assert job.run(db, settings) == 1
