"""Tables of the cards package: bound bank cards, bindings waiting for the bank's OTP, and the top-ups and
withdrawals in flight through a card.

A card is stored as the bank's vault token, its BIN and last four digits; the full number only encrypted
(`EncryptedString`) with a keyed look-up hash beside it; never the CVV. Two uniqueness tricks keep the rules in
the database rather than in a read before a write (SPEC §5):

- `bank_card.bound_hash` is the number's look-up hash while the card is bound and NULL once unbound, and it is
  UNIQUE: a card is bound to at most one wallet at a time (NULLs never collide, on SQLite and PostgreSQL);
- `bank_card.default_of_wallet` is the wallet's id on its default card and NULL on the others, UNIQUE: at
  most one default card per wallet.

`card_movement` links a payments operation (top-up or withdrawal) to the card and to the key the bank knows
it by; a card with a movement still `processing` cannot be unbound (CARD_IN_FLIGHT). Operations are plain
ids (no foreign key): the payments package owns that table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check
from qianbao.pii.crypto import EncryptedString

DEBIT = "debit"
CREDIT = "credit"
CARD_TYPES = (DEBIT, CREDIT)

BOUND = "bound"
UNBOUND = "unbound"
CARD_STATUSES = (BOUND, UNBOUND)

# A binding waiting for the bank's one-time code.
BINDING_PENDING = "pending"
BINDING_BOUND = "bound"
BINDING_FAILED = "failed"
BINDING_EXPIRED = "expired"
BINDING_STATUSES = (BINDING_PENDING, BINDING_BOUND, BINDING_FAILED, BINDING_EXPIRED)

TOPUP = "topup"
WITHDRAWAL = "withdrawal"
MOVEMENT_KINDS = (TOPUP, WITHDRAWAL)

PROCESSING = "processing"
SUCCEEDED = "succeeded"
FAILED = "failed"
MOVEMENT_STATUSES = (PROCESSING, SUCCEEDED, FAILED)


class BankCard(Base):
    """A bank card bound to a wallet (or once bound: unbinding keeps the row, without its uniqueness)."""

    __tablename__ = "bank_card"
    __table_args__ = (
        CheckConstraint(in_check("card_type", CARD_TYPES), name="card_type"),
        CheckConstraint(in_check("status", CARD_STATUSES), name="status"),
        Index("ix_bank_card_wallet_status", "wallet_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet.id"))
    bank_code: Mapped[str] = mapped_column(String(16))
    card_type: Mapped[str] = mapped_column(String(8))
    bin: Mapped[str] = mapped_column(String(8))
    last4: Mapped[str] = mapped_column(String(4))
    number: Mapped[str] = mapped_column(EncryptedString)
    number_hash: Mapped[str] = mapped_column(String(64), index=True)
    bound_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token: Mapped[str] = mapped_column(EncryptedString)
    default_of_wallet: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime)
    unbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def is_default(self) -> bool:
        return self.default_of_wallet is not None


class CardBinding(Base):
    """A binding started with the bank: the card passed our checks, the bank sent its OTP to the holder."""

    __tablename__ = "card_binding"
    __table_args__ = (
        CheckConstraint(in_check("status", BINDING_STATUSES), name="status"),
        CheckConstraint(in_check("card_type", CARD_TYPES), name="card_type"),
        Index("ix_card_binding_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet.id"))
    bank_ref: Mapped[str] = mapped_column(String(64))
    bank_code: Mapped[str] = mapped_column(String(16))
    card_type: Mapped[str] = mapped_column(String(8))
    bin: Mapped[str] = mapped_column(String(8))
    last4: Mapped[str] = mapped_column(String(4))
    # The number is needed until the binding ends (the card row then keeps it); cleared when it does.
    number: Mapped[str | None] = mapped_column(EncryptedString)
    number_hash: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(SmallInteger)
    failure_code: Mapped[str | None] = mapped_column(String(48))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("bank_card.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CardMovement(Base):
    """A top-up from a card or a withdrawal to it, while the bank works on it and after."""

    __tablename__ = "card_movement"
    __table_args__ = (
        CheckConstraint(in_check("kind", MOVEMENT_KINDS), name="kind"),
        CheckConstraint(in_check("status", MOVEMENT_STATUSES), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("refund IS NULL OR refund IN ('due', 'sent')", name="refund"),
        Index("ix_card_movement_card_status", "card_id", "status"),
        Index("ix_card_movement_status_query", "status", "next_query_at"),
        Index("ix_card_movement_wallet", "wallet_id", "created_at"),
        Index("ix_card_movement_refund", "refund"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[int] = mapped_column(ForeignKey("bank_card.id"))
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    operation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    reference: Mapped[str] = mapped_column(String(48), unique=True)
    bank_key: Mapped[str] = mapped_column(String(96), unique=True)
    # The payments idempotency key it was made with: a retry finds its movement (and its fee) by it.
    order_key: Mapped[str] = mapped_column(String(160), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    bank_status: Mapped[str | None] = mapped_column(String(24))
    failure: Mapped[str | None] = mapped_column(String(64))
    query_count: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_query_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A top-up the bank took from the card but that could not be credited (the wallet was frozen meanwhile,
    # the hold had expired): "due" until the sweep has asked the bank to pay it back to the card, then "sent".
    refund: Mapped[str | None] = mapped_column(String(8))
