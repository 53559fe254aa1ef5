"""The background worker: periodic jobs (outbox delivery, expiry sweeps) in one loop.

`qianbao worker` runs it on its own; `qianbao serve` runs it in a thread beside the web server.
Each job returns how much work it did; the loop sleeps only when a whole round found nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from qianbao.db import Database
from qianbao.settings import Settings

log = structlog.get_logger("qianbao.worker")

JobFn = Callable[[Database, Settings], int]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFn


def jobs() -> list[Job]:
    """The registered jobs; domain packages add theirs here."""
    from qianbao.adapters.bank.callbacks import prune_job as prune_bank_callback_nonces
    from qianbao.cards.jobs import sweep_job as card_movements_job
    from qianbao.credentials.jobs import prune as prune_credentials
    from qianbao.credentials.passkeys import prune_job as prune_passkey_challenges
    from qianbao.ledger.jobs import purge_keys_job, sweep_job
    from qianbao.merchants.notify import deliver_due as deliver_merchant_notifications
    from qianbao.merchants.notify import purge_nonces_job
    from qianbao.notices.delivery import deliver_due
    from qianbao.payments.bills import settle_job as bills_settle_job
    from qianbao.payments.paycode import settle_job as paycode_settle_job
    from qianbao.payments.service import expire_job as payments_expire_job
    from qianbao.wallets.jobs import expire_applications_job, id_expiry_job

    return [Job("outbox", deliver_due), Job("credentials_prune", prune_credentials),
            Job("ledger_sweep", sweep_job), Job("ledger_purge_keys", purge_keys_job),
            Job("wallets_id_expiry", id_expiry_job), Job("wallets_expire_applications", expire_applications_job),
            Job("passkey_challenges_prune", prune_passkey_challenges),
            Job("merchant_notify", deliver_merchant_notifications), Job("merchant_nonces_purge", purge_nonces_job),
            Job("bank_callback_nonces", prune_bank_callback_nonces),
            Job("payments_expire", payments_expire_job), Job("bills_settle", bills_settle_job),
            Job("card_movements", card_movements_job),
            Job("paycode_settle", paycode_settle_job)]


def run_once(db: Database, settings: Settings) -> int:
    done = 0
    for job in jobs():
        try:
            done += job.run(db, settings)
        except Exception:
            # One failing job must not stop the others; it is retried on the next round.
            log.exception("worker_job_failed", job=job.name)
    return done


def run_forever(db: Database, settings: Settings, stop: threading.Event) -> None:
    log.info("worker_started", jobs=[j.name for j in jobs()])
    while not stop.is_set():
        if run_once(db, settings) == 0:
            stop.wait(settings.outbox_poll_seconds)
    log.info("worker_stopped")


def start_in_thread(db: Database, settings: Settings) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(db, settings, stop), name="qianbao-worker", daemon=True)
    thread.start()
    return thread, stop
