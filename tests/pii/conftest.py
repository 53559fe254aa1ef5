"""Fixtures for the personal-data tests: the test-only table with encrypted columns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pii_test_tables import PiiTestBase

from qianbao.db import Database
from qianbao.pii.keyring import Keyring


@pytest.fixture
def people(db: Database, keyring: Keyring) -> Iterator[Database]:
    """The database with the test table in it (dropped afterwards: PostgreSQL reuses the database)."""
    PiiTestBase.metadata.create_all(db.engine)
    yield db
    PiiTestBase.metadata.drop_all(db.engine)
