"""The root Typer app and the helper that turns a QianbaoError into one clear line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from qianbao.errors import QianbaoError
from qianbao.i18n import negotiate
from qianbao.settings import Settings, get_settings

app = typer.Typer(
    name="qianbao",
    help="Qianbao (钱包) digital-wallet platform: run the server, the worker and admin tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def cli_language() -> str:
    import os

    return negotiate(os.environ.get("QIANBAO_CLI_LANG") or os.environ.get("LANG", "").split(".")[0] or None)


def friendly_errors(fn: F) -> F:
    """Coded refusals end the command with their message and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QianbaoError as exc:
            err_console.print(f"[bold red]✗ {exc.code}[/]: {exc.message(cli_language())}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
