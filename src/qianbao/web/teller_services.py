"""Teller console: counter services for a holder identified in person (SPEC §3.2 "The counter also").

    GET  /teller/services     the services: reset the login password or the PIN (set on the PIN pad),
                              unfreeze a wallet frozen for loss, report a loss, change the mobile number,
                              close the wallet, print a statement; the upgrade to tier 1 links to /teller/upgrade
    POST /teller/services     start one → the operation page (with the PIN-pad code when the pad is needed)
    POST /teller/ops/{id}/close-complete   a close to a bound debit card: ask the bank again if still processing,
                              then close (payout succeeded) or end it (failed: the money is back)
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import counter
from qianbao.cards.rules import bank_name
from qianbao.counter import close_to_card
from qianbao.counter.services import PAD_KINDS, SERVICE_KINDS
from qianbao.errors import QianbaoError
from qianbao.identity import today_in_shanghai
from qianbao.web.auth import StaffContext, requires
from qianbao.web.customer_cards import bank_connector
from qianbao.web.render import render
from qianbao.web.teller_cash import (
    IdForm,
    branch_of,
    cash_page,
    day_view,
    db_of,
    device_of,
    error_context,
    form_key,
    identify_from_form,
    lang_of,
    op_page,
    sandbox_context,
    see_other,
)

router = APIRouter(include_in_schema=False)


def services_page(request: Request, staff: StaffContext, *, form: IdForm | None = None,
                  error: QianbaoError | None = None, notice: str | None = None,
                  status_code: int = 200, payout_cards: list[dict[str, str]] | None = None) -> HTMLResponse:
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
                  device=device_of(staff), page="services", payout_cards=payout_cards or [],
                  **sandbox_context(request, staff),
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
    payout_card: str = Form("", max_length=64),
    key: str = Form("", max_length=64),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> Response:
    values: dict[str, Any] = {"service": service, "new_phone": new_phone, "reason": reason,
                              "period_from": period_from, "period_to": period_to, "payout_card": payout_card}
    cards: list[dict[str, str]] = []
    form = IdForm(id_number=id_number.strip(), source="reader" if source == "reader" else "manual",
                  card_checked=bool(card_checked), values=values)
    try:
        with db_of(request).transaction() as session:
            if service not in SERVICE_KINDS:
                raise QianbaoError("COUNTER_OPERATION_STATE", state=service or "-")
            period = (_date(period_from), _date(period_to)) if service == "statement" else None
            ident = identify_from_form(request, staff, session, form)
            if service == "close_wallet":  # the holder's debit cards, should the balance go to one
                cards = [{"id": c.id, "bank": bank_name(c.bank_code, lang_of(request)), "last4": c.last4}
                         for c in close_to_card.debit_cards(session, ident.customer.id)]
            op, code = counter.start_service(session, staff.id, service, ident, client_key=key or None,
                                             new_phone=new_phone, reason=reason, period=period,
                                             payout_card=(payout_card or None) if service == "close_wallet" else None)
            op_id = op.id
    except QianbaoError as exc:
        # COUNTER_WALLET_NOT_EMPTY: the page offers a cash out first, or the holder's bound debit cards.
        return services_page(request, staff, form=form, error=exc, status_code=exc.status, payout_cards=cards)
    if code is None:
        return see_other(f"/teller/ops/{op_id}")
    return op_page(request, staff, op_id, code=code)


@router.post("/teller/ops/{op_id}/close-complete", response_class=HTMLResponse)
def close_complete(request: Request, op_id: int, staff: StaffContext = Depends(requires("teller.operate"))) -> Response:
    db = db_of(request)
    try:
        with db.read() as session:
            op = counter.get_operation(session, op_id, branch_id=branch_of(staff))
            if op.teller_id != staff.id:
                raise QianbaoError("COUNTER_OPERATION_STATE", state=op.status)
            pending = close_to_card.payout_status(session, op) == "processing"
        if pending:  # ask the bank again with the same key (it pays once); its final answer ends the payout
            close_to_card.send_to_bank(db, bank_connector(request), op_id)
        with db.transaction() as session:
            close_to_card.settle_close(session, staff.id, op_id)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return op_page(request, staff, op_id, error=exc, status_code=exc.status)
    return see_other(f"/teller/ops/{op_id}")


__all__ = ["cash_page", "router", "services_page"]
