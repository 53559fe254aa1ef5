"""passkeys: WebAuthn credentials and their single-use challenges

Revision ID: 0003_passkeys
Revises: 0002_credentials
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_passkeys"
down_revision: str | Sequence[str] | None = "0002_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential_passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.BigInteger(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=True),
        sa.Column("device_type", sa.String(length=32), nullable=True),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_passkey")),
        sa.UniqueConstraint("public_id", name=op.f("uq_credential_passkey_public_id")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_credential_passkey_credential_id")),
    )
    op.create_index(
        "ix_credential_passkey_principal", "credential_passkey", ["principal_type", "principal_id"], unique=False
    )

    op.create_table(
        "credential_passkey_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("principal_type", sa.String(length=16), nullable=True),
        sa.Column("principal_id", sa.BigInteger(), nullable=True),
        sa.Column("binding", sa.String(length=128), nullable=True),
        sa.Column("rp_id", sa.String(length=253), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_passkey_challenge")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_credential_passkey_challenge_challenge_hash")),
    )
    op.create_index(
        op.f("ix_credential_passkey_challenge_expires_at"), "credential_passkey_challenge", ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credential_passkey_challenge_expires_at"), table_name="credential_passkey_challenge")
    op.drop_table("credential_passkey_challenge")
    op.drop_index("ix_credential_passkey_principal", table_name="credential_passkey")
    op.drop_table("credential_passkey")
