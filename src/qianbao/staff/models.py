"""Tables of the staff package: branches (网点) and staff members with their role.

A staff member's credentials (password, TOTP, sessions) live in the credentials package under the
principal ("staff", staff_member.id); this package knows who the person is, their role and branch.
Tellers and supervisors belong to a branch; operators and auditors may sit at head office (no branch).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime, in_check

ROLES = ("teller", "supervisor", "operator", "auditor")
BRANCH_ROLES = ("teller", "supervisor")


class Branch(Base):
    """A branch or postal outlet. `code` is the short number staff and receipts use (0101)."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-CN" else self.name_en


class StaffMember(Base):
    """A member of staff. Never deleted: a leaver is disabled, so the audit log's ids keep a name."""

    __tablename__ = "staff_member"
    __table_args__ = (
        CheckConstraint(in_check("role", ROLES), name="role"),
        # A teller or supervisor acts in exactly one branch.
        CheckConstraint(f"branch_id IS NOT NULL OR role NOT IN ({', '.join(repr(r) for r in BRANCH_ROLES)})",
                        name="branch_required"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    # Set by creation and by an operator's password reset: the one-time password must be replaced at sign-in.
    password_must_change: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_by: Mapped[int | None] = mapped_column(BigInteger)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
