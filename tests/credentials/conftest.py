"""Fixtures for the credential tests: principals, refusal helpers (cheap argon2 settings, the keyring and a
frozen clock come from tests/common_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from common_fixtures import _keys, clock, settings  # noqa: F401
from qianbao.credentials import Principal, transaction
from qianbao.db import Database
from qianbao.errors import QianbaoError


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
