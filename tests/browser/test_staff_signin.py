"""Staff sign-in in a real browser: a demo supervisor signs in with password and dynamic password and reaches
the teller console; a demo auditor signs in to the ops console, reads every page, and every form is refused."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from qianbao.settings import Settings
from qianbao.staff.demo import DemoStaff, seed_demo_staff

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Cheap argon2: every sign-in here hashes or re-hashes a password, and the browser waits for it."""
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def demo_staff(db, settings) -> dict[str, DemoStaff]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return {account.employee_no: account for account in seed_demo_staff(session, settings=settings)}


def watch_console(page: Page) -> list[str]:
    """Errors the page logs (a Content-Security-Policy violation would be one), but for the browser's note
    on a refused sign-in's 401 status, which is the page working as meant."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded"):
            errors.append(message.text)

    page.on("console", record)
    return errors


def sign_in(page: Page, account: DemoStaff, *, password_label: str, code_label: str, continue_label: str,
            submit_label: str) -> None:
    page.get_by_label(re.compile(r"^(工号|Employee number)$")).fill(account.employee_no)
    page.get_by_label(password_label, exact=True).fill(account.password)
    page.get_by_role("button", name=continue_label).click()
    page.get_by_role("textbox", name=code_label, exact=True).fill(account.totp_now())
    page.get_by_role("button", name=submit_label).click()


def test_a_supervisor_signs_in_with_password_and_dynamic_password_and_reaches_the_desk(
    new_context: Callable[..., BrowserContext], demo_staff: dict[str, DemoStaff]
) -> None:
    page = new_context().new_page()
    errors = watch_console(page)
    page.goto("/teller")
    page.wait_for_url("**/teller/login?next=%2Fteller")
    expect(page.get_by_role("heading", level=1)).to_have_text("员工登录")

    supervisor = demo_staff["S0101"]
    page.get_by_label("工号").fill(supervisor.employee_no)
    page.get_by_label("密码", exact=True).fill("not-the-password")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("工号或密码不正确")

    sign_in(page, supervisor, password_label="密码", code_label="动态密码", continue_label="下一步",
            submit_label="登录")
    page.wait_for_url(re.compile(r"/teller$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("今日工作台")
    expect(page.get_by_test_id("role-area")).to_contain_text("李主管 · 主管 · 0101")
    page.get_by_role("navigation", name="柜面功能菜单").get_by_role("link", name="审批").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("待审批业务")

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/teller/login")
    page.goto("/teller")
    page.wait_for_url("**/teller/login?next=%2Fteller")
    assert errors == []


def test_a_first_sign_in_in_english_enrols_the_dynamic_password_from_the_qr_code_page(
    new_context: Callable[..., BrowserContext], make_staff: Callable[..., object]
) -> None:
    import pyotp

    operator = make_staff("operator")
    page = new_context(locale="en-US").new_page()
    errors = watch_console(page)
    page.goto("/ops/login")
    page.get_by_label("Employee number").fill(operator.employee_no)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(operator.password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your dynamic password")
    page.get_by_role("button", name="Show a new QR code").click()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_role("textbox", name="Dynamic password", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Finish and sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("One-time password", exact=True).fill(operator.password)  # type: ignore[attr-defined]
    page.get_by_label("New password", exact=True).fill("Ops-Console-Pass-26")
    page.get_by_label("New password again", exact=True).fill("Ops-Console-Pass-26")
    page.get_by_role("button", name="Save and sign in").click()
    page.wait_for_url(re.compile(r"/ops$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    assert errors == []


OPS_PAGES = ["/ops", "/ops/audit", "/ops/sms", "/ops/staff"]


def test_an_auditor_reads_every_ops_page_and_every_form_is_refused(
    new_context: Callable[..., BrowserContext], demo_staff: dict[str, DemoStaff]
) -> None:
    page = new_context().new_page()
    page.goto("/ops/login")
    sign_in(page, demo_staff["AU001"], password_label="密码", code_label="动态密码", continue_label="下一步",
            submit_label="登录")
    page.wait_for_url(re.compile(r"/ops$"))
    expect(page.get_by_test_id("role-area")).to_contain_text("周审计 · 审计")

    teller_page = f"/ops/staff/{demo_staff['T0101'].staff_id}"
    refused: list[str] = []
    for path in [*OPS_PAGES, teller_page]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert page.locator(".error-card").count() == 0, f"{path} is readable"
        forms = page.locator("#main form[method=post]")
        for index in range(forms.count()):
            page.goto(path)
            form = page.locator("#main form[method=post]").nth(index)
            action = form.get_attribute("action")
            for field in form.locator("input:not([type=hidden])").all():
                field.fill("0101")
            form.locator("button[type=submit]").first.click()
            expect(page.locator(".error-message")).to_have_attribute("data-code", "FORBIDDEN")
            expect(page.get_by_test_id("error-status")).to_have_text("403")
            refused.append(f"{action}")
    assert sorted(refused) == sorted([
        "/ops/staff", "/ops/branches", f"{teller_page}/reset-password", f"{teller_page}/reset-totp",
        f"{teller_page}/disable",
    ])
    # Nothing changed: the teller's account is still active.
    page.goto(teller_page)
    expect(page.get_by_test_id("staff-facts")).to_contain_text("在岗")
