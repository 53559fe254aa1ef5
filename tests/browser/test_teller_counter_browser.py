"""Opening a wallet at the counter in a real browser (SPEC §3.2): three browsers, as at a branch.

The demo teller signs in with password and dynamic password, walks the customer through the consultation,
reads the customer's card from the (sandbox) reader and submits; the sandbox verifier is unsure of this
person, so the demo supervisor approves in a second browser; the customer, on a third browser facing them
(the PIN pad), pairs with the code from the teller's screen and sets the login password and PIN; the teller's
page follows by itself, the receipt prints, and the new customer signs in to the app with that password.
Then the refusals a counter meets, on the page.

QIANBAO_SCREENSHOTS=1 writes the teller-console and PIN-pad screenshots into docs/screenshots/.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from customer_browser_helpers import cheap, sms_code, watch_console
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect
from pypdf import PdfReader

from qianbao import wallets
from qianbao.staff.demo import DemoStaff, seed_demo_staff

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = os.environ.get("QIANBAO_SCREENSHOTS") == "1"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
PASSWORD = "Lantern-Harbour-42"
PIN = "258036"
# Sandbox register people (docs/identity.md).
ZHOU_JIANGUO_ID = "320102196510019132"  # the verifier is unsure: a supervisor approves
LI_MING = ("李明", "440305199210110058")  # the verifier matches
ZHAO_XIAOYU = ("赵小雨", "330106201006010084")  # under 18 until 2028-06-01


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


@pytest.fixture
def demo_staff(db, settings) -> dict[str, DemoStaff]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return {account.employee_no: account for account in seed_demo_staff(session, settings=settings)}


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    if not SCREENSHOTS:
        return
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / name), full_page=full_page)


def customer_photo(tmp_path: Path) -> Path:
    target = tmp_path / "customer.jpg"
    image = Image.new("RGB", (480, 480), (210, 222, 214))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    target.write_bytes(buffer.getvalue())
    return target


def sign_in(page: Page, account: DemoStaff, *, english: bool = False) -> None:
    """The console's sign-in: employee number and password, then the dynamic password (TOTP)."""
    page.get_by_label(re.compile(r"^(工号|Employee number)$")).fill(account.employee_no)
    page.get_by_label("Password" if english else "密码", exact=True).fill(account.password)
    page.get_by_role("button", name="Continue" if english else "下一步").click()
    page.get_by_role("textbox", name="Dynamic password" if english else "动态密码", exact=True).fill(account.totp_now())
    page.get_by_role("button", name="Sign in" if english else "登录").click()


def test_a_teller_opens_a_wallet_with_a_supervisors_approval_and_the_customer_sets_passwords_on_the_pin_pad(
    new_context: Callable[..., BrowserContext], demo_staff: dict[str, DemoStaff], db: Any, settings: Any,
    tmp_path: Path,
) -> None:
    # The teller signs in and walks the customer through the products (Alt+2), then opens the form (Alt+3).
    teller_context = new_context(viewport=DESKTOP)
    teller = teller_context.new_page()
    teller_errors = watch_console(teller)
    teller.goto("/teller/open")
    teller.wait_for_url("**/teller/login?next=%2Fteller%2Fopen")
    sign_in(teller, demo_staff["T0101"])
    teller.wait_for_url("**/teller/open")
    teller.keyboard.press("Alt+2")
    teller.wait_for_url("**/teller/consult")
    expect(teller.get_by_role("heading", level=1)).to_have_text("开户咨询")
    expect(teller.get_by_test_id("tier-4")).to_contain_text("¥10,000.00")
    expect(teller.get_by_test_id("tier-1")).to_contain_text("柜面")
    expect(teller.get_by_test_id("cap-password-free")).to_have_text("每日累计 ¥1,000.00")
    shoot(teller, "teller-consult.png", full_page=True)
    teller.keyboard.press("Alt+3")
    teller.wait_for_url("**/teller/open")

    # The customer hands over the ID card: on the sandbox reader, the demo control places it.
    teller.get_by_label("沙箱人员").select_option(ZHOU_JIANGUO_ID)
    teller.get_by_test_id("place-card").click()
    expect(teller.get_by_test_id("notice")).to_contain_text("已将 周*国 的身份证放在读卡器 0101-T0101 上")
    teller.get_by_test_id("read-card").click()
    expect(teller.get_by_test_id("card-read")).to_have_text("已读取芯片信息")
    expect(teller.get_by_label("姓名")).to_have_value("周建国")
    expect(teller.get_by_label("身份证号码")).to_have_value(ZHOU_JIANGUO_ID)
    expect(teller.get_by_label("长期")).to_be_checked()
    teller.get_by_label("手机号码").fill("13800138001")
    teller.get_by_label("已核验身份证原件，人证一致").check()
    teller.get_by_label("客户照片").set_input_files(customer_photo(tmp_path))
    shoot(teller, "teller-open.png", full_page=True)
    # Submitted from the keyboard: the photo field has the focus, Enter does not submit a file input, so
    # Tab to the submit button and press Enter as a teller would.
    teller.get_by_label("客户照片").focus()
    teller.keyboard.press("Tab")
    expect(teller.get_by_test_id("submit-application")).to_be_focused()
    teller.keyboard.press("Enter")
    teller.wait_for_url(re.compile(r"/teller/open/\d+$"))
    application_url = teller.url
    expect(teller.get_by_test_id("app-state")).to_have_text("等待主管审批")
    expect(teller.get_by_test_id("setup")).to_contain_text("身份核查：无法自动确认，需人工判断")
    expect(teller.get_by_test_id("applicant")).to_contain_text("周*国")
    expect(teller.get_by_test_id("applicant")).to_contain_text("3201**********9132")

    # The supervisor, in their own browser, approves it in the branch's approval queue.
    supervisor = new_context(viewport=DESKTOP).new_page()
    supervisor_errors = watch_console(supervisor)
    supervisor.goto("/teller/approvals")
    sign_in(supervisor, demo_staff["S0101"])
    supervisor.wait_for_url("**/teller/approvals")
    item = supervisor.locator(".approval-item", has_text="周*国")
    expect(item).to_contain_text("身份核查无法自动确认")
    item.get_by_role("button", name="同意").click()
    expect(supervisor.get_by_test_id("notice")).to_be_visible()

    # The teller's page notices by itself (htmx polling) and offers the PIN-pad pairing code.
    expect(teller.get_by_test_id("app-state")).to_have_text("待客户设置密码")
    expect(teller.get_by_test_id("applicant")).to_contain_text("李主管 (S0101)")
    teller.get_by_test_id("pairing-button").click()
    code = teller.get_by_test_id("pairing-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{6}", code)
    shoot(teller, "teller-pairing.png")

    # The customer, on the PIN pad facing them, pairs and sets the passwords; the teller's browser is not part.
    pinpad = new_context(viewport=TABLET, has_touch=True).new_page()
    pinpad_errors = watch_console(pinpad)
    pinpad.goto("/pinpad")
    expect(pinpad.get_by_role("heading", level=1)).to_have_text("请输入配对码")
    shoot(pinpad, "pinpad-pair.png")
    pinpad.get_by_label("配对码", exact=True).fill(code)
    pinpad.keyboard.press("Enter")
    expect(pinpad.get_by_test_id("pinpad-who")).to_contain_text("周*国（138****8001）")
    expect(teller.get_by_test_id("app-state")).to_have_text("客户正在设置密码")
    pinpad.get_by_label("登录密码", exact=True).fill(PASSWORD)
    pinpad.get_by_label("再次输入登录密码").fill(PASSWORD)
    pinpad.get_by_label("6 位支付密码").fill(PIN)
    pinpad.get_by_label("再次输入支付密码").fill(PIN)
    shoot(pinpad, "pinpad.png")
    pinpad.get_by_role("button", name="确认并开通钱包").click()
    expect(pinpad.get_by_role("heading", level=1)).to_have_text("钱包已开通")

    # The teller's page shows the wallet; the receipt prints with its number.
    expect(teller.get_by_test_id("app-state")).to_have_text("已完成")
    number = teller.get_by_test_id("wallet-number").inner_text()
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", number)
    shoot(teller, "teller-opened.png")
    teller_html = teller.content()
    assert PASSWORD not in teller_html and PIN not in teller_html
    href = teller.get_by_test_id("print-receipt").get_attribute("href")
    assert href is not None
    receipt = teller_context.request.get(href)
    assert receipt.ok and receipt.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(receipt.body())).pages)
    assert "钱包开户回执" in text and number.replace(" ", "") in text.replace(" ", "")
    assert "周*国" in text and "一类钱包" in text and "李主管 (S0101)" in text
    with db.read() as session:
        wallet = wallets.wallet_by_number(session, number)
        assert wallet.tier == 1

    # The new customer signs in to the app with the password they chose (a new device: SMS code too).
    app = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    app.goto("/app/login")
    app.get_by_label("手机号", exact=True).fill("13800138001")
    app.get_by_label("登录密码", exact=True).fill(PASSWORD)
    app.get_by_test_id("login-submit").click()
    app.get_by_label("短信验证码").fill(sms_code(db, settings, "13800138001"))
    app.get_by_test_id("device-submit").click()
    app.wait_for_url(re.compile(r"/app(\?.*)?$"))
    expect(app.get_by_test_id("wallet-number")).to_have_text(number)
    expect(app.get_by_test_id("wallet-tier")).to_have_text("一类")

    assert teller.url == application_url
    assert teller_errors == [] and supervisor_errors == [] and pinpad_errors == []


def test_an_english_speaking_teller_opens_a_wallet_from_keyed_in_details_and_prints_an_english_receipt(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], tmp_path: Path
) -> None:
    context = new_context(locale="en-US", viewport=DESKTOP)
    sign_in_browser(context, "teller", branch="0101")
    teller = context.new_page()
    errors = watch_console(teller)
    teller.goto("/teller/open")
    expect(teller.get_by_role("heading", level=1)).to_have_text("Open a wallet at the counter")
    teller.get_by_label("Name", exact=True).fill(LI_MING[0])
    teller.get_by_label("Resident ID number").fill(LI_MING[1])
    teller.get_by_label("Valid until").fill("2039-03-01")
    teller.get_by_label("I have checked the physical ID card and it is the customer's").check()
    teller.get_by_label("Mobile number").fill("13800138000")
    teller.get_by_label("Language of notices").select_option("en")
    teller.get_by_label("Customer's photo").set_input_files(customer_photo(tmp_path))
    teller.get_by_role("button", name="Submit application").click()
    expect(teller.get_by_test_id("app-state")).to_have_text("Ready for the PIN pad")
    teller.get_by_role("button", name="Show pairing code").click()
    code = teller.get_by_test_id("pairing-code").inner_text().replace(" ", "")

    pinpad = new_context(locale="en-US", viewport=TABLET).new_page()
    pinpad_errors = watch_console(pinpad)
    pinpad.goto("/pinpad")
    pinpad.get_by_label("Pairing code", exact=True).fill(code)
    pinpad.get_by_role("button", name="Pair").click()
    expect(pinpad.get_by_test_id("pinpad-who")).to_contain_text("Opening a wallet for 李* (138****8000)")
    pinpad.get_by_label("Login password", exact=True).fill(PASSWORD)
    pinpad.get_by_label("Login password again").fill(PASSWORD)
    pinpad.get_by_label("6-digit payment PIN").fill(PIN)
    pinpad.get_by_label("Payment PIN again").fill(PIN)
    pinpad.get_by_role("button", name="Confirm and open the wallet").click()
    expect(pinpad.get_by_role("heading", level=1)).to_have_text("Your wallet is open")

    expect(teller.get_by_test_id("app-state")).to_have_text("Completed")
    number = teller.get_by_test_id("wallet-number").inner_text()
    href = teller.get_by_test_id("print-receipt").get_attribute("href")
    assert href is not None
    text = "\n".join(page.extract_text() or "" for page in
                     PdfReader(io.BytesIO(context.request.get(href).body())).pages)
    assert "Wallet opening receipt" in text and number.replace(" ", "") in text.replace(" ", "")
    assert "Getting started" in text and "Tier 1 wallet" in text
    assert errors == [] and pinpad_errors == []


def test_the_counter_refuses_an_under_age_customer_and_an_invalid_id_number_on_the_page(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], tmp_path: Path
) -> None:
    context = new_context(viewport=DESKTOP)
    sign_in_browser(context, "teller", branch="0101")
    teller = context.new_page()
    teller.goto("/teller/open")
    teller.get_by_label("姓名").fill(ZHAO_XIAOYU[0])
    teller.get_by_label("身份证号码").fill(ZHAO_XIAOYU[1])
    teller.get_by_label("有效期至").fill("2027-07-01")
    teller.get_by_label("已核验身份证原件，人证一致").check()
    teller.get_by_label("手机号码").fill("13800138002")
    teller.get_by_label("客户照片").set_input_files(customer_photo(tmp_path))
    teller.get_by_test_id("submit-application").click()
    expect(teller.get_by_test_id("form-error")).to_have_text(
        "开通钱包须年满18周岁（按身份证上的出生日期计算），您可于2028-06-01起开通。")
    expect(teller.get_by_label("姓名")).to_have_value(ZHAO_XIAOYU[0])  # the input is kept
    expect(teller.get_by_label("身份证号码")).to_have_attribute("aria-invalid", "true")

    teller.get_by_label("姓名").fill(LI_MING[0])
    teller.get_by_label("身份证号码").fill("440305199210110059")  # one digit off
    teller.get_by_label("有效期至").fill("2039-03-01")
    teller.get_by_label("已核验身份证原件，人证一致").check()
    teller.get_by_label("客户照片").set_input_files(customer_photo(tmp_path))
    teller.get_by_test_id("submit-application").click()
    expect(teller.get_by_test_id("form-error")).to_contain_text("身份证号码校验位不符")
    expect(teller.get_by_label("身份证号码")).to_have_value("440305199210110059")


def test_the_pin_pad_refuses_a_wrong_code_and_a_code_already_used(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], tmp_path: Path
) -> None:
    context = new_context(viewport=DESKTOP)
    sign_in_browser(context, "teller", branch="0101")
    teller = context.new_page()
    teller.goto("/teller/open")
    _submit_keyed_in(teller, LI_MING, "13800138000", customer_photo(tmp_path))
    teller.get_by_test_id("pairing-button").click()
    code = teller.get_by_test_id("pairing-code").inner_text().replace(" ", "")

    pinpad = new_context(viewport=TABLET).new_page()
    pinpad.goto("/pinpad")
    pinpad.get_by_label("配对码", exact=True).fill(f"{(int(code) + 1) % 1_000_000:06d}")
    pinpad.get_by_role("button", name="配对").click()
    expect(pinpad.get_by_test_id("form-error")).to_have_text("配对码不正确或已失效，请向柜员索取新的配对码。")
    pinpad.get_by_label("配对码", exact=True).fill(code)
    pinpad.get_by_role("button", name="配对").click()
    expect(pinpad.get_by_test_id("pinpad-set")).to_be_visible()

    another = new_context(viewport=TABLET).new_page()
    another.goto("/pinpad")
    another.get_by_label("配对码", exact=True).fill(code)
    another.get_by_role("button", name="配对").click()
    expect(another.get_by_test_id("form-error")).to_have_text("配对码不正确或已失效，请向柜员索取新的配对码。")


def test_another_branchs_teller_cannot_open_the_application(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], tmp_path: Path
) -> None:
    context = new_context(viewport=DESKTOP)
    sign_in_browser(context, "teller", branch="0101")
    teller = context.new_page()
    teller.goto("/teller/open")
    _submit_keyed_in(teller, LI_MING, "13800138000", customer_photo(tmp_path))
    teller.wait_for_url(re.compile(r"/teller/open/\d+$"))

    elsewhere = new_context(viewport=DESKTOP)
    sign_in_browser(elsewhere, "teller", branch="0102")
    other = elsewhere.new_page()
    response = other.goto(teller.url)
    assert response is not None and response.status == 404
    assert "李*" not in other.content()


def _submit_keyed_in(teller: Page, person: tuple[str, str], phone: str, photo: Path, *, english: bool = False,
                     valid_until: str = "2039-03-01") -> None:
    teller.get_by_label("Name" if english else "姓名", exact=True).fill(person[0])
    teller.get_by_label("Resident ID number" if english else "身份证号码", exact=True).fill(person[1])
    teller.get_by_label("Valid until" if english else "有效期至").fill(valid_until)
    teller.get_by_label("I have checked the physical ID card and it is the customer's" if english
                        else "已核验身份证原件，人证一致").check()
    teller.get_by_label("Mobile number" if english else "手机号码", exact=True).fill(phone)
    teller.get_by_label("Customer's photo" if english else "客户照片").set_input_files(photo)
    teller.get_by_test_id("submit-application").click()


def test_a_supervisor_cannot_approve_the_application_they_took_themselves(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], tmp_path: Path
) -> None:
    context = new_context(viewport=DESKTOP)
    sign_in_browser(context, "supervisor", branch="0101")
    page = context.new_page()
    page.goto("/teller/open")
    _submit_keyed_in(page, ("周建国", ZHOU_JIANGUO_ID), "13800138001", customer_photo(tmp_path))
    expect(page.get_by_test_id("app-state")).to_have_text("等待主管审批")
    expect(page.get_by_test_id("go-approvals")).to_have_count(0)  # not for their own application
    page.goto("/teller/approvals")
    page.locator(".approval-item", has_text="周*国").get_by_role("button", name="同意").click()
    expect(page.get_by_test_id("form-error")).to_have_text("不能审批自己发起的业务。")
    expect(page.locator(".approval-item", has_text="周*国")).to_be_visible()


def test_an_english_speaking_teller_upgrades_an_app_wallet_to_tier_1_after_a_supervisors_approval(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., Any], db: Any, settings: Any,
    tmp_path: Path,
) -> None:
    from customer_browser_helpers import open_wallet

    open_wallet(db, settings, "13800138011")
    with db.read() as session:
        holder_wallet = wallets.wallet_of_customer(session, wallets.customer_by_phone(session, "+8613800138011").id)
        number = wallets.format_wallet_number(holder_wallet.number)  # type: ignore[union-attr]

    context = new_context(locale="en-US", viewport=DESKTOP)
    sign_in_browser(context, "teller", branch="0101")
    teller = context.new_page()
    errors = watch_console(teller)
    teller.goto("/teller")
    teller.keyboard.press("Alt+7")
    teller.wait_for_url("**/teller/upgrade")
    expect(teller.get_by_role("heading", level=1)).to_have_text("Upgrade to tier 1")
    teller.get_by_label("Resident ID number or mobile number").fill("13800138011")
    teller.keyboard.press("Enter")
    expect(teller.get_by_test_id("holder")).to_contain_text(number)
    expect(teller.get_by_test_id("holder")).to_contain_text("138****8011")
    expect(teller.get_by_test_id("holder")).to_contain_text("Tier 4")
    shoot(teller, "teller-upgrade.png", full_page=True)
    _submit_keyed_in(teller, ("刘洋", "510107200001010099"), "13800138011", customer_photo(tmp_path), english=True,
                     valid_until="2028-01-10")
    expect(teller.get_by_test_id("app-state")).to_have_text("Awaiting supervisor")
    expect(teller.get_by_test_id("setup")).to_contain_text("The mobile number already has a wallet (an upgrade)")

    supervisor_context = new_context(locale="en-US", viewport=DESKTOP)
    sign_in_browser(supervisor_context, "supervisor", branch="0101")
    supervisor = supervisor_context.new_page()
    supervisor.goto(teller.url)
    supervisor.get_by_test_id("go-approvals").click()
    supervisor.locator(".approval-item", has_text="刘*").get_by_role("button", name="Approve").click()

    teller.get_by_test_id("confirm-upgrade").click()
    expect(teller.get_by_test_id("app-state")).to_have_text("Completed")
    expect(teller.get_by_test_id("wallet-number")).to_have_text(number)
    href = teller.get_by_test_id("print-receipt").get_attribute("href")
    assert href is not None
    text = "\n".join(page.extract_text() or "" for page in
                     PdfReader(io.BytesIO(context.request.get(href).body())).pages)
    assert "Wallet upgrade receipt" in text and number.replace(" ", "") in text.replace(" ", "")
    assert "stay the same" in text
    with db.read() as session:
        assert wallets.wallet_by_number(session, number).tier == 1
    assert errors == []
