"""The sandbox bank's settings (QIANBAO_SANDBOX_BANK_* variables or `qianbao sandbox-bank serve` flags) and the
part of them an admin call may change while it runs (`Behaviour`)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_API_SECRET = "sandbox-bank-api-secret-dev-only"
DEV_CALLBACK_SECRET = "sandbox-bank-callback-secret-dev-only"
DEV_ADMIN_TOKEN = "sandbox-bank-admin-dev-only"


class SandboxBankSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QIANBAO_SANDBOX_BANK_", extra="ignore")

    # Its own database: a SQLite file in data_dir unless a URL is given. Never the wallet's database.
    database_url: str = ""
    data_dir: Path = Path("qianbao-data")
    host: str = "127.0.0.1"
    port: int = 8100
    # The one merchant (the wallet) this bank serves, and the shared secrets (the wallet's QIANBAO_BANK_*).
    merchant_id: str = "QIANBAO-DEV"
    api_secret: str = DEV_API_SECRET
    callback_secret: str = DEV_CALLBACK_SECRET
    admin_token: str = DEV_ADMIN_TOKEN
    callback_url: str = "http://127.0.0.1:8000/api/bank/callbacks"
    # Behaviour (changeable at run time through PUT /admin/config).
    latency_ms: int = Field(default=80, ge=0)
    processing_ms: int = Field(default=800, ge=0)
    failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    auto_process: bool = True
    callback_mode: Literal["push", "pull"] = "push"
    callback_backoff_seconds: float = Field(default=1.0, ge=0.0)
    callback_backoff_max_seconds: float = Field(default=300.0, ge=0.0)
    callback_timeout_seconds: float = Field(default=5.0, gt=0.0)
    otp_ttl_seconds: int = Field(default=300, ge=1)
    poll_seconds: float = Field(default=0.1, gt=0.0)
    seed_demo: bool = True

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sandbox-bank.db').resolve()}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class Behaviour:
    """How the bank behaves now: latency, failures, processing and callbacks (GET/PUT /admin/config)."""

    latency_ms: int
    processing_ms: int
    failure_rate: float
    error_rate: float
    auto_process: bool
    callback_mode: str
    callback_url: str
    callback_backoff_seconds: float
    callback_backoff_max_seconds: float
    callback_timeout_seconds: float
    otp_ttl_seconds: int

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: SandboxBankSettings) -> Behaviour:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply checked changes (unknown names and out-of-range values raise ValueError)."""
        checked = SandboxBankSettings.model_validate({**self.as_dict(), **changes})
        with self._lock:
            for f in fields(self):
                setattr(self, f.name, getattr(checked, f.name))
        return self.as_dict()
