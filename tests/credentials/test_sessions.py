"""Server-side sessions (SPEC §4): hashed random tokens, rotation at sign-in, 15-minute idle timeout,
absolute lifetime, listing and revocation, new-device detection, staff role and branch, cookies."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from qianbao.credentials import (
    Principal,
    authenticate,
    device_cookie,
    end_session,
    is_new_device,
    list_sessions,
    new_device_id,
    principal_of,
    require_session,
    revoke_all,
    revoke_session,
    rotate_session,
    session_cookie,
    start_session,
)
from qianbao.credentials.models import UserSession
from qianbao.credentials.sessions import prune_sessions
from qianbao.db import Database
from qianbao.settings import Settings


@pytest.fixture
def sign_in(run: Callable, settings: Settings) -> Callable:
    def call(principal: Principal, **kwargs: object):  # type: ignore[no-untyped-def]
        return run(start_session, principal, settings=settings, **kwargs)

    return call


@pytest.fixture
def auth(run: Callable, settings: Settings) -> Callable:
    def call(token: str | None, **kwargs: object) -> UserSession | None:
        return run(authenticate, token, settings=settings, **kwargs)

    return call


# ---- tokens -----------------------------------------------------------------------------------------

def test_token_is_32_random_bytes_stored_only_as_its_sha256(db: Database, sign_in: Callable,
                                                            alice: Principal) -> None:
    started = sign_in(alice)
    assert len(base64.urlsafe_b64decode(started.token + "=")) == 32
    with db.read() as session:
        stored = session.scalar(select(UserSession.token_hash))
    assert stored == hashlib.sha256(started.token.encode()).hexdigest()
    assert started.token not in stored
    assert sign_in(alice).token != started.token


def test_the_token_authenticates_its_principal(auth: Callable, sign_in: Callable, alice: Principal) -> None:
    record = auth(sign_in(alice, ip="203.0.113.9").token)
    assert record is not None
    assert principal_of(record) == alice


def test_an_unknown_or_missing_token_authenticates_nobody(run: Callable, refusal: Callable, auth: Callable,
                                                          settings: Settings) -> None:
    assert auth("not-a-token") is None
    assert auth(None) is None
    assert refusal(require_session, "not-a-token", settings=settings).code == "UNAUTHENTICATED"


def test_staff_sessions_carry_role_and_branch(auth: Callable, sign_in: Callable) -> None:
    record = auth(sign_in(Principal.staff(7), role="teller", branch_id=3).token)
    assert (record.principal_type, record.principal_id, record.role, record.branch_id) == ("staff", 7, "teller", 3)


# ---- lifetimes --------------------------------------------------------------------------------------

def test_session_ends_after_15_minutes_without_a_request(
    refusal: Callable, auth: Callable, sign_in: Callable, alice: Principal, settings: Settings,
    clock: time_machine.Traveller,
) -> None:
    token = sign_in(alice).token
    clock.shift(timedelta(minutes=14, seconds=59))
    assert auth(token) is not None
    clock.shift(timedelta(minutes=15))
    assert refusal(require_session, token, settings=settings).code == "SESSION_EXPIRED"
    assert auth(token) is None


def test_each_request_restarts_the_idle_clock(auth: Callable, sign_in: Callable, alice: Principal,
                                              clock: time_machine.Traveller) -> None:
    token = sign_in(alice).token
    for _ in range(6):
        clock.shift(timedelta(minutes=10))
        assert auth(token) is not None


def test_session_ends_at_its_absolute_lifetime_however_active(
    refusal: Callable, auth: Callable, sign_in: Callable, alice: Principal, settings: Settings,
    clock: time_machine.Traveller,
) -> None:
    token = sign_in(alice).token
    for _ in range(11 * 6 + 5):
        clock.shift(timedelta(minutes=10))
        assert auth(token) is not None
    clock.shift(timedelta(minutes=10))  # 12 hours after sign-in
    assert refusal(require_session, token, settings=settings).code == "SESSION_EXPIRED"


def test_lifetimes_come_from_settings(run: Callable, alice: Principal, settings: Settings,
                                      clock: time_machine.Traveller) -> None:
    short = settings.model_copy(update={"session_idle_minutes": 5})
    token = run(start_session, alice, settings=short).token
    clock.shift(timedelta(minutes=5))
    assert run(authenticate, token, settings=short) is None


# ---- rotation and sign-out --------------------------------------------------------------------------

def test_signing_in_rotates_the_browsers_old_session(auth: Callable, sign_in: Callable, alice: Principal) -> None:
    before = sign_in(alice).token
    after = sign_in(alice, replaces_token=before).token
    assert auth(before) is None
    assert auth(after) is not None


def test_rotating_a_session_issues_a_new_token_and_keeps_its_end(
    run: Callable, auth: Callable, sign_in: Callable, settings: Settings, clock: time_machine.Traveller
) -> None:
    first = sign_in(Principal.staff(7), role="supervisor", branch_id=3)
    clock.shift(timedelta(minutes=5))
    second = run(rotate_session, first.token, settings=settings)
    assert auth(first.token) is None
    record = auth(second.token)
    assert (record.role, record.branch_id, record.expires_at) == ("supervisor", 3, first.record.expires_at)


def test_signing_out_ends_the_session(run: Callable, auth: Callable, sign_in: Callable, alice: Principal) -> None:
    token = sign_in(alice).token
    run(end_session, token)
    assert auth(token) is None


# ---- the security page ------------------------------------------------------------------------------

def test_sessions_are_listed_most_recent_first(run: Callable, auth: Callable, sign_in: Callable,
                                               alice: Principal, bob: Principal, settings: Settings,
                                               clock: time_machine.Traveller) -> None:
    phone = sign_in(alice, user_agent="Phone")
    clock.shift(timedelta(minutes=1))
    laptop = sign_in(alice, user_agent="Laptop")
    sign_in(bob)
    clock.shift(timedelta(minutes=1))
    auth(phone.token)
    listed = run(list_sessions, alice, settings=settings)
    assert [s.public_id for s in listed] == [phone.public_id, laptop.public_id]


def test_ended_sessions_are_not_listed(run: Callable, sign_in: Callable, alice: Principal, settings: Settings,
                                       clock: time_machine.Traveller) -> None:
    sign_in(alice)
    clock.shift(timedelta(minutes=16))
    assert run(list_sessions, alice, settings=settings) == []


def test_revoking_one_session_ends_it(run: Callable, auth: Callable, sign_in: Callable, alice: Principal) -> None:
    here, there = sign_in(alice), sign_in(alice)
    run(revoke_session, alice, there.public_id)
    assert auth(there.token) is None
    assert auth(here.token) is not None


def test_another_customers_session_cannot_be_revoked(refusal: Callable, auth: Callable, sign_in: Callable,
                                                     alice: Principal, bob: Principal) -> None:
    bobs = sign_in(bob)
    assert refusal(revoke_session, alice, bobs.public_id).code == "NOT_FOUND"
    assert auth(bobs.token) is not None


def test_revoking_all_others_keeps_the_current_session(run: Callable, auth: Callable, sign_in: Callable,
                                                       alice: Principal, bob: Principal) -> None:
    here, there, elsewhere, bobs = sign_in(alice), sign_in(alice), sign_in(alice), sign_in(bob)
    assert run(revoke_all, alice, except_public_id=here.public_id) == 2
    assert [auth(s.token) is not None for s in (here, there, elsewhere, bobs)] == [True, False, False, True]


# ---- devices ----------------------------------------------------------------------------------------

def test_a_device_is_new_until_the_principal_signs_in_from_it(db: Database, sign_in: Callable,
                                                              alice: Principal, bob: Principal) -> None:
    device = new_device_id()
    with db.read() as session:
        assert is_new_device(session, alice, device)
    sign_in(alice, device_id=device, user_agent="Mozilla/5.0")
    with db.read() as session:
        assert not is_new_device(session, alice, device)
        assert is_new_device(session, bob, device)
        assert is_new_device(session, alice, new_device_id())
        assert is_new_device(session, alice, None)


def test_a_known_device_stays_known_after_its_sessions_are_pruned(
    db: Database, run: Callable, sign_in: Callable, alice: Principal, clock: time_machine.Traveller
) -> None:
    device = new_device_id()
    sign_in(alice, device_id=device)
    clock.shift(timedelta(days=40))
    assert run(prune_sessions) == 1
    with db.read() as session:
        assert not is_new_device(session, alice, device)


# ---- cookies ----------------------------------------------------------------------------------------

def test_production_cookies_are_host_prefixed_secure_httponly_lax(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    cookie = session_cookie(production)
    assert cookie.set_cookie_kwargs("t") == {
        "key": "__Host-qb_session", "value": "t", "max_age": 12 * 3600, "path": "/",
        "secure": True, "httponly": True, "samesite": "lax",
    }
    assert device_cookie(production).name == "__Host-qb_device"


def test_development_cookies_over_plain_http_drop_secure_and_the_prefix(settings: Settings) -> None:
    development = settings.model_copy(update={"environment": "development"})
    cookie = session_cookie(development)
    assert (cookie.name, cookie.secure, cookie.httponly, cookie.samesite) == ("qb_session", False, True, "lax")
    assert device_cookie(development).name == "qb_device"


def test_cookie_security_can_be_forced_either_way(settings: Settings) -> None:
    assert session_cookie(settings.model_copy(update={"cookie_secure": True})).name == "__Host-qb_session"
    forced_off = settings.model_copy(update={"environment": "production", "cookie_secure": False})
    assert session_cookie(forced_off).name == "qb_session"
