"""The customer JSON API's sign-in and bearer tokens (SPEC §1 "HTTP API", §4), and the wallet summary.

    POST   /api/v1/sessions           {phone, password, device_id?}   → signed_in | sms_required | totp_required
                                      {ticket, code, device_id}       → the next step, or signed_in
    DELETE /api/v1/sessions/current   sign out (the bearer token stops working at once)
    GET    /api/v1/wallet             number, tier, status, balance (fen and yuan) and limits

The steps are the web sign-in's (qianbao.web.customer_pages), over the same domain functions: the password
with its lockout and per-IP limit (`credentials.verify_login`), then on a device this customer never signed in
from an SMS code (`otp.LOGIN_NEW_DEVICE`, same resend wait and limits) and the new-device notice, then the
dynamic password when enrolled. Between steps a MACed ticket bound to the device id carries the state
(customer_common.make_ticket, five minutes). The device id plays the part of the browser's device cookie: the
app keeps the one the first answer gives it (or sends its own random 16–64 URL-safe characters).

A signed-in call gets a token backed by a server-side session (`credentials.start_session`): the same
15-minute idle timeout and 12-hour lifetime, listed on the security page and revocable there like any other.
Endpoints depend on `api_customer`, which reads `Authorization: Bearer <token>` only — never the session
cookie, so no CSRF token is needed — and answers 401 problem+json UNAUTHENTICATED (missing, unknown, revoked
or signed-out token) or SESSION_EXPIRED (timed out), with `WWW-Authenticate: Bearer`.

Write endpoints take an `Idempotency-Key` header; `idempotency_key` gives the key scoped by customer
(`api:<customer id>:<client key>`) to pass to `payments.execute(Order(key=...))`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from qianbao import access, audit, credentials, ledger, wallets
from qianbao.credentials import Principal, otp
from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile
from qianbao.money import to_yuan
from qianbao.pii.masking import mask_phone
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import Customer
from qianbao.web import auth
from qianbao.web.customer_common import (
    TICKET_SECONDS,
    customer_actor,
    db_of,
    make_ticket,
    new_device_notice,
    read_ticket,
    settings_of,
)

router = APIRouter(prefix="/api/v1", tags=["customer sign-in"])

BEARER = "Bearer"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A client's idempotency key: what a UUID, a ULID or an app's own order number looks like.
CLIENT_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


# ---- who is calling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiCustomer:
    """The customer behind a bearer token: `wallet_id` is their open wallet (None if it was closed),
    `session_id` the session's public id (as on the security page)."""

    customer_id: int
    wallet_id: int | None
    session_id: str

    @property
    def actor(self) -> access.Actor:
        return access.Actor.customer(self.customer_id)

    @property
    def principal(self) -> Principal:
        return Principal.customer(self.customer_id)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None for no or another kind of header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != BEARER.lower() or not value or len(value) > 200:
        return None
    return value


def _refuse(request: Request, code: str) -> QianbaoError:
    request.state.www_authenticate = f'{BEARER} realm="qianbao"' + (
        ', error="invalid_token"' if code == "SESSION_EXPIRED" or bearer_token(request) else "")
    return QianbaoError(code)


def api_customer(request: Request) -> ApiCustomer:
    """The dependency of every customer API endpoint: the signed-in customer of the bearer token (its idle
    clock restarted), or 401 UNAUTHENTICATED / SESSION_EXPIRED."""
    request.state.no_store = True
    token = bearer_token(request)
    if token is None:
        raise _refuse(request, "UNAUTHENTICATED")
    code = "UNAUTHENTICATED"
    result: ApiCustomer | None = None
    with db_of(request).transaction() as session:
        try:
            record = credentials.require_session(session, token, ip=auth.client_ip(request),
                                                 settings=settings_of(request))
        except QianbaoError as exc:
            # The session timed out: the revocation require_session wrote commits with this unit of work.
            code = exc.code
        else:
            if record.principal_type == "customer":
                wallet = wallet_customers.wallet_of_customer(session, record.principal_id)
                result = ApiCustomer(record.principal_id, wallet.id if wallet is not None else None,
                                     record.public_id)
    if result is None:
        raise _refuse(request, code)
    request.state.api_customer = result
    return result


api_customer.__qb_access__ = auth.AccessSpec(  # type: ignore[attr-defined]
    "customer", frozenset({access.CUSTOMER}), credential="bearer")


def idempotency_key(
    customer: ApiCustomer = Depends(api_customer),
    key: str | None = Header(None, alias="Idempotency-Key"),
) -> str:
    """The write's idempotency key scoped by customer: `api:<customer id>:<client key>`.
    IDEMPOTENCY_KEY_MISSING without the header, IDEMPOTENCY_KEY_INVALID for a malformed one."""
    if key is None or not key.strip():
        raise QianbaoError("IDEMPOTENCY_KEY_MISSING")
    if CLIENT_KEY.fullmatch(key.strip()) is None:
        raise QianbaoError("IDEMPOTENCY_KEY_INVALID")
    return f"api:{customer.customer_id}:{key.strip()}"


# ---- sign-in ------------------------------------------------------------------------------------------

class SessionIn(BaseModel):
    """First call: phone + password (+ device_id). Later steps: ticket + code + the same device_id."""

    phone: str | None = Field(None, max_length=32)
    password: str | None = Field(None, max_length=256)
    device_id: str | None = Field(None, max_length=64)
    ticket: str | None = Field(None, max_length=200)
    code: str | None = Field(None, max_length=16)


class StepOut(BaseModel):
    status: Literal["sms_required", "totp_required"]
    ticket: str
    device_id: str
    ticket_expires_in: int = TICKET_SECONDS
    masked_phone: str | None = None
    sent: bool | None = None
    resend_after: int | None = None


class TokenOut(BaseModel):
    status: Literal["signed_in"] = "signed_in"
    token: str
    token_type: str = BEARER
    session_id: str
    device_id: str
    idle_timeout_seconds: int
    expires_at: datetime


def _device(device_id: str | None) -> str:
    if device_id is None or device_id == "":
        return credentials.new_device_id()
    if DEVICE_ID.fullmatch(device_id) is None:
        raise QianbaoError("DEVICE_ID_INVALID")
    return device_id


def _signed_in(request: Request, session: Session, customer_id: int, device: str, method: str,
               *, new_device: bool, customer: Customer | None = None) -> JSONResponse:
    started = credentials.start_session(
        session, Principal.customer(customer_id), device_id=device, user_agent=auth.user_agent(request),
        ip=auth.client_ip(request), settings=settings_of(request),
    )
    if new_device and customer is not None:
        new_device_notice(session, request, customer)
    audit.record(session, action="customer.login", actor=customer_actor(customer_id), channel="app",
                 object_type="customer", object_id=customer_id, details={"method": method, "via": "api"})
    body = TokenOut(token=started.token, session_id=started.public_id, device_id=device,
                    idle_timeout_seconds=settings_of(request).session_idle_minutes * 60,
                    expires_at=started.record.expires_at)
    return JSONResponse(body.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})


def _step(status: Literal["sms_required", "totp_required"], ticket: str, device: str, **extra: Any) -> JSONResponse:
    body = StepOut(status=status, ticket=ticket, device_id=device, **extra)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), headers={"Cache-Control": "no-store"})


def _password_step(request: Request, body: SessionIn, device: str) -> JSONResponse:
    if not body.phone or body.password is None:
        raise QianbaoError("LOGIN_FAILED")
    e164 = parse_mobile(body.phone)
    with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(),
                         details={"phone": mask_phone(e164), "step": "password", "via": "api"}) as session:
        customer = wallet_customers.customer_by_phone(session, e164)
        principal = Principal.customer(customer.id) if customer is not None else None
        credentials.verify_login(session, principal, body.password, ip=auth.client_ip(request),
                                 settings=settings_of(request))
        assert customer is not None
        session.expunge(customer)
    principal = Principal.customer(customer.id)
    with db_of(request).read() as session:
        new_device = credentials.is_new_device(session, principal, device)
        has_totp = credentials.has_totp(session, principal)
    if new_device:
        sent, wait = True, otp.RESEND_AFTER.seconds
        try:
            with db_of(request).transaction() as session:
                credentials.issue_otp(session, otp.LOGIN_NEW_DEVICE, customer.phone, ip=auth.client_ip(request),
                                      lang=customer.lang, settings=settings_of(request))
        except QianbaoError as exc:
            if exc.code != "OTP_RESEND_TOO_SOON":
                raise
            # Signed in again within the minute: the code sent a moment ago is still good.
            sent, wait = False, int(exc.params.get("seconds", wait))
        return _step("sms_required", make_ticket(customer.id, "device", True, device), device,
                     masked_phone=mask_phone(customer.phone), sent=sent, resend_after=wait)
    if has_totp:
        return _step("totp_required", make_ticket(customer.id, "totp", False, device), device)
    with db_of(request).transaction() as session:
        return _signed_in(request, session, customer.id, device, "password", new_device=False)


def _ticket_step(request: Request, body: SessionIn, device: str) -> JSONResponse:
    stage = (body.ticket or "").split(".")[1] if (body.ticket or "").count(".") == 4 else ""
    if stage not in {"device", "totp"}:
        raise QianbaoError("SIGNIN_TICKET_INVALID")
    ticket = read_ticket(body.ticket or "", stage, device)
    with db_of(request).read() as session:
        customer = wallet_customers.get_customer(session, ticket.customer_id)
        session.expunge(customer)
    principal = Principal.customer(customer.id)
    code = body.code or ""
    with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(customer.id),
                         details={"step": "new_device_code" if stage == "device" else "totp", "via": "api"}) as session:
        if stage == "device":
            credentials.verify_otp(session, otp.LOGIN_NEW_DEVICE, customer.phone, code)
            if credentials.has_totp(session, principal):
                next_ticket = make_ticket(customer.id, "totp", True, device)
            else:
                return _signed_in(request, session, customer.id, device, "password+sms", new_device=True,
                                  customer=customer)
        else:
            credentials.verify_totp(session, principal, code)
            return _signed_in(request, session, customer.id, device, "password+totp",
                              new_device=ticket.new_device, customer=customer)
    return _step("totp_required", next_ticket, device)


@router.post(
    "/sessions",
    responses={200: {"model": StepOut, "description": "one more step: an SMS code or the dynamic password"},
               201: {"model": TokenOut, "description": "signed in: the bearer token"}},
)
def create_session(request: Request, body: SessionIn) -> Response:
    """Sign in. Answers 201 with the token, or 200 with the next step's ticket (send it back with the
    `code` and the same `device_id`)."""
    device = _device(body.device_id)
    if body.ticket:
        if not body.device_id:
            raise QianbaoError("SIGNIN_TICKET_INVALID")
        return _ticket_step(request, body, device)
    return _password_step(request, body, device)


@router.delete("/sessions/current", status_code=204)
def delete_session(request: Request, customer: ApiCustomer = Depends(api_customer)) -> Response:
    """Sign out: this token's session ends now."""
    with db_of(request).transaction() as session:
        credentials.end_session(session, bearer_token(request))
        audit.record(session, action="customer.signed_out", actor=customer_actor(customer.customer_id),
                     channel="app", object_type="customer", object_id=customer.customer_id, details={"via": "api"})
    return Response(status_code=204)


# ---- the wallet ---------------------------------------------------------------------------------------

class Money(BaseModel):
    fen: int
    yuan: str


class BalanceOut(BaseModel):
    posted: Money
    held: Money
    available: Money


class LimitsOut(BaseModel):
    balance_cap: Money | None
    single_payment: Money | None
    daily_outflow: Money | None
    annual_outflow: Money | None
    password_free_daily: Money | None
    static_qr_daily: Money | None
    can_pay: bool
    can_receive: bool
    outflow_restricted: bool
    outflow_restriction_reason: str | None


class WalletOut(BaseModel):
    wallet_number: str
    wallet_number_display: str
    tier: int
    status: str
    currency: str = "CNY"
    balance: BalanceOut
    limits: LimitsOut


def money(fen: int) -> Money:
    return Money(fen=fen, yuan=str(to_yuan(fen)))


def _money_or_none(fen: int | None) -> Money | None:
    return None if fen is None else money(fen)


@router.get("/wallet", response_model=WalletOut)
def get_wallet(request: Request, customer: ApiCustomer = Depends(api_customer)) -> WalletOut:
    """The signed-in customer's wallet: number, tier, status, balance and the limits that bind it now."""
    if customer.wallet_id is None:
        raise QianbaoError("NOT_FOUND")
    with db_of(request).read() as session:
        wallet = wallets.get_wallet(session, customer.wallet_id)
        balance = ledger.balance(session, wallet.ledger_account_id)
        limits = wallets.wallet_limits(session, wallet)
        return WalletOut(
            wallet_number=wallet.number,
            wallet_number_display=wallets.format_wallet_number(wallet.number),
            tier=wallet.tier,
            status=wallet.status,
            balance=BalanceOut(posted=money(balance.posted), held=money(balance.held),
                               available=money(balance.available)),
            limits=LimitsOut(
                balance_cap=_money_or_none(limits.balance_cap),
                single_payment=_money_or_none(limits.single_payment_limit),
                daily_outflow=_money_or_none(limits.daily_outflow_limit),
                annual_outflow=_money_or_none(limits.annual_outflow_limit),
                password_free_daily=_money_or_none(limits.password_free_daily_limit),
                static_qr_daily=_money_or_none(limits.static_qr_daily_limit),
                can_pay=limits.can_pay, can_receive=limits.can_receive,
                outflow_restricted=limits.outflow_restricted,
                outflow_restriction_reason=limits.outflow_restriction_reason,
            ),
        )


__all__ = ["ApiCustomer", "api_customer", "bearer_token", "idempotency_key", "router"]
