"""ledger: accounts, the append-only journal, hold states, idempotency keys

Revision ID: 0002_ledger
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ledger"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACCOUNT_KINDS = (
    "customer_wallet", "merchant", "biller", "bank_clearing", "teller_drawer", "branch_vault", "fee_income",
    "promotion_expense", "suspense",
)


def one_of(column: str, values: tuple[str, ...]) -> str:
    # ORs rather than IN (...): SQLite builds a temporary table for an IN list on every row it checks.
    return " OR ".join(f"{column} = '{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("no_negative", sa.Boolean(), nullable=False),
        sa.Column("cap", sa.BigInteger(), nullable=True),
        sa.Column("cap_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_transfer_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(one_of("kind", ACCOUNT_KINDS), name=op.f("ck_ledger_accounts_kind")),
        sa.CheckConstraint(one_of("normal_side", ("debit", "credit")), name=op.f("ck_ledger_accounts_normal_side")),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name=op.f("ck_ledger_accounts_totals_not_negative"),
        ),
        sa.CheckConstraint("cap IS NULL OR cap >= 0", name=op.f("ck_ledger_accounts_cap_not_negative")),
        sa.CheckConstraint(
            "NOT no_negative OR CASE WHEN normal_side = 'credit' "
            "THEN debits_posted + debits_pending <= credits_posted "
            "ELSE credits_posted + credits_pending <= debits_posted END",
            name=op.f("ck_ledger_accounts_no_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page so that balance updates stay heap-only (HOT) and touch no index.
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 70)")
    op.create_table(
        "ledger_transfers",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("debit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("user_data", sa.JSON(), nullable=True),
        sa.Column("pending_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            one_of("kind", ("posted", "pending", "post", "void", "expire")), name=op.f("ck_ledger_transfers_kind")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_ledger_transfers_accounts_differ")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    op.create_index(
        "ix_ledger_transfers_debit", "ledger_transfers", ["debit_account_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_transfers_credit", "ledger_transfers", ["credit_account_id", "id"], unique=False
    )
    op.create_index(
        "uq_ledger_transfers_pending_id", "ledger_transfers", ["pending_id"], unique=True,
        sqlite_where=sa.text("pending_id IS NOT NULL"), postgresql_where=sa.text("pending_id IS NOT NULL"),
    )
    op.create_index(
        "uq_ledger_transfers_reverses_id", "ledger_transfers", ["reverses_id"], unique=True,
        sqlite_where=sa.text("reverses_id IS NOT NULL"), postgresql_where=sa.text("reverses_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_transfers_group_id", "ledger_transfers", ["group_id"], unique=False,
        sqlite_where=sa.text("group_id IS NOT NULL"), postgresql_where=sa.text("group_id IS NOT NULL"),
    )
    op.create_table(
        "ledger_pending",
        sa.Column("transfer_id", BIGINT_PK, autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            one_of("status", ("pending", "posted", "voided", "expired")), name=op.f("ck_ledger_pending_status")
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_ledger_pending")),
    )
    op.create_index("ix_ledger_pending_due", "ledger_pending", ["status", "timeout_at"], unique=False)
    op.create_table(
        "ledger_idempotency",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=16), nullable=False),
        sa.Column("transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_idempotency")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ledger_idempotency_created_at", "ledger_idempotency", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("ledger_idempotency")
    op.drop_table("ledger_pending")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")
