"""Real-name in the customer app (SPEC §3.1 step 2): outcomes, the status page following the operators'
decision, and each refusal next to its field."""

from __future__ import annotations

import pytest
from customer_app_helpers import HTML, PERSON, cheap, form_error, gif, jpeg, open_wallet, png, sign_in

from qianbao import wallets
from qianbao.wallets.photos import MAX_BYTES


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def holder(client, db, settings):  # type: ignore[no-untyped-def]
    customer_id = open_wallet(db, settings)
    return customer_id, sign_in(client, db, settings, customer_id)


def _submit(client, csrf: str, *, name: str = PERSON[0], id_number: str = PERSON[1],  # type: ignore[no-untyped-def]
            valid_until: str = "2035-06-30", long_term: bool = False, front: bytes | None = None,
            back: bytes | None = None):
    data = {"name": name, "id_number": id_number, "valid_until": valid_until, "csrf_token": csrf}
    if long_term:
        data["long_term"] = "yes"
    files = {"front": ("front.jpg", jpeg() if front is None else front, "image/jpeg"),
             "back": ("back.png", png() if back is None else back, "image/png")}
    return client.post("/app/realname", data=data, files=files, headers=HTML, follow_redirects=False)


def _tier(db, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        wallet = wallets.wallet_of_customer(session, customer_id)
        assert wallet is not None
        return int(wallet.tier)


def test_a_matching_identity_is_approved_at_once_and_the_wallet_becomes_tier3(client, db, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    response = _submit(client, csrf)
    assert response.headers["location"] == "/app/realname/status?just=approved"
    status = client.get(response.headers["location"], headers=HTML).text
    assert 'data-state="approved"' in status and "实名认证已通过" in status and "2035-06-30" in status
    assert _tier(db, customer_id) == 3
    home = client.get("/app", headers=HTML).text
    assert "刘*" in home and "三类" in home and "刘洋" not in home


def test_a_long_term_card_needs_no_end_date(client, db, holder) -> None:  # type: ignore[no-untyped-def]
    _customer_id, csrf = holder
    response = _submit(client, csrf, valid_until="", long_term=True)
    assert response.status_code == 303
    assert "长期有效" in client.get("/app/realname/status", headers=HTML).text


def test_a_name_that_does_not_match_the_number_is_rejected_with_the_reason(client, db, holder) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    response = _submit(client, csrf, name="李敏", id_number="440305199210110058")
    assert response.headers["location"] == "/app/realname/status?just=rejected"
    status = client.get(response.headers["location"], headers=HTML).text
    assert 'data-state="rejected"' in status and "姓名与身份证号码不一致" in status
    assert _tier(db, customer_id) == 4


def test_an_unsure_verifier_sends_the_submission_to_review_and_the_status_follows_the_decision(  # type: ignore[no-untyped-def]
    client, db, holder, make_staff
) -> None:
    customer_id, csrf = holder
    response = _submit(client, csrf, name="周建国", id_number="320102196510019132")
    assert response.headers["location"] == "/app/realname/status"
    assert 'data-state="pending"' in client.get("/app/realname/status", headers=HTML).text
    assert client.get("/app/realname", headers=HTML, follow_redirects=False).headers["location"] == \
        "/app/realname/status", "no second submission while one waits"
    operator = make_staff("operator")
    with db.transaction() as session:
        status = wallets.kyc_status(session, customer_id)
        wallets.reject_kyc(session, status.submission_id, "证件照片模糊，请重新拍摄", operator.id)
    page = client.get("/app/realname/status", headers=HTML).text
    assert 'data-state="rejected"' in page and "证件照片模糊，请重新拍摄" in page


def test_a_review_approval_shows_as_approved(client, db, holder, make_staff) -> None:  # type: ignore[no-untyped-def]
    customer_id, csrf = holder
    _submit(client, csrf, name="周建国", id_number="320102196510019132")
    operator = make_staff("operator")
    with db.transaction() as session:
        wallets.approve_kyc(session, wallets.kyc_status(session, customer_id).submission_id, operator.id)
    assert 'data-state="approved"' in client.get("/app/realname/status", headers=HTML).text
    assert _tier(db, customer_id) == 3


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"id_number": "330106201006010084", "name": "赵小雨"}, 422, "年满18周岁"),
        ({"id_number": "110105194912310021"}, 422, "校验位"),
        ({"id_number": "11010519491231"}, 422, "身份证"),
        ({"name": "Liu Yang"}, 422, "姓名"),
        ({"valid_until": "2020-01-01"}, 422, "过期"),
        ({"valid_until": ""}, 422, "长期有效"),
    ],
    ids=["under_age", "check_digit", "format", "latin_name", "expired_card", "no_validity"],
)
def test_a_refused_identity_says_which_condition_failed_and_keeps_the_input(  # type: ignore[no-untyped-def]
    client, db, holder, fields: dict[str, str], status: int, message: str
) -> None:
    customer_id, csrf = holder
    response = _submit(client, csrf, **fields)
    assert response.status_code == status
    assert message in form_error(response.text)
    if fields.get("id_number"):
        assert f'value="{fields["id_number"]}"' in response.text
    assert _tier(db, customer_id) == 4
    with db.read() as session:
        assert wallets.kyc_status(session, customer_id).submission_id is None


@pytest.mark.parametrize(
    ("front", "back", "side", "message"),
    [
        (b"%PDF-1.4 not a photo", None, "front", "不是有效的图片"),
        (None, gif(), "back", "GIF"),
        (None, b"\xff\xd8\xff" + b"0" * MAX_BYTES, "back", "不超过 5 MB"),
    ],
    ids=["not_an_image", "gif", "too_large"],
)
def test_a_photo_that_is_not_a_jpeg_or_png_under_5_mb_is_refused_next_to_its_field(  # type: ignore[no-untyped-def]
    client, holder, front: bytes | None, back: bytes | None, side: str, message: str
) -> None:
    _customer_id, csrf = holder
    response = _submit(client, csrf, front=front, back=back)
    assert response.status_code in (413, 415, 422)
    assert f'id="{side}-error"' in response.text and message in form_error(response.text)


def test_the_status_page_of_someone_who_never_submitted_invites_them_to(client, holder) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/app/realname/status", headers=HTML).text
    assert 'data-state="none"' in page and 'href="/app/realname"' in page
