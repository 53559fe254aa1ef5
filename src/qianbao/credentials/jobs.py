"""The worker job of the credentials package: clear out rows that can no longer matter.

Rate-limit windows that no estimate reads any more, sessions that ended over 30 days ago, and SMS codes
spent or expired over a day ago. It runs at most once a minute per process, so the worker's tight loop
does not take SQLite's write lock twice a second for nothing.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import delete

from qianbao.credentials import ratelimit, sessions
from qianbao.credentials.base import execute_count, now_utc
from qianbao.credentials.models import OneTimeCode
from qianbao.db import Database
from qianbao.settings import Settings

INTERVAL_SECONDS = 60.0
OTP_KEEP = timedelta(days=1)

_last_run = 0.0
_lock = threading.Lock()


def prune(db: Database, settings: Settings, *, force: bool = False) -> int:
    """Delete what has expired; returns rows removed (0 when skipped because it ran under a minute ago)."""
    global _last_run
    with _lock:
        now_mono = time.monotonic()
        if not force and _last_run and now_mono - _last_run < INTERVAL_SECONDS:
            return 0
        _last_run = now_mono
    with db.transaction() as session:
        removed = ratelimit.prune(session)
        removed += sessions.prune_sessions(session)
        removed += execute_count(session, delete(OneTimeCode).where(OneTimeCode.expires_at < now_utc() - OTP_KEEP))
    return removed
