"""The shell pages: every text from the catalogues, honest content, the ops status fragment."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from qianbao.i18n import catalogue
from qianbao.web import pages
from qianbao.web.render import TEMPLATES_PATH

HTML = {"accept": "text/html"}
# The consoles need a signed-in staff member of a role they admit (tests/conftest.py `staff_client`).
CONSOLE_ROLE = {"/teller": "teller", "/ops": "operator"}


def reader(path: str, client, staff_client):  # type: ignore[no-untyped-def]
    """The client to open `path` with: a signed-in staff member for a console, else the anonymous client."""
    return staff_client(CONSOLE_ROLE[path]) if path in CONSOLE_ROLE else client


def _keys_used_by_templates() -> set[str]:
    # A literal key, not the fixed prefix of one built with "~" (those are listed below or by their owners).
    literal = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]*[A-Za-z0-9_])["']\s*[,)]""")
    keys: set[str] = set()
    for path in TEMPLATES_PATH.rglob("*.html"):
        keys.update(literal.findall(path.read_text(encoding="utf-8")))
    # Keys the templates build from the page's own lists.
    keys.update(f"customer.action.{key}" for key, _, _ in pages.CUSTOMER_QUICK_ACTIONS)
    for tier in pages.DEFAULT_TIERS:
        keys.update({f"customer.tier.{tier.tier}", f"customer.tier.{tier.tier}.how"})
    for key, _, _ in pages.OPS_WORK_QUEUES:
        keys.update({f"ops.nav.{key}", f"ops.dashboard.{key}.empty", f"ops.dashboard.{key}.body"})
    keys.update({"ops.status.database", "ops.status.migrations"})
    return keys


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_text_the_templates_use_is_in_the_catalogue(lang: str) -> None:
    missing = sorted(_keys_used_by_templates() - catalogue(lang).keys())
    assert missing == []


@pytest.mark.parametrize(
    ("path", "lang", "heading"),
    [
        ("/", "zh-CN", "钱包平台"),
        ("/app", "zh-CN", "欢迎使用钱包"),
        ("/teller", "zh-CN", "今日工作台"),
        ("/ops", "zh-CN", "运营概览"),
        ("/", "en", "Qianbao platform"),
        ("/app", "en", "Welcome to Qianbao"),
        ("/teller", "en", "Today&#39;s desk"),
        ("/ops", "en", "Overview"),
    ],
)
def test_each_shell_page_renders_its_heading(  # type: ignore[no-untyped-def]
    client, staff_client, path: str, lang: str, heading: str
) -> None:
    client = reader(path, client, staff_client)
    client.cookies.set("lang", lang)
    response = client.get(path, headers=HTML)
    assert response.status_code == 200
    assert re.search(rf"<h1[^>]*>{re.escape(heading)}</h1>", response.text)


def test_customer_home_lists_the_four_tiers_with_their_limits(client) -> None:  # type: ignore[no-untyped-def]
    text = client.get("/app", headers=HTML).text
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", text, re.S)
    assert [re.search(r'tier-badge tier-(\d)', row).group(1) for row in rows] == ["4", "3", "2", "1"]  # type: ignore[union-attr]
    cells = [re.findall(r'<td class="num[^"]*"[^>]*>(.*?)</td>', row, re.S) for row in rows]
    plain = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells]
    assert plain == [
        ["1万", "2000", "5000", "5万"],
        ["2万", "5000", "1万", "不限"],
        ["50万", "5万", "10万", "不限"],
        ["不设额度限制"],
    ]


def test_limits_read_the_way_product_copy_writes_them() -> None:
    assert pages.yuan_compact(10_000_00, "zh-CN") == "1万"
    assert pages.yuan_compact(2_000_00, "zh-CN") == "2000"
    assert pages.yuan_compact(500_000_00, "en") == "500K"


def test_console_date_is_today_in_shanghai() -> None:
    # 2025-01-03 17:30 UTC is already Saturday the 4th in Shanghai.
    moment = datetime(2025, 1, 3, 17, 30, tzinfo=UTC)
    assert pages.today_text("zh-CN", moment) == "2025年1月4日星期六"
    assert pages.today_text("en", moment) == "Saturday, January 4, 2025"


@pytest.mark.parametrize("path", ["/teller", "/ops"])
def test_consoles_show_empty_states_not_placeholder_figures(client, staff_client, path: str) -> None:  # type: ignore[no-untyped-def]
    text = reader(path, client, staff_client).get(path, headers=HTML).text
    visible = re.sub(r"<[^>]+>", " ", text)
    assert "—" not in visible
    assert 'class="empty-state"' in text


def test_ops_dashboard_lists_each_work_queue_with_an_empty_state(staff_client) -> None:  # type: ignore[no-untyped-def]
    text = staff_client("operator").get("/ops", headers=HTML).text
    for message in ["暂无待审核的实名申请", "暂无待复核的交易", "暂无未处理的工单", "暂无对账结果"]:
        assert message in text


def test_ops_dashboard_keeps_the_sms_outbox_link(staff_client) -> None:  # type: ignore[no-untyped-def]
    assert '<a href="/ops/sms"' in staff_client("operator").get("/ops", headers=HTML).text


def test_system_status_fragment_reports_a_healthy_database(staff_client) -> None:  # type: ignore[no-untyped-def]
    text = staff_client("operator").get("/ops/system-status", headers={**HTML, "hx-request": "true"}).text
    assert "<html" not in text, "an htmx fragment, not a whole page"
    assert text.count('class="status-ok"') == 2
    assert "数据库连接" in text and "数据库结构版本" in text


def test_system_status_fragment_says_when_the_database_is_unreachable(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qianbao.app import create_app
    from qianbao.db import Database
    from qianbao.web.auth import requires

    # A directory where the database file should be: SQLite cannot open it.
    broken = Database(f"sqlite:///{tmp_path}")
    app = create_app(settings, broken)
    # Staff sessions live in the database too, so nobody can sign in to this app: let the reader through.
    app.dependency_overrides[requires("ops.read")] = lambda: None
    with TestClient(app, raise_server_exceptions=False) as client:
        text = client.get("/ops/system-status", headers=HTML).text
    broken.dispose()
    assert text.count('class="status-bad"') == 2
    assert "异常" in text


def test_teller_menu_entries_carry_their_shortcuts(staff_client) -> None:  # type: ignore[no-untyped-def]
    text = staff_client("teller").get("/teller", headers=HTML).text
    shortcuts = re.findall(r'href="(/teller[^"]*)" data-shortcut="(\d)" aria-keyshortcuts="Alt\+(\d)"', text)
    assert [(href, digit) for href, digit, same in shortcuts if digit == same] == [
        ("/teller", "1"), ("/teller/consult", "2"), ("/teller/open", "3"),
        ("/teller/cash", "4"), ("/teller/services", "5"), ("/teller/eod", "6"), ("/teller/upgrade", "7"),
    ]
