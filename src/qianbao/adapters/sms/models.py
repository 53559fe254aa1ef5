"""The dev SMS gateway's own table: every text it "sent", standing in for the provider's records.

It belongs to the sandbox party, not to the wallet: nothing in the domain reads or joins it. It plays
the provider's side, yet it lives in the wallet's database file, so it is protected like the wallet's
own data: the number and the text (which may hold a one-time code) are encrypted, and the filter by
number uses `phone_hash`, the keyed look-up hash of the number (`lookup_hash("phone", e164)`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime
from qianbao.pii.crypto import EncryptedString
from qianbao.pii.hashing import LOOKUP_HASH_LENGTH


class SandboxSmsMessage(Base):
    __tablename__ = "sandbox_sms_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The caller's idempotency key: one row, hence one text, per key.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    # E.164 (+8613812345678).
    phone: Mapped[str] = mapped_column(EncryptedString)
    phone_hash: Mapped[str] = mapped_column(String(LOOKUP_HASH_LENGTH), index=True)
    text: Mapped[str] = mapped_column(EncryptedString)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
