"""Teller console: the teller's day and the cash counter (SPEC §7).

    GET  /teller/cash                   the day's state: open it with a float, or the cash form and the day's list
    POST /teller/day/open               ask for the float from the vault (a supervisor confirms it)
    POST /teller/cash                   cash in / cash out for the holder on the ID-card reader (or typed ID);
                                        answers with the code the customer types on the PIN pad
    POST /teller/counter/read-card      read the card on this counter's reader into the form (cash or services)
    POST /teller/counter/sandbox-card   demo: put a sandbox citizen's card on this counter's reader
    GET  /teller/ops/{id}               one counter operation: waiting for the PIN pad / supervisor, or done
    GET  /teller/ops/{id}/status        htmx poll: 204 while unchanged, else HX-Redirect to the page
    POST /teller/ops/{id}/pad-code      a new PIN-pad code         POST /teller/ops/{id}/cancel   the customer left
    GET  /teller/drawer                 the drawer fragment every teller page loads (expected cash at all times)

The customer's PIN is never typed here: the PIN pad (/pinpad/counter, qianbao.web.counter_pinpad) takes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import counter, receipts
from qianbao.adapters.idcard.sandbox import SandboxIdCardReader, card_for_citizen
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.cards.rules import bank_name
from qianbao.counter import close_to_card
from qianbao.counter.models import BALANCING, OP_PENDING
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan
from qianbao.pii.masking import mask_name
from qianbao.web import auth, teller_opening
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)
Page = Literal["cash", "services"]


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def db_of(request: Request) -> Any:
    return request.app.state.db


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def t(request: Request, key: str, **params: Any) -> str:
    return translate(key, lang_of(request), **params)


def device_of(staff: StaffContext) -> str:
    return teller_opening.counter_device(staff.branch_code, staff.employee_no)


def reader_of(request: Request) -> Any:
    return teller_opening.reader(request.app.state, auth.settings_of(request))


def branch_of(staff: StaffContext) -> int:
    if staff.branch_id is None:
        raise QianbaoError("FORBIDDEN")
    return staff.branch_id


@dataclass
class IdForm:
    """The identification part of a counter form, given back on a refusal."""

    id_number: str = ""
    source: str = "manual"  # reader | manual
    card_checked: bool = False
    holder: str = ""  # masked name read from the card
    values: dict[str, str] = field(default_factory=dict)  # the rest of the form (amount, kind...)


@dataclass(frozen=True)
class DayView:
    id: int | None
    status: str | None  # None: no live session
    float_amount: int | None
    expected: int | None
    approval_pending: bool
    counted: int | None = None
    difference: int | None = None
    float_op_id: int | None = None  # while the float waits, the teller may withdraw it
    closed_today: bool = False  # no live session because today's is balanced and closed


def day_view(session: Any, staff: StaffContext) -> DayView:
    live = counter.live_session(session, staff.id)
    if live is None:
        return DayView(None, None, None, None, False, closed_today=counter.closed_today(session, staff.id))
    expected = counter.drawer_expected(session, live)
    pending = live.status == BALANCING and counter.pending_eod_request(session, live.id) is not None
    float_op = None
    if live.status == "awaiting_float":
        float_op = next((op.id for op in counter.operations_of(session, live.id) if op.kind == "float"), None)
    return DayView(live.id, live.status, live.float_amount, expected, pending or live.status == "awaiting_float",
                   live.counted_total, live.difference, float_op)


@dataclass(frozen=True)
class OpRow:
    id: int
    reference: str
    kind: str
    kind_label: str
    status: str
    amount: int | None
    wallet: str
    name: str
    created_at: Any
    receipt_id: int | None
    receipt_serial: str | None


def op_rows(session: Any, session_id: int | None, lang: str) -> list[OpRow]:
    from qianbao.counter.documents import kind_label

    if session_id is None:
        return []
    rows = []
    for op in reversed(counter.operations_of(session, session_id)):
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, op.id)
        rows.append(OpRow(op.id, op.reference, op.kind, kind_label(op.kind, lang, op.details), op.status, op.amount,
                          str(op.details.get("wallet", "")), str(op.details.get("name", "")), op.created_at,
                          None if receipt is None else receipt.id, None if receipt is None else receipt.serial))
    return rows


def sandbox_context(request: Request, staff: StaffContext) -> dict[str, Any]:
    reader = reader_of(request)
    settings = auth.settings_of(request)
    if not teller_opening.is_sandbox(reader, settings):
        return {"sandbox_people": [], "placed": None}
    from qianbao import wallets

    with db_of(request).read() as session:
        people = teller_opening.sandbox_people(wallets.wallet_policy(session).minimum_age)
    card = reader.card_on(device_of(staff)) if isinstance(reader, SandboxIdCardReader) else None
    return {"sandbox_people": people, "placed": None if card is None else mask_name(card.name)}


def error_context(request: Request, error: QianbaoError | None) -> dict[str, Any]:
    return {"error": None if error is None else error.message(lang_of(request)),
            "error_code": None if error is None else error.code}


def form_key() -> str:
    return secrets.token_hex(12)


def cash_page(request: Request, staff: StaffContext, *, form: IdForm | None = None,
              error: QianbaoError | None = None, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    with db_of(request).read() as session:
        day = day_view(session, staff)
        rows = op_rows(session, day.id, lang)
        threshold = counter.cash_out_threshold(auth.settings_of(request))
    return render(
        request, "teller/cash.html", status_code=status_code, section="cash", day=day, rows=rows,
        form=form or IdForm(values={"kind": request.query_params.get("kind", "cash_in"),
                                    "amount": request.query_params.get("amount", "")}),
        form_key=form_key(), threshold=threshold, notice=notice, device=device_of(staff), page="cash",
        **sandbox_context(request, staff), **error_context(request, error),
    )


@router.get("/teller/cash", response_class=HTMLResponse)
def cash(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return cash_page(request, staff)


@router.post("/teller/day/open", response_class=HTMLResponse)
def open_day(
    request: Request, amount: str = Form("", max_length=32), key: str = Form("", max_length=64),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> Response:
    try:
        with db_of(request).transaction() as session:
            counter.open_day(session, staff.id, parse_yuan(amount), client_key=key or None)
    except QianbaoError as exc:
        return cash_page(request, staff, error=exc, status_code=exc.status,
                         form=IdForm(values={"float": amount}))
    return see_other("/teller/cash")


def identify_from_form(request: Request, staff: StaffContext, session: Any, form: IdForm) -> counter.Identified:
    if form.source == "reader":
        card = reader_of(request).read(device_of(staff))
        return counter.identify(session, card.id_number, source="reader", card_checked=True)
    return counter.identify(session, form.id_number, source="manual", card_checked=form.card_checked)


def op_page(request: Request, staff: StaffContext, op_id: int, *, code: counter.PadCode | None = None,
            error: QianbaoError | None = None, status_code: int = 200) -> HTMLResponse:
    from qianbao.counter.documents import kind_label

    lang = lang_of(request)
    with db_of(request).read() as session:
        op = counter.get_operation(session, op_id, branch_id=branch_of(staff))
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, op.id)
        day = day_view(session, staff)
        view = {
            "id": op.id, "reference": op.reference, "kind": op.kind, "label": kind_label(op.kind, lang, op.details),
            "status": op.status, "amount": op.amount, "details": dict(op.details), "created_at": op.created_at,
            "receipt_id": None if receipt is None else receipt.id,
            "receipt_serial": None if receipt is None else receipt.serial, "own": op.teller_id == staff.id,
            "outcome_code": op.outcome_code, "id_check": op.id_check,
            "payout_status": close_to_card.payout_status(session, op) if op.kind == "close_wallet" else None,
            "payout_bank": bank_name(str(op.details["payout_bank"]), lang) if "payout_bank" in op.details else "",
        }
    section = "cash" if op.kind in ("cash_in", "cash_out") else ("eod" if op.kind in ("over_short", "vault_return")
                                                                   else "services")
    return render(request, "teller/operation.html", status_code=status_code, section=section, op=view, code=code,
                  day=day, live=view["status"] in OP_PENDING, form=IdForm(), form_key=form_key(),
                  **error_context(request, error))


@router.post("/teller/cash", response_class=HTMLResponse)
def cash_submit(
    request: Request,
    kind: str = Form("cash_in", max_length=16),
    amount: str = Form("", max_length=32),
    id_number: str = Form("", max_length=32),
    source: str = Form("manual", max_length=8),
    card_checked: str | None = Form(None, max_length=8),
    key: str = Form("", max_length=64),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> Response:
    form = IdForm(id_number=id_number.strip(), source="reader" if source == "reader" else "manual",
                  card_checked=bool(card_checked), values={"kind": kind, "amount": amount})
    try:
        with db_of(request).transaction() as session:
            if kind not in ("cash_in", "cash_out"):
                raise QianbaoError("COUNTER_OPERATION_STATE", state=kind)
            fen = parse_yuan(amount)
            ident = identify_from_form(request, staff, session, form)
            op, code = counter.start_cash(session, staff.id, kind, ident, fen, client_key=key or None)
            op_id = op.id
    except QianbaoError as exc:
        return cash_page(request, staff, form=form, error=exc, status_code=exc.status)
    if code is None:
        return see_other(f"/teller/ops/{op_id}")
    return op_page(request, staff, op_id, code=code)


@router.post("/teller/counter/read-card", response_class=HTMLResponse)
def read_card(
    request: Request, page: str = Form("cash", max_length=16), kind: str = Form("", max_length=16),
    amount: str = Form("", max_length=32), staff: StaffContext = Depends(requires("teller.operate")),
) -> HTMLResponse:
    """Read the card on this counter's reader: the form then identifies the holder by the chip."""
    values = {"kind": kind, "amount": amount}
    try:
        card = reader_of(request).read(device_of(staff))
    except QianbaoError as exc:
        return _page_for(request, staff, page, IdForm(values=values), error=exc, status_code=exc.status)
    form = IdForm(id_number=card.id_number, source="reader", card_checked=True, holder=mask_name(card.name),
                  values=values)
    return _page_for(request, staff, page, form, notice=t(request, "teller.open.card_read", name=mask_name(card.name)))


@router.post("/teller/counter/sandbox-card", response_class=HTMLResponse)
def sandbox_card(
    request: Request, page: str = Form("cash", max_length=16), citizen: str = Form("", max_length=32),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> HTMLResponse:
    """Demo only: put a sandbox citizen's card on this counter's reader."""
    reader = reader_of(request)
    person = find_citizen(citizen)
    if not teller_opening.is_sandbox(reader, auth.settings_of(request)) or person is None:
        raise QianbaoError("NOT_FOUND")
    reader.place_card(device_of(staff), card_for_citizen(person))
    return _page_for(request, staff, page, None, notice=t(request, "teller.sandbox.placed",
                                                           name=mask_name(person.name), device=device_of(staff)))


def _page_for(request: Request, staff: StaffContext, page: str, form: IdForm | None, **kw: Any) -> HTMLResponse:
    if page == "services":
        from qianbao.web.teller_services import services_page

        return services_page(request, staff, form=form, **kw)
    return cash_page(request, staff, form=form, **kw)


@router.get("/teller/ops/{op_id}", response_class=HTMLResponse)
def operation(request: Request, op_id: int, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return op_page(request, staff, op_id)


@router.get("/teller/ops/{op_id}/status")
def operation_status(
    request: Request, op_id: int, seen: str = Query("", max_length=32),
    staff: StaffContext = Depends(requires("teller.console")),
) -> Response:
    with db_of(request).read() as session:
        op = counter.get_operation(session, op_id, branch_id=branch_of(staff))
        state = op.status
        if op.kind == "close_wallet" and state == "awaiting_bank":  # the payout's end shows without a reload
            state = f"{state}:{close_to_card.payout_status(session, op)}"
    if state == seen:
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Redirect": f"/teller/ops/{op_id}"})


@router.post("/teller/ops/{op_id}/pad-code", response_class=HTMLResponse)
def new_pad_code(request: Request, op_id: int, staff: StaffContext = Depends(requires("teller.operate"))) -> Response:
    try:
        with db_of(request).transaction() as session:
            op = counter.get_operation(session, op_id, branch_id=branch_of(staff), lock=True)
            if op.teller_id != staff.id:
                raise QianbaoError("COUNTER_OPERATION_STATE", state=op.status)
            code = counter.issue_pad_code(session, op)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return op_page(request, staff, op_id, error=exc, status_code=exc.status)
    return op_page(request, staff, op_id, code=code)


@router.post("/teller/ops/{op_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, op_id: int, staff: StaffContext = Depends(requires("teller.operate"))) -> Response:
    try:
        with db_of(request).transaction() as session:
            counter.cancel_operation(session, op_id, staff.id)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return op_page(request, staff, op_id, error=exc, status_code=exc.status)
    return see_other(f"/teller/ops/{op_id}")


@router.get("/teller/drawer", response_class=HTMLResponse)
def drawer(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    """The drawer badge in every teller page's top bar (loaded and refreshed by htmx)."""
    with db_of(request).read() as session:
        day = day_view(session, staff)
    return render(request, "teller/_drawer.html", day=day)

