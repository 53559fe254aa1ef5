"""sms: the dev SMS gateway's record of sent messages

Revision ID: 0002_sms
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sms"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_sms_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        # EncryptedString (`v1:<key id>:<base64>` text) and the keyed look-up hash of the E.164 number.
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_sms_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sandbox_sms_message_message_id")),
    )
    op.create_index(
        op.f("ix_sandbox_sms_message_phone_hash"), "sandbox_sms_message", ["phone_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_sms_message_phone_hash"), table_name="sandbox_sms_message")
    op.drop_table("sandbox_sms_message")
