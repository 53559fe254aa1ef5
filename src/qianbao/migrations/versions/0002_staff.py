"""staff: branches and staff members with their role

Revision ID: 0002_staff
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_staff"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "branch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=96), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch")),
        sa.UniqueConstraint("code", name=op.f("uq_branch_code")),
    )
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_no", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_must_change", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_by", sa.BigInteger(), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "role IN ('teller', 'supervisor', 'operator', 'auditor')", name=op.f("ck_staff_member_role")
        ),
        sa.CheckConstraint(
            "branch_id IS NOT NULL OR role NOT IN ('teller', 'supervisor')",
            name=op.f("ck_staff_member_branch_required"),
        ),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_staff_member_branch_id_branch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_member")),
        sa.UniqueConstraint("employee_no", name=op.f("uq_staff_member_employee_no")),
    )
    op.create_index(op.f("ix_staff_member_branch_id"), "staff_member", ["branch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_member_branch_id"), table_name="staff_member")
    op.drop_table("staff_member")
    op.drop_table("branch")
