"""Helpers for the audit tests: write a few entries, and tamper with them the way an intruder would."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from qianbao import audit
from qianbao.audit.models import AuditEntry
from qianbao.audit.service import compute_hash
from qianbao.db import Database

SQLITE_TRIGGERS = ("audit_entry_no_update", "audit_entry_no_delete", "audit_chain_head_no_delete")


def write_entries(db: Database, count: int) -> None:
    for i in range(1, count + 1):
        with db.transaction() as session:
            audit.record(
                session,
                action="wallet.freeze",
                actor=audit.Actor.staff(40 + i, branch_id="BJ001"),
                channel="ops",
                object_type="wallet",
                object_id=f"W{i:04d}",
                details={"reason": f"客户挂失 {i}", "phone": "138****5678"},
            )


def tamper(db: Database, sql: str, **params: Any) -> None:
    """Run raw SQL past the append-only triggers (as someone with DDL rights could)."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for name in SQLITE_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            conn.exec_driver_sql("ALTER TABLE audit_chain_head DISABLE TRIGGER USER")
        conn.execute(text(sql), params)
        if not db.is_sqlite:
            # The PostgreSQL test database outlives this test: put the guard back.
            conn.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")
            conn.exec_driver_sql("ALTER TABLE audit_chain_head ENABLE TRIGGER USER")


def rewrite_with_fresh_hash(db: Database, seq: int, **changes: Any) -> str:
    """Edit an entry AND recompute its own hash, as a careful intruder would; returns the new hash."""
    with db.read() as session:
        entry = session.get_one(AuditEntry, seq)
        for name, value in changes.items():
            setattr(entry, name, value)
        new_hash = compute_hash(entry)
        session.expunge(entry)
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    tamper(db, f"UPDATE audit_entry SET {assignments}, hash = :h WHERE seq = :seq", h=new_hash, seq=seq, **changes)
    return new_hash
