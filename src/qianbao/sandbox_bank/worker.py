"""The sandbox bank's background thread: settle operations when they fall due, push signed callbacks.

Each round: operations accepted `processing_ms` ago are carried out on their cards (when `auto_process`), and
callbacks due are POSTed to the wallet (when `callback_mode` is push), each in its own transaction. A delivery
that does not get a 2xx answer is tried again after base × 2^(attempts−1) seconds, capped.
"""

from __future__ import annotations

import threading
import time

import httpx
import structlog

from qianbao.db import Database
from qianbao.sandbox_bank import service
from qianbao.sandbox_bank.config import Behaviour, SandboxBankSettings

log = structlog.get_logger(__name__)
PRUNE_EVERY_SECONDS = 60.0


def process_due(db: Database, behaviour: Behaviour) -> int:
    if not behaviour.auto_process:
        return 0
    with db.read() as session:
        ids = service.due_operations(session)
    done = 0
    for operation_id in ids:
        with db.transaction() as session:
            if service.settle(session, behaviour, operation_id) is not None:
                done += 1
    return done


def deliver_due(db: Database, settings: SandboxBankSettings, behaviour: Behaviour, client: httpx.Client) -> int:
    if behaviour.callback_mode != "push":
        return 0
    with db.read() as session:
        due = [(row.id, *service.signed_request(row, settings.callback_secret))
               for row in service.due_callbacks(session)]
    for callback_id, url, headers, body in due:
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(url, content=body, headers=headers, timeout=behaviour.callback_timeout_seconds)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        with db.transaction() as session:
            row = service.record_attempt(session, behaviour, callback_id, status, error)
        log.info("sandbox_bank_callback", event_id=row.event_id, attempt=row.attempts, status=status, error=error,
                 delivered=row.status == "delivered")
    return len(due)


def run(db: Database, settings: SandboxBankSettings, behaviour: Behaviour, stop: threading.Event) -> None:
    last_prune = 0.0
    with httpx.Client() as client:
        while not stop.is_set():
            busy = 0
            try:
                busy += process_due(db, behaviour)
                busy += deliver_due(db, settings, behaviour, client)
                if time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                    with db.transaction() as session:
                        service.prune_nonces(session)
                    last_prune = time.monotonic()
            except Exception:  # the loop must survive a bad round: it is logged and tried again
                log.exception("sandbox_bank_worker_round_failed")
            if not busy:
                stop.wait(settings.poll_seconds)
