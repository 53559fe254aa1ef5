"""Fixtures for the approval tests: a branch pair with a teller and a supervisor each, and a test kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session

from qianbao import approvals
from qianbao.approvals.models import ApprovalRequest
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

KIND = "test.cash_out"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@dataclass
class Continuations:
    """What the owning package would do: record each call; raise when told to."""

    approved: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    fail_with: Exception | None = None

    def on_approved(self, session: Session, request: ApprovalRequest) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.approved.append(request.id)

    def on_rejected(self, session: Session, request: ApprovalRequest) -> None:
        self.rejected.append(request.id)


@pytest.fixture
def continuations() -> Iterator[Continuations]:
    handlers = Continuations()
    approvals.register(KIND, on_approved=handlers.on_approved, on_rejected=handlers.on_rejected)
    yield handlers
    approvals.service._registry.pop(KIND, None)


@pytest.fixture
def people(make_staff) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "teller": make_staff("teller", branch="0101"),
        "supervisor": make_staff("supervisor", branch="0101"),
        "other_supervisor": make_staff("supervisor", branch="0102"),
        "other_teller": make_staff("teller", branch="0102"),
    }


@pytest.fixture
def run(db: Database) -> Callable[..., Any]:
    """Call a function in its own unit of work and return its result."""

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with db.transaction() as session:
            return fn(session, *args, **kwargs)

    return call


@pytest.fixture
def refusal(run: Callable[..., Any]) -> Callable[..., QianbaoError]:
    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            run(fn, *args, **kwargs)
        return caught.value

    return call
