"""Fixtures of the counter tests (helpers in counter_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from counter_helpers import VAULT_FEN, Counter

from qianbao import audit, counter
from qianbao.db import Database
from qianbao.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def desk(db: Database, settings: Settings, make_staff: Callable[..., Any]) -> Counter:
    staff = {
        "teller": make_staff("teller", branch="0101", employee_no="T9101"),
        "teller2": make_staff("teller", branch="0101", employee_no="T9102"),
        "supervisor": make_staff("supervisor", branch="0101", employee_no="S9101"),
        "supervisor2": make_staff("supervisor", branch="0101", employee_no="S9102"),
        "other_teller": make_staff("teller", branch="0102", employee_no="T9201"),
        "other_supervisor": make_staff("supervisor", branch="0102", employee_no="S9201"),
    }
    from qianbao.wallets.demo import seed_demo_customers

    with db.transaction() as session:
        seed_demo_customers(session, settings, teller=(staff["teller"].id, staff["teller"].member.branch_id))
        for key in ("teller", "other_teller"):
            counter.fund_vault(session, staff[key].member.branch_id, VAULT_FEN, key=f"test-{key}",
                               actor=audit.Actor.system("test"))
    return Counter(db, settings, staff)
