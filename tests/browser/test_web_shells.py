"""The three shells in a real browser: languages, layout on a phone, error page, keyboard, own-origin assets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser_harness import LiveServer
from playwright.sync_api import BrowserContext, Page, Request, expect

pytestmark = pytest.mark.browser

SHELLS_ZH = [
    ("/", "钱包平台"),
    ("/app", "欢迎使用钱包"),
    ("/teller", "今日工作台"),
    ("/ops", "运营概览"),
]
# The consoles need a signed-in staff member of a role they admit (tests/conftest.py `sign_in_browser`).
CONSOLE_ROLE = {"/teller": "teller", "/ops": "operator"}


def sign_in_for(path: str, context: BrowserContext, sign_in_browser: Callable[..., object]) -> None:
    if path in CONSOLE_ROLE:
        sign_in_browser(context, CONSOLE_ROLE[path])


SHELLS_EN = {
    "/": "Qianbao platform",
    "/app": "Welcome to Qianbao",
    "/teller": "Today's desk",
    "/ops": "Overview",
}


@pytest.mark.parametrize(("path", "heading"), SHELLS_ZH)
def test_each_shell_is_chinese_when_the_browser_prefers_no_language_we_offer(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., object], path: str, heading: str
) -> None:
    context = new_context(locale="fr-FR")
    sign_in_for(path, context, sign_in_browser)
    page = context.new_page()
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_test_id("lang-switch")).to_have_text("English")


@pytest.mark.parametrize(("path", "heading"), SHELLS_ZH)
def test_language_switch_turns_the_page_english_on_the_same_path(
    page: Page, sign_in_browser: Callable[..., object], path: str, heading: str
) -> None:
    sign_in_for(path, page.context, sign_in_browser)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.get_by_test_id("lang-switch").click()
    page.wait_for_url(lambda url: url.endswith(path) and "/lang/" not in url)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(SHELLS_EN[path])
    expect(page.get_by_test_id("lang-switch")).to_have_text("中文")


def test_chosen_language_survives_navigation_and_can_be_switched_back(
    page: Page, sign_in_browser: Callable[..., object]
) -> None:
    sign_in_for("/teller", page.context, sign_in_browser)
    page.goto("/")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Qianbao platform")
    assert {"name": "lang", "value": "en"}.items() <= next(
        c for c in page.context.cookies() if c["name"] == "lang"
    ).items()

    page.get_by_role("link", name="Teller console").click()
    page.wait_for_url("**/teller")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today's desk")

    sign_in_for("/ops", page.context, sign_in_browser)
    page.goto("/ops")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    page.get_by_test_id("lang-switch").click()
    page.wait_for_url("**/ops")
    expect(page.get_by_role("heading", level=1)).to_have_text("运营概览")


def test_browser_asking_for_english_gets_english_pages(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(locale="en-US").new_page()
    page.goto("/app")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Qianbao")
    expect(page.get_by_role("navigation", name="App navigation").get_by_role("link", name="Home")).to_be_visible()


def test_unknown_page_is_a_styled_error_page_with_code_and_request_id(page: Page) -> None:
    response = page.goto("/app/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("error-status")).to_have_text("404")
    expect(page.get_by_role("heading", level=1)).to_have_text("出错了")
    expect(page.locator(".error-message")).to_have_attribute("data-code", "NOT_FOUND")
    expect(page.get_by_test_id("request-id")).to_have_text(response.headers["x-request-id"])
    # Styled: the shared stylesheet loaded and paints the brand top bar and the card.
    topbar_colour = page.locator(".topbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert topbar_colour == "rgb(0, 105, 60)"
    assert page.locator(".error-card").evaluate("el => getComputedStyle(el).borderTopLeftRadius") == "12px"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_customer_shell_fits_a_390_by_844_phone_without_horizontal_scroll(
    new_context: Callable[..., BrowserContext], locale: str
) -> None:
    page = new_context(
        locale=locale, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    ).new_page()
    page.goto("/app")
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"] == 390

    tabbar = page.locator("nav.tabbar")
    box = tabbar.bounding_box()
    assert box is not None
    assert (box["x"], box["width"], box["y"] + box["height"]) == (0, 390, 844)

    # The last words on the page can be scrolled clear of the fixed tab bar.
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    footer = page.locator(".customer-footer").bounding_box()
    bar = tabbar.bounding_box()
    assert footer is not None and bar is not None
    assert footer["y"] + footer["height"] <= bar["y"]


def test_htmx_is_served_from_our_own_origin_and_no_page_calls_another_host(
    page: Page, live_server: LiveServer, sign_in_browser: Callable[..., object]
) -> None:
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    for path in ["/", "/app", "/teller", "/ops", "/no-such-page"]:
        sign_in_for(path, page.context, sign_in_browser)
        page.goto(path)
        assert page.evaluate("() => typeof window.htmx") == "object"
        assert page.evaluate("() => window.htmx.version").startswith("2.")

    assert f"{live_server.url}/static/htmx.min.js" in requested
    foreign = [url for url in requested if not url.startswith(live_server.url + "/") and not url.startswith("data:")]
    assert foreign == []


def test_ops_dashboard_loads_the_system_status_through_htmx(page: Page, sign_in_browser: Callable[..., object]) -> None:
    sign_in_for("/ops", page.context, sign_in_browser)
    page.goto("/ops")
    status = page.get_by_test_id("system-status")
    expect(status).to_be_visible()
    expect(status.locator("li.status-ok")).to_have_count(2)
    expect(status).to_contain_text("数据库连接")


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(
    page: Page, sign_in_browser: Callable[..., object]
) -> None:
    sign_in_for("/teller", page.context, sign_in_browser)
    page.goto("/teller")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the skip link is on screen while it has focus"
    assert skip.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    assert skip.evaluate("el => getComputedStyle(el).outlineWidth") == "3px"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


@pytest.mark.parametrize(
    ("path", "nav", "current"),
    [
        ("/app", "客户端导航", "首页"),
        ("/teller", "柜面功能菜单", "工作台"),
        ("/ops", "运营功能菜单", "概览"),
    ],
)
def test_each_shell_has_its_own_navigation_marking_the_current_page(
    page: Page, sign_in_browser: Callable[..., object], path: str, nav: str, current: str
) -> None:
    sign_in_for(path, page.context, sign_in_browser)
    page.goto(path)
    navigation = page.get_by_role("navigation", name=nav)
    expect(navigation.locator('[aria-current="page"]')).to_have_count(1)
    expect(navigation.locator('[aria-current="page"]')).to_have_text(current)


def test_teller_menu_entries_have_alt_digit_shortcuts(page: Page, sign_in_browser: Callable[..., object]) -> None:
    sign_in_for("/teller", page.context, sign_in_browser)
    page.goto("/teller")
    expect(page.get_by_test_id("shortcut-hint")).to_contain_text("Alt")
    page.keyboard.press("Alt+4")
    page.wait_for_url("**/teller/cash")


@pytest.mark.parametrize("path", ["/", "/teller", "/ops", "/no-such-page"])
def test_other_pages_fit_a_phone_and_consoles_put_their_menu_above_the_work_area(
    new_context: Callable[..., BrowserContext], sign_in_browser: Callable[..., object], path: str
) -> None:
    context = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in_for(path, context, sign_in_browser)
    page = context.new_page()
    page.goto(path)
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"]
    if page.locator("nav.sidenav").count():
        menu = page.locator("nav.sidenav").bounding_box()
        main = page.locator("#main").bounding_box()
        assert menu is not None and main is not None
        assert menu["y"] + menu["height"] <= main["y"]
