"""Issuing, finding and printing counter receipts; what each kind prints comes from its registered builder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.receipts.document import ReceiptDocument
from qianbao.receipts.models import Receipt
from qianbao.staff.models import Branch

SHANGHAI = ZoneInfo("Asia/Shanghai")
KIND_MAX = 48
SUBJECT_MAX = 64
# Two tellers of a branch issuing at the same instant both read the same last sequence; the loser's insert
# hits the unique constraint and draws again. More than a handful of collisions in a row cannot happen
# with people at counters, so running out of tries is a bug, not a busy branch.
ISSUE_TRIES = 8

Builder = Callable[[Session, Receipt, str], ReceiptDocument]
_builders: dict[str, Builder] = {}


def register_kind(kind: str, builder: Builder) -> None:
    """Say what a receipt of `kind` prints: `builder(session, receipt, lang) -> ReceiptDocument`.

    Call at import time of the owning module; registering again replaces the builder.
    """
    if not kind or len(kind) > KIND_MAX:
        raise ValueError(f"receipt kind {kind!r} must be 1-{KIND_MAX} characters")
    _builders[kind] = builder


def registered_kinds() -> frozenset[str]:
    return frozenset(_builders)


def _subject(subject: str | int) -> str:
    text = str(subject)
    if not text or len(text) > SUBJECT_MAX:
        raise ValueError(f"receipt subject {text!r} must be 1-{SUBJECT_MAX} characters")
    return text


def receipt_for(session: Session, kind: str, subject: str | int) -> Receipt | None:
    """The receipt of one operation, if it was issued."""
    return session.scalar(select(Receipt).where(Receipt.kind == kind, Receipt.subject_id == _subject(subject)))


def issue(session: Session, branch_id: int, kind: str, subject: str | int, staff_id: int) -> str:
    """The serial of the receipt of operation (`kind`, `subject`), issuing it now if it has none.

    Idempotent per operation: a retried request gets the same serial. Serials count per branch and
    business day (Asia/Shanghai): "0101-20261125-00001", "0101-20261125-00002", ...
    BRANCH_NOT_FOUND for an unknown branch. Runs in the caller's transaction (savepoints only).
    """
    if kind not in _builders:
        raise ValueError(f"receipt kind {kind!r} has no builder: receipts.register_kind it first")
    subject_id = _subject(subject)
    branch = session.get(Branch, branch_id)
    if branch is None:
        raise QianbaoError("BRANCH_NOT_FOUND", branch=str(branch_id))
    for _ in range(ISSUE_TRIES):
        existing = receipt_for(session, kind, subject_id)
        if existing is not None:
            return existing.serial
        now = datetime.now(UTC)
        day = now.astimezone(SHANGHAI).date()
        last = session.scalar(
            select(func.max(Receipt.seq)).where(Receipt.branch_id == branch_id, Receipt.business_date == day)
        )
        seq = (last or 0) + 1
        row = Receipt(
            branch_id=branch_id, business_date=day, seq=seq, serial=f"{branch.code}-{day:%Y%m%d}-{seq:05d}",
            kind=kind, subject_id=subject_id, staff_id=staff_id, issued_at=now, print_count=0,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        audit.record(
            session, action="receipt.issue", actor=audit.Actor.staff(staff_id, branch_id), channel="counter",
            object_type="receipt", object_id=row.id, details={"serial": row.serial, "kind": kind,
                                                             "subject_id": subject_id},
        )
        return row.serial
    raise RuntimeError("could not draw a free receipt serial")  # pragma: no cover - see ISSUE_TRIES


def get_receipt(session: Session, receipt_id: int, *, branch_id: int | None = None, lock: bool = False) -> Receipt:
    """A receipt by id; NOT_FOUND when absent or (with `branch_id`) of another branch."""
    stmt = select(Receipt).where(Receipt.id == receipt_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt) if type(receipt_id) is int else None
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise QianbaoError("NOT_FOUND")
    return row


def record_print(session: Session, receipt_id: int, staff_id: int, *, branch_id: int | None = None) -> Receipt:
    """Count one print of the receipt (the first is the original, later ones are reprints) and audit it."""
    row = get_receipt(session, receipt_id, branch_id=branch_id, lock=True)
    row.print_count += 1
    row.last_printed_at = datetime.now(UTC)
    row.last_printed_by = staff_id
    session.flush()
    audit.record(
        session, action="receipt.print", actor=audit.Actor.staff(staff_id, row.branch_id), channel="counter",
        object_type="receipt", object_id=row.id, details={"serial": row.serial, "print_count": row.print_count},
    )
    return row


def build_document(session: Session, receipt: Receipt, lang: str) -> ReceiptDocument:
    builder = _builders.get(receipt.kind)
    if builder is None:
        raise ValueError(f"receipt kind {receipt.kind!r} has no builder")
    return builder(session, receipt, lang)
