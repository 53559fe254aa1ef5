"""The ops console's real-name review queue (issue 5 item 2): operators see pending submissions oldest first,
masked; open one to compare the ID photos (served decrypted, never cached) with the full name and number;
approve it (tier 3) or reject it with the reason the customer reads; a submission is decided once; every
decision, refusal and look at the photos is audited; auditors read and change nothing; tellers stay out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from ops_helpers import (
    HTML,
    LI_MING,
    audit_entries,
    cheap_argon2,
    error_code,
    pending,
    photo,
    post,
    register,
    submit,
    visible,
)

from qianbao import wallets
from qianbao.settings import Settings

# 10:00 in Shanghai.
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return cheap_argon2(settings)


def queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="kyc-row" data-submission="(\d+)"', page)]


def kyc_status(db, customer_id: int) -> wallets.KycStatus:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return wallets.kyc_status(session, customer_id)


def tier(db, wallet_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return wallets.get_wallet(session, wallet_id).tier


def test_the_queue_lists_pending_submissions_oldest_first_masked_with_shanghai_times(
    db, settings, staff_client  # type: ignore[no-untyped-def]
) -> None:
    with time_machine.travel(MORNING, tick=False):
        _, older = pending(db, settings, name="欧阳娜娜")
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        _, newer = pending(db, settings, name="周建国", id_number="320102196510019132")
    opened = register(db, settings)
    submit(db, settings, opened, *LI_MING)  # the verifier matches: decided at once, never queued

    with time_machine.travel(MORNING + timedelta(hours=3), tick=False):
        page = staff_client("operator").get("/ops/kyc", headers=HTML)
    assert page.status_code == 200
    assert queue_ids(page.text) == [older, newer]
    text = visible(page.text)
    assert "欧**娜" in text and "周*国" in text and "3201**********9132" in text
    assert "320102196510019132" not in page.text and "周建国" not in page.text
    assert "2026-11-25 10:00" in text and "2026-11-25 11:00" in text
    assert "3 小时 0 分" in text and "2 小时 0 分" in text
    assert "无法自动判定" in text
    assert 'data-testid="pending-count">2<' in page.text


def test_a_submission_waiting_past_the_review_target_is_marked_overdue(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(MORNING, tick=False):
        pending(db, settings)
    with time_machine.travel(MORNING + timedelta(hours=19), tick=False):
        assert "即将超时" in visible(staff_client("operator").get("/ops/kyc", headers=HTML).text)
    with time_machine.travel(MORNING + timedelta(hours=25), tick=False):
        text = visible(staff_client("operator").get("/ops/kyc", headers=HTML).text)
    assert "1 天 1 小时" in text and "已超时" in text


def test_an_empty_queue_says_so(staff_client) -> None:  # type: ignore[no-untyped-def]
    text = visible(staff_client("operator").get("/ops/kyc", headers=HTML).text)
    assert "暂无待审核的实名申请" in text


def test_the_queue_reads_in_english(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    pending(db, settings)
    operator = staff_client("operator")
    operator.cookies.set("lang", "en")
    text = visible(operator.get("/ops/kyc", headers=HTML).text)
    assert "Identity review" in text and "Unsure" in text and "Waiting for review" in text


def test_the_reviewing_operator_sees_the_full_name_and_number_and_the_look_is_audited(
    db, settings, staff_client  # type: ignore[no-untyped-def]
) -> None:
    holder, submission_id = pending(db, settings, name="周建国", id_number="320102196510019132")
    operator = staff_client("operator")
    page = operator.get(f"/ops/kyc/{submission_id}", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="kyc-name">周建国<' in page.text
    assert 'data-testid="kyc-id-number">320102196510019132<' in page.text
    assert "1965-10-01" in page.text
    assert f"{holder.phone[:3]}****{holder.phone[-4:]}" in page.text and holder.phone not in page.text
    assert f"/ops/kyc/{submission_id}/photos/front" in page.text and 'data-testid="approve-form"' in page.text
    [entry] = audit_entries(db, "kyc.view")
    assert (entry.actor_id, entry.object_id) == (str(operator.staff.id), str(submission_id))
    assert entry.details["id_number"] == "3201**********9132"


def test_an_auditor_sees_the_submission_masked_and_without_forms(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    _, submission_id = pending(db, settings, name="周建国", id_number="320102196510019132")
    page = staff_client("auditor").get(f"/ops/kyc/{submission_id}", headers=HTML)
    assert page.status_code == 200
    assert 'data-testid="kyc-name">周*国<' in page.text and "3201**********9132" in page.text
    assert "320102196510019132" not in page.text and "1965-10-01" not in page.text
    assert "<form" not in page.text.split('class="console-main"')[1]
    assert 'data-testid="read-only"' in page.text
    assert audit_entries(db, "kyc.view") == []


def test_a_decided_submission_is_shown_masked_even_to_an_operator(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    _, submission_id = pending(db, settings, name="周建国", id_number="320102196510019132")
    operator = staff_client("operator")
    post(operator, f"/ops/kyc/{submission_id}/reject", reason="证件照片不清晰")
    page = operator.get(f"/ops/kyc/{submission_id}", headers=HTML)
    assert "320102196510019132" not in page.text and "周*国" in page.text
    assert "证件照片不清晰" in page.text and 'data-testid="approve-form"' not in page.text


def test_id_photos_are_served_decrypted_never_cached_and_each_look_is_audited(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    front, back = photo("#112233"), photo("#445566", "PNG")
    _, submission_id = pending(db, settings, front=front, back=back)
    auditor = staff_client("auditor")
    response = auditor.get(f"/ops/kyc/{submission_id}/photos/front")
    assert response.status_code == 200
    assert response.content == front and response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    png = auditor.get(f"/ops/kyc/{submission_id}/photos/back")
    assert png.content == back and png.headers["content-type"] == "image/png"
    entries = audit_entries(db, "kyc.photo.view")
    assert [(e.actor_id, e.details["side"]) for e in entries] == [(str(auditor.staff.id), "front"),
                                                                  (str(auditor.staff.id), "back")]


def test_id_photos_are_refused_to_tellers_and_to_anyone_signed_out(db, settings, staff_client, client) -> None:  # type: ignore[no-untyped-def]
    _, submission_id = pending(db, settings)
    teller = staff_client("teller").get(f"/ops/kyc/{submission_id}/photos/front", headers=HTML)
    assert teller.status_code == 403 and error_code(teller) == "FORBIDDEN"
    anonymous = client.get(f"/ops/kyc/{submission_id}/photos/front", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/ops/login?next=")
    assert audit_entries(db, "kyc.photo.view") == []


def test_a_missing_photo_or_submission_is_not_found(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    assert operator.get("/ops/kyc/99999", headers=HTML).status_code == 404
    assert operator.get("/ops/kyc/99999/photos/front", headers=HTML).status_code == 404
    _, submission_id = pending(db, settings)
    assert operator.get(f"/ops/kyc/{submission_id}/photos/customer", headers=HTML).status_code == 422


def test_an_approval_gives_the_customer_tier_3_and_is_audited(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    operator = staff_client("operator")
    response = post(operator, f"/ops/kyc/{submission_id}/approve")
    assert response.status_code == 303 and response.headers["location"] == "/ops/kyc?done=approved"
    status = kyc_status(db, holder.customer_id)
    assert (status.real_name_status, status.submission_status) == ("verified", "approved")
    assert tier(db, holder.wallet_id) == 3
    [entry] = audit_entries(db, "kyc.approve", "success")
    assert (entry.actor_type, entry.actor_id, entry.channel) == ("staff", str(operator.staff.id), "ops")
    page = operator.get("/ops/kyc?done=approved", headers=HTML)
    assert "客户已升级为三类钱包" in page.text and queue_ids(page.text) == []
    assert operator.staff.employee_no in visible(page.text.split('data-testid="kyc-decided"')[1])


def test_a_rejection_needs_a_reason(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    response = post(staff_client("operator"), f"/ops/kyc/{submission_id}/reject", reason="   ")
    assert response.status_code == 422
    assert 'data-code="REASON_REQUIRED"' in response.text and "请填写原因。" in response.text
    assert kyc_status(db, holder.customer_id).submission_status == "pending"
    [refused] = audit_entries(db, "kyc.reject", "refused")
    assert refused.details["code"] == "REASON_REQUIRED"


def test_a_rejection_gives_the_customer_the_reviewers_words(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    reason = "证件照片不清晰，请在光线充足处重新拍摄并上传。"
    response = post(staff_client("operator"), f"/ops/kyc/{submission_id}/reject", reason=reason)
    assert response.status_code == 303 and response.headers["location"] == "/ops/kyc?done=rejected"
    status = kyc_status(db, holder.customer_id)
    assert (status.real_name_status, status.submission_status, status.rejection_reason) == ("none", "rejected", reason)
    assert tier(db, holder.wallet_id) == 4
    [entry] = audit_entries(db, "kyc.reject", "success")
    assert entry.details["reason"] == reason


def test_a_submission_is_decided_only_once(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    first, second = staff_client("operator"), staff_client("operator")
    assert post(first, f"/ops/kyc/{submission_id}/approve").status_code == 303
    again = post(second, f"/ops/kyc/{submission_id}/reject", reason="照片模糊")
    assert again.status_code == 409 and 'data-code="KYC_ALREADY_DECIDED"' in again.text
    assert "不能重复审核" in again.text
    assert kyc_status(db, holder.customer_id).submission_status == "approved"
    assert [e.details["code"] for e in audit_entries(db, "kyc.reject", "refused")] == ["KYC_ALREADY_DECIDED"]


def test_an_auditor_cannot_decide(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    auditor = staff_client("auditor")
    for path, data in ((f"/ops/kyc/{submission_id}/approve", {}), (f"/ops/kyc/{submission_id}/reject",
                                                                    {"reason": "no"})):
        response = post(auditor, path, **data)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert kyc_status(db, holder.customer_id).submission_status == "pending"


def test_a_teller_cannot_open_the_queue_or_decide(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    _, submission_id = pending(db, settings)
    teller = staff_client("teller")
    assert teller.get("/ops/kyc", headers=HTML).status_code == 403
    assert teller.get(f"/ops/kyc/{submission_id}", headers=HTML).status_code == 403
    assert post(teller, f"/ops/kyc/{submission_id}/approve").status_code == 403


def test_a_decision_without_the_form_token_is_refused(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder, submission_id = pending(db, settings)
    response = staff_client("operator").post(f"/ops/kyc/{submission_id}/approve", headers=HTML,
                                              follow_redirects=False)
    assert response.status_code == 403 and error_code(response) == "CSRF_FAILED"
    assert kyc_status(db, holder.customer_id).submission_status == "pending"
