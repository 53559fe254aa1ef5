"""`qianbao wallets show / tiers / downgrade`: the admin's view of a wallet and the operator's downgrade."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner
from wallet_helpers import LI_MING, Harness

from qianbao import audit, wallets
from qianbao.cli import app
from qianbao.db import Database
from qianbao.logging import configure_logging
from qianbao.staff import create_staff


@pytest.fixture
def cli_env(database_url, keyring, tmp_path) -> Iterator[dict[str, str]]:
    yield {"QIANBAO_DATABASE_URL": database_url, "QIANBAO_KEY_FILE": str(keyring.path),
           "QIANBAO_DATA_DIR": str(tmp_path), "QIANBAO_CLI_LANG": "en", "COLUMNS": "200"}
    configure_logging(json=False, level="WARNING")


def _staff(db: Database, employee_no: str, role: str) -> int:
    with db.transaction() as session:
        created = create_staff(session, employee_no=employee_no, name="陈运营", role=role, branch_code=None,
                               by=audit.Actor.system("test"), channel="system")
        return created.member.id


def test_wallets_show_prints_the_masked_holder_tier_and_limits(h: Harness, cli_env) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    result = CliRunner().invoke(app, ["wallets", "show", *wallets.format_wallet_number(opened.number).split()],
                                env=cli_env)
    assert result.exit_code == 0, result.output
    assert "李*" in result.output and "138****8000" in result.output
    assert "Tier 3 wallet" in result.output and "¥20,000.00" in result.output
    assert "李明" not in result.output and "13800138000" not in result.output


def test_wallets_show_refuses_a_mistyped_number_in_one_line(cli_env) -> None:
    result = CliRunner().invoke(app, ["wallets", "show", "1234567890123456"], env=cli_env)
    assert result.exit_code == 2 and "WALLET_NUMBER_INVALID" in result.output


def test_wallets_tiers_prints_the_policy(cli_env, db: Database) -> None:
    result = CliRunner().invoke(app, ["wallets", "tiers"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "¥10,000.00" in result.output and "¥500,000.00" in result.output and "No limit" in result.output


def test_wallets_downgrade_is_taken_by_a_named_operator_with_a_reason(h: Harness, db: Database, cli_env) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    operator = _staff(db, "OP900", "operator")
    result = CliRunner().invoke(app, ["wallets", "downgrade", opened.number, "4", "--reason", "风险核查",
                                      "--staff", "OP900"], env=cli_env)
    assert result.exit_code == 0, result.output
    with db.read() as session:
        history = wallets.tier_history(session, opened.wallet_id)
    assert (history[-1].to_tier, history[-1].by_staff_id, history[-1].reason) == (4, operator, "风险核查")


def test_wallets_downgrade_refuses_an_account_that_is_not_an_operator(h: Harness, db: Database, cli_env) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    _staff(db, "AU900", "auditor")
    result = CliRunner().invoke(app, ["wallets", "downgrade", opened.number, "4", "--reason", "x",
                                      "--staff", "AU900"], env=cli_env)
    assert result.exit_code == 2 and "FORBIDDEN" in result.output
