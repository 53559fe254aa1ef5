"""Teller console: end of day (轧账, SPEC §7).

    GET  /teller/eod                 the day's figures and the count by denomination
    POST /teller/eod                 declare the counted cash: equal → the drawer returns to the vault and the
                                     day closes; different → the supervisor signs the over/short off
    GET  /teller/eod/status          htmx poll while the supervisor decides
    GET  /teller/eod/{id}/report.pdf the day report (counted as a print of the day's report receipt)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao import counter, receipts
from qianbao.counter.models import CLOSED
from qianbao.errors import QianbaoError
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import render
from qianbao.web.teller_cash import branch_of, day_view, db_of, error_context, lang_of, op_rows, see_other

router = APIRouter(include_in_schema=False)


def _last_closed(session: Any, staff: StaffContext) -> dict[str, Any] | None:
    last = counter.latest_session(session, staff.id)
    if last is None or last.status != CLOSED:
        return None
    report = receipts.receipt_for(session, counter.DAY_REPORT_KIND, last.id)
    return {"id": last.id, "date": last.business_date, "counted": last.counted_total,
            "expected": last.expected_total, "difference": last.difference,
            "report_id": None if report is None else report.id,
            "report_serial": None if report is None else report.serial}


def eod_page(request: Request, staff: StaffContext, *, counts: dict[int, str] | None = None,
             error: QianbaoError | None = None, status_code: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    with db_of(request).read() as session:
        day = day_view(session, staff)
        closed = _last_closed(session, staff) if day.id is None else None
        # After the day closed, its operations stay listed beside the report.
        rows = op_rows(session, day.id if day.id is not None else (closed or {}).get("id"), lang)
    totals = {"cash_in": sum(r.amount or 0 for r in rows if r.kind == "cash_in" and r.status == "succeeded"),
              "cash_out": sum(r.amount or 0 for r in rows if r.kind == "cash_out" and r.status == "succeeded"),
              "pending": sum(1 for r in rows if r.status in ("awaiting_pinpad", "awaiting_approval"))}
    return render(request, "teller/eod.html", status_code=status_code, section="eod", day=day, rows=rows,
                  totals=totals, denominations=counter.DENOMINATIONS, counts=counts or {}, closed=closed,
                  **error_context(request, error))


@router.get("/teller/eod", response_class=HTMLResponse)
def eod(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return eod_page(request, staff)


@router.post("/teller/eod", response_class=HTMLResponse)
async def eod_declare(request: Request, staff: StaffContext = Depends(requires("teller.operate"))) -> Response:
    form = await request.form()
    counts: dict[int, str] = {}
    for denomination in counter.DENOMINATIONS:
        raw = form.get(f"d{denomination}", "")
        counts[denomination] = raw[:12] if isinstance(raw, str) else ""
    try:
        with db_of(request).transaction() as session:
            counter.declare_end_of_day(session, staff.id, dict(counts))
    except QianbaoError as exc:
        return eod_page(request, staff, counts=counts, error=exc, status_code=exc.status)
    return see_other("/teller/eod")


@router.post("/teller/eod/preview", response_class=HTMLResponse)
async def eod_preview(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    """The running total of the count and its difference with the drawer, while the teller types (htmx)."""
    form = await request.form()
    with db_of(request).read() as session:
        day = day_view(session, staff)
    total: int | None = 0
    for denomination in counter.DENOMINATIONS:
        raw = form.get(f"d{denomination}", "")
        text = (raw if isinstance(raw, str) else "").strip() or "0"
        if not text.isdigit() or len(text) > 7:
            total = None
            break
        assert total is not None
        total += denomination * int(text)
    difference = None if total is None or day.expected is None else total - day.expected
    return render(request, "teller/_eod_total.html", total=total, difference=difference)


@router.get("/teller/eod/status")
def eod_status(request: Request, seen: str = Query("", max_length=32),
               staff: StaffContext = Depends(requires("teller.console"))) -> Response:
    with db_of(request).read() as session:
        day = day_view(session, staff)
    if (day.status or "none") == seen:
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Redirect": "/teller/eod"})


@router.get("/teller/eod/{day_id}/report.pdf")
def eod_report(
    request: Request, day_id: int, staff: StaffContext = Depends(requires("teller.console"))
) -> Response:
    """The day report of one of this branch's teller days, in the page's language (?lang=en)."""
    with db_of(request).transaction() as session:
        day = counter.get_session(session, day_id, branch_id=branch_of(staff))
        receipt = receipts.receipt_for(session, counter.DAY_REPORT_KIND, day.id)
        if receipt is None:
            raise QianbaoError("NOT_FOUND")
        prepared = receipts.print_receipt(session, receipt.id, staff.id, lang_of(request), branch_id=branch_of(staff))
    return Response(content=prepared.pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="day-report-{prepared.serial}.pdf"',
                             "Cache-Control": "no-store"})
