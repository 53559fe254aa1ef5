"""The ops console's staff administration: operators create branches and accounts, disable them and reset
passwords and dynamic passwords, each audited; auditors read it all and change nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from qianbao import credentials
from qianbao.audit.models import AuditEntry
from qianbao.credentials import Principal
from qianbao.settings import Settings
from qianbao.staff import staff_by_number
from qianbao.staff.models import StaffMember

HTML = {"accept": "text/html"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def operator(staff_client):  # type: ignore[no-untyped-def]
    return staff_client("operator")


def post(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, headers=HTML, data={**data, "csrf_token": client.csrf_token}, follow_redirects=False)


def audit_entry(db, action: str) -> AuditEntry:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                               .order_by(AuditEntry.seq.desc())).first()


def member(db, employee_no: str) -> StaffMember:  # type: ignore[no-untyped-def]
    with db.read() as session:
        found = staff_by_number(session, employee_no)
        assert found is not None
        return found


def test_the_staff_page_lists_accounts_and_branches(operator, make_staff) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller", name="王柜员")
    page = operator.get("/ops/staff", headers=HTML)
    assert page.status_code == 200
    assert "<h1>员工与网点</h1>" in page.text and 'aria-current="page"><svg' in page.text.split('href="/ops/staff"')[1]
    rows = re.findall(r'<tr data-testid="staff-row">(.*?)</tr>', page.text, re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert text == [f"{operator.staff.employee_no} 测试operator 运营 总部（不属于网点） 在岗",
                    f"{teller.employee_no} 王柜员 柜员 0101 测试一支行 在岗"]
    assert "0101" in page.text and "测试一支行" in page.text
    assert 'data-testid="read-only"' not in page.text


def test_an_operator_creates_an_account_and_sees_its_one_time_credentials_once(operator, db) -> None:  # type: ignore[no-untyped-def]
    operator.get("/ops/staff")
    post(operator, "/ops/branches", code="0301", name_zh="广州天河支行", name_en="Guangzhou Tianhe", address="天河路")
    response = post(operator, "/ops/staff", employee_no="t0301", name="黄柜员", role="teller", branch_code="0301")
    assert response.status_code == 200
    assert "员工账号已创建" in response.text and 'data-testid="totp-qr"' in response.text
    password = re.search(r'data-testid="one-time-password">([^<]+)<', response.text).group(1)  # type: ignore[union-attr]
    assert response.headers["cache-control"] == "no-store"

    created = member(db, "T0301")
    with db.transaction() as session:
        credentials.verify_login(session, Principal.staff(created.id), password)
    entry = audit_entry(db, "staff.created")
    assert (entry.actor_type, entry.actor_id, entry.channel) == ("staff", str(operator.staff.id), "ops")


def test_a_refused_creation_says_why_and_keeps_what_was_typed(operator) -> None:  # type: ignore[no-untyped-def]
    response = post(operator, "/ops/staff", employee_no="S0401", name="林主管", role="supervisor", branch_code="")
    assert response.status_code == 422
    assert "柜员和主管必须隶属于一个网点" in response.text
    assert 'value="S0401"' in response.text and 'value="林主管"' in response.text


def test_an_operator_creates_a_branch(operator) -> None:  # type: ignore[no-untyped-def]
    response = post(operator, "/ops/branches", code="0301", name_zh="广州天河支行", name_en="Guangzhou Tianhe",
                    address="天河路 1 号")
    assert (response.status_code, response.headers["location"]) == (303, "/ops/staff?done=branch_created")
    page = operator.get(response.headers["location"], headers=HTML).text
    assert "网点已创建。" in page and "广州天河支行" in page
    taken = post(operator, "/ops/branches", code="0301", name_zh="又一家", name_en="Again", address="路")
    assert taken.status_code == 409 and "网点号 0301 已被使用" in taken.text


def test_an_operator_disables_an_account_and_its_sessions_end(operator, staff_client, db) -> None:  # type: ignore[no-untyped-def]
    teller = staff_client("teller")
    assert teller.get("/teller", headers=HTML).status_code == 200
    response = post(operator, f"/ops/staff/{teller.staff.id}/disable", reason="离职")
    assert response.headers["location"] == f"/ops/staff/{teller.staff.id}?done=disabled"
    detail = operator.get(response.headers["location"], headers=HTML).text
    assert "账号已停用" in detail and "离职" in detail
    assert teller.get("/teller", headers=HTML, follow_redirects=False).status_code == 303
    assert audit_entry(db, "staff.disabled").actor_id == str(operator.staff.id)


def test_disabling_needs_a_reason_and_never_ones_own_account(operator, make_staff) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    no_reason = post(operator, f"/ops/staff/{teller.id}/disable", reason=" ")
    assert no_reason.status_code == 422 and "请填写停用原因" in no_reason.text
    own = operator.get(f"/ops/staff/{operator.staff.id}", headers=HTML).text
    assert 'data-testid="disable-form"' not in own
    self_disable = post(operator, f"/ops/staff/{operator.staff.id}/disable", reason="试试")
    assert self_disable.status_code == 409 and "不能停用自己的账号" in self_disable.text


def test_an_operator_resets_a_password_and_sees_the_new_one_once(operator, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    response = post(operator, f"/ops/staff/{teller.id}/reset-password")
    assert response.status_code == 200 and "密码已重置" in response.text
    password = re.search(r'data-testid="one-time-password">([^<]+)<', response.text).group(1)  # type: ignore[union-attr]
    assert password != teller.password and 'data-testid="totp-qr"' not in response.text
    with db.transaction() as session:
        credentials.verify_login(session, Principal.staff(teller.id), password)
    assert audit_entry(db, "staff.password_reset").object_id == str(teller.id)


def test_an_operator_resets_a_dynamic_password(operator, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    teller = make_staff("teller")
    response = post(operator, f"/ops/staff/{teller.id}/reset-totp")
    assert response.headers["location"] == f"/ops/staff/{teller.id}?done=totp_reset"
    assert "动态密码已重置" in operator.get(response.headers["location"], headers=HTML).text
    assert audit_entry(db, "staff.totp_reset").object_id == str(teller.id)


def test_an_unknown_account_is_not_found(operator) -> None:  # type: ignore[no-untyped-def]
    assert operator.get("/ops/staff/424242", headers=HTML).status_code == 404
    assert post(operator, "/ops/staff/424242/reset-totp").status_code == 404


def test_an_auditor_reads_the_staff_pages_and_every_change_is_refused(staff_client, make_staff, db) -> None:  # type: ignore[no-untyped-def]
    auditor = staff_client("auditor")
    teller = make_staff("teller")
    listing = auditor.get("/ops/staff", headers=HTML)
    detail = auditor.get(f"/ops/staff/{teller.id}", headers=HTML)
    assert listing.status_code == detail.status_code == 200
    assert 'data-testid="read-only"' in listing.text and 'data-testid="read-only"' in detail.text
    actions = set(re.findall(r'<form[^>]* method="post" action="([^"]+)"', listing.text + detail.text))
    assert actions == {"/ops/staff", "/ops/branches", f"/ops/staff/{teller.id}/reset-password",
                       f"/ops/staff/{teller.id}/reset-totp", f"/ops/staff/{teller.id}/disable", "/staff/logout"}
    with db.read() as session:
        before = session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    for action in sorted(actions - {"/staff/logout"}):
        response = post(auditor, action, employee_no="X0001", name="某人", role="teller", branch_code="0101",
                        code="0999", name_zh="某", name_en="X", address="路", reason="试试")
        assert response.status_code == 403, action
        assert 'data-code="FORBIDDEN"' in response.text
    with db.read() as session:
        assert session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) == before
        assert session.get(StaffMember, teller.id).active is True  # type: ignore[union-attr]
