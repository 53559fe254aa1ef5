"""Counter: closing a wallet to a bound debit card — the `card_payout` operation kind and the
`awaiting_bank` / `failed` operation states.

Revision ID: 0004_counter_card_payout
Revises: 0003_counter
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_counter_card_payout"
down_revision: str | Sequence[str] | None = "0003_counter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("float", "cash_in", "cash_out", "over_short", "vault_return", "password_reset", "pin_reset",
             "unfreeze", "report_loss", "change_phone", "close_wallet", "statement")
NEW_KINDS = (*OLD_KINDS, "card_payout")
OLD_STATUSES = ("awaiting_pinpad", "awaiting_approval", "succeeded", "rejected", "cancelled")
NEW_STATUSES = (*OLD_STATUSES, "awaiting_bank", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _swap(kinds: tuple[str, ...], statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table("counter_operation", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_counter_operation_kind"), type_="check")
        batch.drop_constraint(op.f("ck_counter_operation_status"), type_="check")
        batch.create_check_constraint(op.f("ck_counter_operation_kind"), _in("kind", kinds))
        batch.create_check_constraint(op.f("ck_counter_operation_status"), _in("status", statuses))


def upgrade() -> None:
    _swap(NEW_KINDS, NEW_STATUSES)


def downgrade() -> None:
    _swap(OLD_KINDS, OLD_STATUSES)
