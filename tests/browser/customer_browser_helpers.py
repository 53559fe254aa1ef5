"""Shared by the customer-app browser tests: cheap settings, SMS codes from the dev outbox, ID photos,
signed-in cookies, console watching and the README's phone screenshots."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import BrowserContext, ConsoleMessage, Page

from qianbao import credentials, wallets
from qianbao.adapters.sms import latest_messages
from qianbao.credentials import Principal
from qianbao.db import Database
from qianbao.notices.delivery import deliver_due
from qianbao.settings import Settings
from qianbao.web import auth

ROOT = Path(__file__).resolve().parents[2]
PHONE_VIEWPORT = {"width": 390, "height": 844}
PASSWORD = "Lotus-Pond-2026"
# Set QIANBAO_SCREENSHOTS=1 to write the customer-app screenshots into docs/screenshots/ while the tests run.
SCREENSHOTS = os.environ.get("QIANBAO_SCREENSHOTS") == "1"


def cheap(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def phone_context(new_context: Any, locale: str = "zh-CN", **options: Any) -> BrowserContext:
    return new_context(locale=locale, viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True,
                       has_touch=True, **options)


def sms_code(db: Database, settings: Settings, phone: str) -> str:
    """The newest code the dev SMS gateway sent to `phone`, after delivering the outbox."""
    deliver_due(db, settings)
    with db.read() as session:
        for message in latest_messages(session, phone=phone):
            found = re.search(r"\b(\d{6})\b", message.text)
            if found:
                return found.group(1)
    raise AssertionError(f"no code was texted to {phone}")


def id_photo(path: Path, side: str) -> Path:
    """A made-up JPEG of one side of an ID card (a card-shaped picture; the domain checks it is a real image)."""
    image = Image.new("RGB", (856, 540), (226, 232, 240) if side == "front" else (236, 226, 214))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((24, 24, 832, 516), radius=28, outline=(120, 130, 140), width=4)
    draw.rectangle((600, 120, 780, 340) if side == "front" else (60, 60, 200, 200), fill=(180, 160, 150))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    target = path / f"id-{side}.jpg"
    target.write_bytes(buffer.getvalue())
    return target


def open_wallet(db: Database, settings: Settings, phone: str, password: str = PASSWORD) -> int:
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, send=False, settings=settings)
    with db.transaction() as session:
        customer, _wallet = wallets.complete_registration(session, phone, issued.code, password, True,
                                                          settings=settings)
        return int(customer.id)


def signed_in_cookie(context: BrowserContext, db: Database, settings: Settings, customer_id: int, url: str,
                     *, user_agent: str | None = None) -> str:
    """Sign the customer in as the last sign-in step does and give the browser the cookie; returns the
    session's public id."""
    with db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(customer_id), user_agent=user_agent,
                                            ip="127.0.0.1", settings=settings)
        token, public_id = started.token, started.public_id
    context.add_cookies([{"name": auth.customer_cookie(settings).name, "value": token, "url": url}])
    return public_id


def watch_console(page: Page) -> list[str]:
    """Errors the page logs (a Content-Security-Policy violation would be one), except the browser's note on
    a refused form's 4xx status, which is the page working as meant."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded"):
            errors.append(message.text)

    page.on("console", record)
    return errors


def screenshot(page: Page, name: str) -> None:
    """Write docs/screenshots/<name> of the whole page at phone width, when asked to (SCREENSHOTS)."""
    if not SCREENSHOTS:
        return
    page.wait_for_load_state("networkidle")
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    # Grow the viewport to the page instead of stitching, so the fixed tab bar stays at the bottom edge.
    viewport = page.viewport_size or PHONE_VIEWPORT
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    page.screenshot(path=str(out / name))
    page.set_viewport_size(viewport)
