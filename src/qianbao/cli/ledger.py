"""`qianbao ledger ...`: check the invariants, sweep expired holds, forget old keys, show a balance."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import typer
from rich.table import Table

from qianbao import bootstrap
from qianbao.cli.base import app, cli_language, console, err_console, friendly_errors, settings
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.ledger import account_by_code, balance, check_invariants, purge_keys, sweep_expired
from qianbao.ledger.config import ledger_settings
from qianbao.ledger.invariants import RULES, Report
from qianbao.money import format_fen

ledger_app = typer.Typer(
    help="The ledger: check its invariants, release expired holds, show balances.", no_args_is_help=True
)
app.add_typer(ledger_app, name="ledger")


def _open() -> Database:
    db = bootstrap.open_database(settings())
    try:
        bootstrap.require_current_schema(db)
    except Exception:
        db.dispose()
        raise
    return db


def _sweep_all(db: Database, now: datetime) -> int:
    released = 0
    while True:
        with db.transaction() as session:
            done = sweep_expired(session, now=now, limit=ledger_settings().sweep_batch)
        released += done
        if done == 0:
            return released


def _print_report(report: Report, lang: str) -> None:
    table = Table(title=translate("ledger.check.title", lang), show_lines=False)
    table.add_column(translate("ledger.check.rule", lang))
    table.add_column(translate("ledger.check.result", lang))
    for rule in RULES:
        count = report.counts.get(rule, 0)
        result = (
            "[green]✓ " + translate("ledger.check.pass", lang) + "[/]"
            if count == 0
            else "[bold red]✗ " + translate("ledger.check.fail", lang, count=count) + "[/]"
        )
        table.add_row(translate(f"ledger.rule.{rule}", lang), result)
    console.print(table)
    console.print(translate(
        "ledger.check.summary", lang, accounts=report.accounts, transfers=report.transfers,
        checked_at=report.checked_at.isoformat(timespec="seconds"),
    ))
    for rule in report.failed_rules():
        err_console.print(f"[bold red]✗ {translate(f'ledger.rule.{rule}', lang)}[/]")
        for breach in report.breaches[rule]:
            err_console.print(f"    {breach.subject}: {breach.detail}")
        hidden = report.counts[rule] - len(report.breaches[rule])
        if hidden > 0:
            err_console.print(f"    … +{hidden}")


@ledger_app.command("check")
@friendly_errors
def check(
    sweep: bool = typer.Option(True, "--sweep/--no-sweep", help="Release expired holds first, as the worker would."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check every ledger invariant in one consistent snapshot.

    Exit status 0 when every rule holds, 1 on any breach, 2 when the database cannot be read.
    """
    lang = cli_language()
    db = _open()
    try:
        now = datetime.now(UTC)
        swept = _sweep_all(db, now) if sweep else 0
        with db.read() as session:
            report = check_invariants(session, now=now)
    finally:
        db.dispose()
    if as_json:
        console.print_json(json.dumps({
            "ok": report.ok, "checked_at": report.checked_at.isoformat(), "accounts": report.accounts,
            "transfers": report.transfers, "swept": swept, "counts": report.counts,
            "breaches": {r: [asdict(b) for b in report.breaches[r]] for r in report.failed_rules()},
        }))
    else:
        if swept:
            console.print(translate("ledger.check.swept", lang, count=swept))
        _print_report(report, lang)
        if report.ok:
            console.print("[green]✓[/] " + translate("ledger.check.ok", lang))
        else:
            err_console.print("[bold red]✗[/] " + translate("ledger.check.broken", lang))
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("sweep")
@friendly_errors
def sweep_command() -> None:
    """Release every hold whose timeout has passed (the worker does this continuously)."""
    db = _open()
    try:
        released = _sweep_all(db, datetime.now(UTC))
    finally:
        db.dispose()
    console.print("[green]✓[/] " + translate("ledger.sweep.done", cli_language(), count=released))


@ledger_app.command("purge-keys")
@friendly_errors
def purge_keys_command() -> None:
    """Forget idempotency keys older than the retention period (QIANBAO_LEDGER_IDEMPOTENCY_RETENTION_HOURS)."""
    db = _open()
    forgotten = 0
    try:
        while True:
            with db.transaction() as session:
                done = purge_keys(session, limit=ledger_settings().purge_batch)
            forgotten += done
            if done == 0:
                break
    finally:
        db.dispose()
    console.print("[green]✓[/] " + translate("ledger.purge.done", cli_language(), count=forgotten))


@ledger_app.command("balance")
@friendly_errors
def balance_command(code: str = typer.Argument(..., help="The account's code (its public number).")) -> None:
    """Show an account's balance: posted, held, incoming and available."""
    lang = cli_language()
    db = _open()
    try:
        with db.read() as session:
            account = account_by_code(session, code)
            if account is None:
                raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=code)
            figures = balance(session, account.id)
    finally:
        db.dispose()
    console.print(translate(
        "ledger.balance.line", lang, code=code, posted=format_fen(figures.posted, lang),
        held=format_fen(figures.held, lang), incoming=format_fen(figures.incoming, lang),
        available=format_fen(figures.available, lang),
    ))
