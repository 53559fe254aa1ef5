"""Fixtures for the staff tests: a helper expecting a refusal (cheap argon2 and a frozen clock come from
tests/common_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from common_fixtures import clock, settings  # noqa: F401
from qianbao.credentials import transaction
from qianbao.db import Database
from qianbao.errors import QianbaoError


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
