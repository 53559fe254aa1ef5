"""POST /api/bank/callbacks — the bank's signed result of a debit or credit (qianbao.adapters.bank.callbacks).

Authenticated by the bank's HMAC-SHA256 signature, not by a session (so it is on access.PUBLIC_ROUTES): a bad
signature, a timestamp more than five minutes off or a nonce seen before is 401 problem+json and changes
nothing. A genuine callback is accepted once: 200 {"status": "accepted"}; the same event delivered again is
200 {"status": "duplicate"} and changes nothing. While no handler is registered for its kind the answer is
503, so the bank keeps the event and delivers it again later.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from structlog import get_logger

from qianbao.adapters.bank import callbacks, signing
from qianbao.db import Database
from qianbao.settings import Settings

PATH = "/api/bank/callbacks"
router = APIRouter(tags=["bank"])
log = get_logger(__name__)


@router.post(PATH, include_in_schema=False)
async def bank_callback(request: Request) -> JSONResponse:
    body = await request.body()
    path = signing.request_target(request.scope)
    headers = {name: value for name, value in request.headers.items()}
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings

    def work() -> tuple[callbacks.BankEvent, bool]:
        with db.transaction() as session:
            return callbacks.receive(session, settings, headers, request.method, path, body)

    event, new = await run_in_threadpool(work)
    log.info("bank_callback", event_id=event.event_id, kind=event.kind, status=event.status, new=new)
    return JSONResponse({"status": "accepted" if new else "duplicate", "event_id": event.event_id})
