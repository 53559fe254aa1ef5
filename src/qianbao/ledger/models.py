"""Tables of the ledger: accounts with their running totals, the append-only journal, hold states, keys.

Balances follow TigerBeetle's shape: four running totals per account (posted and pending, on the
debit and on the credit side). The journal (`ledger_transfers`) is only ever inserted into; the
state of a pending transfer lives beside it in `ledger_pending`, so that posting or voiding a hold
adds a journal row and flips a state without touching the original row.

Timestamps go through `UTCDateTime`, which stores UTC everywhere and hands back aware datetimes
on SQLite too (the driver keeps no time zone there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from qianbao.db import Base

# SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid alias); PostgreSQL gets a bigint.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

ACCOUNT_KINDS = (
    "customer_wallet",
    "merchant",
    "biller",
    "bank_clearing",
    "teller_drawer",
    "branch_vault",
    "fee_income",
    "promotion_expense",
    "suspense",
)
# posted: a one-phase transfer (or a reversal); pending: a hold; post/void/expire: resolve a hold.
TRANSFER_KINDS = ("posted", "pending", "post", "void", "expire")
PENDING_STATUSES = ("pending", "posted", "voided", "expired")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    # Spelled as ORs, not IN (...): SQLite builds a temporary table for an IN list on every row it checks,
    # which made this one constraint cost as much as the rest of a journal insert.
    return " OR ".join(f"{column} = '{v}'" for v in values)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return as_utc(value)


def as_utc(value: Any) -> datetime | None:
    """Normalise what either driver returns for a timestamp column (aware, naive or text) to aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint(_one_of("normal_side", ("debit", "credit")), name="normal_side"),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="totals_not_negative",
        ),
        CheckConstraint("cap IS NULL OR cap >= 0", name="cap_not_negative"),
        # The last line of defence: even a faulty code path cannot drive a no-negative account below zero
        # (holds included), because the database refuses the row.
        CheckConstraint(
            "NOT no_negative OR CASE WHEN normal_side = 'credit' "
            "THEN debits_posted + debits_pending <= credits_posted "
            "ELSE credits_posted + credits_pending <= debits_posted END",
            name="no_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The public account number; wallets pass their own wallet number, system accounts a readable name.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # 'credit' for liabilities and income (wallets, merchants, fee income), 'debit' for assets and
    # expenses (bank clearing, cash, promotion expense): the side on which the balance grows.
    normal_side: Mapped[str] = mapped_column(String(6))
    no_negative: Mapped[bool] = mapped_column(Boolean)
    cap: Mapped[int | None] = mapped_column(BigInteger)
    cap_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    frozen: Mapped[bool] = mapped_column(Boolean)
    closed: Mapped[bool] = mapped_column(Boolean)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)
    debits_pending: Mapped[int] = mapped_column(BigInteger)
    credits_pending: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time of the account's latest journal row. A new row is never stamped earlier (a clock that
    # steps back, or a second server a little behind, cannot reorder an account's history).
    last_transfer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LedgerTransfer(Base):
    """One journal row. Inserted once, never updated or deleted."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TRANSFER_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        # An account's postings in journal order (ids follow each account's lock order, and its times
        # never go back: see `last_transfer_at`), so pages and balances as of a past time are index ranges.
        Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
        # A hold is resolved at most once and a transfer reversed at most once: the database says so too.
        Index(
            "uq_ledger_transfers_pending_id", "pending_id", unique=True,
            sqlite_where=text("pending_id IS NOT NULL"), postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transfers_reverses_id", "reverses_id", unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"), postgresql_where=text("reverses_id IS NOT NULL"),
        ),
        Index(
            "ix_ledger_transfers_group_id", "group_id",
            sqlite_where=text("group_id IS NOT NULL"), postgresql_where=text("group_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    # Deliberately no foreign keys: on PostgreSQL each would cost a row-lock check per journal row (a
    # third of a batch's time), and the engine only writes a row after locking both accounts, which
    # are never deleted. The `journal_accounts_exist` invariant checks it instead.
    debit_account_id: Mapped[int] = mapped_column(BigInteger)
    credit_account_id: Mapped[int] = mapped_column(BigInteger)
    # post: the amount posted; void/expire: the amount released; otherwise the amount moved or held.
    amount: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    user_data: Mapped[Any | None] = mapped_column(JSON)
    pending_id: Mapped[int | None] = mapped_column(BigInteger)
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    # The id of the first transfer of a linked group; NULL for a transfer created on its own.
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerPending(Base):
    """The state of one hold: pending until posted, voided or expired (that change is its only update)."""

    __tablename__ = "ledger_pending"
    __table_args__ = (
        CheckConstraint(_one_of("status", PENDING_STATUSES), name="status"),
        Index("ix_ledger_pending_due", "status", "timeout_at"),
    )

    transfer_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(8))
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)


class LedgerIdempotencyKey(Base):
    """A client key of a successful write, kept for the retention period so a retry moves nothing twice."""

    __tablename__ = "ledger_idempotency"
    __table_args__ = (
        Index("ix_ledger_idempotency_created_at", "created_at"),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(16))
    transfer_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
