"""`qianbao serve`, `qianbao worker` and `qianbao demo seed`."""

from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING

import typer

from qianbao import bootstrap, demo, migrate
from qianbao import worker as worker_loop
from qianbao.cli.base import app, console, friendly_errors, settings
from qianbao.settings import Settings

if TYPE_CHECKING:
    from qianbao.sandbox_bank.process import SandboxBankProcess

demo_app = typer.Typer(help="Demo data for trying Qianbao out.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@app.command()
@friendly_errors
def serve(
    demo_data: bool = typer.Option(False, "--demo", help="Create the database, keys and demo users if missing."),
    host: str | None = typer.Option(None, help="Address to listen on (QIANBAO_HOST, default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port to listen on (QIANBAO_PORT, default 8000)."),
    migrate_first: bool = typer.Option(False, "--migrate", help="Apply pending migrations before starting."),
    with_worker: bool = typer.Option(True, "--worker/--no-worker", help="Run the background worker too."),
    workers: int = typer.Option(1, min=1, max=64, help="Web server processes (one per CPU core for load)."),
) -> None:
    """Run the web server (customer app, teller and ops consoles, API) and the background worker."""
    import uvicorn

    from qianbao.app import create_app

    cfg = settings()
    if host:
        cfg.host = host
    if port:
        cfg.port = port
    bootstrap.init_logging(cfg)
    bootstrap.keyring(cfg, create=demo_data)
    db = bootstrap.open_database(cfg)
    if demo_data or migrate_first:
        with console.status("Preparing the database…"):
            migrate.upgrade(db.engine)
    bootstrap.require_current_schema(db)
    sign_ins: list[str] = demo.seed(db, cfg) if demo_data else []
    bank = _start_sandbox_bank(cfg) if demo_data else None

    base = cfg.base_url
    console.print()
    console.print("[bold]钱包 Qianbao[/] is running — 正在运行")
    console.print(f"  客户端 Customer app   {base}/app")
    console.print(f"  柜面系统 Teller console {base}/teller")
    console.print(f"  运营后台 Ops console    {base}/ops")
    console.print(f"  接口文档 API docs       {base}/api/docs")
    console.print(f"  数据库 Database         {db.engine.url.render_as_string(hide_password=True)}")
    if bank is not None:
        console.print(f"  沙箱银行 Sandbox bank   {cfg.bank_url}  (demo cards: qianbao sandbox-bank cards)",
                      soft_wrap=True)
    for line in sign_ins:
        # soft_wrap: a narrow terminal wraps the line itself, so a copied TOTP secret or password stays whole.
        console.print(f"  {line}", soft_wrap=True)
    console.print("  Ctrl+C to stop · 按 Ctrl+C 停止")
    console.print()

    # uvicorn catches SIGTERM, shuts down, then raises it again: with the default handler that would end this
    # process before the `finally` below and leave the sandbox bank running on its port. Exit instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    stop: threading.Event | None = None
    if with_worker:
        _thread, stop = worker_loop.start_in_thread(db, cfg)
    try:
        if workers == 1:
            uvicorn.run(create_app(cfg, db), host=cfg.host, port=cfg.port, log_config=None, access_log=False)
        else:
            # Each process builds its own app (and database pool) from the environment; the background
            # worker stays in this parent process, once.
            os.environ["QIANBAO_DATABASE_URL"] = cfg.resolved_database_url
            os.environ["QIANBAO_KEY_FILE"] = str(cfg.resolved_key_file)
            uvicorn.run("qianbao.app:app_from_environment", factory=True, workers=workers, host=cfg.host,
                        port=cfg.port, log_config=None, access_log=False)
    finally:
        if stop is not None:
            stop.set()
        if bank is not None:
            bank.stop()
        db.dispose()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_sandbox_bank(cfg: Settings) -> SandboxBankProcess | None:
    """The demo's bank: the sandbox bank as its own process at QIANBAO_BANK_URL, calling back this server, with
    the same merchant id and secrets. Left alone when something already listens there (a bank started by hand)."""
    from urllib.parse import urlsplit

    from qianbao.sandbox_bank.process import SandboxBankProcess, port_in_use

    parts = urlsplit(cfg.bank_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 8100
    if port_in_use(host, port):
        console.print(f"  [yellow]![/] {cfg.bank_url} is already in use: using the bank running there.")
        return None
    process = SandboxBankProcess(cfg.data_dir, host=host, port=port, callback_url=cfg.resolved_bank_callback_url,
                                 merchant_id=cfg.bank_merchant_id, api_secret=cfg.bank_api_secret,
                                 callback_secret=cfg.bank_callback_secret)
    try:
        with console.status("Starting the sandbox bank…"):
            return process.start()
    except RuntimeError as exc:
        console.print(f"  [red]✗[/] the sandbox bank did not start: {exc}")
        return None


@app.command()
@friendly_errors
def worker(
    once: bool = typer.Option(False, "--once", help="Run every job one round and exit."),
) -> None:
    """Run the background worker alone: outbox delivery (SMS, in-app notices) and expiry sweeps."""
    cfg = settings()
    bootstrap.init_logging(cfg)
    bootstrap.keyring(cfg)
    db = bootstrap.open_database(cfg)
    bootstrap.require_current_schema(db)
    if once:
        done = worker_loop.run_once(db, cfg)
        console.print(f"[green]✓[/] one round done, {done} item(s) processed.")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print("Worker running — Ctrl+C to stop.")
    try:
        worker_loop.run_forever(db, cfg, stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        db.dispose()


@demo_app.command("seed")
@friendly_errors
def demo_seed() -> None:
    """Create the demo branches, staff and customers if they are missing (safe to run twice)."""
    cfg = settings()
    bootstrap.keyring(cfg, create=True)
    db = bootstrap.open_database(cfg)
    migrate.upgrade(db.engine)
    with console.status("Seeding demo data…"):
        lines = demo.seed(db, cfg)
    console.print("[green]✓[/] demo data ready.")
    for line in lines:
        console.print(f"  {line}", soft_wrap=True)
    db.dispose()
