"""Helpers for the customer-app page tests: holders made through the domain, sessions, SMS codes, photos."""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from qianbao import credentials, wallets
from qianbao.adapters.sms import latest_messages
from qianbao.credentials import Principal
from qianbao.db import Database
from qianbao.notices.delivery import deliver_due
from qianbao.settings import Settings
from qianbao.web import auth

HTML = {"accept": "text/html"}
PASSWORD = "Lotus-Pond-2026"
PHONE = "13912345678"
# From the sandbox register (docs/identity.md): the verifier matches 刘洋 and this number.
PERSON = ("刘洋", "510107200001010099")


def cheap(settings: Settings) -> Settings:
    """The test settings with a cheap argon2, so a page test does not spend seconds hashing."""
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def open_wallet(db: Database, settings: Settings, phone: str = PHONE, password: str = PASSWORD) -> int:
    """A holder with a tier-4 wallet, registered through the domain's own steps; returns the customer id."""
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, send=False, settings=settings)
    with db.transaction() as session:
        customer, _wallet = wallets.complete_registration(session, phone, issued.code, password, True,
                                                          settings=settings)
        return int(customer.id)


def sign_in(client: TestClient, db: Database, settings: Settings, customer_id: int, *,
            device_id: str | None = None, user_agent: str | None = None, ip: str | None = None) -> str:
    """Put a fresh session of the customer in the client's cookie jar; returns its CSRF token."""
    with db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(customer_id), device_id=device_id,
                                            user_agent=user_agent, ip=ip, settings=settings)
        token, csrf = started.token, credentials.csrf_token(started.record)
    client.cookies.set(auth.customer_cookie(settings).name, token)
    return csrf


def session_of(db: Database, settings: Settings, customer_id: int, **options: Any) -> tuple[str, str]:
    """(token, public id) of another session of the customer (another device)."""
    with db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(customer_id), settings=settings, **options)
        return started.token, started.public_id


def device_csrf(client: TestClient, settings: Settings) -> str:
    """Open the sign-in page so the client gets a device cookie; returns the form's CSRF token."""
    client.get("/app/login", headers=HTML)
    device = client.cookies.get(auth.device_cookie(settings).name)
    assert device, "the sign-in page sets the device cookie"
    return credentials.csrf_token(device)


def device_id(client: TestClient, settings: Settings) -> str:
    value = client.cookies.get(auth.device_cookie(settings).name)
    assert value
    return value


def delivered_code(db: Database, settings: Settings, phone: str) -> str:
    """Deliver the outbox and read the newest 6-digit code texted to `phone` from the dev gateway."""
    deliver_due(db, settings)
    with db.read() as session:
        for message in latest_messages(session, phone=phone):
            found = re.search(r"\b(\d{6})\b", message.text)
            if found:
                return found.group(1)
    raise AssertionError(f"no code was texted to {phone}")


def texts_to(db: Database, settings: Settings, phone: str) -> list[str]:
    deliver_due(db, settings)
    with db.read() as session:
        return [message.text for message in latest_messages(session, phone=phone)]


def jpeg(width: int = 640, height: int = 400, colour: tuple[int, int, int] = (200, 210, 220)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def png(width: int = 640, height: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (180, 190, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (10, 20, 30)).save(buffer, format="GIF")
    return buffer.getvalue()


def form_error(text: str) -> str:
    """The text of the page's refusal (the element marked data-testid="form-error")."""
    match = re.search(r'data-testid="form-error"[^>]*>(.*?)</p>', text, re.S)
    assert match, "the page shows a refusal"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()
