"""The sandbox billers' own books: the bills they issued and the payments they accepted.

It belongs to the sandbox party, not to the wallet: nothing in the domain reads or joins it (like the dev
SMS gateway's table, it lives in the wallet's database file only for convenience). The account holder's
name is personal data, so it is stored encrypted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime
from qianbao.pii.crypto import EncryptedString


class SandboxBill(Base):
    __tablename__ = "sandbox_biller_bill"
    __table_args__ = (UniqueConstraint("biller_code", "reference", "period", name="uq_sandbox_biller_bill_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    biller_code: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    bill_id: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    holder_name: Mapped[str] = mapped_column(EncryptedString)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The wallet's idempotency key for the payment that settled the bill, and the biller's serial for it.
    payment_reference: Mapped[str | None] = mapped_column(String(128), unique=True)
    confirmation: Mapped[str | None] = mapped_column(String(40))
