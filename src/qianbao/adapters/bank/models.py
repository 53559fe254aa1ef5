"""The wallet's memory of the bank's callbacks: nonces seen (replay guard) and events accepted (once each)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime


class BankCallbackNonce(Base):
    """A nonce of a callback whose signature checked out; kept while its timestamp could still pass."""

    __tablename__ = "bank_callback_nonce"
    __table_args__ = (
        UniqueConstraint("merchant", "nonce"),
        Index("ix_bank_callback_nonce_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BankCallbackEvent(Base):
    """A bank event the wallet accepted and handed to its handler: a second delivery finds it here."""

    __tablename__ = "bank_callback_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), index=True)
    bank_ref: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

