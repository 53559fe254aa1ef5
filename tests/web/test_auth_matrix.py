"""The access-control matrix (issue 5 item 8): every route of the app, with every role, gets what
qianbao.access says it should — and a route that is neither public nor protected fails the test.

How it works, so that routes added later are covered without touching this file:
- the routes come from `app.routes` (the OpenAPI document is checked to list nothing else);
- a route is public only if `qianbao.access.is_public` says so (the allow-list lives there);
- every other route must carry an access dependency (`qianbao.web.auth.requires(action)`,
  `current_staff(...)` or `current_customer`); the roles it admits come from `access.POLICY`;
- path parameters are filled from PATH_PARAMS below: each makes a fresh object belonging to branch A
  (or to another customer), so branch staff of branch B and other customers must be refused it.
  A route with a parameter that PATH_PARAMS does not know fails: add a maker for it.
- routes behind a bearer-token dependency (`AccessSpec.credential == "bearer"`, the customer JSON API) get the
  role's token in `Authorization: Bearer` instead of a cookie: a customer's is let through, staff tokens and no
  token get 401;
- form fields are filled with FORM_VALUES (or "1"), so a request that passes the access check reaches the
  handler, which then must not answer 401 or 403 (a 422 for a made-up value is fine) nor crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from qianbao import access, approvals, credentials
from qianbao.approvals import Summary
from qianbao.credentials import Principal
from qianbao.settings import Settings
from qianbao.web import auth

SAFE = {"GET", "HEAD", "OPTIONS"}
BRANCH_A, BRANCH_B = "0101", "0102"
MATRIX_CUSTOMER, OTHER_CUSTOMER = 9001, 9002
MATRIX_KIND = "test.matrix"


@dataclass(frozen=True)
class Who:
    name: str
    role: str | None
    branch: str | None = None

    @property
    def audience(self) -> str | None:
        if self.role is None:
            return None
        return "customer" if self.role == access.CUSTOMER else "staff"


WHO = [
    Who("anonymous", None),
    Who("customer", access.CUSTOMER),
    Who("teller_a", access.TELLER, BRANCH_A),
    Who("teller_b", access.TELLER, BRANCH_B),
    Who("supervisor_a", access.SUPERVISOR, BRANCH_A),
    Who("supervisor_b", access.SUPERVISOR, BRANCH_B),
    Who("operator", access.OPERATOR),
    Who("auditor", access.AUDITOR),
]


@dataclass(frozen=True)
class Obj:
    """A path parameter's value and whose object it names."""

    value: str
    branch: str | None = None
    owner_customer: int | None = None


@dataclass
class World:
    db: Any
    settings: Settings
    make_staff: Callable[..., Any]
    staff: dict[str, Any]


def _approval(world: World) -> Obj:
    requester = world.make_staff("teller", branch=BRANCH_A)
    with world.db.transaction() as session:
        request = approvals.request_approval(session, MATRIX_KIND, requester.member.branch_id, requester.id,
                                             "matrix", "M-1", Summary("approvals.summary.example",
                                                                      {"what": "matrix", "amount_fen": 100}))
        return Obj(str(request.id), branch=BRANCH_A)


_MATRIX_PHONES = iter(range(13900000100, 13900009999))
_MATRIX_IDS = iter(range(10_000))


def _unsure_id_number() -> str:
    """A fresh valid resident ID number whose sequence (900-989) makes the sandbox verifier unsure."""
    from datetime import date, timedelta

    from stdnum.cn import ric

    n = next(_MATRIX_IDS)
    body = f"110105{date(1990, 1, 1) + timedelta(days=n // 90):%Y%m%d}{900 + n % 90}"
    return body + ric.calc_check_digit(body + "0")


def _app_wallet(world: World) -> tuple[int, int]:
    """(customer id, wallet id) of a holder registered in the app (ops pages: no branch, no owner check)."""
    from qianbao import wallets

    phone = str(next(_MATRIX_PHONES))
    with world.db.transaction() as session:
        issued = wallets.start_registration(session, phone, None, "zh-CN", send=False, settings=world.settings)
        customer, wallet = wallets.complete_registration(session, phone, issued.code, "Matrix-Wallet-77", True,
                                                         settings=world.settings)
        return customer.id, wallet.id


def _kyc_submission(world: World) -> Obj:
    """A real-name submission waiting in the ops KYC queue (the sandbox verifier is unsure of the number)."""
    import io

    from PIL import Image

    from qianbao import wallets
    from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier

    customer_id, _ = _app_wallet(world)
    photo = io.BytesIO()
    Image.new("RGB", (64, 40), "#d8e4f0").save(photo, format="JPEG")
    with world.db.transaction() as session:
        submission = wallets.submit_real_name(session, customer_id, "周建国", _unsure_id_number(), None,
                                              photo.getvalue(), photo.getvalue(),
                                              verifier=SandboxIdentityVerifier(latency_ms=0), settings=world.settings)
        return Obj(str(submission.id))


def _other_customers_notice(world: World) -> Obj:
    """An in-app notice of another customer, delivered as the outbox worker delivers it."""
    from qianbao.notices import inbox
    from qianbao.notices.outbox import enqueue_inbox

    with world.db.transaction() as session:
        message_id = enqueue_inbox(session, OTHER_CUSTOMER, "notice.wallet.opened.title", "notice.wallet.opened.body")
        inbox.write_notice(session, outbox_message_id=message_id, recipient_id=OTHER_CUSTOMER,
                           title_key="notice.wallet.opened.title", body_key="notice.wallet.opened.body")
        notice = inbox.list_notices(session, OTHER_CUSTOMER, limit=1)[0]
        return Obj(str(notice.id), owner_customer=OTHER_CUSTOMER)


def _other_customers_session(world: World) -> Obj:
    with world.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(OTHER_CUSTOMER), settings=world.settings)
        return Obj(started.public_id, owner_customer=OTHER_CUSTOMER)


def _other_customers_passkey(world: World) -> Obj:
    """A passkey of another customer. Written as a row: registering one needs an authenticator's signed
    answer (tests/credentials/soft_authenticator.py), and only who owns it matters here."""
    import secrets
    from datetime import UTC, datetime

    from qianbao.credentials.passkeys import Passkey

    with world.db.transaction() as session:
        row = Passkey(principal_type="customer", principal_id=OTHER_CUSTOMER, public_id=secrets.token_urlsafe(12),
                      credential_id=secrets.token_urlsafe(16), public_key=b"\xa5", sign_count=0, name="matrix",
                      backed_up=False, created_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        return Obj(row.public_id, owner_customer=OTHER_CUSTOMER)


def _counter_person() -> tuple[str, str, str]:
    """(name, resident ID number, mobile) of a fresh adult the sandbox verifier matches (sequence 100-189)."""
    from datetime import date, timedelta

    from stdnum.cn import ric

    n = next(_COUNTER_IDS)
    body = f"110105{date(1985, 1, 1) + timedelta(days=n // 90):%Y%m%d}{100 + n % 90}"
    return "测试客户", body + ric.calc_check_digit(body + "0"), str(next(_MATRIX_PHONES))


def _counter_application(world: World, *, complete: bool = False) -> tuple[int, int]:
    """(application id, teller id) of a counter application taken in branch A, opened on the PIN pad if asked."""
    import io

    from PIL import Image

    from qianbao import wallets
    from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier

    teller = world.make_staff("teller", branch=BRANCH_A)
    name, id_number, phone = _counter_person()
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), "#d8e4f0").save(photo, format="JPEG")
    with world.db.transaction() as session:
        application = wallets.counter_application(
            session, teller.id, teller.member.branch_id, name, id_number, phone,
            wallets.ManualIdCard(valid_until=None, physical_card_checked=True), photo.getvalue(),
            verifier=SandboxIdentityVerifier(latency_ms=0), settings=world.settings,
        )
        if complete:
            token = wallets.pair_pinpad(session, wallets.pinpad_pairing_code(session, application.id).code).token
            wallets.complete_counter_opening(session, token, "Matrix-Wallet-77", "258036", settings=world.settings)
        return application.id, teller.id


def _counter_receipt(world: World) -> Obj:
    """The receipt of a wallet opened at a branch-A counter."""
    from qianbao import receipts

    application_id, teller_id = _counter_application(world, complete=True)
    with world.db.transaction() as session:
        receipts.issue(session, world.staff["teller_a"].member.branch_id, "wallet.open", application_id, teller_id)
        receipt = receipts.receipt_for(session, "wallet.open", application_id)
        assert receipt is not None
        return Obj(str(receipt.id), branch=BRANCH_A)


_COUNTER_IDS = iter(range(10_000))


# ---- bank cards, top-up, withdrawal (qianbao.cards) -------------------------------------------------------

def _other_customers_card(world: World) -> tuple[Obj, int]:
    """A card bound to another holder's wallet (written as a row: only whose it is matters here)."""
    import secrets
    from datetime import UTC, datetime

    from qianbao.cards.models import BankCard

    customer_id, wallet_id = _app_wallet(world)
    with world.db.transaction() as session:
        row = BankCard(public_id="cd_" + secrets.token_urlsafe(12), customer_id=customer_id, wallet_id=wallet_id,
                       bank_code="PSBC", card_type="debit", bin="621799", last4="0014",
                       number="6217990000000000014", number_hash=secrets.token_hex(32),
                       bound_hash=secrets.token_hex(32), token="tok_matrix", default_of_wallet=wallet_id,
                       status="bound", bound_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        return Obj(row.public_id, owner_customer=customer_id), row.id


def _other_customers_binding(world: World) -> Obj:
    import secrets
    from datetime import UTC, datetime, timedelta

    from qianbao.cards.models import CardBinding

    customer_id, wallet_id = _app_wallet(world)
    now = datetime.now(UTC)
    with world.db.transaction() as session:
        row = CardBinding(public_id="cb_" + secrets.token_urlsafe(12), customer_id=customer_id, wallet_id=wallet_id,
                          bank_ref="BND-matrix", bank_code="PSBC", card_type="debit", bin="621799", last4="0014",
                          number="6217990000000000014", number_hash=secrets.token_hex(32), phone_masked="138****0000",
                          status="pending", tries=0, created_at=now, expires_at=now + timedelta(minutes=10))
        session.add(row)
        session.flush()
        return Obj(row.public_id, owner_customer=customer_id)


def _other_customers_movement(world: World, kind: str) -> Obj:
    import secrets
    from datetime import UTC, datetime, timedelta

    from qianbao.cards.models import CardMovement

    card, card_db_id = _other_customers_card(world)
    now = datetime.now(UTC)
    with world.db.transaction() as session:
        from qianbao.cards.models import BankCard

        owner = session.get(BankCard, card_db_id)
        assert owner is not None
        reference = "T" + secrets.token_hex(8)
        session.add(CardMovement(kind=kind, card_id=card_db_id, wallet_id=owner.wallet_id,
                                 customer_id=owner.customer_id, operation_id=secrets.randbelow(10**12),
                                 reference=reference, bank_key="k-" + reference, order_key="o-" + reference,
                                 amount=100, fee=0, status="processing", query_count=0,
                                 created_at=now, next_query_at=now, deadline=now + timedelta(minutes=10)))
        return Obj(reference, owner_customer=card.owner_customer)


def _counter_day(world: World) -> tuple[int, int]:
    """(counter session id, float operation id) of a fresh branch-A teller's day, its float awaiting a supervisor."""
    from qianbao import audit, counter

    teller = world.make_staff("teller", branch=BRANCH_A)
    with world.db.transaction() as session:
        counter.fund_vault(session, teller.member.branch_id, 100_000, key=f"matrix-{teller.id}",
                           actor=audit.Actor.system("test"))
        day = counter.open_day(session, teller.id, 100_000)
        return day.id, counter.operations_of(session, day.id)[0].id


def _other_customers_operation(world: World) -> Obj:
    """A transfer between two other holders (payments core: /app/records, /app/transfer, their API).
    A few fen only: the operator's walk may have set every tier's limits to 1 yuan by then."""
    from qianbao import payments
    from qianbao.payments import Order, Party

    payer_customer, payer = _app_wallet(world)
    _, payee = _app_wallet(world)
    with world.db.transaction() as session:
        clearing = payments.system_account(session, "bank_clearing:MATRIX")
        payments.execute(session, Order(key=f"matrix-fund-{payer}", kind="topup", payer=Party.account(clearing, "bank"),
                                        payee=Party.wallet(payer), amount=2, confirmation="system", channel="system"))
        op = payments.execute(session, Order(key=f"matrix-transfer-{payer}", kind="transfer", payer=Party.wallet(payer),
                                             payee=Party.wallet(payee), amount=1))
        return Obj(op.reference, owner_customer=payer_customer)


def _matrix_order(world: World) -> tuple[int, str]:
    """(merchant id, order token) of a fresh merchant's open order (no role of the matrix is that merchant)."""
    from qianbao import audit, merchants

    with world.db.transaction() as session:
        created = merchants.create_merchant(session, name_zh="矩阵商户", name_en="Matrix Shop", category="retail",
                                            mdr_bp=60, by=audit.Actor.system("test"), settings=world.settings)
        order = merchants.create_order(session, created.merchant, merchant_order_no="MATRIX-1", amount=100,
                                       description="matrix").order
        return created.merchant.id, order.token


def _other_customers_bill_object(world: World, kind: str) -> Obj:
    """Another customer's saved biller, bill payment, parcel order or withholding agreement (bills and parcels).
    Written as rows: only who owns them matters here."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from qianbao.payments import bills
    from qianbao.payments.bills_models import Biller, BillPayment, ParcelOrder, WithholdingAgreement

    now = datetime.now(UTC)
    with world.db.transaction() as session:
        if kind == "saved":
            saved = bills.save_biller(session, OTHER_CUSTOMER, "SH-WATER", "3100123458")
            return Obj(str(saved.id), owner_customer=OTHER_CUSTOMER)
        if kind == "payment":
            bills.ensure_default_billers(session)
            biller_id = session.scalar(select(Biller.id).where(Biller.code == "SH-WATER"))
            reference = "MX" + secrets.token_hex(8).upper()
            session.add(BillPayment(
                key=f"matrix:{reference}", customer_id=OTHER_CUSTOMER, wallet_id=1, biller_id=biller_id,
                reference="3100123458", reference_masked="3100**3458", holder_masked="张*", period="2026-10",
                bill_id="B1", due_date=None, amount=100, confirmation_method="pin", channel="app",
                operation_id=secrets.randbelow(10**9), operation_reference=reference, status="succeeded",
                failure_code=None, biller_confirmation="C1", attempts=1, next_attempt_at=None, created_at=now,
                completed_at=now))
            return Obj(reference, owner_customer=OTHER_CUSTOMER)
        if kind == "order":
            number = f"EA{secrets.randbelow(10**8):08d}0CN"
            session.add(ParcelOrder(order_no=number, customer_id=OTHER_CUSTOMER, wallet_id=1, sender_name="张三",
                                    receiver_city="北京", weight_grams=500, price=1_800, status="awaiting_payment",
                                    created_at=now, expires_at=now + timedelta(days=1)))
            return Obj(number, owner_customer=OTHER_CUSTOMER)
        public_id = "WA" + secrets.token_hex(9).upper()
        session.add(WithholdingAgreement(public_id=public_id, customer_id=OTHER_CUSTOMER, wallet_id=1,
                                         merchant="postal_express", per_payment_cap=100, monthly_cap=100,
                                         status="cancelled", signed_at=now, confirmed_with="pin",
                                         cancelled_at=now))
        return Obj(public_id, owner_customer=OTHER_CUSTOMER)


# Path parameter name -> a maker of a fresh object it can name. Owners add theirs here.
PATH_PARAMS: dict[str, Callable[[World], Obj]] = {
    "code": lambda world: Obj("en"),
    "staff_id": lambda world: Obj(str(world.make_staff("teller", branch=BRANCH_A).id), branch=BRANCH_A),
    "approval_id": _approval,
    "submission_id": _kyc_submission,
    "side": lambda world: Obj("front"),
    "wallet_id": lambda world: Obj(str(_app_wallet(world)[1])),
    "tier": lambda world: Obj("4"),
    "notice_id": _other_customers_notice,
    "session_id": _other_customers_session,
    "passkey_id": _other_customers_passkey,
    "application_id": lambda world: Obj(str(_counter_application(world)[0]), branch=BRANCH_A),
    "receipt_id": _counter_receipt,
    "card_id": lambda world: _other_customers_card(world)[0],
    "binding_id": _other_customers_binding,
    "topup_reference": lambda world: _other_customers_movement(world, "topup"),
    "withdrawal_reference": lambda world: _other_customers_movement(world, "withdrawal"),
    "op_id": lambda world: Obj(str(_counter_day(world)[1]), branch=BRANCH_A),
    "day_id": lambda world: Obj(str(_counter_day(world)[0]), branch=BRANCH_A),
    "reference": _other_customers_operation,
    "kind": lambda world: Obj("withdrawal"),  # the ops fee schedule (payments core)
    # merchants: the ops pages name a merchant, the merchant pages and the public checkout an order's token,
    # the signed merchant API the merchant's own order number.
    "merchant_id": lambda world: Obj(str(_matrix_order(world)[0])),
    "order_token": lambda world: Obj(_matrix_order(world)[1]),
    "token": lambda world: Obj(_matrix_order(world)[1]),
    "merchant_order_no": lambda world: Obj("MATRIX-1"),
    # bills, parcels and withholding agreements: another customer's
    "saved_id": lambda world: _other_customers_bill_object(world, "saved"),
    "payment_ref": lambda world: _other_customers_bill_object(world, "payment"),
    "order_no": lambda world: _other_customers_bill_object(world, "order"),
    "agreement_id": lambda world: _other_customers_bill_object(world, "agreement"),
    "biller_code": lambda world: Obj("SH-GAS"),
}
# Form field name -> a plausible value (anything else gets "1").
FORM_VALUES: dict[str, str] = {
    "decision": "approve",
    "reason": "matrix",
    "role": "teller",
    "branch_code": BRANCH_A,
    "code": "000000",
    "next": "",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture
def world(db, settings, make_staff) -> World:  # type: ignore[no-untyped-def]
    approvals.register(MATRIX_KIND, on_approved=lambda session, request: None)
    staff = {who.name: make_staff(who.role, branch=who.branch) for who in WHO if who.audience == "staff"}
    yield World(db, settings, make_staff, staff)  # type: ignore[misc]
    approvals.service._registry.pop(MATRIX_KIND, None)


def access_spec(route: Any) -> auth.AccessSpec | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop()
        spec = auth.access_spec(dependency.call)
        if spec is not None:
            return spec
        pending.extend(dependency.dependencies)
    return None


def all_routes(app: FastAPI) -> list[Any]:
    """Every route as the app serves it: routers included with `include_router` flattened, each with its
    effective dependencies (FastAPI >= 0.165 keeps included routers whole in `app.routes`)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies the routes into app.routes
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def endpoints(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path template, route) of every endpoint; static files as one sample path."""
    found: list[tuple[str, str, Any]] = []
    for route in all_routes(app):
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            found.append(("GET", original.path + "/qianbao.css", route))
        elif isinstance(original, APIRoute | Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method, route.path, route))
        else:
            raise AssertionError(f"a route of a kind the matrix does not know: {route!r}")
    return found


def _session_for(world: World, who: Who) -> tuple[str | None, str | None]:
    """A fresh session for `who`: (cookie value, CSRF token)."""
    from qianbao.staff import signin
    from qianbao.staff.models import StaffMember

    with world.db.transaction() as session:
        if who.audience == "staff":
            member = session.get(StaffMember, world.staff[who.name].id)
            started = signin.open_session(session, member, settings=world.settings)
        elif who.audience == "customer":
            started = credentials.start_session(session, Principal.customer(MATRIX_CUSTOMER), settings=world.settings)
        else:
            return None, None
        return started.token, credentials.csrf_token(started.record)


def _form_fields(route: Any) -> list[str]:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    names = [param.alias for param in dependant.body_params]
    return [name for name in names if name != credentials.csrf.FORM_FIELD]


def _call(app: FastAPI, world: World, who: Who, method: str, path: str, route: Any) -> tuple[Any, dict[str, Obj]]:
    objects: dict[str, Obj] = {}
    url = path
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        maker = PATH_PARAMS.get(name)
        assert maker is not None, f"{method} {path}: add a maker for path parameter {name!r} to PATH_PARAMS"
        objects[name] = maker(world)
        url = re.sub(r"{" + name + r"(?::\w+)?}", objects[name].value, url)
    client = TestClient(app, raise_server_exceptions=False)
    token, csrf = _session_for(world, who)
    spec = access_spec(route)
    bearer = spec is not None and spec.credential == "bearer"
    headers = {"accept": "application/json" if path.startswith("/api/") else "text/html"}
    if bearer:
        # A bearer-token route (the customer JSON API): the token goes in the Authorization header and no cookie
        # is sent. Staff send their own staff token the same way, which must be refused (401).
        if token:
            headers["authorization"] = f"Bearer {token}"
    elif who.audience == "staff":
        client.cookies.set(auth.staff_cookie(world.settings).name, token)  # type: ignore[arg-type]
    elif who.audience == "customer":
        client.cookies.set(auth.customer_cookie(world.settings).name, token)  # type: ignore[arg-type]
    else:
        device = credentials.new_device_id()
        client.cookies.set(auth.device_cookie(world.settings).name, device)
        csrf = credentials.csrf_token(device)
    if method in SAFE:
        return client.request(method, url, headers=headers, follow_redirects=False), objects
    data = {name: FORM_VALUES.get(name, "1") for name in _form_fields(route)}
    data[credentials.csrf.FORM_FIELD] = csrf or ""
    return client.request(method, url, headers=headers, data=data, follow_redirects=False), objects


def _code(response: Any) -> str | None:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.json().get("code")  # type: ignore[no-any-return]
    match = re.search(r'data-code="([A-Z_]+)"', response.text)
    return match.group(1) if match else None


def _sent_to_sign_in(response: Any) -> bool:
    """A redirect by the access check: to a sign-in page, saying where to come back to (a handler's own
    redirect to a sign-in page, such as sign-out's, has no `next`)."""
    path, _, query = response.headers.get("location", "").partition("?")
    return response.status_code == 303 and query.startswith("next=") and path in {
        auth.TELLER_LOGIN_PATH, auth.OPS_LOGIN_PATH, auth.CUSTOMER_LOGIN_PATH, auth.MERCHANT_LOGIN_PATH}


# Refusals of the domain's own object rules, given after the access policy let the caller through: only the
# teller who asked may withdraw their request (tested in tests/approvals and tests/counter).
DOMAIN_REFUSALS = frozenset({"APPROVAL_NOT_REQUESTER"})


def _check(
    who: Who, method: str, path: str, spec: auth.AccessSpec, response: Any, objects: dict[str, Obj]
) -> str | None:
    """What is wrong with `response`, or None."""
    status, code = response.status_code, _code(response)
    if status >= 500:
        return f"crashed with {status}"
    if who.audience != spec.audience:
        if path.startswith("/api/"):
            return None if status == 401 else f"expected 401, got {status} {code}"
        return None if _sent_to_sign_in(response) else f"expected a redirect to sign in, got {status} {code}"
    rule = access.POLICY.get(spec.action) if spec.action else None
    writes = method not in SAFE or bool(rule and rule.writes)
    allowed = who.role in spec.roles and not (
        who.role == access.AUDITOR and writes and not (rule and rule.self_service)
    )
    if not allowed:
        return None if (status, code) == (403, "FORBIDDEN") else f"expected 403 FORBIDDEN, got {status} {code}"
    scope = rule.scope if rule else "all"
    foreign = [
        name for name, obj in objects.items()
        if (scope == "branch" and obj.branch is not None and obj.branch != who.branch)
        or (obj.owner_customer is not None and (who.role != access.CUSTOMER or obj.owner_customer != MATRIX_CUSTOMER))
    ]
    if foreign:
        return None if status in (403, 404) else f"expected 403/404 for another's {foreign}, got {status} {code}"
    if code in DOMAIN_REFUSALS:
        return None
    if status in (401, 403) or _sent_to_sign_in(response):
        return f"expected to be let through, got {status} {code}"
    return None


@pytest.mark.parametrize("who", WHO, ids=lambda who: who.name)
def test_every_route_answers_each_role_as_the_access_policy_says(app, world, who: Who) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    walked = 0
    for method, path, route in endpoints(app):
        if access.is_public(method, path):
            if who.audience is None:
                response, _ = _call(app, world, who, method, path, route)
                if response.status_code >= 500:
                    problems.append(f"{method} {path}: public route crashed with {response.status_code}")
            continue
        spec = access_spec(route)
        if spec is None:
            problems.append(f"{method} {path}: neither in access.PUBLIC_ROUTES nor behind an access dependency")
            continue
        response, objects = _call(app, world, who, method, path, route)
        walked += 1
        problem = _check(who, method, path, spec, response, objects)
        if problem:
            problems.append(f"{method} {path} as {who.name}: {problem}")
    assert problems == []
    assert walked >= 12, "the walk reached the protected routes"


def test_no_route_is_left_open_by_accident(app) -> None:  # type: ignore[no-untyped-def]
    unprotected = [
        f"{method} {path}" for method, path, route in endpoints(app)
        if not access.is_public(method, path) and access_spec(route) is None
    ]
    assert unprotected == []


def test_every_route_in_the_openapi_document_is_walked(app) -> None:  # type: ignore[no-untyped-def]
    walked = {(method, path) for method, path, _ in endpoints(app)}
    document = TestClient(app).get("/api/openapi.json").json()
    listed = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert listed - walked == set()


def test_an_unprotected_route_fails_the_walk(app, world) -> None:  # type: ignore[no-untyped-def]
    @app.get("/ops/forgotten-page")
    def forgotten() -> dict[str, str]:
        return {"secret": "everyone can read this"}

    route = next(r for r in all_routes(app) if r.path == "/ops/forgotten-page")
    assert not access.is_public("GET", "/ops/forgotten-page") and access_spec(route) is None
    response, _ = _call(app, world, WHO[0], "GET", "/ops/forgotten-page", route)
    assert response.status_code == 200, "without the matrix, nothing would stop an anonymous reader"


def test_a_route_protected_with_the_wrong_role_fails_the_check(app, world) -> None:  # type: ignore[no-untyped-def]
    spec = auth.AccessSpec("staff", frozenset({"operator"}), "ops.staff")

    class Answer:
        status_code = 200
        headers: ClassVar[dict[str, str]] = {}
        text = ""

    teller = next(who for who in WHO if who.name == "teller_a")
    assert _check(teller, "POST", "/ops/x", spec, Answer(), {}) == "expected 403 FORBIDDEN, got 200 None"


def test_bearer_routes_refuse_the_session_cookie(app, world) -> None:  # type: ignore[no-untyped-def]
    """A customer's session cookie is an ambient credential: bearer-token routes must not accept it."""
    customer = next(who for who in WHO if who.role == access.CUSTOMER)
    token, _csrf = _session_for(world, customer)
    bearer_routes = [(method, path) for method, path, route in endpoints(app)
                     if (spec := access_spec(route)) is not None and spec.credential == "bearer" and "{" not in path]
    assert bearer_routes, "the customer JSON API has bearer-token routes"
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(auth.customer_cookie(world.settings).name, token)  # type: ignore[arg-type]
    for method, path in bearer_routes:
        response = client.request(method, path, headers={"accept": "application/json"})
        assert (response.status_code, _code(response)) == (401, "UNAUTHENTICATED"), f"{method} {path}"
