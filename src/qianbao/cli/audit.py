"""`qianbao audit ...`: checking the hash-chained audit log."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qianbao import bootstrap
from qianbao.audit.verify import verify as verify_chain
from qianbao.cli.base import app, cli_language, console, err_console, friendly_errors, settings
from qianbao.i18n import translate

audit_app = typer.Typer(
    help="The audit log: check that no entry was edited, removed or reordered.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@friendly_errors
def verify(
    batch_size: int = typer.Option(1000, min=1, help="Entries read per query."),
) -> None:
    """Walk the whole audit chain and name the first entry that was edited, deleted or forged.

    Exit status 0 when the chain is intact, 1 when it is broken, 2 when the database cannot be read.
    """
    cfg = settings()
    db = bootstrap.open_database(cfg)
    lang = cli_language()
    try:
        bootstrap.require_current_schema(db)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(translate("audit.verify.progress", lang), total=None)
            result = verify_chain(
                db,
                batch_size=batch_size,
                on_progress=lambda done, total: progress.update(task, advance=done, total=total),
            )
    finally:
        db.dispose()
    if result.problem is not None:
        err_console.print(f"[bold red]✗[/] {result.problem.message(lang)}")
        err_console.print(translate("audit.verify.checked_before", lang, count=result.checked))
        raise typer.Exit(1)
    console.print(
        "[green]✓[/] " + translate("audit.verify.ok", lang, count=result.checked, seq=result.last_seq,
                                   hash=result.last_hash)
    )
