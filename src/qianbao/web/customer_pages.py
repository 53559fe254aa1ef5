"""The customer app (SPEC §3.1, §4): registration, terms, sign-in (password, new device's SMS code, dynamic
password, passkey), sign-out, forgotten password, the in-app inbox and the "me" page.

The router here also carries the other customer modules' routes (real-name, security and PIN, the passkey
API), so the application includes one router for the whole customer app.

Registration  /app/register → POST /app/register/code (texts a REGISTER code; resend with the same form
              after 60 s) → POST /app/register (code, password twice, terms) → tier-4 wallet, signed in,
              /app?welcome=1. The steps carry the phone number in the form; the SMS code binds it.
Sign-in       POST /app/login (phone + password) → on a device this customer never signed in from, an SMS
              code (LOGIN_NEW_DEVICE) on /app/login/device → with TOTP enrolled, the dynamic password on
              /app/login/totp → signed in. A sign-in on a new device sends the new-device notice (in-app
              + SMS). Between the steps a MACed ticket in the form proves the password (customer_common).
Reset         /app/password/reset → POST …/code (PASSWORD_RESET code) → POST /app/password/reset → every
              session signed out, back to sign-in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import credentials, wallets
from qianbao.credentials import Principal, otp
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.identity import parse_mobile
from qianbao.notices import inbox
from qianbao.pii.masking import mask_phone
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import Customer
from qianbao.web import auth, customer_passkeys, customer_realname, customer_security
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import (
    APP_HOME,
    LOGIN,
    Device,
    anonymous_form,
    app_next,
    clear_session_cookie,
    customer_actor,
    db_of,
    error_text,
    lang_of,
    make_ticket,
    new_device_notice,
    read_ticket,
    security_notice,
    see_other,
    set_session_cookie,
    settings_of,
    signed_in,
    start_customer_session,
    summary_or_none,
    with_device,
)
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)


def _phone_display(phone: str) -> str:
    """The number the code went to, masked, whatever spelling the person typed."""
    try:
        return mask_phone(parse_mobile(phone))
    except QianbaoError:
        return mask_phone(phone)


def _resend_wait(request: Request, purpose: str, phone: str) -> int:
    try:
        with db_of(request).read() as session:
            return credentials.resend_wait_seconds(session, purpose, phone)
    except QianbaoError:
        return 0


# ---- registration -------------------------------------------------------------------------------------

def _register_phone_page(request: Request, *, phone: str = "", error: str | None = None, error_code: str = "",
                         status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(request, "customer/register.html", status_code=status_code, section="me", phone=phone,
                      error=error, error_code=error_code)
    return with_device(request, response, device)


def _register_code_page(request: Request, *, phone: str, code: str = "", sent: bool = False,
                        error: str | None = None, error_field: str = "", terms: bool = False,
                        status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(
        request, "customer/register_code.html", status_code=status_code, section="me", phone=phone,
        masked_phone=_phone_display(phone), code=code, sent=sent, error=error, error_field=error_field,
        terms=terms, resend_wait=_resend_wait(request, otp.REGISTER, phone),
    )
    return with_device(request, response, device)


@router.get("/app/register", response_class=HTMLResponse)
def register_form(request: Request) -> Response:
    if signed_in(request) is not None:
        return see_other(APP_HOME)
    return _register_phone_page(request)


@router.post("/app/register/code", response_class=HTMLResponse)
def register_send_code(
    request: Request,
    phone: str = Form("", max_length=32),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        with wallets.audited(db_of(request), action="wallet.register.code", actor=customer_actor(),
                             details={"phone": mask_phone(phone)}) as session:
            wallets.start_registration(session, phone, ip=auth.client_ip(request), lang=lang_of(request),
                                       settings=settings_of(request))
    except QianbaoError as exc:
        if exc.code in {"OTP_RESEND_TOO_SOON", "RATE_LIMITED"} and _valid_phone(phone):
            # A code is on its way already (or the number asked too often): the code step says so.
            return _register_code_page(request, phone=phone, error=error_text(request, exc), error_field="resend",
                                       status_code=exc.status)
        return _register_phone_page(request, phone=phone, error=error_text(request, exc), error_code=exc.code,
                                    status_code=exc.status)
    return _register_code_page(request, phone=phone, sent=True)


def _valid_phone(phone: str) -> bool:
    try:
        parse_mobile(phone)
    except QianbaoError:
        return False
    return True


# Which form field a registration refusal belongs next to.
_REGISTER_FIELDS = {"TERMS_NOT_ACCEPTED": "terms", "PASSWORD_MISMATCH": "password_confirm"}


def _register_field(code: str) -> str:
    if code in _REGISTER_FIELDS:
        return _REGISTER_FIELDS[code]
    if code.startswith("PASSWORD_"):
        return "password"
    if code.startswith("OTP_"):
        return "code"
    return ""


@router.post("/app/register", response_class=HTMLResponse)
def register_submit(
    request: Request,
    phone: str = Form("", max_length=32),
    code: str = Form("", max_length=16),
    password: str = Form("", max_length=256),
    password_confirm: str = Form("", max_length=256),
    terms: str = Form("", max_length=8),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    accepted = terms == "yes"
    try:
        with wallets.audited(db_of(request), action="wallet.register", actor=customer_actor(),
                             details={"phone": mask_phone(phone)}) as session:
            if password != password_confirm:
                raise QianbaoError("PASSWORD_MISMATCH")
            customer, _wallet = wallets.complete_registration(session, phone, code, password, accepted,
                                                              lang=lang_of(request), settings=settings_of(request))
            started = start_customer_session(session, request, customer.id, _device)
    except QianbaoError as exc:
        if exc.code in {"PHONE_INVALID", "PHONE_ALREADY_REGISTERED"}:
            return _register_phone_page(request, phone=phone, error=error_text(request, exc), error_code=exc.code,
                                        status_code=exc.status)
        # The code is kept unless it is what failed: a weak password does not spend it.
        keep_code = "" if exc.code.startswith("OTP_") else code
        return _register_code_page(request, phone=phone, code=keep_code, error=error_text(request, exc),
                                   error_field=_register_field(exc.code), terms=accepted, status_code=exc.status)
    response = see_other(f"{APP_HOME}?welcome=1")
    set_session_cookie(request, response, started.token)
    return response


@router.get("/app/terms", response_class=HTMLResponse)
def terms_page(request: Request) -> HTMLResponse:
    return render(request, "customer/terms.html", section="me", version=wallets.TERMS_VERSION)


# ---- sign-in ----------------------------------------------------------------------------------------

_LOGIN_NOTICES = frozenset({"signed_out", "reset", "revoked"})


def _login_page(request: Request, *, next_path: str = "", phone: str = "", error: str | None = None,
                notice: str | None = None, status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(request, "customer/login.html", status_code=status_code, section="me", next=next_path,
                      phone=phone, error=error, notice=notice)
    return with_device(request, response, device)


@router.get("/app/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    next: str = Query("", max_length=500),
    expired: bool = Query(False),
    done: str = Query("", max_length=16),
) -> Response:
    if signed_in(request) is not None:
        return see_other(app_next(next))
    notice = None
    if expired:
        notice = translate("error.SESSION_EXPIRED", lang_of(request))
    elif done in _LOGIN_NOTICES:
        notice = translate(f"customer.login.done.{done}", lang_of(request))
    return _login_page(request, next_path=next, notice=notice)


def _signed_in_response(request: Request, token: str, next_path: str) -> Response:
    response = see_other(app_next(next_path))
    set_session_cookie(request, response, token)
    return response


def _step_page(request: Request, template: str, *, ticket: str, next_path: str, masked_phone: str = "",
               error: str | None = None, sent: bool = False, status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(request, template, status_code=status_code, section="me", ticket=ticket, next=next_path,
                      masked_phone=masked_phone, error=error, sent=sent,
                      resend_wait=60 if sent else 0)
    return with_device(request, response, device)


def _after_password(request: Request, customer: Customer, device: str, next_path: str) -> Response:
    """The steps after a right password: SMS code on a new device, then TOTP when enrolled, then a session."""
    principal = Principal.customer(customer.id)
    settings = settings_of(request)
    with db_of(request).read() as session:
        new_device = credentials.is_new_device(session, principal, device)
        has_totp = credentials.has_totp(session, principal)
    if new_device:
        error = None
        try:
            with db_of(request).transaction() as session:
                credentials.issue_otp(session, otp.LOGIN_NEW_DEVICE, customer.phone, ip=auth.client_ip(request),
                                      lang=customer.lang, settings=settings)
        except QianbaoError as exc:
            if exc.code != "OTP_RESEND_TOO_SOON":
                raise
            # Signed in again within the minute: the code sent a moment ago is still good.
            error = error_text(request, exc)
        ticket = make_ticket(customer.id, "device", True, device)
        return _device_code_page(request, ticket, next_path, customer, sent=error is None, error=error)
    if has_totp:
        ticket = make_ticket(customer.id, "totp", False, device)
        return _step_page(request, "customer/login_totp.html", ticket=ticket, next_path=next_path)
    with db_of(request).transaction() as session:
        started = start_customer_session(session, request, customer.id, device)
        _record_sign_in(session, customer.id, "password")
    return _signed_in_response(request, started.token, next_path)


def _record_sign_in(session: Any, customer_id: int, method: str) -> None:
    from qianbao import audit

    audit.record(session, action="customer.login", actor=customer_actor(customer_id), channel="app",
                 object_type="customer", object_id=customer_id, details={"method": method})


@router.post("/app/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    phone: str = Form("", max_length=32),
    password: str = Form("", max_length=256),
    next: str = Form("", max_length=500),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        e164 = parse_mobile(phone)
        with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(),
                             details={"phone": mask_phone(e164), "step": "password"}) as session:
            customer = wallet_customers.customer_by_phone(session, e164)
            principal = Principal.customer(customer.id) if customer is not None else None
            credentials.verify_login(session, principal, password, ip=auth.client_ip(request),
                                     settings=settings_of(request))
            assert customer is not None
            session.expunge(customer)
        return _after_password(request, customer, _device, next)
    except QianbaoError as exc:
        return _login_page(request, next_path=next, phone=phone, error=error_text(request, exc),
                           status_code=exc.status)


def _ticket_customer(request: Request, ticket_text: str, stage: str, device: str) -> tuple[Any, Customer]:
    ticket = read_ticket(ticket_text, stage, device)
    with db_of(request).read() as session:
        customer = wallet_customers.get_customer(session, ticket.customer_id)
        session.expunge(customer)
    return ticket, customer


def _device_code_page(request: Request, ticket: str, next_path: str, customer: Customer, **extra: Any) -> Response:
    """The new-device SMS-code step, shown again after a refusal or a resend."""
    return _step_page(request, "customer/login_device.html", ticket=ticket, next_path=next_path,
                      masked_phone=mask_phone(customer.phone), **extra)


@router.post("/app/login/device", response_class=HTMLResponse)
def login_device_submit(
    request: Request,
    ticket: str = Form("", max_length=200),
    code: str = Form("", max_length=16),
    next: str = Form("", max_length=500),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        parsed, customer = _ticket_customer(request, ticket, "device", _device)
    except QianbaoError as exc:
        return _login_page(request, next_path=next, error=error_text(request, exc), status_code=exc.status)
    try:
        with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(customer.id),
                             details={"step": "new_device_code"}) as session:
            credentials.verify_otp(session, otp.LOGIN_NEW_DEVICE, customer.phone, code)
            if not credentials.has_totp(session, Principal.customer(customer.id)):
                started = start_customer_session(session, request, customer.id, _device)
                new_device_notice(session, request, customer)
                _record_sign_in(session, customer.id, "password+sms")
                return _signed_in_response(request, started.token, next)
    except QianbaoError as exc:
        if exc.code in {"OTP_TOO_MANY_TRIES", "OTP_EXPIRED", "OTP_USED"}:
            # This code can no longer work: start the sign-in again for a new one.
            return _login_page(request, next_path=next, error=error_text(request, exc), status_code=exc.status)
        return _device_code_page(request, ticket, next, customer, error=error_text(request, exc),
                                 status_code=exc.status)
    return _step_page(request, "customer/login_totp.html",
                      ticket=make_ticket(customer.id, "totp", parsed.new_device, _device), next_path=next)


@router.post("/app/login/device/resend", response_class=HTMLResponse)
def login_device_resend(
    request: Request,
    ticket: str = Form("", max_length=200),
    next: str = Form("", max_length=500),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        _parsed, customer = _ticket_customer(request, ticket, "device", _device)
    except QianbaoError as exc:
        return _login_page(request, next_path=next, error=error_text(request, exc), status_code=exc.status)
    try:
        with db_of(request).transaction() as session:
            credentials.issue_otp(session, otp.LOGIN_NEW_DEVICE, customer.phone, ip=auth.client_ip(request),
                                  lang=customer.lang, settings=settings_of(request))
    except QianbaoError as exc:
        return _device_code_page(request, ticket, next, customer, error=error_text(request, exc),
                                 status_code=exc.status)
    return _device_code_page(request, ticket, next, customer, sent=True)


@router.post("/app/login/totp", response_class=HTMLResponse)
def login_totp_submit(
    request: Request,
    ticket: str = Form("", max_length=200),
    code: str = Form("", max_length=16),
    next: str = Form("", max_length=500),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        parsed, customer = _ticket_customer(request, ticket, "totp", _device)
    except QianbaoError as exc:
        return _login_page(request, next_path=next, error=error_text(request, exc), status_code=exc.status)
    try:
        with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(customer.id),
                             details={"step": "totp"}) as session:
            credentials.verify_totp(session, Principal.customer(customer.id), code)
            started = start_customer_session(session, request, customer.id, _device)
            if parsed.new_device:
                new_device_notice(session, request, customer)
            _record_sign_in(session, customer.id, "password+totp")
    except QianbaoError as exc:
        if exc.code == "TOTP_LOCKED":
            return _login_page(request, next_path=next, error=error_text(request, exc), status_code=exc.status)
        return _step_page(request, "customer/login_totp.html", ticket=ticket, next_path=next,
                          error=error_text(request, exc), status_code=exc.status)
    return _signed_in_response(request, started.token, next)


@router.post("/app/logout")
def logout(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        credentials.end_session(session, auth.customer_token(request))
    response = see_other(f"{LOGIN}?done=signed_out")
    clear_session_cookie(request, response)
    return response


# ---- forgotten password -----------------------------------------------------------------------------

def _reset_phone_page(request: Request, *, phone: str = "", error: str | None = None,
                      status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(request, "customer/password_reset.html", status_code=status_code, section="me",
                      phone=phone, error=error)
    return with_device(request, response, device)


def _reset_code_page(request: Request, *, phone: str, code: str = "", sent: bool = False,
                     error: str | None = None, error_field: str = "", status_code: int = 200) -> Response:
    device = anonymous_form(request)
    response = render(
        request, "customer/password_reset_code.html", status_code=status_code, section="me", phone=phone,
        masked_phone=_phone_display(phone), code=code, sent=sent, error=error, error_field=error_field,
        # Just sent, the wait is the full minute whether or not the number is registered: the page must not
        # tell which numbers have a wallet.
        resend_wait=otp.RESEND_AFTER.seconds if sent else _resend_wait(request, otp.PASSWORD_RESET, phone),
    )
    return with_device(request, response, device)


@router.get("/app/password/reset", response_class=HTMLResponse)
def reset_form(request: Request) -> Response:
    return _reset_phone_page(request)


@router.post("/app/password/reset/code", response_class=HTMLResponse)
def reset_send_code(
    request: Request,
    phone: str = Form("", max_length=32),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        e164 = parse_mobile(phone)
        with db_of(request).transaction() as session:
            customer = wallet_customers.customer_by_phone(session, e164)
            # An unknown number gets the same page and no text: the form does not tell who is registered.
            if customer is not None:
                credentials.issue_otp(session, otp.PASSWORD_RESET, e164, ip=auth.client_ip(request),
                                      lang=customer.lang, settings=settings_of(request))
    except QianbaoError as exc:
        if exc.code in {"OTP_RESEND_TOO_SOON", "RATE_LIMITED"}:
            return _reset_code_page(request, phone=phone, error=error_text(request, exc), error_field="resend",
                                    status_code=exc.status)
        return _reset_phone_page(request, phone=phone, error=error_text(request, exc), status_code=exc.status)
    return _reset_code_page(request, phone=phone, sent=True)


@router.post("/app/password/reset", response_class=HTMLResponse)
def reset_submit(
    request: Request,
    phone: str = Form("", max_length=32),
    code: str = Form("", max_length=16),
    password: str = Form("", max_length=256),
    password_confirm: str = Form("", max_length=256),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    try:
        e164 = parse_mobile(phone)
        with wallets.audited(db_of(request), action="customer.password.reset", actor=customer_actor(),
                             details={"phone": mask_phone(e164)}) as session:
            if password != password_confirm:
                raise QianbaoError("PASSWORD_MISMATCH")
            customer = wallet_customers.customer_by_phone(session, e164)
            if customer is None:
                credentials.check_password_rules(password, phone=e164)
                raise QianbaoError("OTP_NOT_REQUESTED")
            credentials.reset_password(session, Principal.customer(customer.id), password, phone=e164,
                                       otp_code=code, birth_date=customer.birth_date, settings=settings_of(request))
            security_notice(session, customer, "password_reset")
    except QianbaoError as exc:
        if exc.code == "PHONE_INVALID":
            return _reset_phone_page(request, phone=phone, error=error_text(request, exc), status_code=exc.status)
        keep_code = "" if exc.code.startswith("OTP_") else code
        return _reset_code_page(request, phone=phone, code=keep_code, error=error_text(request, exc),
                                error_field=_register_field(exc.code), status_code=exc.status)
    response = see_other(f"{LOGIN}?done=reset")
    clear_session_cookie(request, response)
    return response


# ---- inbox and "me" ---------------------------------------------------------------------------------

@router.get("/app/notices", response_class=HTMLResponse)
def notices_page(request: Request, customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    with db_of(request).read() as session:
        rows = inbox.list_notices(session, customer.customer_id, limit=100)
        for row in rows:
            session.expunge(row)
    return render(request, "customer/notices.html", section="me", notices=rows)


@router.post("/app/notices/read-all")
def notices_read_all(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        inbox.mark_all_read(session, customer.customer_id)
    return see_other("/app/notices")


@router.post("/app/notices/{notice_id}/read")
def notice_read(request: Request, notice_id: int, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        inbox.mark_read(session, customer.customer_id, notice_id)
    return see_other("/app/notices")


@router.get("/app/me", response_class=HTMLResponse)
def me_page(request: Request, customer: CustomerContext = Depends(current_customer)) -> HTMLResponse:
    return render(request, "customer/me.html", section="me", summary=summary_or_none(request, customer.customer_id))


router.include_router(customer_realname.router)
router.include_router(customer_security.router)
router.include_router(customer_passkeys.router)

__all__ = ["Device", "router"]
