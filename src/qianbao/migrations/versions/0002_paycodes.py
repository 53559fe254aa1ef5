"""payments: the customer-presented payment code (付款码) and its charge

Revision ID: 0002_paycodes
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_paycodes"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_paycode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_tail", sa.String(length=4), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.String(length=24), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("merchant_order_no", sa.String(length=64), nullable=True),
        sa.Column("order_token", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("charge_status", sa.String(length=12), nullable=True),
        sa.Column("confirm_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmation", sa.String(length=16), nullable=True),
        sa.Column("operation_reference", sa.String(length=32), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'used', 'superseded')", name=op.f("ck_payments_paycode_status")),
        sa.CheckConstraint("charge_status IS NULL OR charge_status IN ('awaiting', 'succeeded', 'declined', 'expired')",
                           name=op.f("ck_payments_paycode_charge_status")),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name=op.f("ck_payments_paycode_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_paycode")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_payments_paycode_code_hash")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_paycode_reference")),
    )
    op.create_index("ix_payments_paycode_wallet_status", "payments_paycode", ["wallet_id", "status"])
    op.create_index("ix_payments_paycode_customer_charge", "payments_paycode", ["customer_id", "charge_status"])


def downgrade() -> None:
    op.drop_index("ix_payments_paycode_customer_charge", table_name="payments_paycode")
    op.drop_index("ix_payments_paycode_wallet_status", table_name="payments_paycode")
    op.drop_table("payments_paycode")
