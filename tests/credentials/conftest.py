"""Fixtures for the credential tests: cheap argon2 settings, a frozen clock, principals, refusal helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from qianbao.credentials import Principal, transaction
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import Keyring
from qianbao.settings import Settings

# 10:00 in Shanghai on a Wednesday.
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _keys(keyring: Keyring) -> Keyring:
    """Every credential test runs with a keyring installed: OTP hashes, CSRF tokens and PIN peppers use it."""
    return keyring


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with argon2 made cheap: the rules under test do not depend on its cost."""
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time stands still at START until a test moves it with `clock.shift(...)` or `clock.move_to(...)`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice() -> Principal:
    return Principal.customer(1)


@pytest.fixture
def bob() -> Principal:
    return Principal.customer(2)


@pytest.fixture
def run(db: Database) -> Callable[..., Any]:
    """Call a credential function in its own unit of work (credentials.transaction) and return its result."""

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with transaction(db) as session:
            return fn(session, *args, **kwargs)

    return call


@pytest.fixture
def refusal(run: Callable[..., Any]) -> Callable[..., QianbaoError]:
    """Call like `run`, expect a QianbaoError and return it (its code and params are what tests check)."""

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            run(fn, *args, **kwargs)
        return caught.value

    return call
