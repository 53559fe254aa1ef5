"""The verifier names the FIRST broken or missing entry, whatever was done to the table."""

from __future__ import annotations

import pytest
from audit_helpers import rewrite_with_fresh_hash, tamper, write_entries
from sqlalchemy import select

from qianbao.audit.models import AuditEntry
from qianbao.audit.verify import verify
from qianbao.db import Database


def _hash_of(db: Database, seq: int) -> str:
    with db.read() as session:
        return session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq)) or ""


def test_an_intact_chain_verifies_with_its_count_and_head(db: Database) -> None:
    write_entries(db, 5)
    result = verify(db)
    assert result.ok and result.problem is None
    assert (result.checked, result.last_seq, result.last_hash) == (5, 5, _hash_of(db, 5))


def test_an_empty_log_is_intact(db: Database) -> None:
    result = verify(db)
    assert result.ok and result.checked == 0


def test_an_edited_entry_is_named(db: Database) -> None:
    write_entries(db, 5)
    tamper(db, "UPDATE audit_entry SET action = 'wallet.unfreeze' WHERE seq = 3")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("modified", 3)  # type: ignore[union-attr]
    assert result.checked == 2


def test_edited_details_are_named(db: Database) -> None:
    write_entries(db, 4)
    tamper(db, "UPDATE audit_entry SET details = '{\"reason\": \"无\"}' WHERE seq = 2")
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("modified", 2)  # type: ignore[union-attr]


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_link_to_the_next(db: Database) -> None:
    write_entries(db, 5)
    rewrite_with_fresh_hash(db, 2, object_id="W9999")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("link_broken", 3)  # type: ignore[union-attr]
    assert result.problem.params == {"prev": 2}  # type: ignore[union-attr]


def test_a_forged_prev_hash_is_named(db: Database) -> None:
    write_entries(db, 4)
    tamper(db, "UPDATE audit_entry SET prev_hash = :h WHERE seq = 3", h="a" * 64)
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("modified", 3)  # type: ignore[union-attr]
    rewrite_with_fresh_hash(db, 3, prev_hash="b" * 64)
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("link_broken", 3)  # type: ignore[union-attr]


def test_reordered_entries_are_named_at_the_first_moved_one(db: Database) -> None:
    write_entries(db, 5)
    tamper(db, "UPDATE audit_entry SET seq = 1000 WHERE seq = 2")
    tamper(db, "UPDATE audit_entry SET seq = 2 WHERE seq = 3")
    tamper(db, "UPDATE audit_entry SET seq = 3 WHERE seq = 1000")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("modified", 2)  # type: ignore[union-attr]


def test_a_deleted_entry_in_the_middle_is_named(db: Database) -> None:
    write_entries(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 3")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("missing", 3)  # type: ignore[union-attr]
    assert result.problem.params == {"found": 4}  # type: ignore[union-attr]


def test_a_deleted_first_entry_is_named(db: Database) -> None:
    write_entries(db, 3)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 1")
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("missing", 1)  # type: ignore[union-attr]


def test_a_deleted_last_entry_is_named(db: Database) -> None:
    write_entries(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 5")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("tail_missing", 5)  # type: ignore[union-attr]
    assert result.checked == 4


def test_a_deleted_tail_of_several_entries_is_named_from_its_first(db: Database) -> None:
    write_entries(db, 6)
    tamper(db, "DELETE FROM audit_entry WHERE seq >= 4")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("tail_missing", 4)  # type: ignore[union-attr]
    assert result.problem.params == {"head_seq": 6, "last_seq": 3}  # type: ignore[union-attr]


def test_a_whole_deleted_log_is_named(db: Database) -> None:
    write_entries(db, 3)
    tamper(db, "DELETE FROM audit_entry")
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("tail_missing", 1)  # type: ignore[union-attr]


def test_a_replaced_last_entry_is_named(db: Database) -> None:
    write_entries(db, 4)
    rewrite_with_fresh_hash(db, 4, outcome="refused")
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("tail_replaced", 4)  # type: ignore[union-attr]


def test_an_entry_appended_around_audit_record_is_named(db: Database) -> None:
    write_entries(db, 3)
    tamper(
        db,
        "INSERT INTO audit_entry (seq, occurred_at, actor_type, actor_id, branch_id, channel, action, object_type,"
        " object_id, outcome, details, request_id, prev_hash, hash)"
        " SELECT 4, occurred_at, actor_type, actor_id, branch_id, channel, action, object_type, object_id, outcome,"
        " details, request_id, hash, :h FROM audit_entry WHERE seq = 3",
        h="c" * 64,
    )
    rewrite_with_fresh_hash(db, 4, action="wallet.unfreeze")
    result = verify(db)
    assert (result.problem.kind, result.problem.seq) == ("unregistered", 4)  # type: ignore[union-attr]


def test_a_deleted_chain_head_is_named(db: Database) -> None:
    write_entries(db, 2)
    tamper(db, "DELETE FROM audit_chain_head")
    assert verify(db).problem.kind == "head_missing"  # type: ignore[union-attr]


def test_an_unreadable_row_is_named_as_modified(db: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's json and timestamptz columns refuse values that do not parse")
    write_entries(db, 4)
    tamper(db, "UPDATE audit_entry SET details = 'not json' WHERE seq = 3")
    result = verify(db, batch_size=10)
    assert (result.problem.kind, result.problem.seq) == ("modified", 3)  # type: ignore[union-attr]


def test_only_the_first_of_several_problems_is_named(db: Database) -> None:
    write_entries(db, 6)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 5")
    tamper(db, "UPDATE audit_entry SET action = 'x' WHERE seq = 2")
    assert (verify(db).problem.kind, verify(db).problem.seq) == ("modified", 2)  # type: ignore[union-attr]


def test_progress_is_reported_for_every_entry(db: Database) -> None:
    write_entries(db, 7)
    calls: list[tuple[int, int]] = []
    assert verify(db, batch_size=3, on_progress=lambda done, total: calls.append((done, total))).ok
    assert calls == [(3, 7), (3, 7), (1, 7)]


def test_problems_are_explained_in_both_languages(db: Database) -> None:
    write_entries(db, 3)
    tamper(db, "DELETE FROM audit_entry WHERE seq = 2")
    problem = verify(db).problem
    assert problem is not None
    assert problem.message("en") == "Audit entry #2 is missing (deleted): the next entry present is #3."
    assert problem.message("zh-CN") == "第 2 条审计记录缺失（已被删除）：其后现存的下一条是第 3 条。"
