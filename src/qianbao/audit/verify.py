"""Checking the audit chain: every entry intact, in sequence, linked to the one before, up to the head.

The walk reads one snapshot (REPEATABLE READ on PostgreSQL, one read transaction on SQLite), in
sequence order, a batch at a time, and stops at the FIRST problem, which it names:

    missing        an entry's number is skipped: that entry was deleted
    modified       an entry's content no longer matches its hash (edited, or unreadable)
    link_broken    an entry's prev_hash is not the previous entry's hash (the previous entry was
                   rewritten with a fresh hash, or this one was forged or moved)
    tail_missing   the head names a later last entry than the table holds: the tail was deleted
    tail_replaced  the last entry's hash is not the one the head recorded
    unregistered   entries past the head's last one: written around `audit.record`
    head_missing   entries exist but the chain-head row is gone

Someone able to rewrite every hash from the edit to the end AND the head row defeats any check made
from inside the database; `qianbao audit verify` prints the head's number and hash so that operators
can note them elsewhere (the daily report, a ticket) and compare later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qianbao.audit.models import GENESIS_HASH, HEAD_ID, AuditChainHead, AuditEntry
from qianbao.audit.service import compute_hash
from qianbao.db import Database
from qianbao.i18n import translate

BATCH = 1000

# Called with (entries just checked, total entries in the snapshot).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    kind: str
    seq: int | None
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        return translate(f"audit.verify.{self.kind}", lang, seq=self.seq, **self.params)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    last_seq: int
    last_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(db: Database, *, batch_size: int = BATCH, on_progress: Progress | None = None) -> VerifyResult:
    with db.read() as session:
        return verify_in(session, batch_size=batch_size, on_progress=on_progress)


def verify_in(session: Session, *, batch_size: int = BATCH, on_progress: Progress | None = None) -> VerifyResult:
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    prev_seq, prev_hash, checked = 0, GENESIS_HASH, 0

    def result(problem: Problem | None) -> VerifyResult:
        return VerifyResult(checked, prev_seq, prev_hash, problem)

    while True:
        seqs = list(
            session.scalars(
                select(AuditEntry.seq).where(AuditEntry.seq > prev_seq).order_by(AuditEntry.seq).limit(batch_size)
            )
        )
        if not seqs:
            break
        for entry_or_seq in _load(session, seqs):
            if isinstance(entry_or_seq, int):  # the row could not even be read back
                return result(Problem("modified", entry_or_seq))
            entry = entry_or_seq
            if entry.seq != prev_seq + 1:
                return result(Problem("missing", prev_seq + 1, {"found": entry.seq}))
            if compute_hash(entry) != entry.hash:
                return result(Problem("modified", entry.seq))
            if entry.prev_hash != prev_hash:
                return result(Problem("link_broken", entry.seq, {"prev": prev_seq}))
            prev_seq, prev_hash = entry.seq, entry.hash
            checked += 1
        session.expunge_all()
        if on_progress is not None:
            on_progress(len(seqs), total)

    head = session.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    if head is None:
        return result(Problem("head_missing", None, {"count": checked}) if checked else None)
    if head.last_seq > prev_seq:
        return result(Problem("tail_missing", prev_seq + 1, {"head_seq": head.last_seq, "last_seq": prev_seq}))
    if head.last_seq < prev_seq:
        return result(Problem("unregistered", head.last_seq + 1, {"head_seq": head.last_seq}))
    if head.last_hash != prev_hash:
        return result(Problem("tail_replaced", prev_seq))
    return result(None)


def _load(session: Session, seqs: list[int]) -> list[AuditEntry | int]:
    """The batch's entries; a row whose stored values no longer parse stands as its bare seq."""
    query = select(AuditEntry).where(AuditEntry.seq.in_(seqs)).order_by(AuditEntry.seq)
    try:
        return list(session.scalars(query))
    except (ValueError, TypeError):
        pass
    loaded: list[AuditEntry | int] = []
    for seq in seqs:
        try:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()
        except (ValueError, TypeError):
            loaded.append(seq)
            break
        loaded.append(entry)
    return loaded
