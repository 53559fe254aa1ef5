"""`qianbao keys ...`: the key file for personal-data encryption, and key rotation."""

from __future__ import annotations

from collections import Counter

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from qianbao import bootstrap
from qianbao.cli.base import app, console, err_console, friendly_errors, settings
from qianbao.errors import QianbaoError
from qianbao.pii import rotate as rotation
from qianbao.pii.keyring import Keyring, create_keyring

keys_app = typer.Typer(
    help="Encryption keys for personal data: create the key file, rotate to a new key, show key use.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
@friendly_errors
def init() -> None:
    """Create the key file (QIANBAO_KEY_FILE, default <data dir>/keys.json); never overwrites one."""
    path = settings().resolved_key_file
    if path.exists():
        raise QianbaoError("CONFIG_KEYS_EXIST", path=str(path))
    ring = create_keyring(path)
    console.print(f"[green]✓[/] created {path} (active key {ring.active}, file mode 0600).")
    console.print("  Back this file up apart from the database: without it no personal value can be read.")


@keys_app.command("rotate")
@friendly_errors
def rotate(
    resume: bool = typer.Option(
        False, "--resume", help="Add no new key: finish an interrupted rotation under the current active key."
    ),
    retire: bool = typer.Option(False, "--retire", help="Afterwards remove the keys no stored value uses any more."),
    batch_size: int = typer.Option(rotation.DEFAULT_BATCH, min=1, help="Rows re-encrypted per transaction."),
) -> None:
    """Make a new key the active one, then re-encrypt every encrypted column with it.

    Safe to interrupt: run `qianbao keys rotate --resume` to carry on.

    Restart servers and workers once the key is added (they write with the key they started with), before --retire.
    """
    cfg = settings()
    ring = bootstrap.keyring(cfg)
    db = bootstrap.open_database(cfg)
    try:
        bootstrap.require_current_schema(db)
        if not resume:
            new_id = ring.add_key()
            ring.save()
            console.print(f"[green]✓[/] new active key {new_id} written to {ring.path}.")
        columns = rotation.encrypted_columns()
        total = rotation.count_values(db, columns)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"Re-encrypting under {ring.active}", total=total)
            report = rotation.reencrypt_all(
                db, ring, columns, batch_size=batch_size, on_progress=lambda n: progress.advance(task, n)
            )
        console.print(
            f"[green]✓[/] {report.reencrypted} value(s) re-encrypted in {len(columns)} column(s), "
            f"{report.scanned} scanned."
        )
        _print_counts(ring, report.per_key)
        if report.failures:
            _print_failures(report.failures)
            raise typer.Exit(1)
        if retire:
            counts = rotation.values_per_key(db, columns)
            retired = rotation.retire_unused(ring, counts.per_key)
            if retired:
                console.print(f"[green]✓[/] retired {len(retired)} unused key(s): {', '.join(retired)}.")
            else:
                console.print("No key to retire: every old key still holds values.")
    finally:
        db.dispose()


@keys_app.command("status")
@friendly_errors
def status() -> None:
    """Show the keys in the key file and how many stored values each one encrypts."""
    cfg = settings()
    ring = bootstrap.keyring(cfg)
    db = bootstrap.open_database(cfg)
    try:
        bootstrap.require_current_schema(db)
        report = rotation.values_per_key(db, rotation.encrypted_columns())
    finally:
        db.dispose()
    _print_counts(ring, report.per_key)
    if report.failures:
        _print_failures(report.failures)
        raise typer.Exit(1)


def _print_counts(ring: Keyring, per_key: Counter[str]) -> None:
    table = Table(title="Values per key id")
    table.add_column("key id")
    table.add_column("values", justify="right")
    table.add_column("")
    for key_id in sorted(set(ring.keys) | set(per_key)):
        note = "active" if key_id == ring.active else ("not in key file" if key_id not in ring.keys else "")
        table.add_row(key_id, str(per_key.get(key_id, 0)), note)
    console.print(table)


def _print_failures(failures: list[tuple[str, object, str]]) -> None:
    err_console.print(f"[bold red]✗[/] {len(failures)} value(s) could not be re-encrypted:")
    for context, pk, code in failures[:20]:
        err_console.print(f"  {context} row {pk}: {code}")
    if len(failures) > 20:
        err_console.print(f"  … and {len(failures) - 20} more")
