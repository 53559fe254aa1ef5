"""`qianbao audit verify`: exit 0 with the count when intact, exit 1 naming the first broken entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_helpers import tamper, write_entries
from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.db import Database


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, lang: str = "en", url: str | None = None):  # type: ignore[no-untyped-def]
        env = {
            "QIANBAO_DATABASE_URL": url or database_url,
            "QIANBAO_DATA_DIR": str(tmp_path),
            "QIANBAO_CLI_LANG": lang,
            "COLUMNS": "200",
        }
        return CliRunner().invoke(app, ["audit", "verify", *args], env=env)

    return invoke


def test_verify_exits_0_with_the_count_when_the_chain_is_intact(db: Database, run) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 5)
    result = run()
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 5 entries, last entry #5" in result.output


def test_verify_exits_1_naming_an_updated_entry(db: Database, run) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 5)
    tamper(db, "UPDATE audit_entry SET actor_id = '1' WHERE seq = 2")
    result = run()
    assert result.exit_code == 1
    assert "Audit entry #2 was modified" in result.output
    assert "1 entries before it were checked" in result.output


def test_verify_exits_1_naming_a_deleted_middle_entry(db: Database, run) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 3")
    result = run("--batch-size", "2")
    assert result.exit_code == 1
    assert "Audit entry #3 is missing (deleted)" in result.output


def test_verify_exits_1_naming_a_deleted_last_entry(db: Database, run) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 5")
    result = run()
    assert result.exit_code == 1
    assert "records entry #5 as the last, but the table ends at #4" in result.output


def test_verify_speaks_chinese_by_default(db: Database, run) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 3)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 2")
    result = run(lang="zh-CN")
    assert result.exit_code == 1
    assert "第 2 条审计记录缺失" in result.output


def test_verify_on_an_unreachable_database_exits_2_with_one_line(run) -> None:  # type: ignore[no-untyped-def]
    result = run(url="postgresql+psycopg://qianbao@127.0.0.1:1/qianbao")
    assert result.exit_code == 2
    assert "CONFIG_DATABASE_UNREACHABLE" in result.output and "Traceback" not in result.output
