"""`qianbao db ...`: schema migrations."""

from __future__ import annotations

import typer

from qianbao import bootstrap, migrate
from qianbao.cli.base import app, console, friendly_errors, settings

db_app = typer.Typer(help="Database schema: apply migrations, show the current revision.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@friendly_errors
def upgrade() -> None:
    """Apply every pending migration to the database in QIANBAO_DATABASE_URL (SQLite file by default)."""
    cfg = settings()
    db = bootstrap.open_database(cfg)
    before = migrate.current_revisions(db.engine)
    with console.status("Applying migrations…"):
        migrate.upgrade(db.engine)
    after = migrate.current_revisions(db.engine)
    url = db.engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"[green]✓[/] {url} is already current ({', '.join(sorted(after))}).")
    else:
        console.print(f"[green]✓[/] {url} upgraded to {', '.join(sorted(after))}.")
    db.dispose()


@db_app.command("current")
@friendly_errors
def current() -> None:
    """Show the revision the database is at and whether it is current."""
    db = bootstrap.open_database(settings())
    cur = migrate.current_revisions(db.engine)
    heads = migrate.head_revisions(db.engine)
    state = "[green]current[/]" if cur == heads else "[yellow]behind: run `qianbao db upgrade`[/]"
    console.print(f"{', '.join(sorted(cur)) or '(empty)'} — {state}")
    db.dispose()
