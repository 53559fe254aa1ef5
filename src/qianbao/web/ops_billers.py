"""Ops console: billers and the withholding policy (SPEC §11 configuration; §6.2 bills and parcels).

    GET  /ops/config/billers                           the billers (offered or not, each ledger account's
                                                       balance) and the withholding agreement maxima
    POST /ops/config/billers                           add a biller (bills.create_biller)
    POST /ops/config/billers/{biller_code}/enabled     offer a biller again or stop offering it
    POST /ops/config/withholding                       the most an agreement may allow (withholding.update_policy)

Every change needs a reason and is audited by the domain. Operators change ("ops.config"); auditors read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import access, ledger
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan
from qianbao.payments import bills, withholding
from qianbao.payments.bills_models import BILLER_CATEGORIES, REFERENCE_FORMATS
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import db_of, lang_of, refusal, yuan_field
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PAGE = "/ops/config/billers"
DONE = frozenset({"created", "enabled", "disabled", "withholding"})


def _page(request: Request, staff: StaffContext, *, error: Any = None, error_form: str = "",
          form: dict[str, str] | None = None, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        billers = bills.list_billers(session, include_disabled=True)
        balances = {}
        for biller in billers:
            account = ledger.account_by_code(session, f"BILLER-{biller.code}")
            balances[biller.code] = ledger.balance(session, account.id).posted if account is not None else 0
        limits = withholding.policy(session)
    return render(request, "ops/billers.html", status_code=status_code, section="config", billers=billers,
                  balances=balances, limits=limits, error=error, error_form=error_form, form=form or {},
                  notice=notice, categories=BILLER_CATEGORIES, formats=REFERENCE_FORMATS,
                  per_payment=yuan_field(limits.max_per_payment), monthly=yuan_field(limits.max_monthly),
                  can_edit=access.can(staff.actor, "ops.config"))


@router.get(PAGE, response_class=HTMLResponse)
def billers_page(request: Request, done: str = Query("", max_length=16),
                 staff: StaffContext = Depends(requires("ops.read"))) -> HTMLResponse:
    notice = translate(f"ops.billers.done.{done}", lang_of(request)) if done in DONE else None
    return _page(request, staff, notice=notice)


@router.post(PAGE, response_class=HTMLResponse)
def create_biller(request: Request, code: str = Form("", max_length=32), category: str = Form("", max_length=16),
                  name_zh: str = Form("", max_length=64), name_en: str = Form("", max_length=128),
                  region: str = Form("", max_length=32), reference_format: str = Form("", max_length=24),
                  reason: str = Form("", max_length=600),
                  staff: StaffContext = Depends(requires("ops.config"))) -> Response:
    form = {"code": code, "category": category, "name_zh": name_zh, "name_en": name_en, "region": region,
            "reference_format": reference_format, "reason": reason}
    try:
        with db_of(request).transaction() as session:
            bills.create_biller(session, code=code, category=category, name_zh=name_zh, name_en=name_en,
                                region=region, reference_format=reference_format, by_staff_id=staff.id,
                                reason=reason)
    except QianbaoError as exc:
        return _page(request, staff, error=refusal(exc, lang_of(request)), error_form="create", form=form,
                     status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done=created", status_code=303)


@router.post(PAGE + "/{biller_code}/enabled", response_class=HTMLResponse)
def set_enabled(request: Request, biller_code: str, enabled: str = Form("", max_length=4),
                reason: str = Form("", max_length=600),
                staff: StaffContext = Depends(requires("ops.config"))) -> Response:
    offer = enabled == "1"
    try:
        with db_of(request).transaction() as session:
            bills.set_biller_enabled(session, biller_code[:32], offer, by_staff_id=staff.id, reason=reason)
    except QianbaoError as exc:
        if exc.code == "BILLER_UNKNOWN":
            raise QianbaoError("NOT_FOUND") from None
        return _page(request, staff, error=refusal(exc, lang_of(request)), error_form=f"biller-{biller_code[:32]}",
                     status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done={'enabled' if offer else 'disabled'}", status_code=303)


@router.post("/ops/config/withholding", response_class=HTMLResponse)
def withholding_policy(request: Request, max_per_payment: str = Form("", max_length=32),
                       max_monthly: str = Form("", max_length=32), reason: str = Form("", max_length=600),
                       staff: StaffContext = Depends(requires("ops.config"))) -> Response:
    form = {"max_per_payment": max_per_payment, "max_monthly": max_monthly, "reason": reason}
    try:
        per_payment, monthly = parse_yuan(max_per_payment), parse_yuan(max_monthly)
        with db_of(request).transaction() as session:
            withholding.update_policy(session, max_per_payment=per_payment, max_monthly=monthly,
                                      by_staff_id=staff.id, reason=reason)
    except QianbaoError as exc:
        return _page(request, staff, error=refusal(exc, lang_of(request)), error_form="withholding", form=form,
                     status_code=exc.status)
    return RedirectResponse(f"{PAGE}?done=withholding", status_code=303)
