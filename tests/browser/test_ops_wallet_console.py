"""The ops console's wallet work in a real browser (issue 5 items 2, 4 and 9): the demo operator signs in with
password and dynamic password, approves a real-name submission a customer made, changes a tier limit and
downgrades a wallet — and the customer's real-name status, tier and ledger cap follow. An auditor reads the
same pages, sees the ID photos, and gets no forms."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pyotp
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from qianbao import ledger, wallets
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.staff.demo import DemoStaff, seed_demo_staff

pytestmark = pytest.mark.browser

CUSTOMER_PHONE = "13800000777"
# The sandbox verifier is unsure of this number (sequence 913), so the submission waits for a reviewer.
ZHOU_JIANGUO = ("周建国", "320102196510019132")


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def demo_staff(db, settings) -> dict[str, DemoStaff]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return {account.employee_no: account for account in seed_demo_staff(session, settings=settings)}


def card(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (428, 270), color).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def customer(db, settings) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(customer id, wallet id, submission id): registered in the app, real name waiting for review."""
    with db.transaction() as session:
        issued = wallets.start_registration(session, CUSTOMER_PHONE, None, "zh-CN", send=False, settings=settings)
    with db.transaction() as session:
        holder, wallet = wallets.complete_registration(session, CUSTOMER_PHONE, issued.code, "Lantern-Harbour-42",
                                                       True, settings=settings)
        ids = holder.id, wallet.id
    with db.transaction() as session:
        submission = wallets.submit_real_name(session, ids[0], *ZHOU_JIANGUO, None, card("#cdd9e6"), card("#e6d9cd"),
                                              verifier=SandboxIdentityVerifier(latency_ms=0), settings=settings)
        assert submission.status == "pending"
        return ids[0], ids[1], submission.id


def watch_console(page: Page) -> list[str]:
    """Errors the page logs (a Content-Security-Policy violation would be one), but for the browser's note on
    a refused form's 4xx status, which is the page working as meant."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded"):
            errors.append(message.text)

    page.on("console", record)
    return errors


def sign_in(page: Page, account: DemoStaff) -> None:
    page.goto("/ops/login")
    page.get_by_label("工号").fill(account.employee_no)
    page.get_by_label("密码", exact=True).fill(account.password)
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("textbox", name="动态密码", exact=True).fill(pyotp.TOTP(account.totp_secret).now())
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/ops$"))


def state(db, customer_id: int, wallet_id: int) -> tuple[str, str | None, int, int | None]:  # type: ignore[no-untyped-def]
    """(real-name status, latest submission status, tier, ledger cap) as the customer's wallet has them."""
    with db.read() as session:
        status = wallets.kyc_status(session, customer_id)
        wallet = wallets.get_wallet(session, wallet_id)
        cap = ledger.get_account(session, wallet.ledger_account_id).cap
        return status.real_name_status, status.submission_status, wallet.tier, cap


def photo_loaded(page: Page, testid: str) -> bool:
    """The image arrived and decoded (waits for it: the photo route answers after the page)."""
    image = page.get_by_test_id(testid).element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image)
    return bool(image.evaluate("img => img.naturalWidth > 0"))


def test_an_operator_approves_a_real_name_changes_a_limit_and_downgrades_the_wallet(
    new_context: Callable[..., BrowserContext], demo_staff: dict[str, DemoStaff], customer: tuple[int, int, int], db
) -> None:
    customer_id, wallet_id, submission_id = customer
    assert state(db, customer_id, wallet_id) == ("pending", "pending", 4, 10_000_00)
    page = new_context().new_page()
    errors = watch_console(page)
    sign_in(page, demo_staff["OP001"])

    # The overview counts the waiting submission; its tile leads to the queue.
    expect(page.get_by_test_id("kyc-pending")).to_have_text("1")
    page.get_by_test_id("tile-kyc").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("实名审核")
    row = page.get_by_test_id("kyc-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("周*国")
    expect(row).to_contain_text("3201**********9132")
    row.get_by_role("link", name="审核").click()

    page.wait_for_url(f"**/ops/kyc/{submission_id}")
    expect(page.get_by_test_id("kyc-id-number")).to_have_text(ZHOU_JIANGUO[1])
    expect(page.get_by_test_id("kyc-photo-front")).to_be_visible()
    assert photo_loaded(page, "kyc-photo-front") and photo_loaded(page, "kyc-photo-back")
    page.get_by_role("button", name="通过").click()
    expect(page.get_by_test_id("notice")).to_contain_text("客户已升级为三类钱包")
    assert state(db, customer_id, wallet_id) == ("verified", "approved", 3, 20_000_00)

    # Tier 3's balance cap goes down to 15,000 yuan; the customer's ledger cap follows at once.
    page.get_by_role("navigation", name="运营功能菜单").get_by_role("link", name="参数配置").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("等级与限额")
    form = page.get_by_test_id("tier-form-3")
    form.get_by_label("余额上限").fill("15000")
    form.get_by_role("button", name="保存修改").click()
    expect(form.get_by_test_id("field-error")).to_have_text("请填写原因。")
    expect(form.get_by_label("余额上限")).to_have_value("15000")
    form.get_by_label("修改原因").fill("季度风控评估：下调三类钱包余额上限")
    form.get_by_role("button", name="保存修改").click()
    expect(page.get_by_test_id("notice")).to_contain_text("3类钱包的限额已更新")
    expect(page.get_by_test_id("tier-row-3")).to_contain_text("¥15,000.00")
    expect(page.get_by_test_id("policy-changes")).to_contain_text("余额上限: ¥20,000.00 → ¥15,000.00")
    assert state(db, customer_id, wallet_id) == ("verified", "approved", 3, 15_000_00)

    # The operator finds the wallet by the customer's mobile number and moves it down to tier 4.
    page.get_by_role("navigation", name="运营功能菜单").get_by_role("link", name="钱包查询").click()
    page.get_by_label("钱包号 / 手机号 / 身份证号").fill(CUSTOMER_PHONE)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"**/ops/wallets/{wallet_id}")
    expect(page.get_by_test_id("wallet-tier")).to_have_text("3类")
    expect(page.get_by_test_id("holder-facts")).to_contain_text("周*国")
    downgrade = page.get_by_test_id("downgrade-form")
    downgrade.get_by_label("降为").select_option("4")
    downgrade.get_by_label("原因").fill("客户身份存疑，待补充材料")
    downgrade.get_by_role("button", name="确认降级").click()
    expect(page.get_by_test_id("notice")).to_have_text("钱包已降级，客户已收到通知。")
    expect(page.get_by_test_id("wallet-tier")).to_have_text("4类")
    expect(page.get_by_test_id("tier-history")).to_contain_text("客户身份存疑，待补充材料")
    assert state(db, customer_id, wallet_id) == ("verified", "approved", 4, 10_000_00)
    assert errors == []


def test_an_auditor_reads_the_review_and_sees_the_photos_but_gets_no_forms(
    new_context: Callable[..., BrowserContext], demo_staff: dict[str, DemoStaff], customer: tuple[int, int, int], db
) -> None:
    customer_id, wallet_id, submission_id = customer
    page = new_context(locale="en-US").new_page()
    errors = watch_console(page)
    page.goto("/ops/login")
    auditor = demo_staff["AU001"]
    page.get_by_label("Employee number").fill(auditor.employee_no)
    page.get_by_label("Password", exact=True).fill(auditor.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("textbox", name="Dynamic password", exact=True).fill(pyotp.TOTP(auditor.totp_secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ops$"))

    page.goto(f"/ops/kyc/{submission_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Real-name submission #{submission_id}")
    expect(page.get_by_test_id("kyc-id-number")).to_have_text("3201**********9132")
    assert photo_loaded(page, "kyc-photo-front")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.locator("main form")).to_have_count(0)
    page.goto(f"/ops/wallets/{wallet_id}")
    expect(page.locator("main form")).to_have_count(0)
    assert state(db, customer_id, wallet_id)[:3] == ("pending", "pending", 4)
    assert errors == []
