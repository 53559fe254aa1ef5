"""merchants: merchants and their API credentials, orders, refunds, notifications, API request nonces

Revision ID: 0002_merchants
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_merchants"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_no", sa.String(length=15), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("mdr_bp", sa.Integer(), nullable=False),
        sa.Column("ledger_account_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("system_code", sa.String(length=32), nullable=True),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_prefix", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notify_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_merchant_status_known")),
        sa.CheckConstraint("mdr_bp >= 0 AND mdr_bp <= 10000", name=op.f("ck_merchant_mdr_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_merchant_api_key_hash")),
        sa.UniqueConstraint("ledger_account_id", name=op.f("uq_merchant_ledger_account_id")),
        sa.UniqueConstraint("merchant_no", name=op.f("uq_merchant_merchant_no")),
        sa.UniqueConstraint("system_code", name=op.f("uq_merchant_system_code")),
    )
    op.create_table(
        "merchant_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_nonce_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_nonce")),
        sa.UniqueConstraint("merchant_id", "nonce", name=op.f("uq_merchant_nonce_merchant_id_nonce")),
    )
    op.create_index("ix_merchant_nonce_seen", "merchant_nonce", ["seen_at"], unique=False)
    op.create_table(
        "merchant_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("merchant_order_no", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=128), nullable=False),
        sa.Column("notify_url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fee", sa.BigInteger(), nullable=False),
        sa.Column("payer_wallet_id", sa.BigInteger(), nullable=True),
        sa.Column("payer_label", sa.String(length=64), nullable=True),
        sa.Column("operation_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_reference", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'paid', 'closed')", name=op.f("ck_merchant_order_status_known")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_merchant_order_amount_positive")),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name=op.f("ck_merchant_order_refund_within_amount")
        ),
        sa.CheckConstraint(
            "refunded_fee >= 0 AND refunded_fee <= fee", name=op.f("ck_merchant_order_refund_fee_within_fee")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_order_merchant_id_merchant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_order")),
        sa.UniqueConstraint(
            "merchant_id", "merchant_order_no", name=op.f("uq_merchant_order_merchant_id_merchant_order_no")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_merchant_order_token")),
    )
    op.create_index("ix_merchant_order_merchant_created", "merchant_order", ["merchant_id", "id"], unique=False)
    op.create_table(
        "merchant_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_notification_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["merchant_order.id"], name=op.f("fk_merchant_notification_order_id_merchant_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_merchant_notification_dedupe_key")),
    )
    op.create_index(
        "ix_merchant_notification_due", "merchant_notification", ["status", "next_attempt_at"], unique=False
    )
    op.create_index("ix_merchant_notification_order", "merchant_notification", ["order_id"], unique=False)
    op.create_table(
        "merchant_refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("refund_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_returned", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_reference", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_merchant_refund_amount_positive")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_refund_merchant_id_merchant")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["merchant_order.id"], name=op.f("fk_merchant_refund_order_id_merchant_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_refund")),
        sa.UniqueConstraint("merchant_id", "refund_no", name=op.f("uq_merchant_refund_merchant_id_refund_no")),
    )
    op.create_index("ix_merchant_refund_order", "merchant_refund", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_merchant_refund_order", table_name="merchant_refund")
    op.drop_table("merchant_refund")
    op.drop_index("ix_merchant_notification_order", table_name="merchant_notification")
    op.drop_index("ix_merchant_notification_due", table_name="merchant_notification")
    op.drop_table("merchant_notification")
    op.drop_index("ix_merchant_order_merchant_created", table_name="merchant_order")
    op.drop_table("merchant_order")
    op.drop_index("ix_merchant_nonce_seen", table_name="merchant_nonce")
    op.drop_table("merchant_nonce")
    op.drop_table("merchant")
