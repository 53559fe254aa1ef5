"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from qianbao import migrate
from qianbao.db import Database
from qianbao.models import metadata


def test_migrations_build_the_same_schema_as_the_models(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        db.dispose()


def test_migrations_create_every_model_table(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db.engine)
        tables = set(inspect(db.engine).get_table_names())
        assert set(metadata.tables) <= tables
        assert migrate.is_current(db.engine)
    finally:
        db.dispose()


def test_upgrade_twice_changes_nothing(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db.engine)
        first = migrate.current_revisions(db.engine)
        migrate.upgrade(db.engine)
        assert migrate.current_revisions(db.engine) == first == migrate.head_revisions(db.engine)
    finally:
        db.dispose()


def test_db_upgrade_command_applies_the_migrations(empty_database_url: str, tmp_path) -> None:
    env = {**os.environ, "QIANBAO_DATABASE_URL": empty_database_url, "QIANBAO_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "qianbao", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    db = Database(empty_database_url)
    try:
        assert migrate.is_current(db.engine)
    finally:
        db.dispose()
