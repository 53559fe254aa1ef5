"""Fixtures several test packages share: the keyring installed, argon2 made cheap, a clock frozen at START.

A helper module re-exports the ones its tests use (`from common_fixtures import START, _keys, clock, settings`),
and a test module imports them from there as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from qianbao.pii.keyring import Keyring
from qianbao.settings import Settings

# 10:00 in Shanghai on a Wednesday.
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _keys(keyring: Keyring) -> Keyring:
    """Every test in a module that imports this runs with a keyring installed."""
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
