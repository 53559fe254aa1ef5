"""Tables of the merchants package: merchants and their API credentials, orders, refunds, notifications,
and the nonces of signed API requests (docs/merchants.md).

The HMAC secret must be read back to check a signature, so it is stored AES-GCM encrypted
(`EncryptedString`); the API key is only compared, so only its SHA-256 is kept (with a short prefix to
show). Money is int fen. Times are `UtcDateTime`. Staff are plain integer ids (no foreign key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime
from qianbao.pii.crypto import EncryptedString

# Merchant statuses: a suspended merchant's API answers MERCHANT_SUSPENDED and its orders cannot be paid.
ACTIVE = "active"
SUSPENDED = "suspended"
MERCHANT_STATUSES = (ACTIVE, SUSPENDED)

# Categories, each with the ISO 18245 merchant category code the EMVCo QR carries.
CATEGORIES: dict[str, str] = {
    "retail": "5411",  # grocery stores, convenience stores
    "dining": "5812",  # restaurants
    "tickets": "4112",  # passenger railways
    "travel": "4722",  # travel agencies and tour operators
    "postal_express": "4215",  # courier services
    "utilities": "4900",
    "services": "7299",
    "other": "5999",
}

# Order statuses as stored. An open order past its expiry is *shown* as expired (see service.order_state).
OPEN = "open"
PAID = "paid"
CLOSED = "closed"
ORDER_STATUSES = (OPEN, PAID, CLOSED)
# Where an order came from.
SOURCE_API = "api"  # the merchant API (dynamic QR)
SOURCE_PORTAL = "portal"  # the merchant's own pages (a cashier's checkout)
SOURCE_STATIC = "static"  # a customer scanned the static QR and typed the amount
SOURCE_SYSTEM = "system"  # built by another package (parcels)
ORDER_SOURCES = (SOURCE_API, SOURCE_PORTAL, SOURCE_STATIC, SOURCE_SYSTEM)

# Notification delivery.
N_PENDING = "pending"
N_DELIVERED = "delivered"
N_FAILED = "failed"  # gave up after the last try; the merchant can still query the order
NOTIFICATION_STATUSES = (N_PENDING, N_DELIVERED, N_FAILED)


class Merchant(Base):
    __tablename__ = "merchant"
    __table_args__ = (
        CheckConstraint("mdr_bp >= 0 AND mdr_bp <= 10000", name="mdr_range"),
        CheckConstraint(f"status IN {MERCHANT_STATUSES}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_no: Mapped[str] = mapped_column(String(15), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    mdr_bp: Mapped[int] = mapped_column(Integer)
    ledger_account_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The built-in merchants other packages look up by a name (postal_express); NULL for ordinary ones.
    system_code: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_prefix: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(EncryptedString)
    secret_version: Mapped[int] = mapped_column(Integer)
    secret_rotated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notify_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by_staff_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-CN" else self.name_en


class MerchantOrder(Base):
    __tablename__ = "merchant_order"
    __table_args__ = (
        UniqueConstraint("merchant_id", "merchant_order_no"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        CheckConstraint("refunded_fee >= 0 AND refunded_fee <= fee", name="refund_fee_within_fee"),
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="status_known"),
        Index("ix_merchant_order_merchant_created", "merchant_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public, unguessable token of the order: the QR code, the checkout page and the pay page use it.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    merchant_order_no: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(128))
    notify_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The request the order was created with (canonical JSON hash): the same order number with another
    # request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    payer_wallet_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payer_label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    operation_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class MerchantRefund(Base):
    __tablename__ = "merchant_refund"
    __table_args__ = (
        UniqueConstraint("merchant_id", "refund_no"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_merchant_refund_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("merchant_order.id"))
    refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee_returned: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    operation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    operation_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MerchantNotification(Base):
    __tablename__ = "merchant_notification"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_merchant_notification_due", "status", "next_attempt_at"),
        Index("ix_merchant_notification_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("merchant_order.id"))
    event: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MerchantNonce(Base):
    """A nonce a signed request used: the same nonce again within the window is a replay."""

    __tablename__ = "merchant_nonce"
    __table_args__ = (
        UniqueConstraint("merchant_id", "nonce"),
        Index("ix_merchant_nonce_seen", "seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
