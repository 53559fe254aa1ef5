"""Counter opening in the teller console (SPEC §3.2): consultation, application, supervisor approval, refusals.

Each test drives the pages as a teller's browser would (forms with the CSRF token, multipart photo), through
TestClient clients signed in as staff of branch 0101 (or 0102 for "another branch").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from teller_counter_helpers import (
    BAD_CHECKSUM,
    LI_MING,
    ZHAO_XIAOYU,
    ZHOU_JIANGUO,
    application_id,
    error_code,
    state,
    submit,
)

from qianbao import approvals, wallets
from qianbao.adapters.idcard.sandbox import SandboxIdCardReader
from qianbao.approvals.models import ApprovalRequest
from qianbao.audit.models import AuditEntry
from qianbao.settings import Settings
from qianbao.wallets.models import CounterApplication, KycPhoto


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def teller(staff_client: Callable[..., Any]) -> Any:
    return staff_client("teller")


@pytest.fixture
def supervisor(staff_client: Callable[..., Any]) -> Any:
    return staff_client("supervisor")


def _count(db: Any, model: Any) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _approval_for(db: Any, app_id: int) -> ApprovalRequest | None:
    with db.read() as session:
        return session.scalar(select(ApprovalRequest).where(ApprovalRequest.subject_id == str(app_id)))


# ---- consultation ----------------------------------------------------------------------------------------

def test_the_consultation_shows_each_tiers_limits_from_the_policy_table(teller: Any, db: Any) -> None:
    page = teller.get("/teller/consult")
    assert page.status_code == 200
    tier4 = re.search(r'data-testid="tier-4">(.*?)</tr>', page.text, re.S)
    assert tier4 and "¥10,000.00" in tier4.group(1) and "¥2,000.00" in tier4.group(1)
    assert "¥1,000.00" in page.text and "¥500.00" in page.text  # password-free and static-QR caps

    with db.transaction() as session:
        wallets.update_tier_policy(session, 4, {"single_payment_limit": 150_000}, by_staff_id=teller.staff.id,
                                   reason="test")
    tier4 = re.search(r'data-testid="tier-4">(.*?)</tr>', teller.get("/teller/consult").text, re.S)
    assert tier4 and "¥1,500.00" in tier4.group(1) and "¥2,000.00" not in tier4.group(1)


def test_the_consultation_is_in_english_when_asked(teller: Any) -> None:
    page = teller.get("/teller/consult?lang=en")
    assert "Wallet consultation" in page.text and "Password-free payments" in page.text


# ---- application -----------------------------------------------------------------------------------------------

def test_a_clean_application_is_ready_for_the_pin_pad(teller: Any) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "待客户设置密码"
    assert "李*" in page.text and "4403**********0058" in page.text and "138****8000" in page.text
    assert LI_MING[1] not in page.text and "13800138000" not in page.text
    assert 'data-testid="pairing-button"' in page.text


def test_the_customer_photo_is_stored_and_shown_to_the_branch(teller: Any) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    photo = teller.get(f"/teller/open/{app_id}/photo?side=customer")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.content.startswith(b"\xff\xd8")


def test_an_unsure_identity_check_waits_for_a_supervisor_in_the_approval_queue(
    teller: Any, supervisor: Any, db: Any
) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "等待主管审批" and 'data-testid="awaiting-supervisor"' in page.text
    assert "身份核查：无法自动确认" in page.text
    assert f'hx-get="/teller/open/{app_id}/status?seen=awaiting_supervisor"' in page.text

    queue = supervisor.get("/teller/approvals")
    assert f"柜面开户申请 #{app_id}：周*国（3201**********9132），身份核查无法自动确认。" in queue.text
    request = _approval_for(db, app_id)
    assert request is not None and request.status == "pending"

    decided = supervisor.post(f"/teller/approvals/{request.id}/decide",
                              data={"decision": "approve", "reason": "", "csrf_token": supervisor.csrf_token},
                              follow_redirects=False)
    assert decided.status_code == 303
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "待客户设置密码"
    assert f"({supervisor.staff.employee_no})" in page.text


def test_the_status_poll_answers_no_content_until_the_application_changes(
    teller: Any, supervisor: Any, db: Any
) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    unchanged = teller.get(f"/teller/open/{app_id}/status?seen=awaiting_supervisor", headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    request = _approval_for(db, app_id)
    assert request is not None
    with db.transaction() as session:
        approvals.decide(session, request.id, supervisor.staff.id, approve=True)
    changed = teller.get(f"/teller/open/{app_id}/status?seen=awaiting_supervisor", headers={"HX-Request": "true"})
    assert changed.status_code == 200 and changed.headers["HX-Redirect"] == f"/teller/open/{app_id}"


def test_a_supervisor_cannot_approve_an_application_they_took_themselves(
    supervisor: Any, staff_client: Callable[..., Any], db: Any
) -> None:
    app_id = application_id(submit(supervisor, ZHOU_JIANGUO, "13800138001"))
    request = _approval_for(db, app_id)
    assert request is not None
    refused = supervisor.post(f"/teller/approvals/{request.id}/decide",
                              data={"decision": "approve", "reason": "", "csrf_token": supervisor.csrf_token})
    assert refused.status_code == 403 and "不能审批自己发起的业务" in refused.text
    with db.read() as session:
        assert wallets.get_application(session, app_id).status == "awaiting_supervisor"

    colleague = staff_client("supervisor")
    approved = colleague.post(f"/teller/approvals/{request.id}/decide",
                              data={"decision": "approve", "reason": "", "csrf_token": colleague.csrf_token},
                              follow_redirects=False)
    assert approved.status_code == 303
    with db.read() as session:
        assert wallets.get_application(session, app_id).status == "approved"


def test_a_teller_cannot_open_the_approval_queue(teller: Any) -> None:
    assert teller.get("/teller/approvals").status_code == 403


def test_a_supervisor_rejection_ends_the_application_with_the_reason(
    teller: Any, supervisor: Any, db: Any
) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    request = _approval_for(db, app_id)
    assert request is not None
    supervisor.post(f"/teller/approvals/{request.id}/decide",
                    data={"decision": "reject", "reason": "证件照片与本人不符", "csrf_token": supervisor.csrf_token})
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "主管已拒绝" and "证件照片与本人不符" in page.text
    assert 'data-testid="pairing-button"' not in page.text


def test_cancelling_an_application_withdraws_its_approval_request(teller: Any, db: Any) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    response = teller.post(f"/teller/open/{app_id}/cancel", data={"csrf_token": teller.csrf_token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert state(teller.get(f"/teller/open/{app_id}")) == "已撤销"
    request = _approval_for(db, app_id)
    assert request is not None and request.status == "cancelled"


# ---- refusals keep the input and nothing else --------------------------------------------------------------

def _refused(response: Any, code: str, db: Any) -> None:
    assert response.status_code == 422 or response.status_code == 409, response.status_code
    assert error_code(response) == code
    assert _count(db, CounterApplication) == 0 and _count(db, KycPhoto) == 0


def test_an_under_age_customer_is_refused_with_the_day_they_may_open(teller: Any, db: Any) -> None:
    response = submit(teller, ZHAO_XIAOYU, "13800138002", valid_until="2027-07-01")
    _refused(response, "UNDER_AGE", db)
    assert "开通钱包须年满18周岁" in response.text and "2028-06-01" in response.text
    assert 'value="赵小雨"' in response.text  # the teller's input is kept
    with db.read() as session:
        refusal = session.scalar(select(AuditEntry).where(AuditEntry.action == "counter.application.create",
                                                          AuditEntry.outcome == "refused"))
    assert refusal is not None and refusal.details["code"] == "UNDER_AGE"


def test_an_invalid_resident_id_number_is_refused(teller: Any, db: Any) -> None:
    response = submit(teller, (LI_MING[0], BAD_CHECKSUM), "13800138000")
    _refused(response, "ID_NUMBER_CHECKSUM", db)
    assert f'value="{BAD_CHECKSUM}"' in response.text
    assert 'aria-invalid="true"' in response.text


def test_an_invalid_mobile_number_is_refused(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "12345"), "PHONE_INVALID", db)


def test_keyed_in_details_need_the_physical_card_checked(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "13800138000", card_checked=None), "PHYSICAL_CARD_NOT_CHECKED", db)


def test_keyed_in_details_need_the_cards_validity(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "13800138000", valid_until=""), "ID_CARD_VALIDITY_REQUIRED", db)


def test_an_expired_card_is_refused(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "13800138000", valid_until="2020-01-01"), "ID_CARD_EXPIRED", db)


def test_the_customer_photo_is_required(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "13800138000", photo=b""), "CUSTOMER_PHOTO_REQUIRED", db)


def test_a_photo_that_is_not_an_image_is_refused(teller: Any, db: Any) -> None:
    _refused(submit(teller, LI_MING, "13800138000", photo=b"%PDF-1.7 not a photo"), "PHOTO_NOT_IMAGE", db)


def test_refusals_are_shown_in_english_too(teller: Any, db: Any) -> None:
    teller.cookies.set("lang", "en")
    response = submit(teller, ZHAO_XIAOYU, "13800138002", valid_until="2027-07-01")
    assert error_code(response) == "UNDER_AGE"
    assert "You must be at least 18 years old to open a wallet" in response.text and "2028-06-01" in response.text
    assert "Submit application" in response.text


# ---- the ID-card reader ---------------------------------------------------------------------------------------

def test_the_sandbox_control_places_a_card_that_read_card_fills_into_the_form(teller: Any, app: Any) -> None:
    page = teller.get("/teller/open")
    assert 'data-testid="sandbox-reader"' in page.text and "仅限沙箱" in page.text
    device = f"0101-{teller.staff.employee_no}"
    placed = teller.post("/teller/open/sandbox-card",
                         data={"citizen": LI_MING[1], "mode": "open", "csrf_token": teller.csrf_token})
    assert placed.status_code == 200 and f"已将 李* 的身份证放在读卡器 {device} 上" in placed.text

    read = teller.post("/teller/open/read-card", data={"mode": "open", "phone": "13800138000",
                                                        "csrf_token": teller.csrf_token})
    assert read.status_code == 200
    assert f'value="{LI_MING[1]}"' in read.text and 'value="李明"' in read.text and 'value="2039-03-01"' in read.text
    assert 'name="card_source" value="reader"' in read.text and 'value="13800138000"' in read.text
    assert "data:image/jpeg;base64," in read.text

    app_id = application_id(submit(teller, LI_MING, "13800138000", card_source="reader", card_checked=None))
    page = teller.get(f"/teller/open/{app_id}")
    assert "已读取芯片信息" in page.text
    assert teller.get(f"/teller/open/{app_id}/photo?side=chip").status_code == 200


def test_read_card_with_no_card_on_the_reader_says_so(teller: Any) -> None:
    response = teller.post("/teller/open/read-card", data={"mode": "open", "csrf_token": teller.csrf_token})
    assert response.status_code == 409 and error_code(response) == "IDCARD_NO_CARD"


def test_keyed_in_details_must_match_the_card_on_the_reader(teller: Any, app: Any, db: Any) -> None:
    from qianbao.adapters.idcard.sandbox import card_for_citizen
    from qianbao.adapters.identity.citizens import find_citizen

    reader = SandboxIdCardReader()
    app.state.idcard_reader = reader
    reader.place_card(f"0101-{teller.staff.employee_no}", card_for_citizen(find_citizen(LI_MING[1])))
    response = submit(teller, ("李敏", LI_MING[1]), "13800138000", card_source="reader")
    _refused(response, "ID_CARD_DATA_MISMATCH", db)


def test_the_sandbox_control_is_absent_in_production(teller: Any, app: Any) -> None:
    # Production, still over plain HTTP for the test client (the cookie names stay the same).
    app.state.settings = app.state.settings.model_copy(update={"environment": "production", "cookie_secure": False})
    page = teller.get("/teller/open")
    assert 'data-testid="sandbox-reader"' not in page.text
    placed = teller.post("/teller/open/sandbox-card",
                         data={"citizen": LI_MING[1], "mode": "open", "csrf_token": teller.csrf_token})
    assert placed.status_code == 404


# ---- one branch, not another ------------------------------------------------------------------------------------

def test_another_branchs_application_is_not_visible_nor_actionable(
    teller: Any, staff_client: Callable[..., Any]
) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    elsewhere = staff_client("teller", branch="0102")
    other_supervisor = staff_client("supervisor", branch="0102")
    for client in (elsewhere, other_supervisor):
        assert client.get(f"/teller/open/{app_id}").status_code == 404
        assert client.get(f"/teller/open/{app_id}/status?seen=ready").status_code == 404
        assert client.get(f"/teller/open/{app_id}/photo?side=customer").status_code == 404
        for action in ("pairing-code", "upgrade", "cancel"):
            response = client.post(f"/teller/open/{app_id}/{action}", data={"csrf_token": client.csrf_token})
            assert response.status_code == 404, action
    assert state(teller.get(f"/teller/open/{app_id}")) == "待客户设置密码"


def test_another_branchs_supervisor_does_not_see_the_approval_request(
    teller: Any, staff_client: Callable[..., Any], db: Any
) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    other_supervisor = staff_client("supervisor", branch="0102")
    assert f"#{app_id}" not in other_supervisor.get("/teller/approvals").text
    request = _approval_for(db, app_id)
    assert request is not None
    refused = other_supervisor.post(f"/teller/approvals/{request.id}/decide",
                                    data={"decision": "approve", "csrf_token": other_supervisor.csrf_token})
    assert refused.status_code in (403, 404)
    with db.read() as session:
        assert wallets.get_application(session, app_id).status == "awaiting_supervisor"


def test_a_camera_sized_photo_over_the_general_body_limit_is_accepted(teller: Any, settings: Settings) -> None:
    import io
    import os as _os

    from PIL import Image

    noise = Image.frombytes("RGB", (1400, 1400), _os.urandom(1400 * 1400 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG", quality=95)
    photo = buffer.getvalue()
    assert settings.max_body_bytes < len(photo) < 5 * 1024 * 1024
    app_id = application_id(submit(teller, LI_MING, "13800138000", photo=photo))
    assert len(teller.get(f"/teller/open/{app_id}/photo?side=customer").content) == len(photo)
