"""A small test-only table with encrypted columns, on its own metadata (never in qianbao.models)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from qianbao.pii.crypto import EncryptedBytes, EncryptedJSON, EncryptedString

RESIDENT_ID = "11010519491231002X"
PHONE = "13912345678"


class PiiTestBase(DeclarativeBase):
    pass


class Person(PiiTestBase):
    __tablename__ = "pii_test_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(EncryptedString)
    id_number: Mapped[str] = mapped_column(EncryptedString)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString)
    photo: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    contacts: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    note: Mapped[str | None] = mapped_column(Text)
