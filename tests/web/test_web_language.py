"""The language switch and how a page picks its language: ?lang= beats the cookie, which beats Accept-Language."""

from __future__ import annotations

import re

import pytest

HTML = {"accept": "text/html"}


def page_lang(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'<html lang="([^"]+)"', response.text)
    assert match, "a page names its language on <html>"
    assert response.headers["content-language"] == match.group(1)
    return match.group(1)


def test_switch_sends_the_browser_back_to_the_page_it_came_from(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/en", params={"next": "/teller"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/teller"


def test_switch_keeps_the_query_and_fragment_of_the_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/en", params={"next": "/ops/audit?page=2#row-7"}, follow_redirects=False)
    assert response.headers["location"] == "/ops/audit?page=2#row-7"


def test_switch_drops_a_lang_query_that_would_undo_it(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/zh-CN", params={"next": "/app?lang=en&tab=2"}, follow_redirects=False)
    assert response.headers["location"] == "/app?tab=2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/login",
        "//evil.example/login",
        "/\\evil.example/login",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\nSet-Cookie: x=1",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_switch_never_redirects_off_site(client, target: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_switch_remembers_the_choice_for_a_year_in_a_lax_cookie(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/en", params={"next": "/"}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=en;")
    assert "Max-Age=31536000" in cookie
    assert "Path=/" in cookie
    assert "samesite=lax" in cookie.lower()


def test_switch_to_an_unknown_language_falls_back_to_chinese(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/lang/fr", params={"next": "/"}, follow_redirects=False)
    assert response.headers["set-cookie"].startswith("lang=zh-CN;")


def test_pages_are_chinese_without_any_language_preference(client) -> None:  # type: ignore[no-untyped-def]
    assert page_lang(client.get("/app", headers=HTML)) == "zh-CN"


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en;q=0.4, zh-TW;q=0.8", "zh-CN"),
        ("fr-FR", "zh-CN"),
    ],
)
def test_accept_language_picks_the_best_language_we_offer(  # type: ignore[no-untyped-def]
    client, accept_language: str, expected: str
) -> None:
    assert page_lang(client.get("/app", headers={**HTML, "accept-language": accept_language})) == expected


def test_lang_cookie_beats_accept_language(staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("teller")
    english_browser = {**HTML, "accept-language": "en-US", "cookie": f"lang=zh-CN; {client.staff_cookie}"}
    chinese_browser = {**HTML, "accept-language": "zh-CN", "cookie": f"lang=en; {client.staff_cookie}"}
    assert page_lang(client.get("/teller", headers=english_browser)) == "zh-CN"
    assert page_lang(client.get("/teller", headers=chinese_browser)) == "en"


def test_lang_query_beats_the_cookie_and_accept_language(staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    headers = {**HTML, "accept-language": "zh-CN", "cookie": f"lang=zh-CN; {client.staff_cookie}"}
    assert page_lang(client.get("/ops", params={"lang": "en"}, headers=headers)) == "en"


def test_a_cookie_naming_a_language_we_do_not_offer_is_ignored(staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    headers = {**HTML, "accept-language": "en", "cookie": f"lang=fr; {client.staff_cookie}"}
    assert page_lang(client.get("/ops", headers=headers)) == "en"


@pytest.mark.parametrize("path", ["/", "/app", "/teller", "/ops", "/no-such-page"])
def test_every_page_offers_a_switch_to_the_other_language_that_returns_here(  # type: ignore[no-untyped-def]
    client, staff_client, path: str
) -> None:
    consoles = {"/teller": "teller", "/ops": "operator"}
    if path in consoles:
        client = staff_client(consoles[path])
    signed_in = f"; {client.staff_cookie}" if path in consoles else ""
    chinese = client.get(path, headers=HTML).text
    english = client.get(path, headers={**HTML, "cookie": f"lang=en{signed_in}"}).text
    quoted = path.replace("/", "%2F")
    assert f'href="/lang/en?next={quoted}"' in chinese
    assert f'href="/lang/zh-CN?next={quoted}"' in english


def test_switching_in_the_browser_flow_lands_on_the_same_page_in_english(staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("teller")
    response = client.get("/lang/en", params={"next": "/teller"}, headers=HTML)
    assert response.url.path == "/teller"
    assert page_lang(response) == "en"
    assert "Today&#39;s desk" in response.text or "Today's desk" in response.text
