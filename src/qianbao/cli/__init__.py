"""The `qianbao` command: one Typer app, one module per command group."""

from __future__ import annotations

from qianbao.cli import audit as _audit  # noqa: F401  (registers `qianbao audit ...`)
from qianbao.cli import db as _db  # noqa: F401  (registers `qianbao db ...`)
from qianbao.cli import keys as _keys  # noqa: F401  (registers `qianbao keys ...`)
from qianbao.cli import ledger as _ledger  # noqa: F401  (registers `qianbao ledger ...`)
from qianbao.cli import notices as _notices  # noqa: F401  (registers `qianbao notices ...`)
from qianbao.cli import sandbox_bank as _sandbox_bank  # noqa: F401  (registers `qianbao sandbox-bank ...`)
from qianbao.cli import serve as _serve  # noqa: F401  (registers `serve`, `worker`, `demo ...`)
from qianbao.cli import staff as _staff  # noqa: F401  (registers `qianbao staff ...`)
from qianbao.cli import wallets as _wallets  # noqa: F401  (registers `qianbao wallets ...`)
from qianbao.cli.base import app

__all__ = ["app"]
