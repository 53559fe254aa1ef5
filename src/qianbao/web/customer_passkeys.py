"""The passkey (WebAuthn) JSON API of the customer app, called by /static/passkeys.js.

    POST   /api/v1/customer/passkeys/register/options   signed in: options for navigator.credentials.create()
    POST   /api/v1/customer/passkeys/register           signed in: {credential, name?} → the new passkey
    GET    /api/v1/customer/passkeys                    signed in: the customer's passkeys
    DELETE /api/v1/customer/passkeys/{passkey_id}       signed in: remove one (NOT_FOUND for another's)
    POST   /api/v1/customer/passkeys/login/options      before sign-in: options for navigator.credentials.get()
    POST   /api/v1/customer/passkeys/login              before sign-in: {credential, next?} → signed in
    POST   /api/v1/customer/passkeys/step-up/options    signed in: {binding?} → options to confirm an operation

Signed-in calls carry the session's CSRF token in X-CSRF-Token; the two sign-in calls carry the token bound to
the device cookie (the login page puts it in the button's data-csrf). Refusals are problem+json.

The relying party is this site: its id is the host of settings.public_url when one is configured, else the
host the browser asked for; the expected origin likewise (`relying_party`). A payment confirmed with a
passkey (the money flows) asks `step-up/options` with the payment as binding and then calls
`qianbao.credentials.passkeys.verify_passkey_assertion(session, principal, credential, rp_id=, origin=,
binding=)` with the same `relying_party(request)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qianbao import credentials, wallets
from qianbao.credentials import Principal, passkeys
from qianbao.pii.masking import mask_phone
from qianbao.wallets import customers as wallet_customers
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import (
    app_next,
    customer_actor,
    db_of,
    describe_device,
    lang_of,
    new_device_notice,
    security_notice,
    set_session_cookie,
    settings_of,
    start_customer_session,
)

PREFIX = "/api/v1/customer/passkeys"
router = APIRouter(prefix=PREFIX, tags=["customer passkeys"])


def relying_party(request: Request) -> tuple[str, str]:
    """(rp_id, origin) for WebAuthn: settings.public_url's host and origin, else the request's."""
    public = settings_of(request).public_url.strip()
    if public:
        parts = urlsplit(public)
        if parts.hostname:
            return parts.hostname, f"{parts.scheme}://{parts.netloc}"
    url = request.url
    return url.hostname or "localhost", f"{url.scheme}://{url.netloc}"


class PasskeyOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class RegisterIn(BaseModel):
    credential: dict[str, Any]
    name: str | None = Field(None, max_length=64)


class SignInIn(BaseModel):
    credential: dict[str, Any]
    next: str = Field("", max_length=500)


class SignedInOut(BaseModel):
    redirect: str


class StepUpIn(BaseModel):
    binding: str | None = Field(None, max_length=128)


def _out(passkey: passkeys.Passkey) -> PasskeyOut:
    return PasskeyOut(id=passkey.public_id, name=passkey.name, created_at=passkey.created_at,
                      last_used_at=passkey.last_used_at)


def _principal(customer: CustomerContext) -> Principal:
    return Principal.customer(customer.customer_id)


@router.post("/register/options")
def register_options(request: Request, customer: CustomerContext = Depends(current_customer)) -> dict[str, Any]:
    rp_id, _origin = relying_party(request)
    with db_of(request).transaction() as session:
        holder = wallet_customers.get_customer(session, customer.customer_id)
        masked = mask_phone(holder.phone)
        return passkeys.registration_options(session, _principal(customer), rp_id=rp_id, user_name=masked,
                                             user_display_name=masked)


@router.post("/register", status_code=201)
def register(request: Request, body: RegisterIn, customer: CustomerContext = Depends(current_customer)) -> PasskeyOut:
    rp_id, origin = relying_party(request)
    name = body.name or describe_device(auth.user_agent(request), lang_of(request))
    with wallets.audited(db_of(request), action="customer.passkey.add", actor=customer_actor(customer.customer_id),
                         object_type="customer", object_id=customer.customer_id) as session:
        passkey = passkeys.register_passkey(session, _principal(customer), body.credential, rp_id=rp_id,
                                            origin=origin, name=name)
        holder = wallet_customers.get_customer(session, customer.customer_id)
        security_notice(session, holder, "passkey_added", {"name": passkey.name})
        _record(session, customer.customer_id, "customer.passkey.add")
        return _out(passkey)


@router.get("")
def list_passkeys(request: Request, customer: CustomerContext = Depends(current_customer)) -> list[PasskeyOut]:
    with db_of(request).read() as session:
        return [_out(passkey) for passkey in passkeys.list_passkeys(session, _principal(customer))]


@router.delete("/{passkey_id}", status_code=204)
def remove(request: Request, passkey_id: str, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        removed = passkeys.remove_passkey(session, _principal(customer), passkey_id[:64])
        holder = wallet_customers.get_customer(session, customer.customer_id)
        security_notice(session, holder, "passkey_removed", {"name": removed.name})
        _record(session, customer.customer_id, "customer.passkey.remove")
    return Response(status_code=204)


@router.post("/login/options")
def login_options(request: Request, _device: str = Depends(auth.device_csrf)) -> dict[str, Any]:
    rp_id, _origin = relying_party(request)
    with db_of(request).transaction() as session:
        return passkeys.authentication_options(session, rp_id=rp_id, ip=auth.client_ip(request),
                                               settings=settings_of(request))


@router.post("/login")
def login(request: Request, body: SignInIn, _device: str = Depends(auth.device_csrf)) -> JSONResponse:
    rp_id, origin = relying_party(request)
    with wallets.audited(db_of(request), action="customer.login", actor=customer_actor(),
                         details={"step": "passkey"}) as session:
        passkey = passkeys.authenticate_with_passkey(session, body.credential, rp_id=rp_id, origin=origin)
        if passkey.principal.type != "customer":
            raise credentials.CredentialFailure("PASSKEY_NOT_RECOGNISED")
        customer = wallet_customers.get_customer(session, passkey.principal.id)
        new_device = credentials.is_new_device(session, passkey.principal, _device)
        started = start_customer_session(session, request, customer.id, _device)
        if new_device:
            new_device_notice(session, request, customer)
        _record(session, customer.id, "customer.login", method="passkey")
    response = JSONResponse(SignedInOut(redirect=app_next(body.next)).model_dump())
    set_session_cookie(request, response, started.token)
    return response


@router.post("/step-up/options")
def step_up_options(request: Request, body: StepUpIn,
                    customer: CustomerContext = Depends(current_customer)) -> dict[str, Any]:
    rp_id, _origin = relying_party(request)
    with db_of(request).transaction() as session:
        return passkeys.step_up_options(session, _principal(customer), rp_id=rp_id, binding=body.binding)


def _record(session: Any, customer_id: int, action: str, **details: Any) -> None:
    from qianbao import audit

    audit.record(session, action=action, actor=customer_actor(customer_id), channel="app",
                 object_type="customer", object_id=customer_id, details=details or None)


__all__ = ["relying_party", "router"]
