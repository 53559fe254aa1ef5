"""The customer-facing PIN pad for counter operations (SPEC §7): the customer confirms a cash deposit or
withdrawal, a change of mobile number or the closing of their wallet with their payment PIN, or sets a new
login password or PIN after the teller checked them in person. The teller never sees what is typed.

    GET  /pinpad/counter            the code form, or (paired) what is being confirmed and the PIN/secret form
    POST /pinpad/counter/pair       the one-time code from the teller's screen → the pad's own token (cookie)
    POST /pinpad/counter/confirm    the PIN (or the new secret, typed twice) completes the operation
    POST /pinpad/counter/leave      forget the pairing

Like the opening PIN pad (qianbao.web.pinpad_pages) it is signed in as nobody: a short-lived token in its
own cookie (`qb_counterpad`, HttpOnly, SameSite=Strict) and the device-bound CSRF token.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import audit, counter, credentials
from qianbao.counter.core import PAD_TOKEN_TTL
from qianbao.counter.documents import kind_label
from qianbao.credentials import CookieSpec
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.web import auth
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)
COOKIE = "qb_counterpad"
PAD_ACTOR = audit.Actor.system("pinpad")
SECRET_KINDS = ("password_reset", "pin_reset")


def pad_cookie(settings: Settings) -> CookieSpec:
    base = auth.device_cookie(settings)
    return replace(base, name=base.name.removesuffix("qb_device") + COOKIE,
                   max_age=int(PAD_TOKEN_TTL.total_seconds()), samesite="strict")


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _db(request: Request) -> Any:
    return request.app.state.db


def _token(request: Request) -> str | None:
    return request.cookies.get(pad_cookie(auth.settings_of(request)).name) or None


def _paired(request: Request) -> dict[str, Any] | None:
    token = _token(request)
    if token is None:
        return None
    with _db(request).read() as session:
        try:
            op = counter.pad_operation(session, token)
        except QianbaoError:
            return None
        return {"kind": op.kind, "label": kind_label(op.kind, _lang(request), op.details), "amount": op.amount,
                "name": op.details.get("name", ""), "wallet": op.details.get("wallet", ""),
                "new_phone": op.details.get("new_phone_masked", "")}


def _page(request: Request, *, step: str, op: dict[str, Any] | None = None, error: QianbaoError | None = None,
          status_code: int = 200, clear: bool = False, done: str | None = None) -> HTMLResponse:
    device, is_new = auth.ensure_device_id(request)
    request.state.csrf_token = credentials.csrf_token(device)
    request.state.no_store = True
    response = render(request, "pinpad/counter.html", status_code=status_code, step=step, op=op, done=done,
                      secret_kinds=SECRET_KINDS, error=None if error is None else error.message(_lang(request)),
                      error_code=None if error is None else error.code)
    if is_new:
        auth.set_device_cookie(request, response, device)
    if clear:
        response.delete_cookie(**pad_cookie(auth.settings_of(request)).delete_cookie_kwargs())
    return response


@router.get("/pinpad/counter", response_class=HTMLResponse)
def pad(request: Request, done: str = Query("", max_length=24)) -> HTMLResponse:
    if done:
        return _page(request, step="done", done=done)
    op = _paired(request)
    if op is None:
        return _page(request, step="pair", clear=_token(request) is not None)
    return _page(request, step="confirm", op=op)


@router.post("/pinpad/counter/pair", response_class=HTMLResponse)
def pair(request: Request, code: str = Form("", max_length=16), _device: str = Depends(auth.device_csrf)) -> Response:
    try:
        with credentials.transaction(_db(request)) as session:
            token, _op = counter.pad_pair(session, code, ip=auth.client_ip(request))
    except QianbaoError as exc:
        return _page(request, step="pair", error=exc, status_code=exc.status)
    response = RedirectResponse("/pinpad/counter", status_code=303)
    response.set_cookie(**pad_cookie(auth.settings_of(request)).set_cookie_kwargs(token))
    return response


@router.post("/pinpad/counter/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    pin: str = Form("", max_length=16),
    secret: str = Form("", max_length=256),
    secret_again: str = Form("", max_length=256),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    token = _token(request)
    op = _paired(request)
    if token is None or op is None:
        return _page(request, step="pair", error=QianbaoError("PAIRING_TOKEN_INVALID"), status_code=401,
                     clear=token is not None)
    try:
        if op["kind"] in SECRET_KINDS and secret != secret_again:
            raise QianbaoError("PIN_MISMATCH" if op["kind"] == "pin_reset" else "PASSWORD_MISMATCH")
        with credentials.transaction(_db(request)) as session:
            result = counter.pad_confirm(session, token, pin=pin or None, new_secret=secret or None,
                                         settings=auth.settings_of(request), ip=auth.client_ip(request))
            status, op_id = result.status, result.id
    except QianbaoError as exc:
        expired = exc.code == "PAIRING_TOKEN_INVALID"
        return _page(request, step="pair" if expired else "confirm", op=None if expired else op, error=exc,
                     status_code=exc.status, clear=expired)
    if status == "awaiting_bank":  # a close to a card: the bank is asked to pay once the PIN has committed
        from qianbao.counter import close_to_card
        from qianbao.web.customer_cards import bank_connector

        close_to_card.send_to_bank(_db(request), bank_connector(request), op_id)
    response = RedirectResponse(f"/pinpad/counter?done={status}", status_code=303)
    response.delete_cookie(**pad_cookie(auth.settings_of(request)).delete_cookie_kwargs())
    return response


@router.post("/pinpad/counter/leave")
def leave(request: Request, _device: str = Depends(auth.device_csrf)) -> Response:
    response = RedirectResponse("/pinpad/counter", status_code=303)
    response.delete_cookie(**pad_cookie(auth.settings_of(request)).delete_cookie_kwargs())
    return response
