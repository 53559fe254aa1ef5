"""wallets: holders, wallets, tier policy with the SPEC §2 defaults, tier history, KYC, counter applications

Revision ID: 0002_wallets
Revises: 0001_foundation
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_wallets"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

YUAN = 100
# SPEC §2 defaults in fen (None = no limit); frozen here as the data this revision inserts.
DEFAULT_TIERS = [
    {"tier": 4, "balance_cap": 10_000 * YUAN, "single_payment_limit": 2_000 * YUAN,
     "daily_outflow_limit": 5_000 * YUAN, "annual_outflow_limit": 50_000 * YUAN},
    {"tier": 3, "balance_cap": 20_000 * YUAN, "single_payment_limit": 5_000 * YUAN,
     "daily_outflow_limit": 10_000 * YUAN, "annual_outflow_limit": None},
    {"tier": 2, "balance_cap": 500_000 * YUAN, "single_payment_limit": 50_000 * YUAN,
     "daily_outflow_limit": 100_000 * YUAN, "annual_outflow_limit": None},
    {"tier": 1, "balance_cap": None, "single_payment_limit": None, "daily_outflow_limit": None,
     "annual_outflow_limit": None},
]
DEFAULT_WALLET_POLICY = {"id": 1, "password_free_daily_limit": 1_000 * YUAN, "static_qr_daily_limit": 500 * YUAN,
                         "minimum_age": 18}


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("name_hash", sa.String(length=64), nullable=True),
        sa.Column("id_number", sa.Text(), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("id_valid_until", sa.Date(), nullable=True),
        sa.Column("real_name_status", sa.String(length=16), nullable=False),
        _time("real_name_verified_at", nullable=True),
        sa.Column("real_name_channel", sa.String(length=16), nullable=True),
        sa.Column("id_expiry_reminded_for", sa.Date(), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("terms_version", sa.String(length=32), nullable=True),
        _time("terms_accepted_at", nullable=True),
        sa.Column("registered_channel", sa.String(length=16), nullable=False),
        _time("created_at"),
        sa.CheckConstraint("real_name_status IN ('none', 'pending', 'verified')",
                           name=op.f("ck_customer_real_name_status")),
        sa.CheckConstraint("registered_channel IN ('app', 'counter')", name=op.f("ck_customer_registered_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_customer_phone_hash")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_customer_id_hash")),
    )
    op.create_index("ix_customer_id_valid_until", "customer", ["id_valid_until"], unique=False)

    op.create_table(
        "wallet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        _time("status_changed_at", nullable=True),
        sa.Column("outflow_restricted", sa.Boolean(), nullable=False),
        sa.Column("outflow_restriction_reason", sa.String(length=32), nullable=True),
        sa.Column("ledger_account_id", sa.BigInteger(), nullable=False),
        sa.Column("opened_channel", sa.String(length=16), nullable=False),
        sa.Column("opened_branch_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_by_staff_id", sa.BigInteger(), nullable=True),
        _time("opened_at"),
        sa.CheckConstraint("tier BETWEEN 1 AND 4", name=op.f("ck_wallet_tier")),
        sa.CheckConstraint("status IN ('active', 'frozen_lost', 'frozen_ops', 'closed')",
                           name=op.f("ck_wallet_status")),
        sa.CheckConstraint("opened_channel IN ('app', 'counter')", name=op.f("ck_wallet_opened_channel")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_wallet_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet")),
        sa.UniqueConstraint("number", name=op.f("uq_wallet_number")),
        sa.UniqueConstraint("ledger_account_id", name=op.f("uq_wallet_ledger_account_id")),
    )
    op.create_index(op.f("ix_wallet_customer_id"), "wallet", ["customer_id"], unique=False)
    op.create_index("ix_wallet_tier", "wallet", ["tier"], unique=False)

    tier_policy = op.create_table(
        "tier_policy",
        sa.Column("tier", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("balance_cap", sa.BigInteger(), nullable=True),
        sa.Column("single_payment_limit", sa.BigInteger(), nullable=True),
        sa.Column("daily_outflow_limit", sa.BigInteger(), nullable=True),
        sa.Column("annual_outflow_limit", sa.BigInteger(), nullable=True),
        _time("updated_at"),
        sa.Column("updated_by_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("tier BETWEEN 1 AND 4", name=op.f("ck_tier_policy_tier")),
        sa.CheckConstraint("balance_cap IS NULL OR balance_cap >= 0", name=op.f("ck_tier_policy_balance_cap")),
        sa.CheckConstraint("single_payment_limit IS NULL OR single_payment_limit >= 0",
                           name=op.f("ck_tier_policy_single_payment_limit")),
        sa.CheckConstraint("daily_outflow_limit IS NULL OR daily_outflow_limit >= 0",
                           name=op.f("ck_tier_policy_daily_outflow_limit")),
        sa.CheckConstraint("annual_outflow_limit IS NULL OR annual_outflow_limit >= 0",
                           name=op.f("ck_tier_policy_annual_outflow_limit")),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_tier_policy")),
    )

    wallet_policy = op.create_table(
        "wallet_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("password_free_daily_limit", sa.BigInteger(), nullable=True),
        sa.Column("static_qr_daily_limit", sa.BigInteger(), nullable=True),
        sa.Column("minimum_age", sa.Integer(), nullable=False),
        _time("updated_at"),
        sa.Column("updated_by_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_wallet_policy_single_row")),
        sa.CheckConstraint("password_free_daily_limit IS NULL OR password_free_daily_limit >= 0",
                           name=op.f("ck_wallet_policy_password_free_daily_limit")),
        sa.CheckConstraint("static_qr_daily_limit IS NULL OR static_qr_daily_limit >= 0",
                           name=op.f("ck_wallet_policy_static_qr_daily_limit")),
        sa.CheckConstraint("minimum_age BETWEEN 16 AND 100", name=op.f("ck_wallet_policy_minimum_age")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_policy")),
    )

    op.create_table(
        "wallet_tier_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("from_tier", sa.SmallInteger(), nullable=True),
        sa.Column("to_tier", sa.SmallInteger(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        _time("changed_at"),
        sa.CheckConstraint("from_tier IS NULL OR from_tier BETWEEN 1 AND 4",
                           name=op.f("ck_wallet_tier_change_from_tier")),
        sa.CheckConstraint("to_tier BETWEEN 1 AND 4", name=op.f("ck_wallet_tier_change_to_tier")),
        sa.CheckConstraint("cause IN ('opened', 'real_name', 'bank_card', 'counter', 'operator')",
                           name=op.f("ck_wallet_tier_change_cause")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallet.id"], name=op.f("fk_wallet_tier_change_wallet_id_wallet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_tier_change")),
    )
    op.create_index(op.f("ix_wallet_tier_change_wallet_id"), "wallet_tier_change", ["wallet_id"], unique=False)

    op.create_table(
        "kyc_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verifier_decision", sa.String(length=16), nullable=False),
        sa.Column("verifier_reason", sa.String(length=32), nullable=True),
        sa.Column("verifier_reference", sa.String(length=64), nullable=True),
        sa.Column("rejection_code", sa.String(length=48), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_staff_id", sa.BigInteger(), nullable=True),
        _time("decided_at", nullable=True),
        _time("submitted_at"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f("ck_kyc_submission_status")),
        sa.CheckConstraint("verifier_decision IN ('match', 'mismatch', 'unsure', 'unavailable')",
                           name=op.f("ck_kyc_submission_verifier_decision")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_kyc_submission_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_submission")),
    )
    op.create_index(op.f("ix_kyc_submission_customer_id"), "kyc_submission", ["customer_id"], unique=False)
    op.create_index(op.f("ix_kyc_submission_id_hash"), "kyc_submission", ["id_hash"], unique=False)
    op.create_index("ix_kyc_submission_queue", "kyc_submission", ["status", "submitted_at"], unique=False)

    op.create_table(
        "counter_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("teller_staff_id", sa.BigInteger(), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_valid_until", sa.Date(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("card_source", sa.String(length=8), nullable=False),
        sa.Column("reader_device_id", sa.String(length=64), nullable=True),
        sa.Column("physical_card_checked", sa.Boolean(), nullable=False),
        sa.Column("verifier_decision", sa.String(length=16), nullable=False),
        sa.Column("verifier_reason", sa.String(length=32), nullable=True),
        sa.Column("verifier_reference", sa.String(length=64), nullable=True),
        sa.Column("approval_reasons", sa.JSON(), nullable=False),
        sa.Column("existing_customer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("supervisor_staff_id", sa.BigInteger(), nullable=True),
        _time("supervisor_decided_at", nullable=True),
        sa.Column("supervisor_note", sa.Text(), nullable=True),
        sa.Column("pairing_code_hash", sa.String(length=64), nullable=True),
        _time("pairing_expires_at", nullable=True),
        sa.Column("pinpad_token_hash", sa.String(length=64), nullable=True),
        _time("pinpad_token_expires_at", nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("wallet_id", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        _time("created_at"),
        _time("completed_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('awaiting_supervisor', 'ready', 'approved', 'rejected', 'completed', 'cancelled', 'expired')",
            name=op.f("ck_counter_application_status"),
        ),
        sa.CheckConstraint("card_source IN ('reader', 'manual')", name=op.f("ck_counter_application_card_source")),
        sa.CheckConstraint("verifier_decision IN ('match', 'mismatch', 'unsure', 'unavailable')",
                           name=op.f("ck_counter_application_verifier_decision")),
        sa.ForeignKeyConstraint(["existing_customer_id"], ["customer.id"],
                                name=op.f("fk_counter_application_existing_customer_id_customer")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_counter_application_customer_id_customer")),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallet.id"], name=op.f("fk_counter_application_wallet_id_wallet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_application")),
        sa.UniqueConstraint("pairing_code_hash", name=op.f("uq_counter_application_pairing_code_hash")),
        sa.UniqueConstraint("pinpad_token_hash", name=op.f("uq_counter_application_pinpad_token_hash")),
    )
    op.create_index("ix_counter_application_branch", "counter_application", ["branch_id", "status"], unique=False)
    op.create_index(op.f("ix_counter_application_id_hash"), "counter_application", ["id_hash"], unique=False)

    op.create_table(
        "kyc_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.CheckConstraint("side IN ('front', 'back', 'customer', 'chip')", name=op.f("ck_kyc_photo_side")),
        sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name=op.f("ck_kyc_photo_content_type")),
        sa.CheckConstraint("(submission_id IS NULL) <> (application_id IS NULL)", name=op.f("ck_kyc_photo_one_owner")),
        sa.ForeignKeyConstraint(["submission_id"], ["kyc_submission.id"],
                                name=op.f("fk_kyc_photo_submission_id_kyc_submission")),
        sa.ForeignKeyConstraint(["application_id"], ["counter_application.id"],
                                name=op.f("fk_kyc_photo_application_id_counter_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_photo")),
        sa.UniqueConstraint("submission_id", "side", name=op.f("uq_kyc_photo_submission_id_side")),
        sa.UniqueConstraint("application_id", "side", name=op.f("uq_kyc_photo_application_id_side")),
    )

    now = datetime.now(UTC)
    op.bulk_insert(tier_policy, [{**row, "updated_at": now, "updated_by_staff_id": None} for row in DEFAULT_TIERS])
    op.bulk_insert(wallet_policy, [{**DEFAULT_WALLET_POLICY, "updated_at": now, "updated_by_staff_id": None}])


def downgrade() -> None:
    op.drop_table("kyc_photo")
    op.drop_index(op.f("ix_counter_application_id_hash"), table_name="counter_application")
    op.drop_index("ix_counter_application_branch", table_name="counter_application")
    op.drop_table("counter_application")
    op.drop_index("ix_kyc_submission_queue", table_name="kyc_submission")
    op.drop_index(op.f("ix_kyc_submission_id_hash"), table_name="kyc_submission")
    op.drop_index(op.f("ix_kyc_submission_customer_id"), table_name="kyc_submission")
    op.drop_table("kyc_submission")
    op.drop_index(op.f("ix_wallet_tier_change_wallet_id"), table_name="wallet_tier_change")
    op.drop_table("wallet_tier_change")
    op.drop_table("wallet_policy")
    op.drop_table("tier_policy")
    op.drop_index("ix_wallet_tier", table_name="wallet")
    op.drop_index(op.f("ix_wallet_customer_id"), table_name="wallet")
    op.drop_table("wallet")
    op.drop_index("ix_customer_id_valid_until", table_name="customer")
    op.drop_table("customer")
