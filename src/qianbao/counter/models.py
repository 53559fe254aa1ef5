"""Tables of the counter package: a teller's day (counter session) and every operation done in it.

`counter_session`: one row per teller day. `live_teller_id` equals `teller_id` while the session is not
over (awaiting its float, open, or balancing at the end of the day) and NULL after: its UNIQUE
constraint is what keeps one live session per teller under concurrency, on both databases.

`counter_operation`: every counter operation of a session — the float, cash in, cash out, the end-of-day
over/short and the return of the drawer to the vault, and the counter services — with its state, the
approval request it waits on and the ledger/payments reference it posted. The day report lists them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check

# Session states.
AWAITING_FLOAT = "awaiting_float"  # the float waits for a supervisor
OPEN = "open"
BALANCING = "balancing"  # counted cash declared with a difference: waits for the supervisor's sign-off
CLOSED = "closed"
CANCELLED = "cancelled"  # the float was refused
SESSION_STATUSES = (AWAITING_FLOAT, OPEN, BALANCING, CLOSED, CANCELLED)
LIVE_SESSION = (AWAITING_FLOAT, OPEN, BALANCING)

# Operation kinds.
FLOAT = "float"
CASH_IN = "cash_in"
CASH_OUT = "cash_out"
OVER_SHORT = "over_short"
VAULT_RETURN = "vault_return"
PASSWORD_RESET = "password_reset"
PIN_RESET = "pin_reset"
UNFREEZE = "unfreeze"
REPORT_LOSS = "report_loss"
CHANGE_PHONE = "change_phone"
CLOSE_WALLET = "close_wallet"
STATEMENT = "statement"
CARD_PAYOUT = "card_payout"  # closing a wallet: the balance paid out to a bound debit card
KINDS = (FLOAT, CASH_IN, CASH_OUT, OVER_SHORT, VAULT_RETURN, PASSWORD_RESET, PIN_RESET, UNFREEZE, REPORT_LOSS,
         CHANGE_PHONE, CLOSE_WALLET, STATEMENT, CARD_PAYOUT)
CASH_KINDS = (CASH_IN, CASH_OUT)

# Operation states.
AWAITING_PINPAD = "awaiting_pinpad"  # the customer confirms (or sets a secret) on the PIN pad
AWAITING_APPROVAL = "awaiting_approval"  # a supervisor decides
SUCCEEDED = "succeeded"
REJECTED = "rejected"
CANCELLED_OP = "cancelled"
AWAITING_BANK = "awaiting_bank"  # a card payout (and the close it serves) waits for the bank's answer
FAILED_OP = "failed"  # the bank refused or timed out: the money is back in the wallet
OP_STATUSES = (AWAITING_PINPAD, AWAITING_APPROVAL, SUCCEEDED, REJECTED, CANCELLED_OP, AWAITING_BANK, FAILED_OP)
OP_PENDING = (AWAITING_PINPAD, AWAITING_APPROVAL, AWAITING_BANK)


class CounterSession(Base):
    """A teller's counter day: the float from the vault, the drawer, the end-of-day count."""

    __tablename__ = "counter_session"
    __table_args__ = (
        CheckConstraint(in_check("status", SESSION_STATUSES), name="status"),
        CheckConstraint("float_amount > 0", name="float_positive"),
        Index("ix_counter_session_branch_status", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    teller_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"), index=True)
    live_teller_id: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"), unique=True)
    business_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    float_amount: Mapped[int] = mapped_column(BigInteger)
    drawer_account_id: Mapped[int] = mapped_column(BigInteger)
    vault_account_id: Mapped[int] = mapped_column(BigInteger)
    # The end-of-day declaration: count per denomination (fen value as text → pieces), totals in fen.
    denominations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    counted_total: Mapped[int | None] = mapped_column(BigInteger)
    expected_total: Mapped[int | None] = mapped_column(BigInteger)
    difference: Mapped[int | None] = mapped_column(BigInteger)
    declared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    signed_off_by: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CounterOperation(Base):
    """One counter operation of a session; `reference` is its public, printed id."""

    __tablename__ = "counter_operation"
    __table_args__ = (
        CheckConstraint(in_check("kind", KINDS), name="kind"),
        CheckConstraint(in_check("status", OP_STATUSES), name="status"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        Index("ix_counter_operation_session", "session_id", "id"),
        Index("ix_counter_operation_wallet_status", "wallet_id", "status"),
        Index("ix_counter_operation_branch_status", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    # The teller's form key (one per form shown): a double-submitted form makes one operation.
    client_key: Mapped[str] = mapped_column(String(80), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("counter_session.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    teller_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    wallet_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    # Masked facts for pages, receipts and the day report (never a full name, ID or phone number).
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How the customer was identified in person: "reader" (the ID-card reader) or "manual".
    id_check: Mapped[str | None] = mapped_column(String(8))
    # The PIN pad: a one-time code shown to the teller, then a token held by the pad (keyed hashes).
    pad_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pad_code_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pad_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pad_token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_request.id"))
    payment_reference: Mapped[str | None] = mapped_column(String(64))
    ledger_reference: Mapped[str | None] = mapped_column(String(64))
    outcome_code: Mapped[str | None] = mapped_column(String(48))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
