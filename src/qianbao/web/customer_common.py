"""What the customer app's page modules share: forms before sign-in, sessions and cookies, the signed-in
wallet summary, sign-in tickets, new-device and security notices, and how devices and IPs are shown.

The customer app is split by flow (customer_pages: register, sign-in, reset, notices, me; customer_realname;
customer_security: sessions, password, TOTP, PIN; customer_passkeys: the WebAuthn JSON API). Each module
keeps its handlers thin: parse the form, call the domain inside one unit of work, render the page again
with the refusal's message next to the form, or redirect.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from qianbao import access, audit, credentials, ledger
from qianbao.credentials import Principal
from qianbao.credentials.base import format_shanghai, keyed_digest
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.notices import inbox
from qianbao.notices.outbox import enqueue_inbox, enqueue_sms
from qianbao.pii.masking import mask_name, mask_phone
from qianbao.settings import Settings
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets import format_wallet_number, wallet_limits
from qianbao.wallets.models import REAL_NAME_VERIFIED, Customer
from qianbao.web import auth
from qianbao.web.auth import CustomerContext
from qianbao.web.pages import safe_next

APP_HOME = "/app"
LOGIN = "/app/login"
# How long the steps after a right password (the new device's SMS code, the dynamic password) may take.
TICKET_SECONDS = 300


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def db_of(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return auth.settings_of(request)


def error_text(request: Request, exc: QianbaoError) -> str:
    return exc.message(lang_of(request))


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def app_next(target: str | None) -> str:
    """Where to go after signing in: a same-site page of the customer app, else the home page."""
    path = safe_next(target)
    return path if path == APP_HOME or path.startswith((APP_HOME + "/", APP_HOME + "?")) else APP_HOME


def customer_actor(customer_id: int | None = None) -> audit.Actor:
    return audit.Actor.customer(customer_id) if customer_id is not None else audit.Actor("customer")


# ---- forms before sign-in -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """The browser's device id, and whether the response must set the device cookie."""

    id: str
    is_new: bool


def anonymous_form(request: Request) -> Device:
    """Prepare a page with a form shown before sign-in: its CSRF token is bound to the device cookie."""
    device, is_new = auth.ensure_device_id(request)
    request.state.csrf_token = credentials.csrf_token(device)
    request.state.no_store = True
    return Device(device, is_new)


def with_device(request: Request, response: Response, device: Device) -> Response:
    if device.is_new:
        auth.set_device_cookie(request, response, device.id)
    return response


# ---- sessions ---------------------------------------------------------------------------------------

def signed_in(request: Request) -> CustomerContext | None:
    """The signed-in customer on a public page (no redirect when there is none). Slides the idle clock."""
    token = auth.customer_token(request)
    if not token:
        return None
    with db_of(request).transaction() as session:
        record = credentials.authenticate(session, token, ip=auth.client_ip(request), settings=settings_of(request))
    if record is None or record.principal_type != "customer":
        return None
    context = CustomerContext(customer_id=record.principal_id, session=record,
                              actor=access.Actor.customer(record.principal_id),
                              csrf_token=credentials.csrf_token(record))
    request.state.customer = context
    request.state.csrf_token = context.csrf_token
    request.state.no_store = True
    return context


def start_customer_session(session: Session, request: Request, customer_id: int,
                           device_id: str | None) -> credentials.StartedSession:
    """Sign in: a new session replacing whatever session cookie the browser had (rotation)."""
    return credentials.start_session(
        session, Principal.customer(customer_id), device_id=device_id, user_agent=auth.user_agent(request),
        ip=auth.client_ip(request), replaces_token=auth.customer_token(request), settings=settings_of(request),
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(**auth.customer_cookie(settings_of(request)).set_cookie_kwargs(token))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(**auth.customer_cookie(settings_of(request)).delete_cookie_kwargs())


# ---- sign-in tickets --------------------------------------------------------------------------------
# After a right password, the remaining steps (a new device's SMS code, the dynamic password) happen on
# later requests. A session row would be a signed-in session before the steps are done, so the state rides
# in the form instead: a ticket naming the customer, the step and its deadline, MACed under a key derived
# from the keyring and bound to this browser's device cookie. It proves the password only; each step still
# needs its own code, which counts its own tries.

@dataclass(frozen=True)
class Ticket:
    customer_id: int
    stage: str  # "device" (the SMS code) or "totp"
    new_device: bool
    expires: int


def _ticket_mac(customer_id: int, stage: str, new_device: bool, expires: int, device_id: str) -> str:
    return keyed_digest("customer-signin", str(customer_id), stage, "1" if new_device else "0", str(expires),
                        device_id)


def make_ticket(customer_id: int, stage: str, new_device: bool, device_id: str) -> str:
    expires = int(time.time()) + TICKET_SECONDS
    mac = _ticket_mac(customer_id, stage, new_device, expires, device_id)
    return f"{customer_id}.{stage}.{int(new_device)}.{expires}.{mac}"


def read_ticket(text: str, stage: str, device_id: str) -> Ticket:
    """The ticket if it is ours, for this step and this browser, and not expired; SIGNIN_TICKET_INVALID."""
    match = re.fullmatch(r"(\d{1,18})\.([a-z]{1,8})\.([01])\.(\d{1,12})\.([0-9a-f]{64})", text or "")
    if match is None:
        raise QianbaoError("SIGNIN_TICKET_INVALID")
    customer_id, got_stage, new_device, expires = int(match[1]), match[2], match[3] == "1", int(match[4])
    expected = _ticket_mac(customer_id, got_stage, new_device, expires, device_id)
    if not hmac.compare_digest(expected, match[5]) or got_stage != stage or expires < time.time():
        raise QianbaoError("SIGNIN_TICKET_INVALID")
    return Ticket(customer_id, got_stage, new_device, expires)


# ---- notices ----------------------------------------------------------------------------------------

def security_notice(session: Session, customer: Customer, event: str, params: dict[str, Any] | None = None,
                    *, sms: bool = True) -> None:
    """A security event told to the customer in the app and (by default) by SMS, through the outbox:
    keys notice.security.<event>.title/.body and sms.security.<event>."""
    params = params or {}
    enqueue_inbox(session, customer.id, f"notice.security.{event}.title", f"notice.security.{event}.body", params)
    if sms:
        enqueue_sms(session, customer.phone, key=f"sms.security.{event}", params=params, lang=customer.lang)


def new_device_notice(session: Session, request: Request, customer: Customer) -> None:
    security_notice(session, customer, "new_device", {
        "time": format_shanghai(datetime.now(UTC)),
        "device": describe_device(auth.user_agent(request), customer.lang),
        "ip": mask_ip(auth.client_ip(request)),
    })


# ---- how devices and addresses are shown ------------------------------------------------------------

_BROWSERS = (
    ("MicroMessenger", "WeChat"), ("AlipayClient", "Alipay"), ("Edg/", "Edge"), ("OPR/", "Opera"),
    ("HeadlessChrome", "Chrome"), ("Chrome/", "Chrome"), ("CriOS", "Chrome"), ("Firefox/", "Firefox"),
    ("FxiOS", "Firefox"), ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("HarmonyOS", "HarmonyOS"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
    ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
)


def describe_device(user_agent: str | None, lang: str) -> str:
    """"Chrome · Android" from a User-Agent header; the catalogue's "unknown device" otherwise."""
    text = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in text), None)
    system = next((name for marker, name in _SYSTEMS if marker in text), None)
    parts = [part for part in (browser, system) if part]
    return " · ".join(parts) if parts else translate("customer.security.unknown_device", lang)


def mask_ip(ip: str | None) -> str:
    """Enough of an address to recognise a network, not a household: 203.0.113.* / 2001:db8:85a3:*."""
    if not ip:
        return "—"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "—"
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".*"
    return ":".join(address.exploded.split(":")[:3]) + ":*"


# ---- the signed-in wallet ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WalletSummary:
    """What the home page shows of the signed-in holder: masked, formatted, money in fen."""

    customer_id: int
    display_name: str  # masked legal name once verified, else the masked phone number
    masked_phone: str
    real_name_status: str
    wallet_number: str | None  # grouped in fours
    tier: int | None
    status: str | None
    available: int | None
    balance_cap: int | None
    single_payment_limit: int | None
    daily_outflow_limit: int | None
    annual_outflow_limit: int | None
    outflow_restricted: bool
    has_pin: bool
    unread: int


def wallet_summary(session: Session, customer_id: int) -> WalletSummary:
    customer = wallet_customers.get_customer(session, customer_id)
    wallet = wallet_customers.wallet_of_customer(session, customer_id)
    limits = wallet_limits(session, wallet) if wallet is not None else None
    available = ledger.balance(session, wallet.ledger_account_id).available if wallet is not None else None
    verified = customer.real_name_status == REAL_NAME_VERIFIED
    return WalletSummary(
        customer_id=customer.id,
        display_name=mask_name(customer.legal_name) if verified and customer.legal_name else mask_phone(customer.phone),
        masked_phone=mask_phone(customer.phone),
        real_name_status=customer.real_name_status,
        wallet_number=format_wallet_number(wallet.number) if wallet is not None else None,
        tier=wallet.tier if wallet is not None else None,
        status=wallet.status if wallet is not None else None,
        available=available,
        balance_cap=limits.balance_cap if limits else None,
        single_payment_limit=limits.single_payment_limit if limits else None,
        daily_outflow_limit=limits.daily_outflow_limit if limits else None,
        annual_outflow_limit=limits.annual_outflow_limit if limits else None,
        outflow_restricted=bool(limits and limits.outflow_restricted),
        has_pin=credentials.has_pin(session, Principal.customer(customer.id)),
        unread=inbox.unread_count(session, customer.id),
    )


def summary_or_none(request: Request, customer_id: int) -> WalletSummary | None:
    """The summary, or None for a session whose holder does not exist (never a crash on a page)."""
    try:
        with db_of(request).read() as session:
            return wallet_summary(session, customer_id)
    except QianbaoError:
        return None


def home_context(request: Request) -> dict[str, Any]:
    """Extra context for the public home page (/app): the signed-in holder's wallet, if any."""
    context = signed_in(request)
    if context is None:
        return {"wallet": None}
    return {"wallet": summary_or_none(request, context.customer_id),
            "welcome": request.query_params.get("welcome") == "1"}
