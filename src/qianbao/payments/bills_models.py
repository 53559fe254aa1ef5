"""Tables of bill payment (生活缴费), parcel payment (寄件支付) and withholding agreements (免密代扣).

`biller` is a policy table (SPEC §11: operators configure billers; seeded by the migration). Customers,
wallets and payment operations are plain integer ids: their packages own those tables. References that
can name a person (a telecom bill is paid by the mobile number) are encrypted, with a keyed look-up hash
where they are searched, and a masked copy for lists.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check
from qianbao.pii.crypto import EncryptedString

BILLER_CATEGORIES = ("water", "electricity", "gas", "telecom")
REFERENCE_FORMATS = ("luhn9", "luhn10", "luhn12", "telecom_mobile")

# A bill payment: the wallet's money is held while the biller confirms, then posted or released.
PROCESSING = "processing"
SUCCEEDED = "succeeded"
FAILED = "failed"
BILL_STATUSES = (PROCESSING, SUCCEEDED, FAILED)

# A shipping order of the postal express merchant.
AWAITING_PAYMENT = "awaiting_payment"
PAID = "paid"
CANCELLED = "cancelled"
PARCEL_STATUSES = (AWAITING_PAYMENT, PAID, CANCELLED)
PAID_VIA = ("app", "withholding")

# A withholding agreement (免密代扣).
ACTIVE = "active"
AGREEMENT_STATUSES = (ACTIVE, CANCELLED)
POSTAL_EXPRESS = "postal_express"
AGREEMENT_MERCHANTS = (POSTAL_EXPRESS,)


class Biller(Base):
    """A utility company customers pay bills to. Its ledger account (kind biller) has the code `BILLER-<code>`."""

    __tablename__ = "biller"
    __table_args__ = (
        CheckConstraint(in_check("category", BILLER_CATEGORIES), name="category"),
        CheckConstraint(in_check("reference_format", REFERENCE_FORMATS), name="reference_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(32))
    reference_format: Mapped[str] = mapped_column(String(24))
    enabled: Mapped[bool] = mapped_column(Boolean)
    sort_order: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class SavedBiller(Base):
    """One of a customer's billers (我的缴费): a biller and the account number they pay, for next time."""

    __tablename__ = "biller_saved"
    __table_args__ = (
        UniqueConstraint("customer_id", "biller_id", "reference_hash", name="uq_biller_saved_account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    biller_id: Mapped[int] = mapped_column(ForeignKey("biller.id"))
    reference: Mapped[str] = mapped_column(EncryptedString)
    reference_hash: Mapped[str] = mapped_column(String(64))
    reference_masked: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BillPayment(Base):
    """A bill paid from a wallet: the payment operation, and what the biller said."""

    __tablename__ = "bill_payment"
    __table_args__ = (
        CheckConstraint(in_check("status", BILL_STATUSES), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_bill_payment_customer", "customer_id", "created_at"),
        Index("ix_bill_payment_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The caller's idempotency key, already scoped ("app:<customer>:<client key>").
    key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    wallet_id: Mapped[int] = mapped_column(BigInteger)
    biller_id: Mapped[int] = mapped_column(ForeignKey("biller.id"))
    reference: Mapped[str] = mapped_column(EncryptedString)
    reference_masked: Mapped[str] = mapped_column(String(32))
    holder_masked: Mapped[str] = mapped_column(String(64))
    period: Mapped[str | None] = mapped_column(String(7))
    bill_id: Mapped[str] = mapped_column(String(40))
    due_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    confirmation_method: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    operation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    operation_reference: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(40))
    biller_confirmation: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer)
    # When the worker may ask the biller again about a payment still processing (backing off).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WithholdingPolicy(Base):
    """The most a customer may allow a withholding agreement (one row; the ops console's configuration)."""

    __tablename__ = "withholding_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("max_per_payment > 0 AND max_monthly >= max_per_payment", name="caps"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    max_per_payment: Mapped[int] = mapped_column(BigInteger)
    max_monthly: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class WithholdingAgreement(Base):
    """A customer's standing permission for a merchant to charge the wallet without a PIN (免密代扣)."""

    __tablename__ = "withholding_agreement"
    __table_args__ = (
        CheckConstraint(in_check("status", AGREEMENT_STATUSES), name="status"),
        CheckConstraint(in_check("merchant", AGREEMENT_MERCHANTS), name="merchant"),
        CheckConstraint("per_payment_cap > 0 AND monthly_cap >= per_payment_cap", name="caps"),
        # One active agreement per customer and merchant.
        Index("uq_withholding_agreement_active", "customer_id", "merchant", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    wallet_id: Mapped[int] = mapped_column(BigInteger)
    merchant: Mapped[str] = mapped_column(String(32))
    per_payment_cap: Mapped[int] = mapped_column(BigInteger)
    monthly_cap: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_with: Mapped[str] = mapped_column(String(16))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The idempotency key it was signed with (the API's), so that a retried signing answers with it.
    sign_key: Mapped[str | None] = mapped_column(String(120), unique=True)


class WithholdingCharge(Base):
    """A charge made under an agreement; the month's total of these is held against the monthly cap."""

    __tablename__ = "withholding_charge"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_withholding_charge_month", "agreement_id", "month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("withholding_agreement.id"))
    month: Mapped[str] = mapped_column(String(7))  # Asia/Shanghai YYYY-MM
    amount: Mapped[int] = mapped_column(BigInteger)
    operation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    operation_reference: Mapped[str] = mapped_column(String(64))
    order_reference: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ParcelOrder(Base):
    """A shipping order of the built-in postal express merchant, paid by the sender's wallet."""

    __tablename__ = "parcel_order"
    __table_args__ = (
        CheckConstraint(in_check("status", PARCEL_STATUSES), name="status"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("weight_grams > 0", name="weight_positive"),
        Index("ix_parcel_order_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The waybill number (邮件号): UPU S10, two letters, eight digits, a check digit, "CN".
    order_no: Mapped[str] = mapped_column(String(13), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    wallet_id: Mapped[int] = mapped_column(BigInteger)
    sender_name: Mapped[str] = mapped_column(EncryptedString)
    receiver_city: Mapped[str] = mapped_column(String(32))
    weight_grams: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paid_via: Mapped[str | None] = mapped_column(String(16))
    operation_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    operation_reference: Mapped[str | None] = mapped_column(String(64))
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("withholding_agreement.id"))
    # Why the merchant's charge under the agreement was refused (the customer then pays in the app).
    charge_refused_code: Mapped[str | None] = mapped_column(String(40))
