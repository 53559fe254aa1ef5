"""The dev SMS gateway's own table: every text it "sent", standing in for the provider's records.

It belongs to the sandbox party, not to the wallet: nothing in the domain reads or joins it. The phone
is kept in clear because this table plays the provider's side (a real provider holds the number to
deliver to); the wallet's own tables keep personal data encrypted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base


class SandboxSmsMessage(Base):
    __tablename__ = "sandbox_sms_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The caller's idempotency key: one row, hence one text, per key.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
