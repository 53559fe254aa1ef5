"""The ledger's few deployment knobs, from QIANBAO_LEDGER_* environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Items per create_transfers call: large enough for bulk work, small enough to keep one
# transaction's locks and memory bounded.
MAX_BATCH = 10_000


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QIANBAO_LEDGER_", env_file=".env", extra="ignore")

    # How long a successful write's idempotency key is remembered; the issue asks for at least a day.
    idempotency_retention_hours: int = Field(default=48, ge=24)
    # Holds voided per transaction by the expiry sweep (a round repeats until nothing is due).
    sweep_batch: int = Field(default=500, ge=1, le=MAX_BATCH)
    # Keys purged per transaction by the retention job.
    purge_batch: int = Field(default=5_000, ge=1)


@lru_cache
def ledger_settings() -> LedgerSettings:
    return LedgerSettings()
