"""Deployment settings from QIANBAO_* environment variables.

Business policy (tiers, limits, fees, risk rules) is not here: it lives in database tables the ops
console edits. This object holds only what differs between deployments.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QIANBAO_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("qianbao-data")
    # Empty means "a SQLite file in data_dir"; production sets a postgresql+psycopg:// URL.
    database_url: str = ""
    # The keyring: JSON file with the data-encryption keys and the look-up hash key.
    key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    log_json: bool | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    default_language: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"

    # Adapters, chosen by name so a deployment can swap the sandbox for a real party.
    sms_gateway: Literal["dev"] = "dev"
    sms_latency_ms: int = Field(default=40, ge=0)
    sms_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Identity verifier (name–ID check with the public-security service); docs/identity.md has the
    # sandbox's decision rules. A call slower than the timeout counts as the service being unavailable.
    identity_verifier: Literal["sandbox"] = "sandbox"
    identity_latency_ms: int = Field(default=150, ge=0)
    identity_timeout_ms: int = Field(default=5000, ge=1)
    identity_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # ID-card reader at the counter (read failures are transient: the teller places the card again).
    idcard_reader: Literal["sandbox"] = "sandbox"
    idcard_latency_ms: int = Field(default=300, ge=0)
    idcard_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # The counter (docs/counter.md): a cash out above this many yuan waits for a supervisor's approval.
    counter_cash_out_approval_yuan: int = Field(default=50_000, ge=0)
    # Biller adapter (bill payment, docs/bills-and-parcels.md has the sandbox's rules). A call slower than the
    # timeout counts as no answer: for a payment, an unknown outcome the worker asks again about.
    biller_adapter: Literal["sandbox"] = "sandbox"
    biller_latency_ms: int = Field(default=120, ge=0)
    biller_timeout_ms: int = Field(default=5000, ge=1)
    biller_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    # Bank connector (docs/sandbox-bank.md): the bank's API, the wallet's merchant id there and the two shared
    # HMAC secrets (the wallet's requests to the bank; the bank's callbacks to the wallet). The defaults are
    # the sandbox bank's development values (`qianbao sandbox-bank serve`); production must set its own.
    bank_url: str = "http://127.0.0.1:8100"
    bank_merchant_id: str = "QIANBAO-DEV"
    bank_api_secret: str = "sandbox-bank-api-secret-dev-only"
    bank_callback_secret: str = "sandbox-bank-callback-secret-dev-only"
    # Where the bank posts its callbacks; empty means base_url + /api/bank/callbacks.
    bank_callback_url: str = ""
    bank_timeout_seconds: float = Field(default=5.0, gt=0)
    bank_retries: int = Field(default=3, ge=0)
    bank_retry_backoff_seconds: float = Field(default=0.3, ge=0)

    # Outbox worker.
    outbox_poll_seconds: float = 0.5
    outbox_max_attempts: int = 8
    outbox_backoff_base_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 600.0

    # Credentials and sessions (docs/credentials.md). Lockout counts are SPEC §4 rules, fixed in code;
    # these are the rate limits, session lifetimes, cookie security and argon2id cost.
    otp_phone_limit: int = Field(default=5, ge=1)
    otp_phone_window_seconds: int = Field(default=3600, ge=1)
    otp_ip_limit: int = Field(default=20, ge=1)
    otp_ip_window_seconds: int = Field(default=3600, ge=1)
    login_ip_limit: int = Field(default=100, ge=1)
    login_ip_window_seconds: int = Field(default=3600, ge=1)
    pin_ip_limit: int = Field(default=30, ge=1)
    pin_ip_window_seconds: int = Field(default=3600, ge=1)
    session_idle_minutes: int = Field(default=15, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    # Secure `__Host-` cookies; unset means on in production, off on the plain-HTTP development server.
    cookie_secure: bool | None = None
    # argon2id cost (RFC 9106 low-memory profile); hashes made with other values are upgraded at sign-in.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'qianbao.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "keys.json"

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return self.environment == "production"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def resolved_bank_callback_url(self) -> str:
        return self.bank_callback_url or f"{self.base_url}/api/bank/callbacks"


@lru_cache
def get_settings() -> Settings:
    return Settings()
