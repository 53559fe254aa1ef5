"""credentials: passwords, PINs, SMS codes, TOTP, sessions, known devices, rate-limit counters

Revision ID: 0002_credentials
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_credentials"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _principal() -> list[sa.Column]:
    return [
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "credential_password",
        sa.Column("id", sa.Integer(), nullable=False),
        *_principal(),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reset_by_staff_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_password")),
        sa.UniqueConstraint(
            "principal_type", "principal_id", name=op.f("uq_credential_password_principal_type_principal_id")
        ),
    )

    op.create_table(
        "credential_pin",
        sa.Column("id", sa.Integer(), nullable=False),
        *_principal(),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("failed_day", sa.Date(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_reset_by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("lock_reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_pin")),
        sa.UniqueConstraint(
            "principal_type", "principal_id", name=op.f("uq_credential_pin_principal_type_principal_id")
        ),
    )

    op.create_table(
        "credential_otp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'used', 'dead')", name=op.f("ck_credential_otp_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_otp")),
        sa.UniqueConstraint("purpose", "phone_hash", name=op.f("uq_credential_otp_purpose_phone_hash")),
    )
    op.create_index(op.f("ix_credential_otp_expires_at"), "credential_otp", ["expires_at"], unique=False)

    op.create_table(
        "credential_totp",
        sa.Column("id", sa.Integer(), nullable=False),
        *_principal(),
        # EncryptedString: `v1:<key id>:<base64>` text.
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_totp")),
        sa.UniqueConstraint(
            "principal_type", "principal_id", name=op.f("uq_credential_totp_principal_type_principal_id")
        ),
    )

    op.create_table(
        "credential_session",
        sa.Column("id", sa.Integer(), nullable=False),
        *_principal(),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_credential_session_token_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_credential_session_public_id")),
    )
    op.create_index(op.f("ix_credential_session_expires_at"), "credential_session", ["expires_at"], unique=False)
    op.create_index(
        "ix_credential_session_principal", "credential_session", ["principal_type", "principal_id"], unique=False
    )

    op.create_table(
        "credential_device",
        sa.Column("id", sa.Integer(), nullable=False),
        *_principal(),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_device")),
        sa.UniqueConstraint(
            "principal_type",
            "principal_id",
            "device_id",
            name=op.f("uq_credential_device_principal_type_principal_id_device_id"),
        ),
    )

    op.create_table(
        "ratelimit_counter",
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "key", "window_start", name=op.f("pk_ratelimit_counter")),
    )
    op.create_index(op.f("ix_ratelimit_counter_expires_at"), "ratelimit_counter", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ratelimit_counter_expires_at"), table_name="ratelimit_counter")
    op.drop_table("ratelimit_counter")
    op.drop_table("credential_device")
    op.drop_index("ix_credential_session_principal", table_name="credential_session")
    op.drop_index(op.f("ix_credential_session_expires_at"), table_name="credential_session")
    op.drop_table("credential_session")
    op.drop_table("credential_totp")
    op.drop_index(op.f("ix_credential_otp_expires_at"), table_name="credential_otp")
    op.drop_table("credential_otp")
    op.drop_table("credential_pin")
    op.drop_table("credential_password")
