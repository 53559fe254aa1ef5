"""The customer-presented payment code's table (付款码): one row per code shown, and its charge, if any.

A code is a bearer credential for 60 seconds: only its keyed hash is stored (`code_hash`, HMAC under a key
derived from the keyring), with its last four digits for the merchant's receipt and the history. A code
is used at most once, so the charge a merchant makes with it lives on the same row: `charge_status`
None (not charged) → "awaiting" (over the customer's 小额免密 threshold: waiting for the customer's PIN or
passkey) → "succeeded" | "declined" | "expired"; a password-free charge goes straight to "succeeded".
Wallets, customers and merchants are plain integer ids, as in the payments core's tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime

ACTIVE = "active"
USED = "used"
SUPERSEDED = "superseded"
CODE_STATUSES = (ACTIVE, USED, SUPERSEDED)

AWAITING = "awaiting"
SUCCEEDED = "succeeded"
DECLINED = "declined"
EXPIRED = "expired"
CHARGE_STATUSES = (AWAITING, SUCCEEDED, DECLINED, EXPIRED)


class PaymentCode(Base):
    __tablename__ = "payments_paycode"
    __table_args__ = (
        CheckConstraint(f"status IN {CODE_STATUSES!r}", name="status"),
        CheckConstraint(f"charge_status IS NULL OR charge_status IN {CHARGE_STATUSES!r}", name="charge_status"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        Index("ix_payments_paycode_wallet_status", "wallet_id", "status"),
        Index("ix_payments_paycode_customer_charge", "customer_id", "charge_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_tail: Mapped[str] = mapped_column(String(4))
    customer_id: Mapped[int] = mapped_column(Integer)
    wallet_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=ACTIVE)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The charge (set when a merchant scans the code).
    reference: Mapped[str | None] = mapped_column(String(24), unique=True, nullable=True)
    merchant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merchant_order_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    charge_status: Mapped[str | None] = mapped_column(String(12), nullable=True)
    confirm_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    confirmation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    operation_reference: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
