"""The ops console's audit page: the latest entries, newest first, a page at a time.

The reader is a signed-in auditor. Making that account is itself audited (entry 1, `staff.created`),
so the entries each test writes come after it.
"""

from __future__ import annotations

import re

import pytest
from audit_helpers import write_entries

from qianbao import audit
from qianbao.db import Database


@pytest.fixture
def client(staff_client):  # type: ignore[no-untyped-def]
    return staff_client("auditor")


def _seqs(html: str) -> list[int]:
    rows = re.findall(r'<tr data-testid="audit-row">\s*<td class="num">(\d+)</td>', html)
    return [int(seq) for seq in rows]


def test_the_audit_page_lists_the_latest_entries_newest_first(db: Database, client) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 3)
    response = client.get("/ops/audit")
    assert response.status_code == 200
    assert _seqs(response.text) == [4, 3, 2, 1]
    assert "wallet.freeze" in response.text and "W0003" in response.text
    assert "staff.created" in response.text.split('<td class="num">1</td>')[1]
    assert 'aria-current="page"' in response.text.split('href="/ops/audit"')[1][:40]


def test_the_audit_page_pages_back_through_older_entries(db: Database, client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(55):
        with db.transaction() as session:
            audit.record(session, action="staff.login", actor=audit.Actor.staff(1), channel="counter")
    first = client.get("/ops/audit")
    assert _seqs(first.text) == list(range(56, 6, -1))
    assert 'href="/ops/audit?before=7"' in first.text
    older = client.get("/ops/audit?before=7")
    assert _seqs(older.text) == [6, 5, 4, 3, 2, 1]
    assert "?before=" not in older.text.split("audit-table")[1]


def test_the_audit_page_is_in_chinese_by_default_and_english_on_request(db: Database, client) -> None:  # type: ignore[no-untyped-def]
    write_entries(db, 1)
    chinese = client.get("/ops/audit").text
    assert "<h1>审计日志</h1>" in chinese and "员工" in chinese and "成功" in chinese
    english = client.get("/ops/audit", headers={"Accept-Language": "en"}).text
    assert "<h1>Audit log</h1>" in english and "Staff" in english and "Success" in english


def test_an_empty_audit_log_says_so(app) -> None:  # type: ignore[no-untyped-def]
    # Every way to a signed-in reader writes the log (the account's creation is audited), so this one test
    # lets a reader through the access check without an account to see the page of an empty log.
    from fastapi.testclient import TestClient

    from qianbao.web.auth import requires

    app.dependency_overrides[requires("ops.read")] = lambda: None
    with TestClient(app) as reader:
        assert "暂无审计记录。" in reader.get("/ops/audit").text
