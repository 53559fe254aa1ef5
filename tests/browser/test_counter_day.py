"""A teller's whole day at the counter in real browsers (SPEC §7, issue 7): the demo teller T0101 and
supervisor S0101, with the customer on a PIN pad facing them.

Open the drawer with a float the supervisor confirms; cash in; cash out above the threshold with the
supervisor's approval; end the day with a deliberate 10-yuan shortage that the supervisor signs off; print
the day report in both languages. Then the ledger checks out and the suspense account shows the shortage.

QIANBAO_SCREENSHOTS=1 writes docs/screenshots/counter-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from customer_browser_helpers import cheap, watch_console
from playwright.sync_api import BrowserContext, Page, expect

from qianbao import ledger
from qianbao.counter.demo import seed_demo_vaults
from qianbao.staff.demo import DemoStaff, seed_demo_staff
from qianbao.wallets.demo import seed_demo_customers

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = os.environ.get("QIANBAO_SCREENSHOTS") == "1"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
PIN = "258036"
WANG_XIUYING = "11010519491231002X"  # the demo's tier-1 holder, opened at the counter


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def demo(db, settings) -> dict[str, DemoStaff]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        staff = {account.employee_no: account for account in seed_demo_staff(session, settings=settings)}
    with db.transaction() as session:
        seed_demo_customers(session, settings)
    with db.transaction() as session:
        seed_demo_vaults(session)
    return staff


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    if SCREENSHOTS:
        out = ROOT / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / name), full_page=full_page)


def sign_in(page: Page, account: DemoStaff) -> None:
    page.get_by_label(re.compile(r"^(工号|Employee number)$")).fill(account.employee_no)
    page.get_by_label("密码", exact=True).fill(account.password)
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("textbox", name="动态密码", exact=True).fill(account.totp_now())
    page.get_by_role("button", name="登录").click()


def approve(supervisor: Page, text: str, reason: str = "") -> None:
    supervisor.goto("/teller/approvals")
    item = supervisor.locator(".approval-item", has_text=text)
    expect(item).to_be_visible()
    if reason:
        item.get_by_label("审批意见").fill(reason)
    item.get_by_role("button", name="同意").click()
    expect(supervisor.get_by_test_id("notice")).to_be_visible()


def cash(teller: Page, pad: Page, kind: str, amount: str) -> str:
    """The teller takes the card from the reader and the amount; the customer confirms on the PIN pad."""
    teller.goto("/teller/cash")
    teller.get_by_label("沙箱人员").select_option(WANG_XIUYING)
    teller.get_by_test_id("place-card").click()
    teller.get_by_test_id("read-card").click()
    expect(teller.get_by_test_id("id-from-reader")).to_contain_text("王*英")
    teller.get_by_test_id("kind-cash-out" if kind == "cash_out" else "kind-cash-in").check()
    amount_field = teller.get_by_label("金额（元）")
    amount_field.fill(amount)
    amount_field.press("Enter")  # Enter submits the form
    code = teller.get_by_test_id("pad-code").inner_text().replace(" ", "").replace("\n", "")
    operation_url = teller.url
    pad.goto("/pinpad/counter")
    pad.get_by_label("配对码").fill(code)
    pad.get_by_role("button", name="配对").click()
    expect(pad.get_by_test_id("pad-amount")).to_contain_text(amount.split(".")[0][:2])
    shoot(pad, f"counter-pinpad-{kind}.png")
    pad.get_by_label("支付密码").fill(PIN)
    pad.get_by_test_id("pad-submit").click()
    expect(pad.get_by_test_id("pad-done-message")).to_be_visible()
    return operation_url


def test_a_full_counter_day_with_a_large_cash_out_and_a_ten_yuan_shortage(
    new_context: Callable[..., BrowserContext], demo: dict[str, DemoStaff], db: Any, settings: Any,
) -> None:
    teller = new_context(viewport=DESKTOP).new_page()
    teller_errors = watch_console(teller)
    teller.goto("/teller/cash")
    sign_in(teller, demo["T0101"])
    teller.wait_for_url("**/teller/cash")
    expect(teller.get_by_test_id("day-status")).to_have_text("未营业")
    # The float field has the focus: type and press Enter.
    expect(teller.get_by_label("领取备用金（元）")).to_be_focused()
    teller.keyboard.type("100000")
    teller.keyboard.press("Enter")
    expect(teller.get_by_test_id("awaiting-float")).to_be_visible()

    supervisor = new_context(viewport=DESKTOP).new_page()
    supervisor_errors = watch_console(supervisor)
    supervisor.goto("/teller/approvals")
    sign_in(supervisor, demo["S0101"])
    supervisor.wait_for_url("**/teller/approvals")
    shoot(supervisor, "counter-approvals-float.png")
    approve(supervisor, "领取尾箱备用金 ¥100,000.00")

    # The teller's page notices the decision by itself.
    expect(teller.get_by_test_id("day-status")).to_have_text("营业中", timeout=15_000)
    expect(teller.get_by_test_id("drawer-expected")).to_have_text("¥100,000.00")
    expect(teller.get_by_test_id("drawer-amount")).to_have_text("¥100,000.00")

    pad = new_context(viewport=TABLET).new_page()
    pad_errors = watch_console(pad)
    cash(teller, pad, "cash_in", "80000")
    expect(teller.get_by_test_id("op-status")).to_have_text("已完成", timeout=15_000)
    expect(teller.get_by_test_id("receipt-serial")).to_contain_text("0101-")
    shoot(teller, "counter-operation.png")

    # Cash out above 50,000 yuan: the customer confirms, then the supervisor approves.
    cash(teller, pad, "cash_out", "60000")
    expect(pad.get_by_test_id("pad-done-message")).to_contain_text("主管")
    expect(teller.get_by_test_id("op-status")).to_have_text("待主管审批", timeout=15_000)
    supervisor.goto("/teller/approvals")
    shoot(supervisor, "counter-approvals.png", full_page=True)
    approve(supervisor, "大额现金支取 ¥60,000.00", reason="客户本人，用途已核实")
    expect(teller.get_by_test_id("op-status")).to_have_text("已完成", timeout=15_000)
    with teller.expect_popup() as receipt_popup:
        teller.get_by_test_id("print-receipt").click()
    receipt = teller.request.get(receipt_popup.value.url)
    assert receipt.headers["content-type"] == "application/pdf"

    teller.goto("/teller/cash")
    expect(teller.get_by_test_id("drawer-expected")).to_have_text("¥120,000.00")
    shoot(teller, "counter-cash.png", full_page=True)
    teller.keyboard.press("Alt+1")
    teller.wait_for_url("**/teller")
    expect(teller.get_by_test_id("desk-drawer")).to_have_text("¥120,000.00")
    teller.keyboard.press("Alt+5")
    teller.wait_for_url("**/teller/services")
    expect(teller.get_by_test_id("service-password_reset")).to_be_focused()
    shoot(teller, "counter-services.png", full_page=True)

    # End of day, ten yuan short: 1,199 × 100 + 1 × 50 + 4 × 10 = 119,990.
    teller.keyboard.press("Alt+6")
    teller.wait_for_url("**/teller/eod")
    expect(teller.get_by_label("¥100.00")).to_be_focused()
    teller.keyboard.type("1199")
    teller.get_by_label("¥50.00").fill("1")
    teller.get_by_label("¥10.00").fill("4")
    # The running total follows the typing.
    expect(teller.get_by_test_id("count-total")).to_have_text("¥119,990.00")
    expect(teller.get_by_test_id("count-difference")).to_have_text("短款 ¥10.00")
    shoot(teller, "counter-eod.png", full_page=True)
    teller.get_by_label("¥10.00").press("Enter")
    expect(teller.get_by_test_id("awaiting-signoff")).to_be_visible()
    expect(teller.get_by_test_id("difference")).to_have_text("-¥10.00")
    approve(supervisor, "轧账短款 ¥10.00", reason="短款由柜员赔付")
    expect(teller.get_by_test_id("day-closed")).to_be_visible(timeout=15_000)
    shoot(teller, "counter-eod-closed.png", full_page=True)
    for link in ("print-report", "print-report-other"):
        href = teller.get_by_test_id(link).get_attribute("href")
        assert href is not None
        report = teller.request.get(href)
        assert report.headers["content-type"] == "application/pdf" and report.body().startswith(b"%PDF")
        if SCREENSHOTS:  # for a look with pdftoppm
            Path(f"/tmp/counter-day-report-{link}.pdf").write_bytes(report.body())

    supervisor.goto("/teller/supervisor")
    expect(supervisor.get_by_test_id("suspense-balance")).to_have_text("¥10.00")
    # 500,000 in the vault − the 100,000 float + the 119,990 counted back.
    expect(supervisor.get_by_test_id("vault-balance")).to_have_text("¥519,990.00")
    shoot(supervisor, "counter-supervisor.png", full_page=True)

    with db.read() as session:
        assert ledger.check_invariants(session).ok
        suspense = ledger.account_by_code(session, "SU-CASH-0101")
        assert suspense is not None and ledger.balance(session, suspense.id).posted == 1_000
        drawer = ledger.account_by_code(session, "TD-0101-T0101")
        assert drawer is not None and ledger.balance(session, drawer.id).posted == 0
    assert teller_errors == [] and supervisor_errors == [] and pad_errors == []


def test_the_services_page_in_english(
    new_context: Callable[..., BrowserContext], demo: dict[str, DemoStaff],
) -> None:
    teller = new_context(viewport=DESKTOP, locale="en").new_page()
    teller.goto("/teller/services")
    teller.get_by_label(re.compile(r"^(工号|Employee number)$")).fill("T0101")
    teller.get_by_label("Password", exact=True).fill(demo["T0101"].password)
    teller.get_by_role("button", name="Continue").click()
    teller.get_by_role("textbox", name="Dynamic password", exact=True).fill(demo["T0101"].totp_now())
    teller.get_by_role("button", name="Sign in").click()
    teller.wait_for_url("**/teller/services")
    expect(teller.get_by_test_id("day-status")).to_have_text("Not open")
    expect(teller.get_by_test_id("drawer-badge")).to_contain_text("No open day")
