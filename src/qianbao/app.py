"""The ASGI application: pages, JSON API, health and metrics over one Database."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from qianbao import __version__
from qianbao.api import (
    bank_callbacks,
    customer_auth,
    customer_cards,
    customer_pay,
    customer_records,
    customer_transfers,
    health,
    merchant_api,
    merchant_paycode,
)
from qianbao.api import customer_bills as customer_bills_api
from qianbao.api.middleware import RequestContextMiddleware
from qianbao.api.problems import http_error_handler, qianbao_error_handler, validation_error_handler
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import installed_keyring, load_keyring, use_keyring
from qianbao.settings import Settings
from qianbao.web import (
    auth,
    counter_pinpad,
    customer_pages,
    customer_realname,
    merchant_pages,
    ops_audit,
    ops_fees,
    ops_merchants,
    ops_pages,
    ops_sms,
    pages,
    pinpad_pages,
    staff_pages,
    supervisor_console,
    teller_cash,
    teller_eod,
    teller_pages,
    teller_services,
)
from qianbao.web import customer_bills as customer_bills_pages
from qianbao.web import customer_cards as customer_cards_pages
from qianbao.web import customer_parcels as customer_parcels_pages
from qianbao.web import customer_pay as customer_pay_pages
from qianbao.web import customer_records as customer_records_pages
from qianbao.web import customer_transfers as customer_transfers_pages
from qianbao.web import merchant_paycode as merchant_paycode_pages
from qianbao.web.render import STATIC_PATH


def app_from_environment() -> FastAPI:
    """The app built from QIANBAO_* variables alone: what each process of `qianbao serve --workers N` runs."""
    from qianbao import bootstrap

    settings = Settings()
    bootstrap.init_logging(settings)
    bootstrap.keyring(settings)
    return create_app(settings, bootstrap.open_database(settings))


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="Qianbao API",
        version=__version__,
        description="钱包开放接口 · Qianbao wallet API. Errors are RFC 9457 problem+json with a stable `code`.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db if db is not None else Database(settings.resolved_database_url)
    app.state.metrics = health.Metrics()
    if installed_keyring() is None:
        use_keyring(load_keyring(settings.resolved_key_file))

    app.add_exception_handler(QianbaoError, qianbao_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(auth.LoginRequired, auth.login_required_handler)

    app.mount("/static", StaticFiles(directory=str(STATIC_PATH)), name="static")
    app.include_router(health.router)
    # The payment APIs first: a request walks the routes in order until one matches, and these are the
    # busiest (docs/performance.md). No page route matches an /api/ path, so the order changes nothing else.
    app.include_router(merchant_api.router)
    app.include_router(customer_pay.router)
    app.include_router(customer_transfers.router)
    app.include_router(pages.router)
    app.include_router(ops_sms.router)
    app.include_router(ops_audit.router)
    app.include_router(ops_pages.router)
    app.include_router(staff_pages.router)
    app.include_router(teller_pages.router)
    app.include_router(pinpad_pages.router)
    # the counter (qianbao.counter): cash, services, end of day, the supervisor's view, the counter PIN pad
    app.include_router(teller_cash.router)
    app.include_router(teller_services.router)
    app.include_router(teller_eod.router)
    app.include_router(supervisor_console.router)
    app.include_router(counter_pinpad.router)
    # merchants (qianbao.merchants): the ops pages, the merchant's own pages, the signed merchant API
    app.include_router(ops_merchants.router)
    app.include_router(merchant_pages.router)
    app.include_router(customer_pages.router)
    app.include_router(customer_auth.router)
    # bank cards, top-up and withdrawal (qianbao.cards): the customer pages and the JSON API
    app.include_router(customer_cards_pages.router)
    app.include_router(customer_cards.router)
    app.include_router(bank_callbacks.router)
    # merchant QR payments and the payment code (qianbao.payments.emvqr / .paycode)
    app.include_router(customer_pay_pages.router)
    app.include_router(merchant_paycode.router)
    app.include_router(merchant_paycode_pages.router)

    # transfers, the transaction history and payment settings (qianbao.payments core)
    app.include_router(customer_transfers_pages.router)
    app.include_router(customer_records_pages.router)
    app.include_router(customer_records.router)
    app.include_router(ops_fees.router)

    # bills, parcels and withholding agreements (qianbao.payments.bills / .parcels / .withholding)
    app.include_router(customer_bills_pages.router)
    app.include_router(customer_parcels_pages.router)
    app.include_router(customer_bills_api.router)

    # Added last = outermost: every response, errors included, gets a request id and a language.
    app.add_middleware(health.MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_limits={**customer_realname.BODY_LIMITS, **teller_pages.BODY_LIMITS,
                     **customer_pay_pages.BODY_LIMITS},
        default_language=settings.default_language,
    )
    # Outermost of all, so every response gets the security headers, crash-guard problems included.
    app.add_middleware(auth.SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    return app
