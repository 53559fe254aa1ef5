"""Approval requests: a teller asks, a supervisor of the same branch decides once, the owner continues.

    approvals.register("counter.cash_out", on_approved=pay_out, on_rejected=release_hold)
    request = approvals.request_approval(session, "counter.cash_out", branch_id, teller_id,
                                         "cash_out", op.public_id, Summary("counter.cash_out.summary",
                                         {"amount_fen": 6_000_000, "wallet": "6217 **** 0042"}))
    approvals.decide(session, request.id, supervisor_id, approve=True, reason="")

The continuation registered for the kind runs inside `decide`'s unit of work: the decision and what it
lets happen commit together or not at all, so a crash between them leaves the request pending and
visible in the queue, never decided with the operation undone. A continuation that refuses (raises)
keeps the request pending.

Rules: only an active supervisor (APPROVAL_NOT_SUPERVISOR) of the request's branch
(APPROVAL_OTHER_BRANCH), never the requester (SELF_APPROVAL_FORBIDDEN), only while pending
(APPROVAL_ALREADY_DECIDED); a rejection needs a reason (APPROVAL_REASON_REQUIRED). Every request,
decision and withdrawal is audited on the counter channel.

Summary parameters whose name ends in `_fen` are amounts: `summary_text` shows them as money under the
name without the suffix (`amount_fen` fills `{amount}`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.approvals.models import ApprovalRequest
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import format_fen
from qianbao.staff.models import StaffMember

Continuation = Callable[[Session, ApprovalRequest], None]
MAX_REASON = 500


@dataclass(frozen=True)
class Summary:
    """What the supervisor reads: an i18n key and its parameters (masked values only)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Handlers:
    on_approved: Continuation
    on_rejected: Continuation | None = None


_registry: dict[str, Handlers] = {}


def register(kind: str, *, on_approved: Continuation, on_rejected: Continuation | None = None) -> None:
    """Say what happens when a request of `kind` is decided. Call at import time of the owning module;
    registering a kind again replaces its handlers (module reloads in tests)."""
    if not kind or len(kind) > 48:
        raise ValueError(f"approval kind {kind!r} must be 1-48 characters")
    _registry[kind] = Handlers(on_approved, on_rejected)


def registered_kinds() -> frozenset[str]:
    return frozenset(_registry)


def _handlers(kind: str) -> Handlers:
    handlers = _registry.get(kind)
    if handlers is None:
        raise QianbaoError("APPROVAL_KIND_UNKNOWN", kind=kind)
    return handlers


def _actor(member: StaffMember) -> audit.Actor:
    return audit.Actor.staff(member.id, member.branch_id)


def request_approval(
    session: Session,
    kind: str,
    branch_id: int,
    requested_by: int,
    subject_type: str,
    subject_id: str | int,
    summary: Summary,
) -> ApprovalRequest:
    """Ask the branch's supervisors to decide. APPROVAL_KIND_UNKNOWN for a kind nobody registered,
    APPROVAL_OTHER_BRANCH when the requester works elsewhere."""
    _handlers(kind)
    requester = session.get(StaffMember, requested_by)
    if requester is None or not requester.active:
        raise QianbaoError("STAFF_NOT_FOUND", employee_no=str(requested_by))
    if requester.branch_id != branch_id:
        raise QianbaoError("APPROVAL_OTHER_BRANCH")
    request = ApprovalRequest(
        kind=kind, branch_id=branch_id, requested_by=requested_by, subject_type=subject_type,
        subject_id=str(subject_id), summary_key=summary.key, summary_params=dict(summary.params),
        status="pending", requested_at=datetime.now(UTC),
    )
    session.add(request)
    session.flush()
    audit.record(session, action="approval.requested", actor=_actor(requester), channel="counter",
                 object_type="approval", object_id=request.id,
                 details={"kind": kind, "subject_type": subject_type, "subject_id": str(subject_id)})
    return request


def _locked(session: Session, approval_id: int) -> ApprovalRequest:
    stmt = (
        select(ApprovalRequest).where(ApprovalRequest.id == approval_id)
        .with_for_update().execution_options(populate_existing=True)
    )
    request = session.scalar(stmt)
    if request is None:
        raise QianbaoError("APPROVAL_NOT_FOUND")
    return request


def _clean_reason(reason: str | None) -> str:
    return unicodedata.normalize("NFKC", reason or "").strip()


def decide(
    session: Session, approval_id: int, supervisor_id: int, approve: bool, reason: str | None = None
) -> ApprovalRequest:
    """Approve or reject a pending request and run the kind's continuation in the same unit of work."""
    request = _locked(session, approval_id)
    supervisor = session.get(StaffMember, supervisor_id)
    if supervisor is None or not supervisor.active or supervisor.role != "supervisor":
        raise QianbaoError("APPROVAL_NOT_SUPERVISOR")
    if supervisor.branch_id != request.branch_id:
        raise QianbaoError("APPROVAL_OTHER_BRANCH")
    if supervisor.id == request.requested_by:
        raise QianbaoError("SELF_APPROVAL_FORBIDDEN")
    if request.status != "pending":
        raise QianbaoError("APPROVAL_ALREADY_DECIDED", decision=request.status)
    text = _clean_reason(reason)
    if not approve and not text:
        raise QianbaoError("APPROVAL_REASON_REQUIRED")
    if len(text) > MAX_REASON:
        raise QianbaoError("APPROVAL_REASON_TOO_LONG", max_length=MAX_REASON)
    handlers = _handlers(request.kind)
    request.status = "approved" if approve else "rejected"
    request.decided_by = supervisor.id
    request.decided_at = datetime.now(UTC)
    request.reason = text or None
    session.flush()
    continuation = handlers.on_approved if approve else handlers.on_rejected
    if continuation is not None:
        continuation(session, request)
    audit.record(session, action=f"approval.{request.status}", actor=_actor(supervisor), channel="counter",
                 object_type="approval", object_id=request.id,
                 details={"kind": request.kind, "subject_type": request.subject_type,
                          "subject_id": request.subject_id, "requested_by": request.requested_by,
                          "reason": text or None})
    return request


def cancel(session: Session, approval_id: int, by_staff_id: int, reason: str | None = None) -> ApprovalRequest:
    """The requester withdraws a pending request (the customer left). Only the requester; only pending.
    The kind's rejection handler runs, as the operation will not happen."""
    request = _locked(session, approval_id)
    if request.requested_by != by_staff_id:
        raise QianbaoError("APPROVAL_NOT_REQUESTER")
    if request.status != "pending":
        raise QianbaoError("APPROVAL_ALREADY_DECIDED", decision=request.status)
    handlers = _handlers(request.kind)
    requester = session.get(StaffMember, by_staff_id)
    assert requester is not None
    request.status = "cancelled"
    request.decided_by = by_staff_id
    request.decided_at = datetime.now(UTC)
    request.reason = _clean_reason(reason)[:MAX_REASON] or None
    session.flush()
    if handlers.on_rejected is not None:
        handlers.on_rejected(session, request)
    audit.record(session, action="approval.cancelled", actor=_actor(requester), channel="counter",
                 object_type="approval", object_id=request.id, details={"kind": request.kind})
    return request


def get_approval(session: Session, approval_id: int) -> ApprovalRequest:
    request = session.get(ApprovalRequest, approval_id)
    if request is None:
        raise QianbaoError("APPROVAL_NOT_FOUND")
    return request


def pending_for_branch(session: Session, branch_id: int) -> list[ApprovalRequest]:
    """The branch's pending requests, oldest first (the queue order)."""
    stmt = (
        select(ApprovalRequest)
        .where(ApprovalRequest.branch_id == branch_id, ApprovalRequest.status == "pending")
        .order_by(ApprovalRequest.requested_at, ApprovalRequest.id)
    )
    return list(session.scalars(stmt))


def recent_decisions(session: Session, branch_id: int, *, limit: int = 20) -> list[ApprovalRequest]:
    stmt = (
        select(ApprovalRequest)
        .where(ApprovalRequest.branch_id == branch_id, ApprovalRequest.status != "pending")
        .order_by(ApprovalRequest.decided_at.desc(), ApprovalRequest.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def summary_text(request: ApprovalRequest, lang: str) -> str:
    """The request's summary in `lang`; `*_fen` parameters formatted as money."""
    params: dict[str, Any] = {}
    for name, value in (request.summary_params or {}).items():
        if name.endswith("_fen") and isinstance(value, int):
            params[name[: -len("_fen")]] = format_fen(value, lang)
        else:
            params[name] = value
    return translate(request.summary_key, lang, **params)
