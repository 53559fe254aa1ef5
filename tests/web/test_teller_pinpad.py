"""The customer-facing PIN pad (SPEC §3.2 step 3) and what follows: tier 1, the notices, the receipt, the upgrade.

The PIN pad is a separate, anonymous client: it pairs with the code shown on the teller's page and holds its
own token; the teller's client never sends or receives the password or the PIN.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from teller_counter_helpers import (
    LI_MING,
    LIU_YANG,
    PASSWORD,
    PIN,
    ZHOU_JIANGUO,
    application_id,
    error_code,
    pairing_code,
    state,
    submit,
)

from qianbao import approvals, credentials, receipts, wallets
from qianbao.credentials import Principal
from qianbao.notices.models import OutboxMessage
from qianbao.receipts.models import Receipt
from qianbao.settings import Settings
from qianbao.web.pinpad_pages import PINPAD_COOKIE


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def teller(staff_client: Callable[..., Any]) -> Any:
    return staff_client("teller")


@pytest.fixture
def pinpad(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _csrf(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def pair(pinpad: TestClient, code: str) -> Any:
    token = _csrf(pinpad.get("/pinpad"))
    return pinpad.post("/pinpad/pair", data={"code": code, "csrf_token": token}, follow_redirects=False)


def complete(pinpad: TestClient, password: str = PASSWORD, pin: str = PIN, *, password_again: str | None = None,
             pin_again: str | None = None) -> Any:
    token = _csrf(pinpad.get("/pinpad"))
    return pinpad.post("/pinpad/complete", data={
        "password": password, "password_again": password if password_again is None else password_again,
        "pin": pin, "pin_again": pin if pin_again is None else pin_again, "csrf_token": token,
    }, follow_redirects=False)


def show_code(teller: Any, app_id: int) -> str:
    page = teller.post(f"/teller/open/{app_id}/pairing-code", data={"csrf_token": teller.csrf_token})
    assert page.status_code == 200
    return pairing_code(page)


def test_the_customer_sets_password_and_pin_on_the_pin_pad_and_a_tier1_wallet_opens(
    teller: Any, pinpad: TestClient, db: Any, settings: Settings
) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    code = show_code(teller, app_id)

    paired = pair(pinpad, code)
    assert paired.status_code == 303 and paired.headers["location"] == "/pinpad"
    assert PINPAD_COOKIE in paired.headers["set-cookie"] and "HttpOnly" in paired.headers["set-cookie"]
    page = pinpad.get("/pinpad")
    assert "李*" in page.text and "138****8000" in page.text and 'name="pin"' in page.text
    assert state(teller.get(f"/teller/open/{app_id}")) == "客户正在设置密码"

    done = complete(pinpad)
    assert done.status_code == 303 and done.headers["location"] == "/pinpad?done=1"
    assert "钱包已开通" in pinpad.get("/pinpad?done=1").text

    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "已完成"
    number = re.search(r'data-testid="wallet-number">([\d ]+)<', page.text)
    assert number and re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", number.group(1))
    with db.read() as session:
        wallet = wallets.wallet_by_number(session, number.group(1))
        assert wallet.tier == 1
        customer = wallets.get_customer(session, wallet.customer_id)
        assert customer.is_real_name_verified
        kinds = {m.kind for m in session.scalars(select(OutboxMessage))}
    assert kinds, "the opening notice went to the outbox (SMS and in-app)"
    with credentials.transaction(db) as session:
        credentials.verify_login(session, Principal.customer(wallet.customer_id), PASSWORD, settings=settings)
        credentials.verify_pin(session, Principal.customer(wallet.customer_id), PIN, settings=settings)
    assert PASSWORD not in page.text and PIN not in page.text


def test_a_wrong_pairing_code_is_refused(teller: Any, pinpad: TestClient) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    code = show_code(teller, app_id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = pair(pinpad, wrong)
    assert response.status_code == 422 and error_code(response) == "PAIRING_CODE_INVALID"
    assert PINPAD_COOKIE not in response.headers.get("set-cookie", "")
    assert pair(pinpad, code).status_code == 303  # the right code still works


def test_a_used_pairing_code_does_not_pair_a_second_pin_pad(teller: Any, pinpad: TestClient, app: Any) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    code = show_code(teller, app_id)
    assert pair(pinpad, code).status_code == 303
    with TestClient(app, raise_server_exceptions=False) as second:
        response = pair(second, code)
        assert response.status_code == 422 and error_code(response) == "PAIRING_CODE_INVALID"


def test_a_new_pairing_code_replaces_the_one_shown_before(teller: Any, pinpad: TestClient) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    first = show_code(teller, app_id)
    second = show_code(teller, app_id)
    if first != second:
        assert error_code(pair(pinpad, first)) == "PAIRING_CODE_INVALID"
    assert pair(pinpad, second).status_code == 303


def test_the_pin_pad_asks_again_when_the_two_entries_differ(teller: Any, pinpad: TestClient, db: Any) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    pair(pinpad, show_code(teller, app_id))
    response = complete(pinpad, password_again="Lantern-Harbour-43")
    assert response.status_code == 422 and error_code(response) == "PASSWORD_MISMATCH"
    response = complete(pinpad, pin_again="258037")
    assert response.status_code == 422 and error_code(response) == "PIN_MISMATCH"
    assert 'name="pin"' in response.text  # still paired: the customer tries again
    with db.read() as session:
        assert wallets.get_application(session, app_id).status == "ready"


def test_the_pin_pad_refuses_a_weak_pin_and_keeps_the_pairing(teller: Any, pinpad: TestClient) -> None:
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    pair(pinpad, show_code(teller, app_id))
    response = complete(pinpad, pin="123456")
    assert response.status_code == 422 and (error_code(response) or "").startswith("PIN_")
    assert complete(pinpad).status_code == 303


def test_the_pin_pad_without_a_pairing_asks_for_the_code(pinpad: TestClient) -> None:
    page = pinpad.get("/pinpad")
    assert 'data-testid="pinpad-pair"' in page.text
    response = complete(pinpad)
    assert response.status_code == 401 and error_code(response) == "PAIRING_TOKEN_INVALID"


def test_the_teller_session_cannot_stand_in_for_the_paired_pin_pad(teller: Any, pinpad: TestClient) -> None:
    """Only the PIN pad's own pairing cookie sets credentials: the teller's signed-in browser cannot."""
    app_id = application_id(submit(teller, LI_MING, "13800138000"))
    pair(pinpad, show_code(teller, app_id))
    response = complete(teller)  # the teller's client, with a device cookie and a valid form token
    assert response.status_code == 401 and error_code(response) == "PAIRING_TOKEN_INVALID"
    assert state(teller.get(f"/teller/open/{app_id}")) == "客户正在设置密码"


# ---- the receipt -----------------------------------------------------------------------------------------------

def _open_wallet(teller: Any, pinpad: TestClient, person: tuple[str, str], phone: str) -> int:
    app_id = application_id(submit(teller, person, phone))
    pair(pinpad, show_code(teller, app_id))
    assert complete(pinpad).status_code == 303
    return app_id


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def test_the_teller_prints_the_receipt_with_the_wallet_number(teller: Any, pinpad: TestClient) -> None:
    app_id = _open_wallet(teller, pinpad, LI_MING, "13800138000")
    page = teller.get(f"/teller/open/{app_id}")
    number = re.search(r'data-testid="wallet-number">([\d ]+)<', page.text)
    link = re.search(r'href="(/teller/receipts/\d+\.pdf)\?lang=zh-CN"', page.text)
    assert number and link
    pdf = teller.get(link.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert "钱包开户回执" in text and number.group(1).replace(" ", "") in text.replace(" ", "")
    assert "李*" in text and "138****8000" in text and LI_MING[1] not in text
    assert "第 2 次打印" in _pdf_text(teller.get(link.group(1)).content)
    english = _pdf_text(teller.get(link.group(1) + "?lang=en").content)
    assert "Wallet opening receipt" in english and "Reprint, copy 3" in english


def test_another_branch_cannot_print_the_receipt(
    teller: Any, pinpad: TestClient, staff_client: Callable[..., Any], db: Any
) -> None:
    app_id = _open_wallet(teller, pinpad, LI_MING, "13800138000")
    with db.read() as session:
        receipt = receipts.receipt_for(session, "wallet.open", app_id)
    assert receipt is not None
    elsewhere = staff_client("teller", branch="0102")
    assert elsewhere.get(f"/teller/receipts/{receipt.id}.pdf").status_code == 404
    with db.read() as session:
        assert session.get(Receipt, receipt.id).print_count == 0  # type: ignore[union-attr]


# ---- upgrade of an existing wallet ----------------------------------------------------------------------------

def test_an_existing_tier4_wallet_is_upgraded_to_tier1_after_the_supervisor_approves(
    teller: Any, staff_client: Callable[..., Any], db: Any, settings: Settings
) -> None:
    with wallets.audited(db, action="test.register", actor=_customer_actor()) as session:
        issued = wallets.start_registration(session, "13800138011", "10.0.0.1", "zh-CN", settings=settings)
    with wallets.audited(db, action="test.register", actor=_customer_actor()) as session:
        _customer, wallet = wallets.complete_registration(session, "13800138011", issued.code, PASSWORD, True,
                                                         settings=settings)
    assert wallet.tier == 4

    found = teller.post("/teller/upgrade", data={"lookup": "13800138011", "via": "typed",
                                                 "csrf_token": teller.csrf_token})
    assert found.status_code == 200 and 'data-testid="holder"' in found.text and "138****8011" in found.text
    assert wallets.format_wallet_number(wallet.number) in found.text

    app_id = application_id(submit(teller, LIU_YANG, "13800138011", mode="upgrade", valid_until="2028-01-10"))
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "等待主管审批" and "该手机号已开通钱包（本次为升级）" in page.text

    supervisor = staff_client("supervisor")
    with db.read() as session:
        request = session.scalar(select(approvals.ApprovalRequest).where(
            approvals.ApprovalRequest.subject_id == str(app_id)))
    assert request is not None
    supervisor.post(f"/teller/approvals/{request.id}/decide",
                    data={"decision": "approve", "reason": "", "csrf_token": supervisor.csrf_token})
    page = teller.get(f"/teller/open/{app_id}")
    assert 'data-testid="confirm-upgrade"' in page.text and 'data-testid="pairing-button"' not in page.text

    upgraded = teller.post(f"/teller/open/{app_id}/upgrade", data={"csrf_token": teller.csrf_token},
                           follow_redirects=False)
    assert upgraded.status_code == 303
    page = teller.get(f"/teller/open/{app_id}")
    assert state(page) == "已完成" and wallets.format_wallet_number(wallet.number) in page.text
    with db.read() as session:
        assert wallets.get_wallet(session, wallet.id).tier == 1
        receipt = receipts.receipt_for(session, "wallet.upgrade", app_id)
    assert receipt is not None
    text = _pdf_text(teller.get(f"/teller/receipts/{receipt.id}.pdf").content)
    assert "钱包升级回执" in text and "登录密码和支付密码均不变" in text


def test_an_upgrade_for_someone_without_a_wallet_is_refused(teller: Any, db: Any) -> None:
    response = submit(teller, LI_MING, "13800138000", mode="upgrade")
    assert response.status_code == 404 and error_code(response) == "COUNTER_HOLDER_NOT_FOUND"
    with db.read() as session:
        assert session.scalar(select(wallets.CounterApplication)) is None


def test_looking_up_an_unknown_holder_says_so(teller: Any) -> None:
    response = teller.post("/teller/upgrade", data={"lookup": LI_MING[1], "via": "typed",
                                                    "csrf_token": teller.csrf_token})
    assert response.status_code == 404 and error_code(response) == "COUNTER_HOLDER_NOT_FOUND"


def test_an_unsure_application_for_a_new_customer_opens_after_approval(
    teller: Any, staff_client: Callable[..., Any], pinpad: TestClient, db: Any
) -> None:
    app_id = application_id(submit(teller, ZHOU_JIANGUO, "13800138001"))
    supervisor = staff_client("supervisor")
    with db.read() as session:
        request = session.scalar(select(approvals.ApprovalRequest).where(
            approvals.ApprovalRequest.subject_id == str(app_id)))
    supervisor.post(f"/teller/approvals/{request.id}/decide",  # type: ignore[union-attr]
                    data={"decision": "approve", "reason": "", "csrf_token": supervisor.csrf_token})
    pair(pinpad, show_code(teller, app_id))
    assert complete(pinpad).status_code == 303
    assert state(teller.get(f"/teller/open/{app_id}")) == "已完成"


def _customer_actor() -> Any:
    from qianbao.audit import Actor

    return Actor("customer")
