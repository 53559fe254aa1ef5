"""Teller console: counter services for a holder identified in person (SPEC §3.2 "The counter also").

    GET  /teller/services     the services: reset the login password or the PIN (set on the PIN pad),
                              unfreeze a wallet frozen for loss, report a loss, change the mobile number,
                              close the wallet, print a statement; the upgrade to tier 1 links to /teller/upgrade
    POST /teller/services     start one → the operation page (with the PIN-pad code when the pad is needed)
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import counter
from qianbao.counter.services import PAD_KINDS, SERVICE_KINDS
from qianbao.errors import QianbaoError
from qianbao.identity import today_in_shanghai
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import render
from qianbao.web.teller_cash import (
    IdForm,
    cash_page,
    day_view,
    db_of,
    device_of,
    error_context,
    form_key,
    identify_from_form,
    op_page,
    sandbox_context,
    see_other,
)

router = APIRouter(include_in_schema=False)


def services_page(request: Request, staff: StaffContext, *, form: IdForm | None = None,
                  error: QianbaoError | None = None, notice: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    today = today_in_shanghai()
    with db_of(request).read() as session:
        day = day_view(session, staff)
    values = {"service": request.query_params.get("service", "password_reset"),
              "period_from": (today - timedelta(days=30)).isoformat(), "period_to": today.isoformat()}
    if form is not None:
        values.update({k: v for k, v in form.values.items() if v})
    form = form or IdForm()
    form.values = values
    return render(request, "teller/services.html", status_code=status_code, section="services", day=day, form=form,
                  form_key=form_key(), services=SERVICE_KINDS, pad_kinds=PAD_KINDS, notice=notice,
                  device=device_of(staff), page="services", **sandbox_context(request, staff),
                  **error_context(request, error))


@router.get("/teller/services", response_class=HTMLResponse)
def services(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return services_page(request, staff)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise QianbaoError("COUNTER_PERIOD_INVALID", days=366) from None


@router.post("/teller/services", response_class=HTMLResponse)
def services_submit(
    request: Request,
    service: str = Form("", max_length=24),
    id_number: str = Form("", max_length=32),
    source: str = Form("manual", max_length=8),
    card_checked: str | None = Form(None, max_length=8),
    new_phone: str = Form("", max_length=32),
    reason: str = Form("", max_length=200),
    period_from: str = Form("", max_length=16),
    period_to: str = Form("", max_length=16),
    key: str = Form("", max_length=64),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> Response:
    values: dict[str, Any] = {"service": service, "new_phone": new_phone, "reason": reason,
                              "period_from": period_from, "period_to": period_to}
    form = IdForm(id_number=id_number.strip(), source="reader" if source == "reader" else "manual",
                  card_checked=bool(card_checked), values=values)
    try:
        with db_of(request).transaction() as session:
            if service not in SERVICE_KINDS:
                raise QianbaoError("COUNTER_OPERATION_STATE", state=service or "-")
            period = (_date(period_from), _date(period_to)) if service == "statement" else None
            ident = identify_from_form(request, staff, session, form)
            op, code = counter.start_service(session, staff.id, service, ident, client_key=key or None,
                                             new_phone=new_phone, reason=reason, period=period)
            op_id = op.id
    except QianbaoError as exc:
        if exc.code == "COUNTER_WALLET_NOT_EMPTY":
            pass  # the page offers to pay the balance out in cash first
        return services_page(request, staff, form=form, error=exc, status_code=exc.status)
    if code is None:
        return see_other(f"/teller/ops/{op_id}")
    return op_page(request, staff, op_id, code=code)


__all__ = ["cash_page", "router", "services_page"]
