"""Demo data for `qianbao serve --demo` and `qianbao demo seed`: idempotent, built through the domain.

Each later package adds its part (branches and staff, customers at each tier, merchants...).
"""

from __future__ import annotations

from qianbao.db import Database
from qianbao.settings import Settings


def seed(db: Database, settings: Settings) -> list[str]:
    """Create what is missing and return lines telling how to sign in as each demo user."""
    return []
