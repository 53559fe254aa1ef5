"""`qianbao notices ...`: look at the outbox and give dead messages another chance."""

from __future__ import annotations

import typer
from rich.table import Table

from qianbao import bootstrap
from qianbao.cli.base import app, console, friendly_errors, settings
from qianbao.notices import outbox

notices_app = typer.Typer(
    help="Outbox of SMS and in-app notices: counts by status, retry dead messages.", no_args_is_help=True
)
app.add_typer(notices_app, name="notices")


@notices_app.command("status")
@friendly_errors
def status() -> None:
    """Show how many outbox messages are pending, sent and dead."""
    db = bootstrap.open_database(settings())
    try:
        bootstrap.require_current_schema(db)
        with db.read() as session:
            counts = outbox.status_counts(session)
    finally:
        db.dispose()
    table = Table("status", "messages")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)


@notices_app.command("retry-dead")
@friendly_errors
def retry_dead(
    ids: list[int] | None = typer.Argument(None, help="Message ids to retry; all dead messages if none given."),
) -> None:
    """Put dead messages back in the queue with a fresh set of attempts (after fixing what killed them)."""
    db = bootstrap.open_database(settings())
    try:
        bootstrap.require_current_schema(db)
        with db.transaction() as session:
            count = outbox.retry_dead(session, ids or None)
    finally:
        db.dispose()
    console.print(f"[green]✓[/] {count} dead message(s) queued again; the worker will deliver them.")
