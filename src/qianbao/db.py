"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite: WAL so readers never block the writer, foreign keys on, and every write transaction opened
with BEGIN IMMEDIATE so two writers serialise at BEGIN instead of failing at COMMIT (SQLAlchemy's
documented recipe: take over transaction control from the sqlite3 driver). Read-only units of work
use a deferred BEGIN and so share the WAL snapshot without taking the write lock.

PostgreSQL: psycopg 3 with a connection pool; row locks (`SELECT ... FOR UPDATE`) do the
serialisation that BEGIN IMMEDIATE does on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from qianbao.errors import QianbaoError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


READONLY = "qianbao_readonly"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite (which drops the zone) too.

    Naive datetimes are refused on the way in: a naive time is a bug waiting for a DST-free country.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def in_check(column: str, values: tuple[Any, ...]) -> str:
    """The text of a CHECK constraint limiting `column` to `values` (the migrations spell the same text)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Ledger batches (docs/performance.md): pages of 8 KiB halve the WAL frames a commit writes
        # (it only takes effect on a new, empty file, so it comes before WAL mode); a page cache of up
        # to 64 MiB per connection keeps the ledger's indexes in memory; folding the WAL back every
        # 5,000 pages (40 MiB) rather than 1,000 writes each hot page back once per many commits.
        cursor.execute("PRAGMA page_size=8192")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA wal_autocheckpoint=5000")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine, turning a malformed URL or unknown driver into a coded error."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the raw URL; keep the message short
        raise QianbaoError("CONFIG_DATABASE_URL_INVALID", url=_redact(url)) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername != "postgresql+psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, connect_args={"connect_timeout": 5}, **kwargs)
    raise QianbaoError("CONFIG_DATABASE_URL_INVALID", url=_redact(url))


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


class Database:
    """One engine and its session factory; the app and the CLI each hold one."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readonly_engine = self.engine.execution_options(**{READONLY: True})
        self._readonly_sessions = sessionmaker(self._readonly_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work that sees one consistent snapshot."""
        with self._readonly_sessions() as session, session.begin():
            if not self.is_sqlite:
                session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ"}
                )
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
