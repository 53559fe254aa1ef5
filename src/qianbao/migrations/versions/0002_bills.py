"""bills: billers (policy, seeded), saved billers, bill payments, withholding agreements and policy, parcel
orders; the sandbox billers' own books

Revision ID: 0002_bills
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_bills"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

YUAN = 100
# The billers offered at first (SPEC §6.2: water, electricity, gas, telecom); operators change the list.
DEFAULT_BILLERS = [
    {
        "code": "SH-WATER",
        "category": "water",
        "name_zh": "上海市自来水",
        "name_en": "Shanghai Water",
        "region": "上海",
        "reference_format": "luhn10",
        "sort_order": 10,
    },
    {
        "code": "SH-POWER",
        "category": "electricity",
        "name_zh": "国网上海市电力公司",
        "name_en": "State Grid Shanghai Electric Power",
        "region": "上海",
        "reference_format": "luhn10",
        "sort_order": 20,
    },
    {
        "code": "SH-GAS",
        "category": "gas",
        "name_zh": "上海燃气",
        "name_en": "Shanghai Gas",
        "region": "上海",
        "reference_format": "luhn9",
        "sort_order": 30,
    },
    {
        "code": "CT-MOBILE",
        "category": "telecom",
        "name_zh": "中国电信",
        "name_en": "China Telecom",
        "region": "全国",
        "reference_format": "telecom_mobile",
        "sort_order": 40,
    },
]
# The most a customer may let a withholding agreement charge: per payment, per month.
DEFAULT_WITHHOLDING_POLICY = {"id": 1, "max_per_payment": 500 * YUAN, "max_monthly": 2_000 * YUAN}


def upgrade() -> None:
    op.create_table(
        "biller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("reference_format", sa.String(length=24), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("category IN ('water', 'electricity', 'gas', 'telecom')", name=op.f("ck_biller_category")),
        sa.CheckConstraint(
            "reference_format IN ('luhn9', 'luhn10', 'luhn12', 'telecom_mobile')",
            name=op.f("ck_biller_reference_format"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_biller")),
        sa.UniqueConstraint("code", name=op.f("uq_biller_code")),
    )
    op.create_table(
        "sandbox_biller_bill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("biller_code", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("bill_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("holder_name", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_reference", sa.String(length=128), nullable=True),
        sa.Column("confirmation", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_biller_bill")),
        sa.UniqueConstraint("bill_id", name=op.f("uq_sandbox_biller_bill_bill_id")),
        sa.UniqueConstraint("biller_code", "reference", "period", name="uq_sandbox_biller_bill_period"),
        sa.UniqueConstraint("payment_reference", name=op.f("uq_sandbox_biller_bill_payment_reference")),
    )
    op.create_table(
        "withholding_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant", sa.String(length=32), nullable=False),
        sa.Column("per_payment_cap", sa.BigInteger(), nullable=False),
        sa.Column("monthly_cap", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_with", sa.String(length=16), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_key", sa.String(length=120), nullable=True),
        sa.CheckConstraint("merchant IN ('postal_express')", name=op.f("ck_withholding_agreement_merchant")),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name=op.f("ck_withholding_agreement_status")),
        sa.CheckConstraint(
            "per_payment_cap > 0 AND monthly_cap >= per_payment_cap", name=op.f("ck_withholding_agreement_caps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withholding_agreement")),
        sa.UniqueConstraint("public_id", name=op.f("uq_withholding_agreement_public_id")),
        sa.UniqueConstraint("sign_key", name=op.f("uq_withholding_agreement_sign_key")),
    )
    op.create_index(
        op.f("ix_withholding_agreement_customer_id"), "withholding_agreement", ["customer_id"], unique=False
    )
    op.create_index(
        "uq_withholding_agreement_active",
        "withholding_agreement",
        ["customer_id", "merchant"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "withholding_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("max_per_payment", sa.BigInteger(), nullable=False),
        sa.Column("max_monthly", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_withholding_policy_single_row")),
        sa.CheckConstraint(
            "max_per_payment > 0 AND max_monthly >= max_per_payment", name=op.f("ck_withholding_policy_caps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withholding_policy")),
    )
    op.create_table(
        "bill_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("biller_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("reference_masked", sa.String(length=32), nullable=False),
        sa.Column("holder_masked", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("bill_id", sa.String(length=40), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("confirmation_method", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=False),
        sa.Column("operation_reference", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=40), nullable=True),
        sa.Column("biller_confirmation", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('processing', 'succeeded', 'failed')", name=op.f("ck_bill_payment_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bill_payment_amount_positive")),
        sa.ForeignKeyConstraint(["biller_id"], ["biller.id"], name=op.f("fk_bill_payment_biller_id_biller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_payment")),
        sa.UniqueConstraint("key", name=op.f("uq_bill_payment_key")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_bill_payment_operation_id")),
    )
    op.create_index("ix_bill_payment_customer", "bill_payment", ["customer_id", "created_at"], unique=False)
    op.create_index("ix_bill_payment_status", "bill_payment", ["status"], unique=False)
    op.create_table(
        "biller_saved",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("biller_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("reference_hash", sa.String(length=64), nullable=False),
        sa.Column("reference_masked", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["biller_id"], ["biller.id"], name=op.f("fk_biller_saved_biller_id_biller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_biller_saved")),
        sa.UniqueConstraint("customer_id", "biller_id", "reference_hash", name="uq_biller_saved_account"),
    )
    op.create_index(op.f("ix_biller_saved_customer_id"), "biller_saved", ["customer_id"], unique=False)
    op.create_table(
        "parcel_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=13), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_name", sa.Text(), nullable=False),
        sa.Column("receiver_city", sa.String(length=32), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_via", sa.String(length=16), nullable=True),
        sa.Column("operation_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_reference", sa.String(length=64), nullable=True),
        sa.Column("agreement_id", sa.Integer(), nullable=True),
        sa.Column("charge_refused_code", sa.String(length=40), nullable=True),
        sa.CheckConstraint("status IN ('awaiting_payment', 'paid', 'cancelled')", name=op.f("ck_parcel_order_status")),
        sa.CheckConstraint("price > 0", name=op.f("ck_parcel_order_price_positive")),
        sa.CheckConstraint("weight_grams > 0", name=op.f("ck_parcel_order_weight_positive")),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["withholding_agreement.id"],
            name=op.f("fk_parcel_order_agreement_id_withholding_agreement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel_order")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_parcel_order_operation_id")),
        sa.UniqueConstraint("order_no", name=op.f("uq_parcel_order_order_no")),
    )
    op.create_index("ix_parcel_order_customer", "parcel_order", ["customer_id", "created_at"], unique=False)
    op.create_table(
        "withholding_charge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=False),
        sa.Column("operation_reference", sa.String(length=64), nullable=False),
        sa.Column("order_reference", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_withholding_charge_amount_positive")),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["withholding_agreement.id"],
            name=op.f("fk_withholding_charge_agreement_id_withholding_agreement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withholding_charge")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_withholding_charge_operation_id")),
    )
    op.create_index("ix_withholding_charge_month", "withholding_charge", ["agreement_id", "month"], unique=False)

    now = datetime.now(UTC)
    biller = sa.table(
        "biller",
        *(
            sa.column(name)
            for name in (
                "code",
                "category",
                "name_zh",
                "name_en",
                "region",
                "reference_format",
                "enabled",
                "sort_order",
                "updated_at",
                "updated_by_staff_id",
            )
        ),
    )
    op.bulk_insert(
        biller, [{**row, "enabled": True, "updated_at": now, "updated_by_staff_id": None} for row in DEFAULT_BILLERS]
    )
    policy = sa.table(
        "withholding_policy",
        *(sa.column(name) for name in ("id", "max_per_payment", "max_monthly", "updated_at", "updated_by_staff_id")),
    )
    op.bulk_insert(policy, [{**DEFAULT_WITHHOLDING_POLICY, "updated_at": now, "updated_by_staff_id": None}])


def downgrade() -> None:
    for table in (
        "withholding_charge",
        "parcel_order",
        "biller_saved",
        "bill_payment",
        "withholding_policy",
        "withholding_agreement",
        "sandbox_biller_bill",
        "biller",
    ):
        op.drop_table(table)
