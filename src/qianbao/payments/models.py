"""Tables of the payments core: operations, per-wallet history entries, limit usage, fees, payment settings.

* `payments_operation` — one row per business operation (a transfer, a top-up, a withdrawal...), with its
  public random reference, its parties, amount and fee, status, idempotency key and the ledger transfers
  that carry it. The key is UNIQUE: that constraint, not a read before the insert, is what makes two
  concurrent requests with one key one operation.
* `payments_entry` — one row per wallet the operation touches (the payer's "out", the payee's "in"): the
  transaction history (SPEC §8) reads only this table, by wallet and time.
* `payments_usage` — running totals per wallet and period bucket (`day:2026-11-25`, `year:2026`,
  `pwfree:2026-11-25`, `sqr:2026-11-25`, `wdm:2026-11`) for the outflow limits, increased with one
  conditional UPSERT so that concurrent payments can never together pass a cap.
* `payments_fee_rule` — the fee schedule (SPEC §6.3), one row per operation kind, editable by operators.
* `payments_customer_settings` — a customer's password-free (小额免密) choice and threshold.

Wallets, customers and ledger transfers are plain integer ids (no foreign keys): this package's migration
builds on the foundation alone, as the wallets package's does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check

KINDS = (
    "topup", "withdrawal", "transfer", "merchant_payment", "bill", "parcel", "refund", "cash_in", "cash_out",
)
# Kinds that count as outflow of the paying wallet (SPEC §2): they are held to the tier's limits.
OUTFLOW_KINDS = frozenset({"merchant_payment", "transfer", "withdrawal", "bill", "parcel", "cash_out"})
CONFIRMATIONS = ("pin", "passkey", "password_free", "withholding", "counter", "system")
# Confirmations that skip the PIN and the passkey: they count against the password-free daily cap.
PASSWORD_FREE_CONFIRMATIONS = frozenset({"password_free", "withholding"})
CHANNELS = ("app", "api", "counter", "merchant", "system")

PROCESSING = "processing"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (PROCESSING, SUCCEEDED, FAILED)

IN = "in"
OUT = "out"


class PaymentOperation(Base):
    __tablename__ = "payments_operation"
    __table_args__ = (
        CheckConstraint(in_check("kind", KINDS), name="kind"),
        CheckConstraint(in_check("status", STATUSES), name="status"),
        CheckConstraint(in_check("confirmation", CONFIRMATIONS), name="confirmation"),
        CheckConstraint(in_check("channel", CHANNELS), name="channel"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        Index("ix_payments_operation_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    payer_wallet_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payer_account_id: Mapped[int] = mapped_column(BigInteger)
    payer_label: Mapped[str | None] = mapped_column(String(120))
    payee_wallet_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payee_account_id: Mapped[int] = mapped_column(BigInteger)
    payee_label: Mapped[str | None] = mapped_column(String(120))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    confirmation: Mapped[str] = mapped_column(String(16))
    static_qr: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16))
    counterparty_label: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(200))
    order_reference: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The limit buckets this operation counted in ({bucket: fen}), released when it fails.
    usage: Mapped[dict[str, Any]] = mapped_column(JSON)
    ledger_transfer_ids: Mapped[list[int]] = mapped_column(JSON)
    pending: Mapped[bool] = mapped_column(Boolean)
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PaymentEntry(Base):
    __tablename__ = "payments_entry"
    __table_args__ = (
        CheckConstraint(in_check("direction", (IN, OUT)), name="direction"),
        CheckConstraint(in_check("status", STATUSES), name="status"),
        Index("ix_payments_entry_wallet_time", "wallet_id", "created_at", "id"),
        Index("ix_payments_entry_operation", "operation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wallet_id: Mapped[int] = mapped_column(BigInteger)
    operation_id: Mapped[int] = mapped_column(ForeignKey("payments_operation.id"))
    direction: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    counterparty: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PaymentUsage(Base):
    __tablename__ = "payments_usage"

    wallet_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger)


class FeeRule(Base):
    __tablename__ = "payments_fee_rule"
    __table_args__ = (
        CheckConstraint("rate_ppm >= 0 AND rate_ppm <= 1000000", name="rate_ppm"),
        CheckConstraint("min_fee >= 0", name="min_fee"),
    )

    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    # Amount (fen) a wallet may move free of charge per Shanghai month; 0 = every fen is charged.
    free_monthly: Mapped[int] = mapped_column(BigInteger)
    rate_ppm: Mapped[int] = mapped_column(Integer)  # parts per million of the charged amount
    min_fee: Mapped[int] = mapped_column(BigInteger)
    max_fee: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class CustomerPaymentSettings(Base):
    __tablename__ = "payments_customer_settings"

    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    password_free_enabled: Mapped[bool] = mapped_column(Boolean)
    password_free_threshold: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
