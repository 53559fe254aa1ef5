"""`qianbao staff ...`: branches and accounts from the command line, and the demo-only TOTP code."""

from __future__ import annotations

import re

import pyotp
import pytest
from typer.testing import CliRunner

from qianbao import credentials
from qianbao.cli import app
from qianbao.credentials import Principal
from qianbao.staff import staff_by_number
from qianbao.staff.demo import seed_demo_staff


@pytest.fixture
def cli_env(database_url, keyring, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "QIANBAO_DATABASE_URL": database_url,
        "QIANBAO_KEY_FILE": str(keyring.path),
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_ENVIRONMENT": "test",
        "QIANBAO_CLI_LANG": "en",
        "QIANBAO_ARGON2_TIME_COST": "1",
        "QIANBAO_ARGON2_MEMORY_KIB": "1024",
        "QIANBAO_ARGON2_PARALLELISM": "1",
        "COLUMNS": "200",
    }


def qianbao(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["staff", *args], env=env)


def _branch(env: dict[str, str]) -> None:
    result = qianbao(env, "branch-create", "--code", "0101", "--name-zh", "北京西城支行", "--name-en",
                     "Beijing Xicheng Branch", "--address", "金融大街 1 号")
    assert result.exit_code == 0, result.output
    assert "Branch 0101 Beijing Xicheng Branch created." in result.output


def test_staff_create_prints_the_one_time_password_and_the_totp_enrolment(cli_env, run) -> None:  # type: ignore[no-untyped-def]
    _branch(cli_env)
    result = qianbao(cli_env, "create", "--role", "teller", "--branch", "0101", "--no", "T0101", "--name", "王柜员")
    assert result.exit_code == 0, result.output
    assert "Staff account created: T0101 王柜员 (Teller)." in result.output
    password = re.search(r"changed at the first sign-in\): (\S+)", result.output).group(1)  # type: ignore[union-attr]
    uri = re.search(r"^(otpauth://totp/\S+)$", result.output, re.M).group(1)  # type: ignore[union-attr]
    assert "\u2580" in result.output or "\u2588" in result.output, "an ASCII-art QR code follows"

    member = run(staff_by_number, "T0101")
    run(credentials.verify_login, Principal.staff(member.id), password)
    # The printed enrolment is the one the account waits for.
    run(credentials.confirm_totp_enrolment, Principal.staff(member.id), pyotp.parse_uri(uri).now())


def test_staff_create_refusal_is_one_clear_line(cli_env) -> None:  # type: ignore[no-untyped-def]
    result = qianbao(cli_env, "create", "--role", "teller", "--no", "T0101", "--name", "王柜员")
    assert result.exit_code == 2
    assert "STAFF_BRANCH_REQUIRED" in result.output and "Traceback" not in result.output


def test_staff_list_shows_number_name_role_branch_and_status(cli_env) -> None:  # type: ignore[no-untyped-def]
    assert "No staff accounts yet." in qianbao(cli_env, "list").output
    _branch(cli_env)
    qianbao(cli_env, "create", "--role", "supervisor", "--branch", "0101", "--no", "S0101", "--name", "李主管")
    qianbao(cli_env, "create", "--role", "auditor", "--no", "AU001", "--name", "周审计")
    listing = qianbao(cli_env, "list").output
    assert re.search(r"AU001\s.*周审计\s.*Auditor\s.*-\s.*yes", listing)
    assert re.search(r"S0101\s.*李主管\s.*Supervisor\s.*0101 Beijing Xicheng Branch\s.*yes", listing)
    assert "AU001" not in qianbao(cli_env, "list", "--branch", "0101").output


def test_staff_disable_and_reset_password(cli_env, run) -> None:  # type: ignore[no-untyped-def]
    qianbao(cli_env, "create", "--role", "operator", "--no", "OP001", "--name", "陈运营")
    reset = qianbao(cli_env, "reset-password", "op001")
    assert reset.exit_code == 0, reset.output
    password = re.search(r"\(shown this once\): (\S+)", reset.output).group(1)  # type: ignore[union-attr]
    member = run(staff_by_number, "OP001")
    run(credentials.verify_login, Principal.staff(member.id), password)

    disabled = qianbao(cli_env, "disable", "OP001", "--reason", "离职")
    assert disabled.exit_code == 0, disabled.output
    assert "Account OP001 disabled" in disabled.output
    assert run(staff_by_number, "OP001").active is False
    assert "STAFF_NOT_FOUND" in qianbao(cli_env, "disable", "NOBODY", "--reason", "x").output


def test_staff_totp_prints_the_current_code_of_a_demo_account(cli_env, run, settings) -> None:  # type: ignore[no-untyped-def]
    accounts = run(seed_demo_staff, settings=settings)
    supervisor = next(a for a in accounts if a.employee_no == "S0101")
    result = qianbao(cli_env, "totp", "s0101")
    assert result.exit_code == 0, result.output
    code = re.search(r"S0101: (\d{6})", result.output).group(1)  # type: ignore[union-attr]
    assert pyotp.TOTP(supervisor.totp_secret).verify(code, valid_window=1)


def test_staff_totp_is_refused_in_production(cli_env, run, settings) -> None:  # type: ignore[no-untyped-def]
    run(seed_demo_staff, settings=settings)
    result = qianbao({**cli_env, "QIANBAO_ENVIRONMENT": "production"}, "totp", "S0101")
    assert result.exit_code == 2
    assert "STAFF_TOTP_DEMO_ONLY" in result.output
    assert not re.search(r"\d{6}", result.output)


def test_staff_totp_says_when_an_account_has_not_enrolled(cli_env) -> None:  # type: ignore[no-untyped-def]
    qianbao(cli_env, "create", "--role", "operator", "--no", "OP001", "--name", "陈运营")
    result = qianbao(cli_env, "totp", "OP001")
    assert result.exit_code == 2 and "STAFF_TOTP_NOT_ENROLLED" in result.output


@pytest.mark.parametrize("command", ["branch-create", "create", "list", "disable", "reset-password", "totp"])
def test_every_staff_command_explains_itself(command: str) -> None:
    result = CliRunner().invoke(app, ["staff", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
