"""Worker jobs of the cards package."""

from __future__ import annotations

import threading
from typing import Any

from qianbao.db import Database
from qianbao.settings import Settings

_connectors: dict[int, Any] = {}
_lock = threading.Lock()


def _connector(settings: Settings) -> Any:
    """One bank connector per settings object for the worker's life (its HTTP client is reused)."""
    from qianbao.adapters.bank import connector_for

    with _lock:
        connector = _connectors.get(id(settings))
        if connector is None:
            connector = _connectors[id(settings)] = connector_for(settings)
        return connector


def sweep_job(db: Database, settings: Settings) -> int:
    """The worker job `card_movements`: ask the bank about top-ups and withdrawals still processing, end those
    it answers, void those past their deadline (qianbao.cards.movements.sweep)."""
    from qianbao.cards import movements

    return movements.sweep(db, _connector(settings))
