"""`qianbao sandbox-bank serve` and `qianbao sandbox-bank cards`: the sandbox bank as its own process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qianbao.cli.base import app, console, settings
from qianbao.sandbox_bank.config import SandboxBankSettings

sandbox_app = typer.Typer(help="The sandbox bank (沙箱银行): cards, OTPs, debits/credits, signed callbacks.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox-bank")


@sandbox_app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port to listen on (default 8100)."),
    data_dir: Path | None = typer.Option(None, help="Where its SQLite database lives (default qianbao-data)."),
    database_url: str | None = typer.Option(None, help="Its own database URL (default: sandbox-bank.db)."),
    callback_url: str | None = typer.Option(None, help="The wallet's callback URL (default :8000/api/bank/callbacks)."),
    latency_ms: int | None = typer.Option(None, help="Delay before every API answer (default 80)."),
    processing_ms: int | None = typer.Option(None, help="Time from accepting a debit/credit to its result (800)."),
    failure_rate: float | None = typer.Option(None, help="Share of debits/credits the bank declines (0.0–1.0)."),
    error_rate: float | None = typer.Option(None, help="Share of API requests answered 503 (0.0–1.0)."),
    manual: bool = typer.Option(False, "--manual", help="Settle only through POST /admin/operations/settle."),
    pull: bool = typer.Option(False, "--pull", help="Hand callbacks out on /admin/callbacks/pending."),
    no_seed: bool = typer.Option(False, "--no-seed", help="Do not create the demo cards."),
) -> None:
    """Run the sandbox bank's HTTP service (its own database; settings QIANBAO_SANDBOX_BANK_*)."""
    import uvicorn

    from qianbao.logging import configure_logging
    from qianbao.sandbox_bank.app import create_sandbox_app
    cfg = settings_from_flags(
        SandboxBankSettings(),
        {"host": host, "port": port, "data_dir": data_dir, "database_url": database_url, "callback_url": callback_url,
         "latency_ms": latency_ms, "processing_ms": processing_ms, "failure_rate": failure_rate,
         "error_rate": error_rate},
        manual=manual, pull=pull, no_seed=no_seed,
    )
    configure_logging(json=False, level="WARNING")
    console.print(f"沙箱银行 Sandbox bank on {cfg.base_url} — database {cfg.resolved_database_url}; "
                  f"callbacks to {cfg.callback_url}")
    uvicorn.run(create_sandbox_app(cfg), host=cfg.host, port=cfg.port, log_config=None, access_log=False)


def settings_from_flags(base: SandboxBankSettings, values: dict[str, Any], *, manual: bool = False,
                        pull: bool = False, no_seed: bool = False) -> SandboxBankSettings:
    """The environment's settings with the flags given on the command line on top (checked again)."""
    changes = {name: value for name, value in values.items() if value is not None}
    if manual:
        changes["auto_process"] = False
    if pull:
        changes["callback_mode"] = "pull"
    if no_seed:
        changes["seed_demo"] = False
    return SandboxBankSettings.model_validate({**base.model_dump(), **changes})


@sandbox_app.command("cards")
def cards() -> None:
    """The demo cards the sandbox bank creates (for binding in the demo customer app)."""
    from qianbao.sandbox_bank.demo import demo_lines

    for line in demo_lines():
        console.print(f"  {line}", soft_wrap=True)
    bank_url = settings().bank_url
    console.print(f"  银行验证码 bank OTP: {bank_url}/dev/outbox?phone=<手机号 phone> (the sandbox bank's dev outbox)",
                  soft_wrap=True)
