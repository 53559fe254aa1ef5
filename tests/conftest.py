"""Test fixtures: a fresh database for every test, on SQLite (default) or PostgreSQL.

Set QIANBAO_TEST_DATABASE_URL to a PostgreSQL URL to run the suite there (`.ci/run` does both).
Each test run (each xdist worker) creates its own PostgreSQL database, migrates it once, and empties
every table between tests; on SQLite each test gets a copy of a migrated template file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from qianbao import migrate
from qianbao.db import Database
from qianbao.logging import configure_logging
from qianbao.pii.keyring import Keyring, create_keyring, use_keyring
from qianbao.settings import Settings

TEST_DB_URL = os.environ.get("QIANBAO_TEST_DATABASE_URL", "").strip()
USE_POSTGRES = TEST_DB_URL.startswith("postgresql")

configure_logging(json=False, level="WARNING")


def _admin_url() -> str:
    return make_url(TEST_DB_URL).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_pg_database(prefix: str = "qbt") -> str:
    """Create an empty PostgreSQL database next to the test URL's and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if USE_POSTGRES else "sqlite"


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this test run: a template file (SQLite) or a database (PostgreSQL)."""
    if USE_POSTGRES:
        url = create_pg_database()
        db = Database(url, pool_size=5, max_overflow=10)
        migrate.upgrade(db.engine)
        db.dispose()
        yield url
        drop_pg_database(url)
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db.engine)
        db.dispose()
        # Fold the WAL into the main file so that a plain file copy is a complete database.
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("PRAGMA journal_mode=DELETE")
        raw.close()
        yield str(path)


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> str:
    """URL of a migrated, empty database for this one test."""
    if USE_POSTGRES:
        engine = create_engine(_migrated_template)
        with engine.begin() as conn:
            tables = [
                row[0] for row in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                ))
            ]
            if tables:
                conn.execute(text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                ))
        engine.dispose()
        return _migrated_template
    target = tmp_path / "qianbao.db"
    shutil.copyfile(_migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """URL of a database with nothing in it, for migration tests."""
    if USE_POSTGRES:
        url = create_pg_database("qbe")
        yield url
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> Iterator[Keyring]:
    ring = create_keyring(tmp_path / "keys.json")
    use_keyring(ring)
    yield ring
    use_keyring(None)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, keyring: Keyring) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        key_file=keyring.path,
        sms_latency_ms=0,
        identity_latency_ms=0,
        idcard_latency_ms=0,
    )


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from qianbao.app import create_app

    return create_app(settings, db)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
