"""counter: teller days (counter sessions) and counter operations

Revision ID: 0003_counter
Revises: 0002_approvals (counter_operation points at approval_request; both point at branch and staff_member)
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_counter"
down_revision: str | Sequence[str] | None = "0002_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("teller_id", sa.Integer(), nullable=False),
        sa.Column("live_teller_id", sa.Integer(), nullable=True),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("float_amount", sa.BigInteger(), nullable=False),
        sa.Column("drawer_account_id", sa.BigInteger(), nullable=False),
        sa.Column("vault_account_id", sa.BigInteger(), nullable=False),
        sa.Column("denominations", sa.JSON(), nullable=True),
        sa.Column("counted_total", sa.BigInteger(), nullable=True),
        sa.Column("expected_total", sa.BigInteger(), nullable=True),
        sa.Column("difference", sa.BigInteger(), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_off_by", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('awaiting_float', 'open', 'balancing', 'closed', 'cancelled')",
            name=op.f("ck_counter_session_status"),
        ),
        sa.CheckConstraint("float_amount > 0", name=op.f("ck_counter_session_float_positive")),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_counter_session_branch_id_branch")),
        sa.ForeignKeyConstraint(
            ["teller_id"], ["staff_member.id"], name=op.f("fk_counter_session_teller_id_staff_member")
        ),
        sa.ForeignKeyConstraint(
            ["live_teller_id"], ["staff_member.id"], name=op.f("fk_counter_session_live_teller_id_staff_member")
        ),
        sa.ForeignKeyConstraint(
            ["signed_off_by"], ["staff_member.id"], name=op.f("fk_counter_session_signed_off_by_staff_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_session")),
        sa.UniqueConstraint("live_teller_id", name=op.f("uq_counter_session_live_teller_id")),
    )
    op.create_index("ix_counter_session_branch_status", "counter_session", ["branch_id", "status"], unique=False)
    op.create_index(op.f("ix_counter_session_teller_id"), "counter_session", ["teller_id"], unique=False)
    op.create_table(
        "counter_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("client_key", sa.String(length=80), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("teller_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("id_check", sa.String(length=8), nullable=True),
        sa.Column("pad_code_hash", sa.String(length=64), nullable=True),
        sa.Column("pad_code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pad_token_hash", sa.String(length=64), nullable=True),
        sa.Column("pad_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("payment_reference", sa.String(length=64), nullable=True),
        sa.Column("ledger_reference", sa.String(length=64), nullable=True),
        sa.Column("outcome_code", sa.String(length=48), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('float', 'cash_in', 'cash_out', 'over_short', 'vault_return', 'password_reset', "
            "'pin_reset', 'unfreeze', 'report_loss', 'change_phone', 'close_wallet', 'statement')",
            name=op.f("ck_counter_operation_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('awaiting_pinpad', 'awaiting_approval', 'succeeded', 'rejected', 'cancelled')",
            name=op.f("ck_counter_operation_status"),
        ),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name=op.f("ck_counter_operation_amount_positive")),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approval_request.id"], name=op.f("fk_counter_operation_approval_id_approval_request")
        ),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_counter_operation_branch_id_branch")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["counter_session.id"], name=op.f("fk_counter_operation_session_id_counter_session")
        ),
        sa.ForeignKeyConstraint(
            ["teller_id"], ["staff_member.id"], name=op.f("fk_counter_operation_teller_id_staff_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_operation")),
        sa.UniqueConstraint("client_key", name=op.f("uq_counter_operation_client_key")),
        sa.UniqueConstraint("pad_code_hash", name=op.f("uq_counter_operation_pad_code_hash")),
        sa.UniqueConstraint("pad_token_hash", name=op.f("uq_counter_operation_pad_token_hash")),
        sa.UniqueConstraint("reference", name=op.f("uq_counter_operation_reference")),
    )
    op.create_index(
        "ix_counter_operation_branch_status", "counter_operation", ["branch_id", "status"], unique=False
    )
    op.create_index("ix_counter_operation_session", "counter_operation", ["session_id", "id"], unique=False)
    op.create_index(
        "ix_counter_operation_wallet_status", "counter_operation", ["wallet_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_counter_operation_wallet_status", table_name="counter_operation")
    op.drop_index("ix_counter_operation_session", table_name="counter_operation")
    op.drop_index("ix_counter_operation_branch_status", table_name="counter_operation")
    op.drop_table("counter_operation")
    op.drop_index(op.f("ix_counter_session_teller_id"), table_name="counter_session")
    op.drop_index("ix_counter_session_branch_status", table_name="counter_session")
    op.drop_table("counter_session")
