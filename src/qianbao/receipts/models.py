"""The receipt register: one row per counter receipt, its serial unique per branch and business day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime


class Receipt(Base):
    """A receipt of one counter operation (SPEC §7: every counter operation prints or shows one).

    `kind` names the operation ("wallet.open", "wallet.upgrade", "counter.cash_in", ...) and
    `subject_id` the object it is about, so one operation has one receipt whatever the retries. The
    serial is "<branch code>-<YYYYMMDD>-<seq>", the day and sequence counted per branch in Asia/Shanghai.
    Printing does not make a new receipt: it counts (`print_count`), and later prints say "reprint".
    """

    __tablename__ = "receipt"
    __table_args__ = (
        UniqueConstraint("branch_id", "business_date", "seq"),
        UniqueConstraint("branch_id", "business_date", "serial"),
        UniqueConstraint("kind", "subject_id"),
        Index("ix_receipt_serial", "serial"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    business_date: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    subject_id: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    print_count: Mapped[int] = mapped_column(Integer)
    last_printed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_printed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"))
