"""Ops console: merchants (SPEC §1, §11 "Configuration: merchants").

    GET  /ops/merchants                               the list (operators and auditors)
    GET  /ops/merchants/new                           the creation form (operators)
    POST /ops/merchants                               create → the credentials, shown once (no-store)
    GET  /ops/merchants/{merchant_id}                 details, balance, recent orders, actions
    POST /ops/merchants/{merchant_id}/rotate-secret   a new HMAC secret, shown once
    POST /ops/merchants/{merchant_id}/reset-password  a new portal password, shown once
    POST /ops/merchants/{merchant_id}/suspend         with a reason
    POST /ops/merchants/{merchant_id}/reactivate      with a reason

Reading needs "ops.read"; every change "ops.merchants" (operators only; auditors see no forms and are
refused on every POST). Every change is audited by qianbao.merchants with the operator as actor.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import access, ledger, merchants
from qianbao.errors import QianbaoError
from qianbao.merchants.models import CATEGORIES
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import db_of, lang_of, refusal
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

DONE = ("suspended", "reactivated")


def _secret_page(request: Request, merchant: Any, creds: merchants.Credentials, kind: str) -> HTMLResponse:
    request.state.no_store = True
    return render(request, "ops/merchant_secret.html", section="merchants", merchant=merchant, creds=creds, kind=kind)


@router.get("/ops/merchants", response_class=HTMLResponse)
def merchant_list(request: Request, staff: StaffContext = Depends(requires("ops.read"))) -> Response:
    with db_of(request).read() as session:
        rows = merchants.list_merchants(session)
        for row in rows:
            session.expunge(row)
    return render(request, "ops/merchants.html", section="merchants", rows=rows,
                  can_act=access.can(staff.actor, "ops.merchants"))


def _new_page(request: Request, *, form: dict[str, str] | None = None, error: Any = None,
              status_code: int = 200) -> HTMLResponse:
    return render(request, "ops/merchant_new.html", status_code=status_code, section="merchants",
                  categories=list(CATEGORIES), form=form or {"mdr_bp": "60", "city": "北京"}, error=error)


@router.get("/ops/merchants/new", response_class=HTMLResponse)
def merchant_new(request: Request, staff: StaffContext = Depends(requires("ops.merchants"))) -> Response:
    return _new_page(request)


@router.post("/ops/merchants", response_class=HTMLResponse)
def merchant_create(
    request: Request,
    name_zh: str = Form("", max_length=200), name_en: str = Form("", max_length=200),
    category: str = Form("", max_length=32), mdr_bp: str = Form("", max_length=8),
    city: str = Form("北京", max_length=64), notify_url: str = Form("", max_length=600),
    staff: StaffContext = Depends(requires("ops.merchants")),
) -> Response:
    form = {"name_zh": name_zh, "name_en": name_en, "category": category, "mdr_bp": mdr_bp, "city": city,
            "notify_url": notify_url}
    try:
        rate = int(mdr_bp) if mdr_bp.strip().isascii() and mdr_bp.strip().isdigit() else -1
        with db_of(request).transaction() as session:
            created = merchants.create_merchant(
                session, name_zh=name_zh, name_en=name_en, category=category, mdr_bp=rate, city=city or "北京",
                notify_url=notify_url, by=staff.audit_actor, channel="ops", settings=request.app.state.settings)
            merchant = created.merchant
            session.flush()
            session.expunge(merchant)
    except QianbaoError as exc:
        return _new_page(request, form=form, error=refusal(exc, lang_of(request)), status_code=exc.status)
    return _secret_page(request, merchant, created.credentials, "created")


@router.get("/ops/merchants/{merchant_id}", response_class=HTMLResponse)
def merchant_detail(request: Request, merchant_id: int, done: str = Query("", max_length=16),
                    staff: StaffContext = Depends(requires("ops.read"))) -> Response:
    return _detail(request, staff, merchant_id, notice=f"ops.merchant.done.{done}" if done in DONE else None)


def _detail(request: Request, staff: StaffContext, merchant_id: int, *, notice: str | None = None,
            error: Any = None, failed: str | None = None, status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        merchant = merchants.get_merchant(session, merchant_id)
        balance = ledger.balance(session, merchant.ledger_account_id)
        account = ledger.get_account(session, merchant.ledger_account_id)
        orders = [(o, merchants.order_state(o)) for o in merchants.list_orders(session, merchant.id, limit=20)]
        session.expunge(merchant)
    return render(request, "ops/merchant_detail.html", status_code=status_code, section="merchants",
                  merchant=merchant, balance=balance, account=account, orders=orders, notice=notice, error=error,
                  failed=failed, can_act=access.can(staff.actor, "ops.merchants"))


@router.post("/ops/merchants/{merchant_id}/rotate-secret", response_class=HTMLResponse)
def merchant_rotate(request: Request, merchant_id: int, staff: StaffContext = Depends(requires("ops.merchants"))
                    ) -> Response:
    with db_of(request).transaction() as session:
        creds = merchants.rotate_secret(session, merchant_id, by=staff.audit_actor, channel="ops")
        merchant = merchants.get_merchant(session, merchant_id)
        session.expunge(merchant)
    return _secret_page(request, merchant, creds, "rotated")


@router.post("/ops/merchants/{merchant_id}/reset-password", response_class=HTMLResponse)
def merchant_reset_password(request: Request, merchant_id: int,
                            staff: StaffContext = Depends(requires("ops.merchants"))) -> Response:
    with db_of(request).transaction() as session:
        creds = merchants.reset_portal_password(session, merchant_id, by=staff.audit_actor, channel="ops",
                                                settings=request.app.state.settings)
        merchant = merchants.get_merchant(session, merchant_id)
        session.expunge(merchant)
    return _secret_page(request, merchant, creds, "password")


def _status_change(request: Request, staff: StaffContext, merchant_id: int, reason: str, name: str) -> Response:
    try:
        with db_of(request).transaction() as session:
            change = merchants.suspend if name == "suspend" else merchants.reactivate
            change(session, merchant_id, reason, by=staff.audit_actor, channel="ops")
    except QianbaoError as exc:
        if exc.code == "MERCHANT_NOT_FOUND":
            raise
        return _detail(request, staff, merchant_id, error=refusal(exc, lang_of(request)), failed=name,
                       status_code=exc.status)
    done = "suspended" if name == "suspend" else "reactivated"
    return RedirectResponse(f"/ops/merchants/{merchant_id}?done={done}", status_code=303)


@router.post("/ops/merchants/{merchant_id}/suspend", response_class=HTMLResponse)
def merchant_suspend(request: Request, merchant_id: int, reason: str = Form("", max_length=600),
                     staff: StaffContext = Depends(requires("ops.merchants"))) -> Response:
    return _status_change(request, staff, merchant_id, reason, "suspend")


@router.post("/ops/merchants/{merchant_id}/reactivate", response_class=HTMLResponse)
def merchant_reactivate(request: Request, merchant_id: int, reason: str = Form("", max_length=600),
                        staff: StaffContext = Depends(requires("ops.merchants"))) -> Response:
    return _status_change(request, staff, merchant_id, reason, "reactivate")
