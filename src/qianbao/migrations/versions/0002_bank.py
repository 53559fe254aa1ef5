"""bank: the wallet's record of the bank's callbacks (nonces seen, events accepted)

Revision ID: 0002_bank
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_bank"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_callback_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_callback_nonce")),
        sa.UniqueConstraint("merchant", "nonce", name=op.f("uq_bank_callback_nonce_merchant_nonce")),
    )
    op.create_index("ix_bank_callback_nonce_received_at", "bank_callback_nonce", ["received_at"], unique=False)
    op.create_table(
        "bank_callback_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_callback_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_bank_callback_event_event_id")),
    )
    op.create_index(op.f("ix_bank_callback_event_key"), "bank_callback_event", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bank_callback_event_key"), table_name="bank_callback_event")
    op.drop_table("bank_callback_event")
    op.drop_index("ix_bank_callback_nonce_received_at", table_name="bank_callback_nonce")
    op.drop_table("bank_callback_nonce")
