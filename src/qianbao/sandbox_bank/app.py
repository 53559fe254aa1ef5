"""The sandbox bank's HTTP service (a FastAPI app of its own, run by `qianbao sandbox-bank serve`).

Merchant API — every request signed (qianbao.adapters.bank.signing; 401 SIGNATURE_MISSING / SIGNATURE_INVALID /
TIMESTAMP_STALE / NONCE_REPLAYED), answers JSON, refusals `{"code", "message", ...}`:

    POST /v1/bindings                    {request_id, card_number, holder_name, id_number, phone} → 201 challenge
    POST /v1/bindings/{ref}/confirm      {otp} → {token, bank_code, card_type, last4}
    POST /v1/debits | /v1/credits        {token, amount, key, reference?, notify_url?} → 202 (200 replayed)
    GET  /v1/operations/{key}            the operation sent with that key
    POST /v1/tokens/{token}/revoke       unbinding
    GET  /v1/settlements/{YYYY-MM-DD}    text/csv, the business day's settlement file

Admin (Authorization: Bearer <admin token>): /admin/config (GET, PUT), /admin/cards (POST; GET/PATCH one),
/admin/operations (GET ?key=), /admin/operations/settle (POST), /admin/callbacks (GET ?key=),
/admin/callbacks/pending (GET, pull mode), /admin/callbacks/{id}/result (POST). Open: GET /dev/outbox (the
bank's texts, codes included — a development tool), GET /healthz.

Behaviour: every /v1 answer waits `latency_ms`; a share `error_rate` of /v1 requests is answered 503 before
anything happens (the connector's retries meet it); operations settle `processing_ms` after acceptance (when
`auto_process`), a share `failure_rate` of them declined; callbacks are pushed with exponential backoff until
the wallet answers 2xx (`callback_mode` push), or handed out on /admin/callbacks/pending (pull, for tests).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from qianbao.adapters.bank import signing
from qianbao.db import Database
from qianbao.sandbox_bank import service, worker
from qianbao.sandbox_bank.config import Behaviour, SandboxBankSettings
from qianbao.sandbox_bank.models import SandboxBase
from qianbao.sandbox_bank.service import BankError


def create_sandbox_app(settings: SandboxBankSettings, *, run_worker: bool = True) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    SandboxBase.metadata.create_all(db.engine)
    behaviour = Behaviour.from_settings(settings)
    if settings.seed_demo:
        from qianbao.sandbox_bank.demo import seed_demo_cards

        with db.transaction() as session:
            seed_demo_cards(session)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if run_worker:
            thread = threading.Thread(target=worker.run, args=(db, settings, behaviour, stop),
                                      name="sandbox-bank-worker", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            db.dispose()

    app = FastAPI(title="Sandbox bank · 沙箱银行", version="1", lifespan=lifespan, docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None)
    app.state.db = db
    app.state.settings = settings
    app.state.behaviour = behaviour

    @app.exception_handler(BankError)
    async def bank_error_handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BankError)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.middleware("http")
    async def behave(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith("/v1/"):
            if behaviour.latency_ms:
                await asyncio.sleep(behaviour.latency_ms / 1000)
            if behaviour.error_rate and random.random() < behaviour.error_rate:
                return JSONResponse({"code": "SERVICE_UNAVAILABLE", "message": "try again later"}, status_code=503,
                                    headers={"Retry-After": "1"})
        return await call_next(request)

    _routes(app, db, settings, behaviour)
    return app


def _committing(db: Database, fn: Callable[[Session], Any]) -> Any:
    """Run fn in a transaction; a BankError(commit=True) keeps what fn wrote before raising it."""
    session = db.session()
    try:
        session.begin()
        result = fn(session)
        session.commit()
        return result
    except BankError as exc:
        if exc.commit:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class BindingIn(BaseModel):
    request_id: str = Field(min_length=8, max_length=64)
    card_number: str = Field(max_length=32)
    holder_name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    phone: str = Field(max_length=20)


class ConfirmIn(BaseModel):
    otp: str = Field(max_length=8)


class MoveIn(BaseModel):
    token: str = Field(max_length=64)
    amount: Any
    key: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(None, max_length=200)
    notify_url: str | None = Field(None, max_length=500)


class CardIn(BaseModel):
    holder_name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    phone: str = Field(max_length=20)
    bank_code: str = "PSBC"
    card_type: str = "debit"
    balance: int = 0
    number: str | None = None
    frozen: bool = False


class CardPatch(BaseModel):
    balance: int | None = None
    frozen: bool | None = None


class SettleIn(BaseModel):
    bank_ref: str | None = None
    status: str | None = Field(None, pattern="^(succeeded|failed)$")
    reason: str | None = Field(None, max_length=32)


class AttemptIn(BaseModel):
    status_code: int | None = None
    error: str | None = Field(None, max_length=200)


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError:
        raise BankError("BAD_REQUEST", 400) from None


def _routes(app: FastAPI, db: Database, settings: SandboxBankSettings, behaviour: Behaviour) -> None:
    secrets_by_merchant = {settings.merchant_id: settings.api_secret}

    async def merchant(request: Request) -> str:
        """The merchant of a signed /v1 request (its nonce remembered at once, so a replay is refused)."""
        body = await request.body()
        path = signing.request_target(request.scope)
        try:
            signed = signing.verify(secrets_by_merchant, request.headers, request.method, path, body)
        except signing.SignatureError as exc:
            raise BankError(exc.code, 401) from None
        def remember() -> bool:
            with db.transaction() as session:
                return service.remember_nonce(session, signed.merchant, signed.nonce)

        if not await asyncio.to_thread(remember):
            raise BankError("NONCE_REPLAYED", 401)
        return signed.merchant

    def admin(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), settings.admin_token):
            raise BankError("ADMIN_TOKEN_INVALID", 401)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "sandbox-bank"}

    # ---- merchant API ------------------------------------------------------------------------------------

    @app.post("/v1/bindings", status_code=201)
    async def start_binding(request: Request, who: str = Depends(merchant)) -> dict[str, Any]:
        data: BindingIn = _parse(BindingIn, await request.body())

        def work(session: Session) -> service.Challenge:
            return service.start_binding(session, behaviour, who, data.request_id, data.card_number,
                                         data.holder_name, data.id_number, data.phone)

        challenge = await asyncio.to_thread(_committing, db, work)
        return {"binding_ref": challenge.ref, "masked_phone": challenge.masked_phone,
                "expires_at": challenge.expires_at.isoformat()}

    @app.post("/v1/bindings/{ref}/confirm")
    async def confirm_binding(ref: str, request: Request, who: str = Depends(merchant)) -> dict[str, Any]:
        data: ConfirmIn = _parse(ConfirmIn, await request.body())
        info = await asyncio.to_thread(_committing, db,
                                       lambda session: service.confirm_binding(session, who, ref, data.otp))
        return {"token": info.token, "bank_code": info.bank_code, "card_type": info.card_type, "last4": info.last4}

    async def _move(kind: str, request: Request, who: str) -> JSONResponse:
        data: MoveIn = _parse(MoveIn, await request.body())

        def work(session: Session) -> dict[str, Any]:
            operation, replayed = service.submit(session, behaviour, who, kind, data.token, data.amount, data.key,
                                                 data.reference, data.notify_url)
            return {"bank_ref": operation.bank_ref, "key": operation.key, "status": operation.status,
                    "replayed": replayed}

        body = await asyncio.to_thread(_committing, db, work)
        return JSONResponse(body, status_code=200 if body["replayed"] else 202)

    @app.post("/v1/debits", status_code=202)
    async def debit(request: Request, who: str = Depends(merchant)) -> JSONResponse:
        return await _move("debit", request, who)

    @app.post("/v1/credits", status_code=202)
    async def credit(request: Request, who: str = Depends(merchant)) -> JSONResponse:
        return await _move("credit", request, who)

    @app.get("/v1/operations/{key:path}")
    def query(key: str, who: str = Depends(merchant)) -> dict[str, Any]:
        with db.read() as session:
            return service.operation_view(service.operation_by_key(session, who, key))

    @app.post("/v1/tokens/{token}/revoke")
    def revoke(token: str, who: str = Depends(merchant)) -> dict[str, str]:
        with db.transaction() as session:
            service.revoke_token(session, who, token)
        return {"status": "revoked"}

    @app.get("/v1/settlements/{day}")
    def settlement(day: str, who: str = Depends(merchant)) -> PlainTextResponse:
        business_day = service.parse_business_date(day)
        with db.read() as session:
            text = service.settlement_csv(session, who, business_day)
        return PlainTextResponse(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="settlement-{who}-{business_day.isoformat()}.csv"'})

    # ---- admin and development ---------------------------------------------------------------------------

    @app.post("/admin/reset", dependencies=[Depends(admin)])
    def reset() -> dict[str, Any]:
        """Forget everything (cards, bindings, tokens, operations, callbacks, texts), seed the demo cards again
        if configured, and go back to the configured behaviour: a fresh bank for the next test."""
        with db.transaction() as session:
            for table in reversed(SandboxBase.metadata.sorted_tables):
                session.execute(table.delete())
            if settings.seed_demo:
                from qianbao.sandbox_bank.demo import seed_demo_cards

                seed_demo_cards(session)
        return behaviour.update(Behaviour.from_settings(settings).as_dict())

    @app.get("/admin/config", dependencies=[Depends(admin)])
    def get_config() -> dict[str, Any]:
        return behaviour.as_dict()

    @app.put("/admin/config", dependencies=[Depends(admin)])
    async def put_config(request: Request) -> dict[str, Any]:
        try:
            changes = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BankError("BAD_REQUEST", 400) from None
        if not isinstance(changes, dict) or set(changes) - set(behaviour.as_dict()):
            raise BankError("BAD_REQUEST", 400)
        try:
            return behaviour.update(changes)
        except ValueError:
            raise BankError("BAD_REQUEST", 400) from None

    @app.post("/admin/cards", status_code=201, dependencies=[Depends(admin)])
    def create_card(data: CardIn) -> dict[str, Any]:
        with db.transaction() as session:
            card = service.create_card(session, **data.model_dump())
            return service.card_view(card)

    @app.get("/admin/cards/{number}", dependencies=[Depends(admin)])
    def get_card(number: str) -> dict[str, Any]:
        with db.read() as session:
            return service.card_view(service.card_by_number(session, number))

    @app.patch("/admin/cards/{number}", dependencies=[Depends(admin)])
    def patch_card(number: str, data: CardPatch) -> dict[str, Any]:
        with db.transaction() as session:
            card = service.card_by_number(session, number)
            if data.balance is not None:
                card.balance = data.balance
            if data.frozen is not None:
                card.frozen = data.frozen
            return service.card_view(card)

    @app.get("/admin/operations", dependencies=[Depends(admin)])
    def list_operations(key: str | None = Query(None)) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from qianbao.sandbox_bank.models import Operation

        with db.read() as session:
            stmt = select(Operation).order_by(Operation.id.desc()).limit(200)
            if key:
                stmt = stmt.where(Operation.key == key)
            return [service.operation_view(op) for op in session.scalars(stmt)]

    @app.post("/admin/operations/settle", dependencies=[Depends(admin)])
    def settle(data: SettleIn) -> dict[str, Any]:
        """Settle processing operations now (one by bank_ref, or all), optionally forcing the outcome."""
        from sqlalchemy import select

        from qianbao.sandbox_bank.models import Operation

        with db.read() as session:
            stmt = select(Operation.id).where(Operation.status == "processing").order_by(Operation.id)
            if data.bank_ref:
                stmt = stmt.where(Operation.bank_ref == data.bank_ref)
            ids = list(session.scalars(stmt))
        settled = []
        for operation_id in ids:
            with db.transaction() as session:
                done = service.settle(session, behaviour, operation_id, status=data.status, reason=data.reason)
                if done is not None:
                    settled.append(service.operation_view(done))
        return {"settled": settled}

    @app.get("/admin/callbacks", dependencies=[Depends(admin)])
    def list_callbacks(key: str | None = Query(None)) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from qianbao.sandbox_bank.models import Callback, Operation

        with db.read() as session:
            stmt = select(Callback).order_by(Callback.id.desc()).limit(200)
            if key:
                stmt = stmt.join(Operation, Operation.id == Callback.operation_id).where(Operation.key == key)
            return [service.callback_view(cb) for cb in session.scalars(stmt)]

    @app.get("/admin/callbacks/pending", dependencies=[Depends(admin)])
    def pending(limit: int = Query(100, ge=1, le=500)) -> list[dict[str, Any]]:
        """Undelivered callbacks as signed requests (pull mode): deliver each and report with /result."""
        with db.read() as session:
            rows = service.pending_callbacks(session, limit)
            out = []
            for row in rows:
                url, headers, body = service.signed_request(row, settings.callback_secret)
                out.append({"id": row.id, "event_id": row.event_id, "url": url, "headers": headers,
                            "body": body.decode()})
            return out

    @app.post("/admin/callbacks/{callback_id}/result", dependencies=[Depends(admin)])
    def attempt_result(callback_id: int, data: AttemptIn) -> dict[str, Any]:
        with db.transaction() as session:
            return service.callback_view(service.record_attempt(session, behaviour, callback_id, data.status_code,
                                                                data.error))

    @app.get("/dev/outbox")
    def dev_outbox(phone: str | None = Query(None, max_length=20),
                   limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
        with db.read() as session:
            return [{"id": m.id, "phone": m.phone, "text": m.text, "created_at": m.created_at.isoformat()}
                    for m in service.outbox(session, phone, limit)]


__all__ = ["create_sandbox_app"]
