"""The customer's security page (SPEC §4) and the payment PIN page.

/app/security   sessions (device, partly masked IP, last seen in Shanghai time, "this device"), revoke one or
                all others; change the login password (other sessions are signed out); the dynamic password
                (TOTP): enrol with a QR code served as an image from /app/security/totp/qr.svg, confirm with
                the first code, turn off with a current code; passkeys: add (passkeys.js and the JSON API in
                customer_passkeys), list, remove.
/app/pin        set the 6-digit payment PIN (typed twice: PIN_MISMATCH) or change it with the current one.

Every change is audited and the ones that matter to an account's owner (password, dynamic password,
passkeys, PIN) are told to them in the app; a password change also by SMS.
"""

from __future__ import annotations

import secrets
from typing import Any

import pyotp
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from qianbao import audit, credentials, wallets
from qianbao.credentials import Principal, passkeys, totp
from qianbao.credentials.models import TotpSecret
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.pii.masking import mask_phone
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import Customer
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import (
    LOGIN,
    clear_session_cookie,
    customer_actor,
    db_of,
    describe_device,
    error_text,
    lang_of,
    mask_ip,
    security_notice,
    see_other,
    settings_of,
)
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

SECURITY_PATH = "/app/security"
PIN_PATH = "/app/pin"
SECURITY_DONE = frozenset({
    "revoked", "revoked_others", "password", "totp_on", "totp_off", "passkey_added", "passkey_removed",
})
PIN_DONE = frozenset({"set", "changed"})


def _principal(customer: CustomerContext) -> Principal:
    return Principal.customer(customer.customer_id)


def _record(session: Any, customer: CustomerContext, action: str, **details: Any) -> None:
    audit.record(session, action=action, actor=customer_actor(customer.customer_id), channel="app",
                 object_type="customer", object_id=customer.customer_id, details=details or None)


def _holder(session: Any, customer: CustomerContext) -> Customer:
    return wallet_customers.get_customer(session, customer.customer_id)


# ---- the page ---------------------------------------------------------------------------------------

def _pending_totp(session: Any, principal: Principal) -> TotpSecret | None:
    row = session.scalar(select(TotpSecret).where(TotpSecret.principal_type == principal.type,
                                                  TotpSecret.principal_id == principal.id))
    return row if row is not None and row.confirmed_at is None else None


def _security_page(request: Request, customer: CustomerContext, *, error: str | None = None,
                   error_section: str = "", notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    principal = _principal(customer)
    with db_of(request).read() as session:
        sessions = credentials.list_sessions(session, principal, settings=settings_of(request))
        rows = [{
            "id": record.public_id,
            "device": describe_device(record.user_agent, lang),
            "ip": mask_ip(record.ip),
            "last_seen": record.last_seen_at,
            "created": record.created_at,
            "current": record.public_id == customer.session.public_id,
        } for record in sessions]
        rows.sort(key=lambda row: not row["current"])
        keys = [{"id": key.public_id, "name": key.name, "created": key.created_at, "last_used": key.last_used_at}
                for key in passkeys.list_passkeys(session, principal)]
        has_totp = credentials.has_totp(session, principal)
        totp_pending = _pending_totp(session, principal) is not None
    return render(request, "customer/security.html", status_code=status_code, section="me", sessions=rows,
                  passkeys=keys, has_totp=has_totp, totp_pending=totp_pending, error=error,
                  error_section=error_section, notice=notice, max_passkeys=passkeys.MAX_PASSKEYS)


@router.get(SECURITY_PATH, response_class=HTMLResponse)
def security_page(
    request: Request, done: str = Query("", max_length=32), customer: CustomerContext = Depends(current_customer)
) -> HTMLResponse:
    notice = translate(f"customer.security.done.{done}", lang_of(request)) if done in SECURITY_DONE else None
    return _security_page(request, customer, notice=notice)


# ---- sessions ---------------------------------------------------------------------------------------

@router.post(SECURITY_PATH + "/sessions/{session_id}/revoke")
def revoke_session(request: Request, session_id: str,
                   customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        credentials.revoke_session(session, _principal(customer), session_id[:64])
        _record(session, customer, "customer.session.revoke", current=session_id == customer.session.public_id)
    if session_id == customer.session.public_id:
        response = see_other(f"{LOGIN}?done=signed_out")
        clear_session_cookie(request, response)
        return response
    return see_other(f"{SECURITY_PATH}?done=revoked")


@router.post(SECURITY_PATH + "/sessions/revoke-others")
def revoke_others(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        count = credentials.revoke_all(session, _principal(customer), except_public_id=customer.session.public_id)
        _record(session, customer, "customer.session.revoke_others", count=count)
    return see_other(f"{SECURITY_PATH}?done=revoked_others")


# ---- password ---------------------------------------------------------------------------------------

@router.post(SECURITY_PATH + "/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    current_password: str = Form("", max_length=256),
    new_password: str = Form("", max_length=256),
    confirm_password: str = Form("", max_length=256),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    try:
        with wallets.audited(db_of(request), action="customer.password.change",
                             actor=customer_actor(customer.customer_id), object_type="customer",
                             object_id=customer.customer_id) as session:
            if new_password != confirm_password:
                raise QianbaoError("PASSWORD_MISMATCH")
            holder = _holder(session, customer)
            credentials.change_password(
                session, _principal(customer), current_password, new_password, phone=holder.phone,
                birth_date=holder.birth_date, keep_session_id=customer.session.public_id,
                settings=settings_of(request),
            )
            security_notice(session, holder, "password_changed")
            _record(session, customer, "customer.password.change")
    except QianbaoError as exc:
        if exc.code == "LOGIN_LOCKED":
            # Five wrong current passwords lock sign-in: this session ends as the lock's other victims do.
            with db_of(request).transaction() as session:
                credentials.end_session(session, auth.customer_token(request))
            response = see_other(f"{LOGIN}?done=signed_out")
            clear_session_cookie(request, response)
            return response
        return _security_page(request, customer, error=error_text(request, exc), error_section="password",
                              status_code=exc.status)
    return see_other(f"{SECURITY_PATH}?done=password")


# ---- dynamic password (TOTP) ------------------------------------------------------------------------

def _totp_page(request: Request, customer: CustomerContext, *, secret: str, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render(request, "customer/security_totp.html", status_code=status_code, section="me", secret=grouped,
                  error=error, qr_version=secrets.token_urlsafe(6))


def _account_name(holder: Customer) -> str:
    return mask_phone(holder.phone)


@router.post(SECURITY_PATH + "/totp/begin", response_class=HTMLResponse)
def totp_begin(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        with db_of(request).transaction() as session:
            holder = _holder(session, customer)
            enrolment = credentials.begin_totp_enrolment(session, _principal(customer),
                                                         account_name=_account_name(holder))
    except QianbaoError as exc:
        return _security_page(request, customer, error=error_text(request, exc), error_section="totp",
                              status_code=exc.status)
    return _totp_page(request, customer, secret=enrolment.secret)


@router.get(SECURITY_PATH + "/totp", response_class=HTMLResponse)
def totp_enrolment(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).read() as session:
        pending = _pending_totp(session, _principal(customer))
        secret = pending.secret if pending is not None else None
    if secret is None:
        return see_other(SECURITY_PATH)
    return _totp_page(request, customer, secret=secret)


@router.get(SECURITY_PATH + "/totp/qr.svg")
def totp_qr(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    """The pending enrolment's provisioning URI as an SVG image (an <img> on the enrolment page)."""
    with db_of(request).read() as session:
        pending = _pending_totp(session, _principal(customer))
        if pending is None:
            raise QianbaoError("TOTP_NOT_ENROLLED")
        holder = _holder(session, customer)
        uri = pyotp.TOTP(pending.secret, digits=totp.DIGITS, interval=totp.STEP_SECONDS).provisioning_uri(
            name=_account_name(holder), issuer_name=totp.ISSUER)
    svg = credentials.qr_svg(uri, scale=5)
    if "xmlns=" not in svg[:200]:
        svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post(SECURITY_PATH + "/totp/confirm", response_class=HTMLResponse)
def totp_confirm(request: Request, code: str = Form("", max_length=16),
                 customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        with credentials.transaction(db_of(request)) as session:
            credentials.confirm_totp_enrolment(session, _principal(customer), code)
            security_notice(session, _holder(session, customer), "totp_on", sms=False)
            _record(session, customer, "customer.totp.enrol")
    except QianbaoError as exc:
        with db_of(request).read() as session:
            pending = _pending_totp(session, _principal(customer))
            secret = pending.secret if pending is not None else None
        if secret is None:
            return _security_page(request, customer, error=error_text(request, exc), error_section="totp",
                                  status_code=exc.status)
        return _totp_page(request, customer, secret=secret, error=error_text(request, exc), status_code=exc.status)
    return see_other(f"{SECURITY_PATH}?done=totp_on")


@router.post(SECURITY_PATH + "/totp/disable", response_class=HTMLResponse)
def totp_disable(request: Request, code: str = Form("", max_length=16),
                 customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        with credentials.transaction(db_of(request)) as session:
            credentials.disable_totp(session, _principal(customer), code)
            security_notice(session, _holder(session, customer), "totp_off")
            _record(session, customer, "customer.totp.disable")
    except QianbaoError as exc:
        return _security_page(request, customer, error=error_text(request, exc), error_section="totp",
                              status_code=exc.status)
    return see_other(f"{SECURITY_PATH}?done=totp_off")


# ---- passkeys (adding one happens in passkeys.js through the JSON API) -------------------------------

@router.post(SECURITY_PATH + "/passkeys/{passkey_id}/remove")
def passkey_remove(request: Request, passkey_id: str,
                   customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        removed = passkeys.remove_passkey(session, _principal(customer), passkey_id[:64])
        security_notice(session, _holder(session, customer), "passkey_removed", {"name": removed.name})
        _record(session, customer, "customer.passkey.remove")
    return see_other(f"{SECURITY_PATH}?done=passkey_removed")


# ---- payment PIN ------------------------------------------------------------------------------------

def _pin_page(request: Request, customer: CustomerContext, *, error: str | None = None, error_field: str = "",
              notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    principal = _principal(customer)
    with db_of(request).read() as session:
        has_pin = credentials.has_pin(session, principal)
        locked_until = credentials.pin_locked_until(session, principal)
    return render(request, "customer/pin.html", status_code=status_code, section="me", has_pin=has_pin,
                  locked_until=locked_until, error=error, error_field=error_field, notice=notice)


def _pin_field(code: str) -> str:
    if code == "PIN_MISMATCH":
        return "pin_confirm"
    if code in {"PIN_WRONG", "PIN_LOCKED"}:
        return "old_pin"
    return "pin"


@router.get(PIN_PATH, response_class=HTMLResponse)
def pin_page(request: Request, done: str = Query("", max_length=16),
             customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    notice = translate(f"customer.pin.done.{done}", lang_of(request)) if done in PIN_DONE else None
    return _pin_page(request, customer, notice=notice)


@router.post(PIN_PATH, response_class=HTMLResponse)
def pin_set(
    request: Request,
    pin: str = Form("", max_length=16),
    pin_confirm: str = Form("", max_length=16),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    try:
        with wallets.audited(db_of(request), action="credential.pin.set", actor=customer_actor(customer.customer_id),
                             object_type="customer", object_id=customer.customer_id) as session:
            if pin != pin_confirm:
                raise QianbaoError("PIN_MISMATCH")
            wallets.set_payment_pin(session, customer.customer_id, pin, settings=settings_of(request))
    except QianbaoError as exc:
        return _pin_page(request, customer, error=error_text(request, exc), error_field=_pin_field(exc.code),
                         status_code=exc.status)
    return see_other(f"{PIN_PATH}?done=set")


@router.post(PIN_PATH + "/change", response_class=HTMLResponse)
def pin_change(
    request: Request,
    old_pin: str = Form("", max_length=16),
    pin: str = Form("", max_length=16),
    pin_confirm: str = Form("", max_length=16),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    try:
        with wallets.audited(db_of(request), action="credential.pin.change",
                             actor=customer_actor(customer.customer_id), object_type="customer",
                             object_id=customer.customer_id) as session:
            if pin != pin_confirm:
                raise QianbaoError("PIN_MISMATCH")
            holder = _holder(session, customer)
            credentials.change_pin(session, _principal(customer), old_pin, pin, birth_date=holder.birth_date,
                                   id_number=holder.id_number, settings=settings_of(request))
            security_notice(session, holder, "pin_changed")
            _record(session, customer, "credential.pin.change")
    except QianbaoError as exc:
        return _pin_page(request, customer, error=error_text(request, exc), error_field=_pin_field(exc.code),
                         status_code=exc.status)
    return see_other(f"{PIN_PATH}?done=changed")
