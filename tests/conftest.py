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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
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


# ---- staff sign-in for page tests (qianbao.staff, qianbao.web.auth) ---------------------------------------

TEST_BRANCHES = {
    "0101": ("测试一支行", "Test Branch One", "测试路 1 号"),
    "0102": ("测试二支行", "Test Branch Two", "测试路 2 号"),
}
_BRANCH_ROLES = ("teller", "supervisor")


@dataclass
class TestStaff:
    """A staff account made through the staff package: its row, one-time password and TOTP secret."""

    __test__ = False

    member: Any
    password: str
    totp_secret: str
    branch_code: str | None

    @property
    def id(self) -> int:
        return int(self.member.id)

    @property
    def employee_no(self) -> str:
        return str(self.member.employee_no)


@pytest.fixture
def make_staff(db: Database, settings: Settings) -> Callable[..., TestStaff]:
    """Create a staff account (and its branch, when missing) through `qianbao.staff`.

    `make_staff("teller")` is a teller of branch 0101 (`branch="0102"` for another); operators and auditors
    sit at head office unless given a branch.
    The account has a one-time password and a pending TOTP enrolment, as the CLI and ops console leave it.
    """
    from qianbao import audit
    from qianbao.staff import branches, members

    counter = iter(range(1, 10_000))
    actor = audit.Actor.system("test")
    # Cheap argon2 for the accounts' passwords: a hash carries its own parameters, so the app still checks
    # them (and re-hashes them under its own settings at the first sign-in).
    cheap = settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})

    def make(role: str = "teller", *, branch: str | None = None, employee_no: str | None = None,
             name: str | None = None) -> TestStaff:
        code = branch if branch is not None else ("0101" if role in _BRANCH_ROLES else None)
        number = employee_no or f"{role[:2].upper()}{next(counter):04d}"
        with db.transaction() as session:
            if code is not None and session.scalar(
                select(branches.Branch.id).where(branches.Branch.code == code)
            ) is None:
                name_zh, name_en, address = TEST_BRANCHES.get(code, (f"测试网点{code}", f"Branch {code}", "测试路"))
                branches.create_branch(session, code=code, name_zh=name_zh, name_en=name_en, address=address,
                                       by=actor, channel="system")
            created = members.create_staff(session, employee_no=number, name=name or f"测试{role}", role=role,
                                           branch_code=code, by=actor, channel="system", settings=cheap)
        return TestStaff(created.member, created.initial_password, created.totp.secret, code)

    return make


@pytest.fixture
def staff_session(db: Database, settings: Settings) -> Callable[[TestStaff], tuple[str, str]]:
    """Sign a staff account in as the last sign-in step does (`signin.open_session`): (cookie token, CSRF)."""
    from qianbao import credentials
    from qianbao.staff import signin

    def start(staff: TestStaff) -> tuple[str, str]:
        with db.transaction() as session:
            member = session.get(type(staff.member), staff.id)
            started = signin.open_session(session, member, settings=settings)
            return started.token, credentials.csrf_token(started.record)

    return start


@pytest.fixture
def staff_client(app, make_staff, staff_session, settings: Settings):  # type: ignore[no-untyped-def]
    """`staff_client("operator")`: a TestClient signed in as a new staff member of that role.

    The client has `.staff` (TestStaff), `.csrf_token`, and `.staff_cookie` ("name=token", for a test that
    writes its own Cookie header, which replaces the client's cookie jar); `branch=` picks the branch.
    """
    from fastapi.testclient import TestClient

    from qianbao.web.auth import staff_cookie

    opened: list[TestClient] = []

    def make(role: str = "operator", **options: Any) -> TestClient:
        staff = make_staff(role, **options)
        token, csrf = staff_session(staff)
        test_client = TestClient(app, raise_server_exceptions=False)
        test_client.__enter__()
        opened.append(test_client)
        # The domain the server's own Set-Cookie gets in httpx's jar, so that sign-out replaces this cookie.
        test_client.cookies.set(staff_cookie(settings).name, token, domain="testserver.local")
        test_client.staff = staff  # type: ignore[attr-defined]
        test_client.csrf_token = csrf  # type: ignore[attr-defined]
        test_client.staff_cookie = f"{staff_cookie(settings).name}={token}"  # type: ignore[attr-defined]
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


@pytest.fixture
def sign_in_browser(request: pytest.FixtureRequest, make_staff, staff_session, settings: Settings):  # type: ignore[no-untyped-def]
    """`sign_in_browser(context, "auditor")`: put a signed-in staff cookie for a new account of that role
    into a Playwright browser context of the live server; returns the TestStaff."""
    from qianbao.web.auth import staff_cookie

    def sign_in(context: Any, role: str = "operator", **options: Any) -> TestStaff:
        server = request.getfixturevalue("live_server")
        staff = make_staff(role, **options)
        token, _csrf = staff_session(staff)
        context.add_cookies([{"name": staff_cookie(settings).name, "value": token, "url": server.url}])
        return staff

    return sign_in


# ---- the sandbox bank (qianbao.sandbox_bank), a real process --------------------------------------------

@pytest.fixture(scope="session")
def _sandbox_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One sandbox bank process per test run (per xdist worker): a free port, its own temporary SQLite
    database, no latency, settled only on request and callbacks handed out (pull), for deterministic tests."""
    from qianbao.sandbox_bank.process import SandboxBankProcess

    process = SandboxBankProcess(tmp_path_factory.mktemp("sandbox-bank"), latency_ms=0, processing_ms=0,
                                 auto_process=False, callback_mode="pull", callback_backoff_seconds=0.05,
                                 callback_backoff_max_seconds=1, poll_seconds=0.02,
                                 callback_url="http://127.0.0.1:9/api/bank/callbacks")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def sandbox_bank(_sandbox_bank_process: Any) -> Iterator[Any]:
    """The sandbox bank as a real HTTP service, reset for this test: a `SandboxBankClient`
    (qianbao.sandbox_bank.client) with `.url`, `.connector()`, `.create_card(...)`, `.latest_otp(phone)`,
    `.settle(...)`, `.deliver_to(client)`, `.configure(...)`, `.configure_wallet(settings)`.

    Defaults for every test: latency 0, operations settle only when the test calls `settle()`, callbacks are
    not pushed but delivered by `deliver_to(test_client)` (pull). `configure(auto_process=True,
    callback_mode="push", callback_url=...)` switches to the real behaviour; the next test starts fresh."""
    from qianbao.sandbox_bank.client import SandboxBankClient

    client = SandboxBankClient(_sandbox_bank_process.url)
    client.reset()
    client.process = _sandbox_bank_process  # type: ignore[attr-defined]
    yield client
    client.close()
