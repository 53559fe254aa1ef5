"""payments core: operations, history entries, limit usage, the fee schedule, payment settings

Revision ID: 0003_payments
Revises: 0002_wallets
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payments"
down_revision: str | Sequence[str] | None = "0002_wallets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "('topup', 'withdrawal', 'transfer', 'merchant_payment', 'bill', 'parcel', 'refund', 'cash_in', 'cash_out')"
STATUSES = "('processing', 'succeeded', 'failed')"


def upgrade() -> None:
    op.create_table(
        "payments_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payer_wallet_id", sa.BigInteger(), nullable=True),
        sa.Column("payer_account_id", sa.BigInteger(), nullable=False),
        sa.Column("payer_label", sa.String(length=120), nullable=True),
        sa.Column("payee_wallet_id", sa.BigInteger(), nullable=True),
        sa.Column("payee_account_id", sa.BigInteger(), nullable=False),
        sa.Column("payee_label", sa.String(length=120), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("confirmation", sa.String(length=16), nullable=False),
        sa.Column("static_qr", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("counterparty_label", sa.String(length=120), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("order_reference", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("ledger_transfer_ids", sa.JSON(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f("ck_payments_operation_kind")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_payments_operation_status")),
        sa.CheckConstraint(
            "confirmation IN ('pin', 'passkey', 'password_free', 'withholding', 'counter', 'system')",
            name=op.f("ck_payments_operation_confirmation"),
        ),
        sa.CheckConstraint(
            "channel IN ('app', 'api', 'counter', 'merchant', 'system')", name=op.f("ck_payments_operation_channel")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_operation_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_payments_operation_fee_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_operation")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_operation_reference")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_operation_idempotency_key")),
    )
    op.create_index("ix_payments_operation_status_created", "payments_operation", ["status", "created_at"])
    op.create_index(op.f("ix_payments_operation_payer_wallet_id"), "payments_operation", ["payer_wallet_id"])
    op.create_index(op.f("ix_payments_operation_payee_wallet_id"), "payments_operation", ["payee_wallet_id"])

    op.create_table(
        "payments_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counterparty", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_payments_entry_direction")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_payments_entry_status")),
        sa.ForeignKeyConstraint(
            ["operation_id"], ["payments_operation.id"], name=op.f("fk_payments_entry_operation_id_payments_operation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_entry")),
    )
    op.create_index("ix_payments_entry_wallet_time", "payments_entry", ["wallet_id", "created_at", "id"])
    op.create_index("ix_payments_entry_operation", "payments_entry", ["operation_id"])

    op.create_table(
        "payments_usage",
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("wallet_id", "bucket", name=op.f("pk_payments_usage")),
    )

    fee_rule = op.create_table(
        "payments_fee_rule",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("free_monthly", sa.BigInteger(), nullable=False),
        sa.Column("rate_ppm", sa.Integer(), nullable=False),
        sa.Column("min_fee", sa.BigInteger(), nullable=False),
        sa.Column("max_fee", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("rate_ppm >= 0 AND rate_ppm <= 1000000", name=op.f("ck_payments_fee_rule_rate_ppm")),
        sa.CheckConstraint("min_fee >= 0", name=op.f("ck_payments_fee_rule_min_fee")),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_payments_fee_rule")),
    )
    now = datetime.now(UTC)
    # SPEC §6.3 defaults (qianbao.payments.fees.DEFAULT_FEE_RULES): withdrawals 1,000 yuan a month free,
    # then 0.1% with a minimum of 0.10 yuan; transfers free.
    op.bulk_insert(fee_rule, [
        {"kind": "withdrawal", "free_monthly": 100_000, "rate_ppm": 1_000, "min_fee": 10, "max_fee": None,
         "updated_at": now},
        {"kind": "transfer", "free_monthly": 0, "rate_ppm": 0, "min_fee": 0, "max_fee": None, "updated_at": now},
    ])

    op.create_table(
        "payments_customer_settings",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("password_free_enabled", sa.Boolean(), nullable=False),
        sa.Column("password_free_threshold", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_payments_customer_settings")),
    )


def downgrade() -> None:
    op.drop_table("payments_customer_settings")
    op.drop_table("payments_fee_rule")
    op.drop_table("payments_usage")
    op.drop_index("ix_payments_entry_operation", table_name="payments_entry")
    op.drop_index("ix_payments_entry_wallet_time", table_name="payments_entry")
    op.drop_table("payments_entry")
    op.drop_index(op.f("ix_payments_operation_payee_wallet_id"), table_name="payments_operation")
    op.drop_index(op.f("ix_payments_operation_payer_wallet_id"), table_name="payments_operation")
    op.drop_index("ix_payments_operation_status_created", table_name="payments_operation")
    op.drop_table("payments_operation")
