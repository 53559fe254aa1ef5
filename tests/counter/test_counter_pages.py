"""The counter pages through HTTP: the teller's day, cash with the PIN pad, the supervisor's queue, the end
of day and the reports; refusals shown with their code and nothing moved."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from counter_helpers import PIN, WANG_XIUYING
from fastapi.testclient import TestClient
from pypdf import PdfReader

from qianbao import audit, counter, ledger
from qianbao.db import Database
from qianbao.settings import Settings


@pytest.fixture
def branch(staff_client: Callable[..., Any], db: Database, settings: Settings) -> dict[str, Any]:
    teller = staff_client("teller", branch="0101")
    supervisor = staff_client("supervisor", branch="0101")
    from qianbao.wallets.demo import seed_demo_customers

    with db.transaction() as session:
        seed_demo_customers(session, settings, teller=(teller.staff.id, teller.staff.member.branch_id))
        counter.fund_vault(session, teller.staff.member.branch_id, 10_000_000, key="pages",
                           actor=audit.Actor.system("test"))
    return {"teller": teller, "supervisor": supervisor}


@pytest.fixture
def pad(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _csrf(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def _code(page: Any) -> str | None:
    match = re.search(r'data-code="([A-Z_]+)"', page.text)
    return match.group(1) if match else None


def _pad_code(page: Any) -> str:
    match = re.search(r'data-testid="pad-code"[^>]*>(\d{3})<span class="gap"></span>(\d{3})<', page.text)
    assert match, page.text[:3000]
    return match.group(1) + match.group(2)


def _post(client: Any, url: str, **data: str) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf_token}, follow_redirects=False)


def _approve_all(supervisor: Any) -> None:
    page = supervisor.get("/teller/approvals")
    ids = re.findall(r'data-testid="approval-(\d+)"', page.text)
    assert ids, page.text[:2000]
    for approval_id in ids:
        done = _post(supervisor, f"/teller/approvals/{approval_id}/decide", decision="approve", reason="")
        assert done.status_code == 303, done.text[:2000]


def _confirm_on_pad(pad: TestClient, code: str, pin: str = PIN) -> Any:
    paired = pad.post("/pinpad/counter/pair", data={"code": code, "csrf_token": _csrf(pad.get("/pinpad/counter"))},
                      follow_redirects=False)
    assert paired.status_code == 303, paired.text[:2000]
    page = pad.get("/pinpad/counter")
    assert 'data-testid="pad-submit"' in page.text
    return pad.post("/pinpad/counter/confirm", data={"pin": pin, "csrf_token": _csrf(page)}, follow_redirects=False)


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages).replace("\x00", "")


def _drawer(db: Database, code: str) -> int:
    with db.read() as session:
        account = ledger.account_by_code(session, code)
        return 0 if account is None else ledger.balance(session, account.id).posted


def _open(branch: dict[str, Any], amount: str = "20000") -> None:
    assert _post(branch["teller"], "/teller/day/open", amount=amount, key="k-open").status_code == 303
    _approve_all(branch["supervisor"])


def test_a_full_day_through_the_pages(branch: dict[str, Any], pad: TestClient, db: Database) -> None:
    teller, supervisor = branch["teller"], branch["supervisor"]
    drawer_code = f"TD-0101-{teller.staff.employee_no}"
    assert 'data-testid="open-day-form"' in teller.get("/teller/cash").text
    assert _post(teller, "/teller/day/open", amount="20000", key="k1").status_code == 303
    assert 'data-testid="awaiting-float"' in teller.get("/teller/cash").text
    _approve_all(supervisor)
    assert "¥20,000.00" in teller.get("/teller/drawer").text

    # Cash in: the card on the sandbox reader, the amount, the customer's PIN on the pad.
    assert _post(teller, "/teller/counter/sandbox-card", page="cash", citizen=WANG_XIUYING).status_code == 200
    page = _post(teller, "/teller/cash", kind="cash_in", amount="500", source="reader", key="k2")
    assert page.status_code == 200, page.text[:2000]
    done = _confirm_on_pad(pad, _pad_code(page))
    assert done.headers["location"] == "/pinpad/counter?done=succeeded"
    assert _drawer(db, drawer_code) == 2_050_000

    # A cash out the drawer cannot pay (60,000 > 20,500) is refused before the PIN pad, nothing moved.
    page = _post(teller, "/teller/cash", kind="cash_out", amount="60000.00", id_number=WANG_XIUYING,
                 card_checked="1", key="k3")
    assert page.status_code == 409 and _code(page) == "COUNTER_DRAWER_SHORT"
    assert _drawer(db, drawer_code) == 2_050_000
    assert 'data-testid="op-row-cash_in"' in teller.get("/teller/cash").text


def test_a_large_cash_out_waits_for_the_supervisor(branch: dict[str, Any], pad: TestClient, db: Database) -> None:
    teller, supervisor = branch["teller"], branch["supervisor"]
    _open(branch, "90000")
    page = _post(teller, "/teller/cash", kind="cash_in", amount="70000", id_number=WANG_XIUYING, card_checked="1",
                 key="a")
    _confirm_on_pad(pad, _pad_code(page))
    page = _post(teller, "/teller/cash", kind="cash_out", amount="60000", id_number=WANG_XIUYING, card_checked="1",
                 key="b")
    op_id = int(re.search(r"/teller/ops/(\d+)/", page.text).group(1))  # type: ignore[union-attr]
    done = _confirm_on_pad(pad, _pad_code(page))
    assert done.headers["location"] == "/pinpad/counter?done=awaiting_approval"
    assert 'data-status="awaiting_approval"' in teller.get(f"/teller/ops/{op_id}").text
    queue = supervisor.get("/teller/approvals").text
    assert "¥60,000.00" in queue
    _approve_all(supervisor)
    page = teller.get(f"/teller/ops/{op_id}")
    assert 'data-status="succeeded"' in page.text
    receipt_id = re.search(r"/teller/receipts/(\d+)\.pdf", page.text).group(1)  # type: ignore[union-attr]
    pdf = teller.get(f"/teller/receipts/{receipt_id}.pdf?lang=en")
    text = _pdf_text(pdf.content)
    assert "Cash out" in text and "60,000.00" in text


@pytest.mark.parametrize(("amount", "code"), [("12.345", "AMOUNT_TOO_MANY_DECIMALS"), ("-5", "AMOUNT_NOT_POSITIVE"),
                                              ("0", "AMOUNT_NOT_POSITIVE"), ("abc", "AMOUNT_INVALID")])
def test_a_bad_amount_is_refused_with_its_code_and_nothing_moves(
    branch: dict[str, Any], db: Database, amount: str, code: str
) -> None:
    teller = branch["teller"]
    _open(branch)
    page = _post(teller, "/teller/cash", kind="cash_in", amount=amount, id_number=WANG_XIUYING, card_checked="1")
    assert page.status_code == 422 and _code(page) == code
    assert 'data-testid="op-row-cash_in"' not in teller.get("/teller/cash").text
    assert _drawer(db, f"TD-0101-{teller.staff.employee_no}") == 2_000_000


def test_cash_without_an_open_day_is_refused(branch: dict[str, Any]) -> None:
    page = _post(branch["teller"], "/teller/cash", kind="cash_in", amount="10", id_number=WANG_XIUYING,
                 card_checked="1")
    assert page.status_code == 409 and _code(page) == "COUNTER_SESSION_NOT_OPEN"


def test_end_of_day_with_a_shortage_through_the_pages(branch: dict[str, Any], db: Database) -> None:
    teller, supervisor = branch["teller"], branch["supervisor"]
    _open(branch)
    # 20,000 yuan expected; 199 × 100 + 1 × 50 + 4 × 10 = 19,990: ten yuan short.
    declared = _post(teller, "/teller/eod", d10000="199", d5000="1", d1000="4")
    assert declared.status_code == 303
    page = teller.get("/teller/eod")
    assert 'data-testid="awaiting-signoff"' in page.text
    assert "10.00" in supervisor.get("/teller/approvals").text
    _approve_all(supervisor)
    page = teller.get("/teller/eod")
    assert 'data-testid="day-closed"' in page.text
    report = re.search(r"/teller/eod/(\d+)/report\.pdf", page.text).group(1)  # type: ignore[union-attr]
    # The Chinese copy prints too (its CJK text does not extract as text from the subset font; the day report's
    # wording in both languages is checked in test_counter_end_of_day).
    zh = teller.get(f"/teller/eod/{report}/report.pdf?lang=zh-CN")
    assert zh.headers["content-type"] == "application/pdf" and zh.content.startswith(b"%PDF")
    text = _pdf_text(teller.get(f"/teller/eod/{report}/report.pdf?lang=en").content)
    assert "Short by CN¥10.00" in text
    assert _drawer(db, "SU-CASH-0101") == 1_000
    with db.read() as session:
        assert ledger.check_invariants(session).ok
    overview = supervisor.get("/teller/supervisor").text
    assert 'data-testid="suspense-balance">¥10.00' in overview


def test_after_end_of_day_the_console_says_the_day_is_balanced(branch: dict[str, Any]) -> None:
    teller = branch["teller"]
    assert "data-testid=\"day-none\">您今天还没有开始营业" in teller.get("/teller/cash").text
    _open(branch)
    # 20,000 yuan expected and counted: the day closes at once.
    assert _post(teller, "/teller/eod", d10000="200").status_code == 303
    page = teller.get("/teller/cash").text
    assert "data-testid=\"day-none\">今天的轧账已经完成" in page


def test_a_bad_count_is_refused(branch: dict[str, Any]) -> None:
    _open(branch)
    page = _post(branch["teller"], "/teller/eod", d10000="1.5")
    assert page.status_code == 422 and _code(page) == "COUNTER_COUNT_INVALID"


def test_a_teller_does_not_see_the_supervisor_view(branch: dict[str, Any]) -> None:
    assert branch["teller"].get("/teller/supervisor").status_code == 403
    assert branch["supervisor"].get("/teller/supervisor").status_code == 200


def test_a_service_on_the_pin_pad_through_the_pages(branch: dict[str, Any], pad: TestClient) -> None:
    teller = branch["teller"]
    _open(branch)
    page = _post(teller, "/teller/services", service="pin_reset", id_number=WANG_XIUYING, card_checked="1")
    code = _pad_code(page)
    paired = pad.post("/pinpad/counter/pair", data={"code": code, "csrf_token": _csrf(pad.get("/pinpad/counter"))},
                      follow_redirects=False)
    assert paired.status_code == 303
    form = pad.get("/pinpad/counter")
    differs = pad.post("/pinpad/counter/confirm", data={"secret": "731964", "secret_again": "731965",
                                                        "csrf_token": _csrf(form)})
    assert _code(differs) == "PIN_MISMATCH"
    done = pad.post("/pinpad/counter/confirm", data={"secret": "731964", "secret_again": "731964",
                                                     "csrf_token": _csrf(form)}, follow_redirects=False)
    assert done.headers["location"] == "/pinpad/counter?done=succeeded"


def test_closing_a_wallet_with_money_points_to_paying_it_out(branch: dict[str, Any], pad: TestClient) -> None:
    teller = branch["teller"]
    _open(branch)
    page = _post(teller, "/teller/cash", kind="cash_in", amount="5", id_number=WANG_XIUYING, card_checked="1")
    _confirm_on_pad(pad, _pad_code(page))
    page = _post(teller, "/teller/services", service="close_wallet", id_number=WANG_XIUYING, card_checked="1")
    assert _code(page) == "COUNTER_WALLET_NOT_EMPTY"
    assert 'data-testid="pay-out-first"' in page.text


def test_the_count_shows_its_running_total_and_difference(branch: dict[str, Any]) -> None:
    _open(branch)
    page = _post(branch["teller"], "/teller/eod/preview", d10000="199", d5000="1", d1000="4")
    assert 'data-testid="count-total">¥19,990.00' in page.text
    assert "短款 ¥10.00" in page.text
    assert "整数" in _post(branch["teller"], "/teller/eod/preview", d10000="x").text


def test_the_float_request_can_be_withdrawn_from_the_page(branch: dict[str, Any]) -> None:
    teller = branch["teller"]
    assert _post(teller, "/teller/day/open", amount="100", key="w").status_code == 303
    page = teller.get("/teller/cash")
    op_id = re.search(r"/teller/ops/(\d+)/cancel", page.text).group(1)  # type: ignore[union-attr]
    assert _post(teller, f"/teller/ops/{op_id}/cancel").status_code == 303
    assert 'data-testid="open-day-form"' in teller.get("/teller/cash").text
