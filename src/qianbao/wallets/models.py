"""Tables of the wallets package: holders, wallets, the tier policy, tier history, KYC and counter applications.

Personal values are encrypted columns (`qianbao.pii.crypto`) with a keyed look-up hash beside the ones
that are searched: `customer.phone_hash` and `customer.id_hash` are UNIQUE, and those two constraints,
not a read before the insert, are what keep one phone number to one holder and one resident ID number to
one real-name wallet under concurrency (SPEC §3).

Staff and branches are plain integer ids (no foreign key): the staff package owns those tables, and this
package must not depend on it. Times are `UtcDateTime` (UTC, aware on both databases).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check
from qianbao.pii.crypto import EncryptedBytes, EncryptedString

TIERS = (1, 2, 3, 4)

# Wallet statuses. A frozen wallet neither pays nor receives (its ledger account is frozen too).
ACTIVE = "active"
FROZEN_LOST = "frozen_lost"  # 挂失: the holder reported a lost phone; lifted in person at a counter
FROZEN_OPS = "frozen_ops"  # an operator froze it (risk, a court order...); lifted by an operator
CLOSED = "closed"
WALLET_STATUSES = (ACTIVE, FROZEN_LOST, FROZEN_OPS, CLOSED)

CHANNELS = ("app", "counter")

# Real-name status of a holder.
REAL_NAME_NONE = "none"
REAL_NAME_PENDING = "pending"
REAL_NAME_VERIFIED = "verified"
REAL_NAME_STATUSES = (REAL_NAME_NONE, REAL_NAME_PENDING, REAL_NAME_VERIFIED)

# Why a tier changed (wallet_tier_change.cause).
CAUSE_OPENED = "opened"
CAUSE_REAL_NAME = "real_name"
CAUSE_BANK_CARD = "bank_card"
CAUSE_COUNTER = "counter"
CAUSE_OPERATOR = "operator"
TIER_CAUSES = (CAUSE_OPENED, CAUSE_REAL_NAME, CAUSE_BANK_CARD, CAUSE_COUNTER, CAUSE_OPERATOR)

OUTFLOW_ID_CARD_EXPIRED = "id_card_expired"

# KYC submissions (real-name in the app).
KYC_PENDING = "pending"
KYC_APPROVED = "approved"
KYC_REJECTED = "rejected"
KYC_STATUSES = (KYC_PENDING, KYC_APPROVED, KYC_REJECTED)
# What the identity verifier said; "unavailable" = it failed or timed out, so a person decides.
VERIFIER_DECISIONS = ("match", "mismatch", "unsure", "unavailable")

PHOTO_SIDES = ("front", "back", "customer", "chip")

# Counter applications.
APP_AWAITING_SUPERVISOR = "awaiting_supervisor"
APP_READY = "ready"  # no approval needed
APP_APPROVED = "approved"  # a supervisor approved it
APP_REJECTED = "rejected"
APP_COMPLETED = "completed"
APP_CANCELLED = "cancelled"
APP_EXPIRED = "expired"
APPLICATION_STATUSES = (
    APP_AWAITING_SUPERVISOR, APP_READY, APP_APPROVED, APP_REJECTED, APP_COMPLETED, APP_CANCELLED, APP_EXPIRED,
)
CARD_SOURCES = ("reader", "manual")


class Customer(Base):
    """A wallet holder (持有人). Created with a phone number; name and ID number come with real-name."""

    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint(in_check("real_name_status", REAL_NAME_STATUSES), name="real_name_status"),
        CheckConstraint(in_check("registered_channel", CHANNELS), name="registered_channel"),
        Index("ix_customer_id_valid_until", "id_valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(EncryptedString)  # E.164
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    legal_name: Mapped[str | None] = mapped_column(EncryptedString)
    name_hash: Mapped[str | None] = mapped_column(String(64))
    id_number: Mapped[str | None] = mapped_column(EncryptedString)
    # Set only once the real name is verified: one real-name wallet per ID number.
    id_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    # The ID card's last valid day; NULL with a verified real name means a long-term (长期) card.
    id_valid_until: Mapped[date | None] = mapped_column(Date)
    real_name_status: Mapped[str] = mapped_column(String(16))
    real_name_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    real_name_channel: Mapped[str | None] = mapped_column(String(16))
    # The card validity (id_valid_until) the expiry reminder was sent for: one reminder per card.
    id_expiry_reminded_for: Mapped[date | None] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(8))
    terms_version: Mapped[str | None] = mapped_column(String(32))
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    registered_channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @property
    def is_real_name_verified(self) -> bool:
        return self.real_name_status == REAL_NAME_VERIFIED


class Wallet(Base):
    """A customer's wallet: its public number, tier, status, and the ledger account that holds its money."""

    __tablename__ = "wallet"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier"),
        CheckConstraint(in_check("status", WALLET_STATUSES), name="status"),
        CheckConstraint(in_check("opened_channel", CHANNELS), name="opened_channel"),
        Index("ix_wallet_tier", "tier"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    tier: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outflow_restricted: Mapped[bool] = mapped_column(Boolean)
    outflow_restriction_reason: Mapped[str | None] = mapped_column(String(32))
    # The ledger account holding the money. Not a foreign key: every package's migration builds on the
    # foundation alone, so the ledger's table is not known to exist when this one is created.
    ledger_account_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    opened_channel: Mapped[str] = mapped_column(String(16))
    opened_branch_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @property
    def is_frozen(self) -> bool:
        return self.status in (FROZEN_LOST, FROZEN_OPS)


class TierPolicy(Base):
    """The limits of one tier (SPEC §2), in fen; NULL means no limit. Edited in the ops console."""

    __tablename__ = "tier_policy"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier"),
        CheckConstraint("balance_cap IS NULL OR balance_cap >= 0", name="balance_cap"),
        CheckConstraint("single_payment_limit IS NULL OR single_payment_limit >= 0", name="single_payment_limit"),
        CheckConstraint("daily_outflow_limit IS NULL OR daily_outflow_limit >= 0", name="daily_outflow_limit"),
        CheckConstraint("annual_outflow_limit IS NULL OR annual_outflow_limit >= 0", name="annual_outflow_limit"),
    )

    tier: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    balance_cap: Mapped[int | None] = mapped_column(BigInteger)
    single_payment_limit: Mapped[int | None] = mapped_column(BigInteger)
    daily_outflow_limit: Mapped[int | None] = mapped_column(BigInteger)
    annual_outflow_limit: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class WalletPolicy(Base):
    """The one row (id 1) of wallet-wide policy: confirmation caps (SPEC §2) and the minimum age (SPEC §3)."""

    __tablename__ = "wallet_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("password_free_daily_limit IS NULL OR password_free_daily_limit >= 0",
                        name="password_free_daily_limit"),
        CheckConstraint("static_qr_daily_limit IS NULL OR static_qr_daily_limit >= 0", name="static_qr_daily_limit"),
        CheckConstraint("minimum_age BETWEEN 16 AND 100", name="minimum_age"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Payments that skip the PIN and passkey (小额免密, withholding): their total per Shanghai day.
    password_free_daily_limit: Mapped[int | None] = mapped_column(BigInteger)
    # Payments to a static merchant QR code: their total per Shanghai day.
    static_qr_daily_limit: Mapped[int | None] = mapped_column(BigInteger)
    minimum_age: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class WalletTierChange(Base):
    """Every tier a wallet has had: the opening tier, each upgrade and each operator downgrade."""

    __tablename__ = "wallet_tier_change"
    __table_args__ = (
        CheckConstraint("from_tier IS NULL OR from_tier BETWEEN 1 AND 4", name="from_tier"),
        CheckConstraint("to_tier BETWEEN 1 AND 4", name="to_tier"),
        CheckConstraint(in_check("cause", TIER_CAUSES), name="cause"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet.id"), index=True)
    from_tier: Mapped[int | None] = mapped_column(SmallInteger)
    to_tier: Mapped[int] = mapped_column(SmallInteger)
    cause: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    branch_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class KycSubmission(Base):
    """One real-name submission in the app: what the customer gave, what the verifier said, the decision."""

    __tablename__ = "kyc_submission"
    __table_args__ = (
        CheckConstraint(in_check("status", KYC_STATUSES), name="status"),
        CheckConstraint(in_check("verifier_decision", VERIFIER_DECISIONS), name="verifier_decision"),
        Index("ix_kyc_submission_queue", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    legal_name: Mapped[str] = mapped_column(EncryptedString)
    name_hash: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(EncryptedString)
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    id_valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    verifier_decision: Mapped[str] = mapped_column(String(16))
    verifier_reason: Mapped[str | None] = mapped_column(String(32))
    verifier_reference: Mapped[str | None] = mapped_column(String(64))
    # A rejection shows the customer a coded reason (NAME_ID_MISMATCH from the verifier) or the
    # reviewer's own words.
    rejection_code: Mapped[str | None] = mapped_column(String(48))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CounterApplication(Base):
    """An application taken by a teller at the counter (SPEC §3.2), until the customer's PIN-pad set-up."""

    __tablename__ = "counter_application"
    __table_args__ = (
        CheckConstraint(in_check("status", APPLICATION_STATUSES), name="status"),
        CheckConstraint(in_check("card_source", CARD_SOURCES), name="card_source"),
        CheckConstraint(in_check("verifier_decision", VERIFIER_DECISIONS), name="verifier_decision"),
        Index("ix_counter_application_branch", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(BigInteger)
    teller_staff_id: Mapped[int] = mapped_column(BigInteger)
    legal_name: Mapped[str] = mapped_column(EncryptedString)
    name_hash: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(EncryptedString)
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    id_valid_until: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(EncryptedString)
    phone_hash: Mapped[str] = mapped_column(String(64))
    card_source: Mapped[str] = mapped_column(String(8))
    reader_device_id: Mapped[str | None] = mapped_column(String(64))
    physical_card_checked: Mapped[bool] = mapped_column(Boolean)
    verifier_decision: Mapped[str] = mapped_column(String(16))
    verifier_reason: Mapped[str | None] = mapped_column(String(32))
    verifier_reference: Mapped[str | None] = mapped_column(String(64))
    # Why a supervisor must approve: verifier_mismatch, verifier_unsure, verifier_unavailable,
    # existing_wallet (the ID number has one), phone_registered (the phone has an unverified one).
    approval_reasons: Mapped[list[str]] = mapped_column(JSON)
    # The holder whose wallet this application upgrades instead of opening a new one.
    existing_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    status: Mapped[str] = mapped_column(String(24))
    supervisor_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    supervisor_decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    supervisor_note: Mapped[str | None] = mapped_column(Text)
    # The PIN pad pairs with a one-time 6-digit code, then works with a token; both kept as keyed hashes.
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pinpad_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pinpad_token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    wallet_id: Mapped[int | None] = mapped_column(ForeignKey("wallet.id"))
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class KycPhoto(Base):
    """An identity photo, encrypted: ID front/back (app real-name), customer portrait and chip photo (counter)."""

    __tablename__ = "kyc_photo"
    __table_args__ = (
        CheckConstraint(in_check("side", PHOTO_SIDES), name="side"),
        CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name="content_type"),
        CheckConstraint("(submission_id IS NULL) <> (application_id IS NULL)", name="one_owner"),
        UniqueConstraint("submission_id", "side"),
        UniqueConstraint("application_id", "side"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("kyc_submission.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("counter_application.id"))
    side: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(EncryptedBytes)
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

