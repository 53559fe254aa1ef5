"""Passkeys in Chromium with the DevTools virtual authenticator (a platform authenticator with user
verification): add one on the security page, sign out, sign in with it; and another session is revoked from
the security page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from customer_browser_helpers import cheap, open_wallet, phone_context, screenshot, signed_in_cookie, watch_console
from playwright.sync_api import BrowserContext, Page, expect

from qianbao import credentials
from qianbao.credentials import Principal, passkeys

pytestmark = pytest.mark.browser

PHONE = "13912345678"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return cheap(settings)


def virtual_authenticator(context: BrowserContext, page: Page) -> None:
    """A passkey-capable platform authenticator that verifies its user, attached to this page."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})


def test_a_passkey_added_on_the_security_page_signs_the_customer_in_after_sign_out(  # type: ignore[no-untyped-def]
    new_context: Callable[..., BrowserContext], live_server, db, settings
) -> None:
    customer_id = open_wallet(db, settings, PHONE)
    # WebAuthn needs a domain as the relying party id (an IP address is refused): use localhost.
    origin = f"http://localhost:{live_server.port}"
    context = phone_context(new_context)
    page = context.new_page()
    errors = watch_console(page)
    signed_in_cookie(context, db, settings, customer_id, origin, user_agent=page.evaluate("navigator.userAgent"))
    virtual_authenticator(context, page)

    page.goto(f"{origin}/app/security")
    page.get_by_test_id("passkey-add").click()
    page.wait_for_url("**/app/security?done=passkey_added")
    expect(page.get_by_test_id("notice")).to_contain_text("通行密钥已添加")
    expect(page.get_by_test_id("passkey")).to_have_count(1)
    expect(page.get_by_test_id("passkey")).to_contain_text("Chrome")
    screenshot(page, "customer-security.png")
    with db.read() as session:
        [stored] = passkeys.list_passkeys(session, Principal.customer(customer_id))
    assert stored.sign_count >= 0 and stored.credential_id

    page.goto(f"{origin}/app/me")
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/app/login?done=signed_out")
    expect(page.get_by_test_id("passkey-login")).to_be_visible()
    page.get_by_test_id("passkey-login").click()
    page.wait_for_url(f"{origin}/app")
    expect(page.get_by_test_id("wallet-card")).to_be_visible()
    expect(page.get_by_test_id("wallet-holder")).to_have_text("139****5678")
    with db.read() as session:
        [used] = passkeys.list_passkeys(session, Principal.customer(customer_id))
    assert used.last_used_at is not None
    assert errors == []


def test_another_device_is_signed_out_from_the_security_page(  # type: ignore[no-untyped-def]
    new_context: Callable[..., BrowserContext], live_server, db, settings
) -> None:
    customer_id = open_wallet(db, settings, PHONE)
    mine = phone_context(new_context)
    signed_in_cookie(mine, db, settings, customer_id, live_server.url)
    other = new_context(locale="zh-CN")
    other_public_id = signed_in_cookie(other, db, settings, customer_id, live_server.url,
                                       user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0")
    other_page = other.new_page()
    other_page.goto("/app/security")
    expect(other_page.get_by_role("heading", level=1)).to_have_text("账户安全")

    page = mine.new_page()
    errors = watch_console(page)
    page.goto("/app/security")
    expect(page.get_by_test_id("session")).to_have_count(2)
    foreign = page.get_by_test_id("session").filter(has_text="Firefox · Windows")
    expect(foreign).to_contain_text("127.0.0.*")
    expect(page.locator('[data-testid="session"][data-current="1"]')).to_contain_text("本机")
    foreign.get_by_test_id("revoke").click()
    expect(page.get_by_test_id("notice")).to_have_text("该设备已退出登录。")
    expect(page.get_by_test_id("session")).to_have_count(1)

    other_page.goto("/app/security")
    other_page.wait_for_url("**/app/login?next=%2Fapp%2Fsecurity")
    with db.read() as session:
        alive = [s.public_id for s in credentials.list_sessions(session, Principal.customer(customer_id),
                                                                   settings=settings)]
    assert other_public_id not in alive
    assert errors == []
