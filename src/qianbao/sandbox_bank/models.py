"""The sandbox bank's own tables, on its own metadata (created with create_all; not the wallet's migrations).

This is the bank's side: it keeps card numbers and holders in clear, as a bank's core system would. The wallet
never sees this database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from qianbao.db import NAMING_CONVENTION, UtcDateTime


class SandboxBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Card(SandboxBase):
    __tablename__ = "sb_card"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(19), unique=True)
    bank_code: Mapped[str] = mapped_column(String(16))
    card_type: Mapped[str] = mapped_column(String(8))  # debit | credit
    holder_name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(11))
    # Fen: the account balance of a debit card, the available credit of a credit card.
    balance: Mapped[int] = mapped_column(BigInteger)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Binding(SandboxBase):
    """A request to bind a card for a merchant, waiting for the code the bank texted to the holder."""

    __tablename__ = "sb_binding"
    __table_args__ = (UniqueConstraint("merchant", "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    merchant: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[int] = mapped_column(ForeignKey("sb_card.id"))
    otp_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))  # pending | confirmed | failed
    token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VaultToken(SandboxBase):
    __tablename__ = "sb_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    merchant: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[int] = mapped_column(ForeignKey("sb_card.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Operation(SandboxBase):
    """A debit or credit a merchant asked for, under its idempotency key."""

    __tablename__ = "sb_operation"
    __table_args__ = (
        UniqueConstraint("merchant", "key"),
        Index("ix_sb_operation_due", "status", "due_at"),
        Index("ix_sb_operation_business_date", "merchant", "business_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_ref: Mapped[str] = mapped_column(String(40), unique=True)
    merchant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # debit | credit
    token: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[int] = mapped_column(ForeignKey("sb_card.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(200))
    notify_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # processing | succeeded | failed
    reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    business_date: Mapped[date | None] = mapped_column(Date)


class Callback(SandboxBase):
    """The signed notice of an operation's result, delivered until the merchant answers 2xx."""

    __tablename__ = "sb_callback"
    __table_args__ = (Index("ix_sb_callback_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("sb_operation.id"))
    merchant: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Nonce(SandboxBase):
    """A request nonce seen from a merchant (replay guard), kept while its timestamp could still pass."""

    __tablename__ = "sb_nonce"
    __table_args__ = (UniqueConstraint("merchant", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SmsMessage(SandboxBase):
    """A text the bank sent (its dev outbox: GET /dev/outbox)."""

    __tablename__ = "sb_sms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
