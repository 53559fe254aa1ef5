"""Ops console: what the dev SMS gateway has sent, newest first.

The full mobile number is shown on purpose: the dev gateway is a sandbox, and this page is where demo
users and testers pick up the one-time codes sent to them (signed in as the demo operator). Operators and
auditors (access action "ops.read"); a real gateway has no such page: its messages live at the provider.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from qianbao.adapters.sms import latest_messages
from qianbao.notices.outbox import status_counts
from qianbao.web.auth import requires
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100


@router.get("/ops/sms", response_class=HTMLResponse, dependencies=[Depends(requires("ops.read"))])
def ops_sms(request: Request, phone: str = Query("", max_length=32)) -> HTMLResponse:
    phone = phone.strip()
    with request.app.state.db.read() as session:
        messages = latest_messages(session, phone=phone or None, limit=PAGE_SIZE)
        counts = status_counts(session)
    return render(request, "ops/sms.html", section="sms", messages=messages, phone=phone, counts=counts)
