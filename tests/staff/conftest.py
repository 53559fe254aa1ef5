"""Fixtures for the staff tests: cheap argon2, a frozen clock, and a helper expecting a refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from qianbao.credentials import transaction
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

# 10:00 in Shanghai on a Wednesday.
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def run(db: Database) -> Callable[..., Any]:
    """Call a function in its own unit of work (credentials.transaction keeps counted failures)."""

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with transaction(db) as session:
            return fn(session, *args, **kwargs)

    return call


@pytest.fixture
def refusal(run: Callable[..., Any]) -> Callable[..., QianbaoError]:
    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            run(fn, *args, **kwargs)
        return caught.value

    return call


@pytest.fixture
def audit_actions(db: Database) -> Callable[[], list[tuple[str, str, str | None]]]:
    """(action, outcome, object_id) of every audit entry, oldest first."""
    from sqlalchemy import select

    from qianbao.audit.models import AuditEntry

    def read() -> list[tuple[str, str, str | None]]:
        with db.read() as session:
            rows = session.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.object_id)
                                   .order_by(AuditEntry.seq))
            return [(r[0], r[1], r[2]) for r in rows]

    return read
