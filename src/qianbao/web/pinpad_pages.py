"""The customer-facing PIN pad at the counter (SPEC §3.2 step 3): a separate page on a tablet facing the customer.

    GET  /pinpad            the pairing form, or (paired) the form for the login password and payment PIN
    POST /pinpad/pair       the one-time code from the teller's screen → the PIN pad's own token
    POST /pinpad/complete   password + PIN, each typed twice → the tier-1 wallet opens
    POST /pinpad/leave      forget the pairing (the customer walked away)

The PIN pad is not signed in as anyone: it holds the pairing token in a cookie of its own (`qb_pinpad`,
HttpOnly, SameSite=Strict, ten minutes like the token), never the teller's cookie, and its forms carry the
device-bound CSRF token. The password and PIN go from this page straight to `wallets.complete_counter_opening`;
nothing teller-side reads them. The receipt of the opening is issued in the same unit of work.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import audit, credentials, receipts, wallets
from qianbao.credentials import CookieSpec
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.pii.masking import mask_name, mask_phone
from qianbao.receipts.opening import OPEN
from qianbao.settings import Settings
from qianbao.wallets.counter_opening import PINPAD_TOKEN_TTL
from qianbao.web import auth
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PINPAD_COOKIE = "qb_pinpad"
PINPAD_ACTOR = audit.Actor.system("pinpad")


def pinpad_cookie(settings: Settings) -> CookieSpec:
    base = auth.device_cookie(settings)
    return replace(base, name=base.name.removesuffix("qb_device") + PINPAD_COOKIE,
                   max_age=int(PINPAD_TOKEN_TTL.total_seconds()), samesite="strict")


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _db(request: Request) -> Any:
    return request.app.state.db


def _token(request: Request) -> str | None:
    return request.cookies.get(pinpad_cookie(auth.settings_of(request)).name) or None


def _clear(request: Request, response: Response) -> None:
    response.delete_cookie(**pinpad_cookie(auth.settings_of(request)).delete_cookie_kwargs())


def _page(
    request: Request, *, step: str, pairing: dict[str, str] | None = None, error: QianbaoError | None = None,
    notice: str | None = None, status_code: int = 200, clear: bool = False,
) -> HTMLResponse:
    device, is_new = auth.ensure_device_id(request)
    request.state.csrf_token = credentials.csrf_token(device)
    request.state.no_store = True
    response = render(
        request, "pinpad/pinpad.html", status_code=status_code, step=step, pairing=pairing,
        error=None if error is None else error.message(_lang(request)),
        error_code=None if error is None else error.code, notice=notice,
    )
    if is_new:
        auth.set_device_cookie(request, response, device)
    if clear:
        _clear(request, response)
    return response


def _paired(request: Request) -> dict[str, str] | None:
    """What the paired application shows the customer to confirm it is theirs (masked), or None."""
    token = _token(request)
    if token is None:
        return None
    with _db(request).read() as session:
        try:
            application = wallets.pinpad_application(session, token)
        except QianbaoError:
            return None
        return {"name": mask_name(application.legal_name), "phone": mask_phone(application.phone)}


@router.get("/pinpad", response_class=HTMLResponse)
def pinpad(request: Request, done: bool = Query(False)) -> HTMLResponse:
    if done:
        return _page(request, step="done")
    pairing = _paired(request)
    if pairing is None:
        stale = _token(request) is not None
        notice = translate("error.PAIRING_TOKEN_INVALID", _lang(request)) if stale else None
        return _page(request, step="pair", notice=notice, clear=stale)
    return _page(request, step="set", pairing=pairing)


@router.post("/pinpad/pair", response_class=HTMLResponse)
def pair(
    request: Request, code: str = Form("", max_length=16), _device: str = Depends(auth.device_csrf)
) -> Response:
    try:
        with wallets.audited(_db(request), action="counter.pinpad.pair", actor=PINPAD_ACTOR,
                             channel="counter") as session:
            pairing = wallets.pair_pinpad(session, code, ip=auth.client_ip(request))
    except QianbaoError as exc:
        return _page(request, step="pair", error=exc, status_code=exc.status)
    response = RedirectResponse("/pinpad", status_code=303)
    response.set_cookie(**pinpad_cookie(auth.settings_of(request)).set_cookie_kwargs(pairing.token))
    return response


@router.post("/pinpad/complete", response_class=HTMLResponse)
def complete(
    request: Request,
    password: str = Form("", max_length=256),
    password_again: str = Form("", max_length=256),
    pin: str = Form("", max_length=16),
    pin_again: str = Form("", max_length=16),
    _device: str = Depends(auth.device_csrf),
) -> Response:
    token = _token(request)
    pairing = _paired(request)
    if token is None or pairing is None:
        return _page(request, step="pair", error=QianbaoError("PAIRING_TOKEN_INVALID"), status_code=401,
                     clear=token is not None)
    try:
        if password != password_again:
            raise QianbaoError("PASSWORD_MISMATCH")
        if pin != pin_again:
            raise QianbaoError("PIN_MISMATCH")
        with wallets.audited(_db(request), action="counter.pinpad.complete", actor=PINPAD_ACTOR,
                             channel="counter") as session:
            application = wallets.pinpad_application(session, token, lock=True)
            branch_id, teller_id, application_id = (application.branch_id, application.teller_staff_id,
                                                    application.id)
            wallets.complete_counter_opening(session, token, password, pin, settings=auth.settings_of(request))
            receipts.issue(session, branch_id, OPEN, application_id, teller_id)
    except QianbaoError as exc:
        expired = exc.code == "PAIRING_TOKEN_INVALID"
        return _page(request, step="pair" if expired else "set", pairing=None if expired else pairing, error=exc,
                     status_code=exc.status, clear=expired)
    response = RedirectResponse("/pinpad?done=1", status_code=303)
    _clear(request, response)
    return response


@router.post("/pinpad/leave")
def leave(request: Request, _device: str = Depends(auth.device_csrf)) -> Response:
    response = RedirectResponse("/pinpad", status_code=303)
    _clear(request, response)
    return response
