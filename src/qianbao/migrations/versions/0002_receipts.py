"""receipts: the register of counter receipts, serials unique per branch and business day

Revision ID: 0002_receipts
Revises: 0002_staff (its foreign keys point at branch and staff_member; chained rather than
`depends_on`, as 0002_approvals does, so that the database records every head it has)
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_receipts"
down_revision: str | Sequence[str] | None = "0002_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("print_count", sa.Integer(), nullable=False),
        sa.Column("last_printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_printed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_receipt_branch_id_branch")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"], name=op.f("fk_receipt_staff_id_staff_member")),
        sa.ForeignKeyConstraint(
            ["last_printed_by"], ["staff_member.id"], name=op.f("fk_receipt_last_printed_by_staff_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
        sa.UniqueConstraint("branch_id", "business_date", "seq", name=op.f("uq_receipt_branch_id_business_date_seq")),
        sa.UniqueConstraint(
            "branch_id", "business_date", "serial", name=op.f("uq_receipt_branch_id_business_date_serial")
        ),
        sa.UniqueConstraint("kind", "subject_id", name=op.f("uq_receipt_kind_subject_id")),
    )
    op.create_index("ix_receipt_serial", "receipt", ["serial"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipt_serial", table_name="receipt")
    op.drop_table("receipt")
