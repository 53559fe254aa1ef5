"""Ops console: the latest audit-log entries, newest first, a page at a time.

Read-only; operators and auditors (access action "ops.read", docs/access.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from qianbao.audit.service import latest
from qianbao.web.auth import requires
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/ops/audit", response_class=HTMLResponse, dependencies=[Depends(requires("ops.read"))])
def ops_audit(request: Request, before: int | None = Query(None, ge=1)) -> HTMLResponse:
    with request.app.state.db.read() as session:
        entries = latest(session, limit=PAGE_SIZE + 1, before_seq=before)
    has_older = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    return render(
        request,
        "ops/audit.html",
        section="audit",
        entries=entries,
        before=before,
        older_than=entries[-1].seq if has_older and entries else None,
    )
