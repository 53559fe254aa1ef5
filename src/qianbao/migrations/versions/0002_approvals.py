"""approvals: requests for a supervisor's decision

Revision ID: 0002_approvals
Revises: 0002_staff (its foreign keys point at branch and staff_member; chained rather than
`depends_on`, which would leave 0002_staff listed as a head that the database never records)
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_approvals"
down_revision: str | Sequence[str] | None = "0002_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approval_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("summary_key", sa.String(length=100), nullable=False),
        sa.Column("summary_params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled')", name=op.f("ck_approval_request_status")
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name=op.f("ck_approval_request_decided_when_not_pending")
        ),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_approval_request_branch_id_branch")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff_member.id"], name=op.f("fk_approval_request_requested_by_staff_member")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff_member.id"], name=op.f("fk_approval_request_decided_by_staff_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_request")),
    )
    op.create_index("ix_approval_request_branch_status", "approval_request", ["branch_id", "status"], unique=False)
    op.create_index("ix_approval_request_subject", "approval_request", ["subject_type", "subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_approval_request_subject", table_name="approval_request")
    op.drop_index("ix_approval_request_branch_status", table_name="approval_request")
    op.drop_table("approval_request")
