"""The invariants: a clean ledger passes; each kind of damage is named by its rule; the CLI reports it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger_helpers import Chart, assert_ledger_ok, key
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qianbao import ledger
from qianbao.cli import app
from qianbao.db import Database
from qianbao.ledger import Leg


@pytest.fixture
def busy(db: Database, funded: Chart) -> Chart:
    """A ledger with a bit of everything: transfers, a group, holds posted and voided, a reversal."""
    with db.transaction() as s:
        paid = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.merchant, amount=3_000,
                                      code="pay")
        ledger.create_group(s, key=key(), legs=[Leg(funded.alice, funded.merchant, 500, "pay"),
                                                Leg(funded.alice, funded.fees, 5, "fee")])
        h1 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=700, code="p2p",
                                    pending=True)
        h2 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=800, code="p2p",
                                    pending=True)
        ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=900, code="p2p",
                               pending=True)
        ledger.post_pending(s, key=key(), pending_id=h1.id, amount=600)
        ledger.void_pending(s, key=key(), pending_id=h2.id)
        ledger.reverse(s, key=key(), transfer_id=paid.id)
    return funded


def test_a_busy_but_sound_ledger_passes_every_rule(db: Database, busy: Chart) -> None:
    assert_ledger_ok(db)


@pytest.fixture
def damaged(db: Database) -> Iterator[Callable[[str, dict[str, Any] | None], list[str]]]:
    """Apply damage inside a transaction, check in it, and roll it all back (DDL included on PostgreSQL)."""

    def damage(sql: str, params: dict[str, Any] | None = None) -> list[str]:
        with db.session() as s:
            _allow_breaking_checks(s)
            for statement in sql.split(";"):
                if statement.strip():
                    s.execute(text(statement), params or {})
            report = ledger.check_invariants(s)
            s.rollback()
            if db.is_sqlite:
                s.execute(text("PRAGMA ignore_check_constraints = 0"))
        return report.failed_rules()

    yield damage


def _allow_breaking_checks(s: Session) -> None:
    # The database's own CHECK constraints would stop some damage; lift them to prove the check sees it.
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text("PRAGMA ignore_check_constraints = 1"))
    else:
        s.execute(text("ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_no_negative"))


def test_a_stored_total_off_by_one_fen_breaks_double_entry_and_the_account(busy: Chart, damaged) -> None:
    assert damaged("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :a",
                   {"a": busy.bob}) == ["debits_equal_credits", "balances_match_journal"]


def test_money_moved_between_stored_balances_is_caught_by_the_journal(busy: Chart, damaged) -> None:
    assert damaged(
        "UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE id = :b;"
        "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :m",
        {"b": busy.bob, "m": busy.merchant},
    ) == ["balances_match_journal"]


def test_a_wallet_below_zero_is_caught(busy: Chart, damaged) -> None:
    assert "no_negative_respected" in damaged(
        "UPDATE ledger_accounts SET debits_posted = credits_posted + 5 WHERE id = :a", {"a": busy.alice})


def test_a_wallet_over_a_cap_it_had_when_credited_is_caught(busy: Chart, damaged) -> None:
    assert damaged(
        "UPDATE ledger_accounts SET cap = 1, cap_changed_at = created_at WHERE id = :b", {"b": busy.bob}
    ) == ["caps_respected"]


def test_a_wallet_over_a_cap_lowered_after_its_last_credit_is_not_a_breach(db: Database, busy: Chart) -> None:
    with db.transaction() as s:
        ledger.set_cap(s, busy.bob, 1)
    assert_ledger_ok(db)


def test_a_group_whose_holds_ended_differently_is_caught(db: Database, funded: Chart, damaged) -> None:
    with db.transaction() as s:
        h1 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=1, code="p",
                                    pending=True)
        h2 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=1, code="p",
                                    pending=True)
        ledger.post_pending(s, key=key(), pending_id=h1.id)
        ledger.void_pending(s, key=key(), pending_id=h2.id)
    assert damaged("UPDATE ledger_transfers SET group_id = :g WHERE id IN (:g, :h)",
                   {"g": h1.id, "h": h2.id}) == ["groups_whole"]


def test_a_hold_marked_voided_without_its_void_is_caught(db: Database, busy: Chart, damaged) -> None:
    rules = damaged("UPDATE ledger_pending SET status = 'voided' WHERE status = 'pending'")
    assert rules == ["balances_match_journal", "holds_consistent"]


def test_a_reversal_that_does_not_mirror_its_original_is_caught(busy: Chart, damaged) -> None:
    assert "reversals_mirror" in damaged(
        "UPDATE ledger_transfers SET amount = amount + 1 WHERE reverses_id IS NOT NULL")


def test_an_account_whose_currency_changed_under_its_transfers_is_caught(busy: Chart, damaged) -> None:
    assert damaged("UPDATE ledger_accounts SET currency = 'USD' WHERE id = :m",
                   {"m": busy.merchant}) == ["currencies_match"]


def test_a_closed_account_with_money_is_caught(busy: Chart, damaged) -> None:
    assert damaged("UPDATE ledger_accounts SET closed = :t WHERE id = :a",
                   {"a": busy.alice, "t": True}) == ["closed_accounts_empty"]


# --------------------------------------------------------------------------------------------- the command


def run_check(database_url: str, tmp_path: Path, *args: str) -> Any:
    env = {"QIANBAO_DATABASE_URL": database_url, "QIANBAO_DATA_DIR": str(tmp_path), "QIANBAO_CLI_LANG": "en",
           "COLUMNS": "200"}
    return CliRunner().invoke(app, ["ledger", "check", *args], env=env)


def test_ledger_check_exits_0_on_a_sound_ledger(busy: Chart, database_url: str, tmp_path: Path) -> None:
    result = run_check(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "The ledger balances" in result.output
    assert "Debits equal credits over the whole ledger" in result.output


def test_ledger_check_exits_1_with_a_readable_report_on_a_breach(db: Database, busy: Chart, database_url: str,
                                                                  tmp_path: Path) -> None:
    with db.transaction() as s:
        s.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :b"),
                  {"b": busy.bob})
    result = run_check(database_url, tmp_path)
    assert result.exit_code == 1
    assert "✗ 1 breach(es)" in result.output
    assert "account W-BOB: stored debits/credits posted" in result.output
    assert "The ledger check found breaches" in result.output
    json_result = run_check(database_url, tmp_path, "--json")
    assert json_result.exit_code == 1
    assert '"balances_match_journal": 1' in json_result.output
    with db.transaction() as s:  # undo, so the fixture's own closing check passes
        s.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE id = :b"),
                  {"b": busy.bob})


def test_ledger_check_speaks_chinese_by_default(busy: Chart, database_url: str, tmp_path: Path) -> None:
    env = {"QIANBAO_DATABASE_URL": database_url, "QIANBAO_DATA_DIR": str(tmp_path), "COLUMNS": "200",
           "QIANBAO_CLI_LANG": "zh-CN"}
    result = CliRunner().invoke(app, ["ledger", "check"], env=env)
    assert result.exit_code == 0
    assert "账务平衡，全部规则通过" in result.output


def test_ledger_sweep_and_balance_commands(busy: Chart, database_url: str, tmp_path: Path) -> None:
    env = {"QIANBAO_DATABASE_URL": database_url, "QIANBAO_DATA_DIR": str(tmp_path), "QIANBAO_CLI_LANG": "en",
           "COLUMNS": "200"}
    sweep = CliRunner().invoke(app, ["ledger", "sweep"], env=env)
    assert sweep.exit_code == 0 and "Released 0 expired hold(s)" in sweep.output
    shown = CliRunner().invoke(app, ["ledger", "balance", "W-BOB"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "balance CN¥6.00" in shown.output and "incoming CN¥9.00" in shown.output
    unknown = CliRunner().invoke(app, ["ledger", "balance", "NOPE"], env=env)
    assert unknown.exit_code == 2 and "LEDGER_ACCOUNT_NOT_FOUND" in unknown.output


def test_a_journal_row_naming_a_missing_account_is_caught(busy: Chart, damaged) -> None:
    assert "journal_accounts_exist" in damaged(
        "UPDATE ledger_transfers SET credit_account_id = 999999 WHERE id = (SELECT MAX(id) FROM ledger_transfers)")
