"""cards: bound bank cards, bindings waiting for the bank's OTP, top-ups and withdrawals through a card

Revision ID: 0003_cards
Revises: 0002_wallets
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_cards"
down_revision: str | Sequence[str] | None = "0002_wallets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("card_type", sa.String(length=8), nullable=False),
        sa.Column("bin", sa.String(length=8), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("bound_hash", sa.String(length=64), nullable=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("default_of_wallet", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("card_type IN ('debit', 'credit')", name=op.f("ck_bank_card_card_type")),
        sa.CheckConstraint("status IN ('bound', 'unbound')", name=op.f("ck_bank_card_status")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_bank_card_customer_id_customer")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallet.id"], name=op.f("fk_bank_card_wallet_id_wallet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_card")),
        sa.UniqueConstraint("bound_hash", name=op.f("uq_bank_card_bound_hash")),
        sa.UniqueConstraint("default_of_wallet", name=op.f("uq_bank_card_default_of_wallet")),
        sa.UniqueConstraint("public_id", name=op.f("uq_bank_card_public_id")),
    )
    with op.batch_alter_table("bank_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_card_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bank_card_number_hash"), ["number_hash"], unique=False)
        batch_op.create_index("ix_bank_card_wallet_status", ["wallet_id", "status"], unique=False)

    op.create_table(
        "card_binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("card_type", sa.String(length=8), nullable=False),
        sa.Column("bin", sa.String(length=8), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_masked", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.SmallInteger(), nullable=False),
        sa.Column("failure_code", sa.String(length=48), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("card_type IN ('debit', 'credit')", name=op.f("ck_card_binding_card_type")),
        sa.CheckConstraint("status IN ('pending', 'bound', 'failed', 'expired')", name=op.f("ck_card_binding_status")),
        sa.ForeignKeyConstraint(["card_id"], ["bank_card.id"], name=op.f("fk_card_binding_card_id_bank_card")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_card_binding_customer_id_customer")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallet.id"], name=op.f("fk_card_binding_wallet_id_wallet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_binding")),
        sa.UniqueConstraint("public_id", name=op.f("uq_card_binding_public_id")),
    )
    with op.batch_alter_table("card_binding", schema=None) as batch_op:
        batch_op.create_index("ix_card_binding_customer", ["customer_id", "created_at"], unique=False)

    op.create_table(
        "card_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=48), nullable=False),
        sa.Column("bank_key", sa.String(length=96), nullable=False),
        sa.Column("order_key", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bank_status", sa.String(length=24), nullable=True),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("query_count", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_query_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund", sa.String(length=8), nullable=True),
        sa.CheckConstraint("kind IN ('topup', 'withdrawal')", name=op.f("ck_card_movement_kind")),
        sa.CheckConstraint("status IN ('processing', 'succeeded', 'failed')", name=op.f("ck_card_movement_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_card_movement_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_card_movement_fee_not_negative")),
        sa.CheckConstraint("refund IS NULL OR refund IN ('due', 'sent')", name=op.f("ck_card_movement_refund")),
        sa.ForeignKeyConstraint(["card_id"], ["bank_card.id"], name=op.f("fk_card_movement_card_id_bank_card")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_card_movement_customer_id_customer")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallet.id"], name=op.f("fk_card_movement_wallet_id_wallet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_movement")),
        sa.UniqueConstraint("bank_key", name=op.f("uq_card_movement_bank_key")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_card_movement_operation_id")),
        sa.UniqueConstraint("order_key", name=op.f("uq_card_movement_order_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_card_movement_reference")),
    )
    with op.batch_alter_table("card_movement", schema=None) as batch_op:
        batch_op.create_index("ix_card_movement_card_status", ["card_id", "status"], unique=False)
        batch_op.create_index("ix_card_movement_status_query", ["status", "next_query_at"], unique=False)
        batch_op.create_index("ix_card_movement_wallet", ["wallet_id", "created_at"], unique=False)
        batch_op.create_index("ix_card_movement_refund", ["refund"], unique=False)


def downgrade() -> None:
    op.drop_table("card_movement")
    op.drop_table("card_binding")
    op.drop_table("bank_card")
