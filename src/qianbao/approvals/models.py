"""Tables of the approvals package: one row per request for a supervisor's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qianbao.db import Base, UtcDateTime

STATUSES = ("pending", "approved", "rejected", "cancelled")


class ApprovalRequest(Base):
    """A teller's operation waiting for a supervisor of the same branch (SPEC §3.2, §7).

    `kind` names the owning package's operation ("counter.opening_exception", "counter.cash_out"...);
    `subject_type`/`subject_id` point at the object waiting; `summary_key`/`summary_params` say what it is
    in the supervisor's language (an i18n key and its parameters, masked values only).
    """

    __tablename__ = "approval_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled')", name="status"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_not_pending"),
        Index("ix_approval_request_branch_status", "branch_id", "status"),
        Index("ix_approval_request_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_member.id"))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    summary_key: Mapped[str] = mapped_column(String(100))
    summary_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
