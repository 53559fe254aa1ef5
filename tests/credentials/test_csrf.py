"""CSRF protection: a synchronizer token tied to the session (or, before sign-in, to the device)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qianbao.credentials import Principal, csrf_token, rotate_session, start_session, verify_csrf
from qianbao.credentials.sessions import new_device_id
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import Keyring, create_keyring, use_keyring
from qianbao.settings import Settings


def csrf_code(bound_to: object, token: str | None) -> str | None:
    try:
        verify_csrf(bound_to, token)  # type: ignore[arg-type]
    except QianbaoError as exc:
        return exc.code
    return None


def test_the_sessions_own_token_is_accepted(run: Callable, alice: Principal, settings: Settings) -> None:
    record = run(start_session, alice, settings=settings).record
    assert csrf_code(record, csrf_token(record)) is None


def test_a_missing_or_altered_token_is_refused(run: Callable, alice: Principal, settings: Settings) -> None:
    record = run(start_session, alice, settings=settings).record
    token = csrf_token(record)
    assert csrf_code(record, None) == "CSRF_FAILED"
    assert csrf_code(record, "") == "CSRF_FAILED"
    assert csrf_code(record, token[:-1] + ("A" if token[-1] != "A" else "B")) == "CSRF_FAILED"


def test_another_sessions_token_is_refused(run: Callable, alice: Principal, bob: Principal,
                                           settings: Settings) -> None:
    mine = run(start_session, alice, settings=settings).record
    theirs = run(start_session, bob, settings=settings).record
    assert csrf_code(mine, csrf_token(theirs)) == "CSRF_FAILED"


def test_rotation_retires_the_old_token(run: Callable, alice: Principal, settings: Settings) -> None:
    first = run(start_session, alice, settings=settings)
    second = run(rotate_session, first.token, settings=settings)
    assert csrf_code(second.record, csrf_token(first.record)) == "CSRF_FAILED"


def test_forms_before_sign_in_bind_the_token_to_the_device() -> None:
    device, other = new_device_id(), new_device_id()
    assert csrf_code(device, csrf_token(device)) is None
    assert csrf_code(other, csrf_token(device)) == "CSRF_FAILED"
    assert csrf_code(None, csrf_token(device)) == "CSRF_FAILED"


def test_a_device_token_does_not_pass_for_a_session(run: Callable, alice: Principal, settings: Settings) -> None:
    record = run(start_session, alice, settings=settings).record
    assert csrf_code(record, csrf_token(record.public_id)) == "CSRF_FAILED"


def test_tokens_depend_on_the_deployments_key(tmp_path, keyring: Keyring) -> None:  # type: ignore[no-untyped-def]
    device = new_device_id()
    token = csrf_token(device)
    use_keyring(create_keyring(tmp_path / "other-keys.json"))
    try:
        assert csrf_code(device, token) == "CSRF_FAILED"
    finally:
        use_keyring(keyring)


def test_a_token_needs_something_to_bind_to() -> None:
    with pytest.raises(ValueError):
        csrf_token("")
