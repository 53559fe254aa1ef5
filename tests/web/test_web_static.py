"""htmx is vendored in the package and every page asset comes from our own origin."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from qianbao.web.render import STATIC_PATH, TEMPLATES_PATH

VENDORED = (STATIC_PATH / "VENDORED.md").read_text(encoding="utf-8")


def test_vendored_htmx_is_the_recorded_version_byte_for_byte() -> None:
    htmx = (STATIC_PATH / "htmx.min.js").read_bytes()
    recorded_hash = re.search(r"sha256 of `htmx.min.js`: `([0-9a-f]{64})`", VENDORED)
    recorded_version = re.search(r"\| `htmx.org` \(npm\) \| (2\.[0-9.]+) \|", VENDORED)
    assert recorded_hash and recorded_version
    assert hashlib.sha256(htmx).hexdigest() == recorded_hash.group(1)
    assert f'version:"{recorded_version.group(1)}"'.encode() in htmx


def test_static_files_are_served_from_our_own_origin(client) -> None:  # type: ignore[no-untyped-def]
    for name, media_type in [
        ("htmx.min.js", "javascript"), ("qianbao.js", "javascript"), ("qianbao.css", "text/css")
    ]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert media_type in response.headers["content-type"]


def _templates() -> list[Path]:
    return sorted(TEMPLATES_PATH.rglob("*.html"))


def test_no_template_loads_anything_from_another_host() -> None:
    external = re.compile(r"""(?:src|href|action|hx-get|hx-post)\s*=\s*["']\s*(?:https?:)?//""", re.IGNORECASE)
    offenders = [str(path) for path in _templates() if external.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_page_loads_htmx_and_the_stylesheet_from_static() -> None:
    base = (TEMPLATES_PATH / "base.html").read_text(encoding="utf-8")
    assert '<script src="/static/htmx.min.js" defer></script>' in base
    assert '<link rel="stylesheet" href="/static/qianbao.css">' in base


def test_stylesheet_pulls_in_no_external_fonts_or_files() -> None:
    css = (STATIC_PATH / "qianbao.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert "@font-face" not in css
    assert re.search(r"url\(", css) is None
