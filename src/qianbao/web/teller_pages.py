"""Teller console: consultation, counter opening, counter upgrade to tier 1, and the printed receipts (SPEC §3.2).

    /teller/consult                       the tiers, what each allows, the confirmation caps (policy tables)
    /teller/open                          the application form: keyed in or read from the counter's reader,
                                          "physical card checked", the customer's photo
    /teller/open/{id}                     the application: awaiting the supervisor, the PIN-pad pairing code,
                                          the upgrade, the receipt; polled by htmx until it settles
    /teller/upgrade                       look up an existing holder, verify in person, → tier 1
    /teller/receipts/{id}.pdf             the receipt, counted as printed (qianbao.receipts)

The customer's password and PIN never pass through here: the PIN pad (qianbao.web.pinpad_pages) has its
own pairing token. A teller or supervisor sees and acts on their own branch's applications only
(another branch's is NOT_FOUND). Full names and numbers appear only in the form the teller is typing
into; everywhere else they are masked.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qianbao import receipts, wallets
from qianbao.adapters.idcard import IdCardData
from qianbao.adapters.idcard.sandbox import SandboxIdCardReader, card_for_citizen
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.identity import parse_mobile, parse_resident_id
from qianbao.pii.masking import mask_id_number, mask_name, mask_phone
from qianbao.receipts.opening import OPEN, UPGRADE
from qianbao.staff.models import StaffMember
from qianbao.wallets.customers import customer_by_id_number
from qianbao.wallets.models import APP_APPROVED, APP_AWAITING_SUPERVISOR, APP_COMPLETED, APP_READY
from qianbao.web import auth, teller_opening
from qianbao.web.auth import StaffContext, requires
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

Mode = Literal["open", "upgrade"]
# The photo is checked by wallets (real JPEG/PNG, at most 5 MB); reading one byte more is enough to say so.
PHOTO_READ_LIMIT = 5 * 1024 * 1024 + 1
# The application form carries one such photo: the app's body limit for that route is raised to fit it.
BODY_LIMITS: dict[str, int] = {"/teller/open": PHOTO_READ_LIMIT + 256 * 1024}
LIVE_STATES = frozenset({"awaiting_supervisor", "ready", "paired"})
CUSTOMER_LANGUAGES = ("zh-CN", "en")


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _db(request: Request) -> Any:
    return request.app.state.db


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _reader(request: Request) -> Any:
    return teller_opening.reader(request.app.state, auth.settings_of(request))


def _device(staff: StaffContext) -> str:
    return teller_opening.counter_device(staff.branch_code, staff.employee_no)


# ---- consultation ----------------------------------------------------------------------------------------

@router.get("/teller/consult", response_class=HTMLResponse)
def consult(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    with _db(request).read() as session:
        tiers = wallets.all_tiers(session)
        wide = wallets.wallet_policy(session)
    return render(request, "teller/consult.html", section="consult", tiers=tiers, wide=wide)


# ---- the application form ----------------------------------------------------------------------------------

@dataclass
class ApplicationForm:
    """What the teller typed or the reader filled in; given back on a refusal (never the photo)."""

    name: str = ""
    id_number: str = ""
    phone: str = ""
    valid_until: str = ""
    long_term: bool = False
    card_checked: bool = False
    card_source: Literal["manual", "reader"] = "manual"
    customer_lang: str = "zh-CN"
    chip_photo: str | None = None  # a data: URI of the chip's portrait, after a read
    errors: dict[str, str] = field(default_factory=dict)

    def from_card(self, card: IdCardData) -> ApplicationForm:
        return replace(
            self, name=card.name, id_number=card.id_number, long_term=card.valid_until is None,
            valid_until="" if card.valid_until is None else card.valid_until.isoformat(), card_source="reader",
            chip_photo="data:image/jpeg;base64," + base64.b64encode(card.photo_jpeg).decode(),
        )


def _form(name: str, id_number: str, phone: str, valid_until: str, long_term: str | None, card_checked: str | None,
          card_source: str, customer_lang: str) -> ApplicationForm:
    return ApplicationForm(
        name=name.strip(), id_number=id_number.strip(), phone=phone.strip(), valid_until=valid_until.strip(),
        long_term=bool(long_term), card_checked=bool(card_checked),
        card_source="reader" if card_source == "reader" else "manual",
        customer_lang=customer_lang if customer_lang in CUSTOMER_LANGUAGES else "zh-CN",
    )


@dataclass(frozen=True)
class Holder:
    """An existing holder found for an upgrade, masked."""

    customer_id: int
    masked_name: str
    masked_phone: str
    masked_id: str
    real_name_verified: bool
    wallet_number: str | None
    tier: int | None


def _holder(session: Any, customer: wallets.Customer) -> Holder:
    wallet = wallets.wallet_of_customer(session, customer.id)
    return Holder(
        customer_id=customer.id, masked_name=mask_name(customer.legal_name) if customer.legal_name else "",
        masked_phone=mask_phone(customer.phone), masked_id=mask_id_number(customer.id_number),
        real_name_verified=customer.is_real_name_verified,
        wallet_number=None if wallet is None else wallets.format_wallet_number(wallet.number),
        tier=None if wallet is None else wallet.tier,
    )


def _find_holder(session: Any, query: str) -> Holder:
    """The holder of a resident ID number or a mobile number; COUNTER_HOLDER_NOT_FOUND when nobody holds it."""
    text = "".join(query.split())
    customer = None
    if text.isdigit() and len(text) == 11:
        customer = wallets.customer_by_phone(session, parse_mobile(text))
    else:
        customer = customer_by_id_number(session, parse_resident_id(text))
    if customer is None:
        raise QianbaoError("COUNTER_HOLDER_NOT_FOUND")
    return _holder(session, customer)


# Which form field a refusal is about, so the page marks it (aria-invalid) next to the message.
FIELD_OF_CODE: tuple[tuple[str, str], ...] = (
    ("NAME_", "name"), ("ID_NUMBER_", "id_number"), ("UNDER_AGE", "id_number"), ("DUPLICATE_REAL_NAME", "id_number"),
    ("PHONE_", "phone"), ("PHOTO_", "photo"), ("CUSTOMER_PHOTO", "photo"), ("PHYSICAL_CARD", "card_checked"),
    ("ID_CARD_VALIDITY", "valid_until"), ("ID_CARD_EXPIRED", "valid_until"), ("ID_CARD_DATA_MISMATCH", "name"),
)


def field_of(code: str | None) -> str | None:
    return next((name for prefix, name in FIELD_OF_CODE if code and code.startswith(prefix)), None)


def _form_page(
    request: Request, staff: StaffContext, *, mode: Mode, form: ApplicationForm | None = None,
    error: QianbaoError | None = None, notice: str | None = None, holder: Holder | None = None, lookup: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    reader = _reader(request)
    settings = auth.settings_of(request)
    people: list[teller_opening.SandboxPerson] = []
    placed = None
    if teller_opening.is_sandbox(reader, settings):
        with _db(request).read() as session:
            people = teller_opening.sandbox_people(wallets.wallet_policy(session).minimum_age)
        card = reader.card_on(_device(staff)) if isinstance(reader, SandboxIdCardReader) else None
        placed = None if card is None else mask_name(card.name)
    return render(
        request, "teller/open.html" if mode == "open" else "teller/upgrade.html", status_code=status_code,
        section=mode, mode=mode, form=form or ApplicationForm(), device=_device(staff), sandbox_people=people,
        placed=placed, error=None if error is None else error.message(_lang(request)),
        error_code=None if error is None else error.code, notice=notice, holder=holder, lookup=lookup,
        customer_languages=CUSTOMER_LANGUAGES, error_field=field_of(None if error is None else error.code),
    )


@router.get("/teller/open", response_class=HTMLResponse)
def open_form(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return _form_page(request, staff, mode="open")


def _mode(value: str) -> Mode:
    return "upgrade" if value == "upgrade" else "open"


def _holder_for_form(request: Request, form: ApplicationForm) -> Holder | None:
    """On the upgrade page, the holder the form is about (again, after a refusal), if the ID finds one."""
    try:
        with _db(request).read() as session:
            return _find_holder(session, form.id_number)
    except QianbaoError:
        return None


@router.post("/teller/open/read-card", response_class=HTMLResponse)
def read_card(
    request: Request,
    mode: str = Form("open", max_length=16),
    name: str = Form("", max_length=64),
    id_number: str = Form("", max_length=32),
    phone: str = Form("", max_length=32),
    valid_until: str = Form("", max_length=16),
    long_term: str | None = Form(None, max_length=8),
    card_checked: str | None = Form(None, max_length=8),
    customer_lang: str = Form("zh-CN", max_length=8),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> HTMLResponse:
    """Read the card on the counter's reader into the form (the teller checks it against the card)."""
    page_mode = _mode(mode)
    form = _form(name, id_number, phone, valid_until, long_term, card_checked, "manual", customer_lang)
    try:
        card = _reader(request).read(_device(staff))
    except QianbaoError as exc:
        return _form_page(request, staff, mode=page_mode, form=form, error=exc, status_code=exc.status)
    form = form.from_card(card)
    holder = _holder_for_form(request, form) if page_mode == "upgrade" else None
    return _form_page(request, staff, mode=page_mode, form=form, holder=holder,
                      notice=_t(request, "teller.open.card_read", name=mask_name(card.name)))


@router.post("/teller/open/sandbox-card", response_class=HTMLResponse)
def sandbox_card(
    request: Request,
    mode: str = Form("open", max_length=16),
    citizen: str = Form("", max_length=32),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> HTMLResponse:
    """Demo only: put a sandbox citizen's card on this counter's reader, as the customer would hand it over."""
    reader = _reader(request)
    person = find_citizen(citizen)
    if not teller_opening.is_sandbox(reader, auth.settings_of(request)) or person is None:
        raise QianbaoError("NOT_FOUND")
    reader.place_card(_device(staff), card_for_citizen(person))
    return _form_page(request, staff, mode=_mode(mode),
                      notice=_t(request, "teller.sandbox.placed", name=mask_name(person.name), device=_device(staff)))


def _t(request: Request, key: str, **params: Any) -> str:
    return translate(key, _lang(request), **params)


def _valid_until(form: ApplicationForm) -> date | None:
    if form.long_term:
        return None
    if not form.valid_until:
        raise QianbaoError("ID_CARD_VALIDITY_REQUIRED")
    try:
        return date.fromisoformat(form.valid_until)
    except ValueError:
        raise QianbaoError("ID_CARD_VALIDITY_REQUIRED") from None


@router.post("/teller/open", response_class=HTMLResponse)
def submit_application(
    request: Request,
    mode: str = Form("open", max_length=16),
    name: str = Form("", max_length=64),
    id_number: str = Form("", max_length=32),
    phone: str = Form("", max_length=32),
    valid_until: str = Form("", max_length=16),
    long_term: str | None = Form(None, max_length=8),
    card_checked: str | None = Form(None, max_length=8),
    card_source: str = Form("manual", max_length=8),
    customer_lang: str = Form("zh-CN", max_length=8),
    photo: UploadFile | None = File(None),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> Response:
    """Take the application (SPEC §3.2 step 2): ready for the PIN pad, or waiting for a supervisor."""
    page_mode = _mode(mode)
    form = _form(name, id_number, phone, valid_until, long_term, card_checked, card_source, customer_lang)
    device = _device(staff)
    details = {"name": mask_name(form.name), "id_number": mask_id_number(form.id_number),
               "phone": mask_phone(form.phone), "card_source": form.card_source, "mode": page_mode}
    photo_bytes = photo.file.read(PHOTO_READ_LIMIT) if photo is not None else b""
    try:
        with wallets.audited(_db(request), action="counter.application.create", actor=staff.audit_actor,
                             channel="counter", details=details) as session:
            if not photo_bytes:
                raise QianbaoError("CUSTOMER_PHOTO_REQUIRED")
            card: IdCardData | wallets.ManualIdCard
            if form.card_source == "reader":
                card = _reader(request).read(device)
            else:
                card = wallets.ManualIdCard(valid_until=_valid_until(form), physical_card_checked=form.card_checked)
            application = wallets.counter_application(
                session, staff.id, _branch(staff), form.name, form.id_number, form.phone, card, photo_bytes,
                reader_device_id=device if form.card_source == "reader" else None, lang=form.customer_lang,
                settings=auth.settings_of(request),
            )
            if page_mode == "upgrade" and application.existing_customer_id is None:
                raise QianbaoError("COUNTER_HOLDER_NOT_FOUND")
            if application.status == APP_AWAITING_SUPERVISOR:
                teller_opening.request_supervisor(session, application)
            application_id = application.id
    except QianbaoError as exc:
        if form.card_source == "reader":
            # Give the chip's portrait back too, so the teller keeps comparing it with the customer.
            card_on = getattr(_reader(request), "card_on", None)
            placed = card_on(device) if card_on is not None else None
            if placed is not None:
                form = replace(form.from_card(placed), name=form.name, id_number=form.id_number)
        holder = _holder_for_form(request, form) if page_mode == "upgrade" else None
        return _form_page(request, staff, mode=page_mode, form=form, error=exc, holder=holder,
                          status_code=exc.status)
    return _see_other(f"/teller/open/{application_id}")


def _branch(staff: StaffContext) -> int:
    if staff.branch_id is None:  # tellers and supervisors always have one; access allows only them
        raise QianbaoError("FORBIDDEN")
    return staff.branch_id


# ---- one application -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApplicationView:
    """An application as the teller's page shows it: masked, with the state the page works from."""

    id: int
    state: str  # awaiting_supervisor | ready | paired | completed | rejected | cancelled | expired
    upgrade: bool
    masked_name: str
    masked_id: str
    masked_phone: str
    card_source: str
    reasons: list[str]
    verifier_decision: str
    teller: str
    supervisor: str | None
    supervisor_note: str | None
    created_at: datetime
    completed_at: datetime | None
    wallet_number: str | None
    receipt_id: int | None
    receipt_serial: str | None
    has_chip_photo: bool
    own: bool  # taken by the signed-in staff member
    approval_pending: bool


def _view_state(application: wallets.CounterApplication) -> str:
    if application.status in (APP_READY, APP_APPROVED):
        live_token = (application.pinpad_token_hash is not None and application.pinpad_token_expires_at is not None
                      and application.pinpad_token_expires_at > datetime.now(UTC))
        return "paired" if live_token else "ready"
    return application.status


def _staff_label(session: Any, staff_id: int | None) -> str | None:
    member = session.get(StaffMember, staff_id) if staff_id is not None else None
    return None if member is None else f"{member.name} ({member.employee_no})"


def _application_view(session: Any, application_id: int, staff: StaffContext) -> ApplicationView:
    application = wallets.get_application(session, application_id, branch_id=_branch(staff))
    wallet_number = receipt_id = receipt_serial = None
    if application.status == APP_COMPLETED and application.wallet_id is not None:
        wallet_number = wallets.format_wallet_number(wallets.get_wallet(session, application.wallet_id).number)
        kind = UPGRADE if application.existing_customer_id is not None else OPEN
        receipt = receipts.receipt_for(session, kind, application.id)
        if receipt is not None:
            receipt_id, receipt_serial = receipt.id, receipt.serial
    try:
        wallets.photo_of(session, "chip", application_id=application.id)
        has_chip = True
    except QianbaoError:
        has_chip = False
    return ApplicationView(
        id=application.id, state=_view_state(application), upgrade=application.existing_customer_id is not None,
        masked_name=mask_name(application.legal_name), masked_id=mask_id_number(application.id_number),
        masked_phone=mask_phone(application.phone), card_source=application.card_source,
        reasons=list(application.approval_reasons or []), verifier_decision=application.verifier_decision,
        teller=_staff_label(session, application.teller_staff_id) or "",
        supervisor=_staff_label(session, application.supervisor_staff_id),
        supervisor_note=application.supervisor_note, created_at=application.created_at,
        completed_at=application.completed_at, wallet_number=wallet_number, receipt_id=receipt_id,
        receipt_serial=receipt_serial, has_chip_photo=has_chip, own=application.teller_staff_id == staff.id,
        approval_pending=teller_opening.pending_approval(session, application.id) is not None,
    )


def _application_page(
    request: Request, staff: StaffContext, application_id: int, *, pairing: wallets.PairingCode | None = None,
    error: QianbaoError | None = None, status_code: int = 200,
) -> HTMLResponse:
    with _db(request).read() as session:
        view = _application_view(session, application_id, staff)
    return render(
        request, "teller/application.html", status_code=status_code, section="upgrade" if view.upgrade else "open",
        app=view, pairing=pairing, live=view.state in LIVE_STATES,
        error=None if error is None else error.message(_lang(request)),
        error_code=None if error is None else error.code,
    )


@router.get("/teller/open/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: int, staff: StaffContext = Depends(requires("teller.console"))
) -> HTMLResponse:
    return _application_page(request, staff, application_id)


@router.get("/teller/open/{application_id}/status")
def application_status(
    request: Request, application_id: int, seen: str = Query("", max_length=32),
    staff: StaffContext = Depends(requires("teller.console")),
) -> Response:
    """htmx polls this while the application is live: 204 while nothing changed, else reload the page."""
    with _db(request).read() as session:
        application = wallets.get_application(session, application_id, branch_id=_branch(staff))
        state = _view_state(application)
    if state == seen:
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Redirect": f"/teller/open/{application_id}"})


@router.get("/teller/open/{application_id}/photo")
def application_photo(
    request: Request, application_id: int, side: Literal["customer", "chip"] = Query("customer"),
    staff: StaffContext = Depends(requires("teller.console")),
) -> Response:
    """The customer's photo or the chip's portrait, for the teller and the supervisor to compare."""
    with _db(request).read() as session:
        wallets.get_application(session, application_id, branch_id=_branch(staff))
        photo = wallets.photo_of(session, side, application_id=application_id)
        data, content_type = photo.data, photo.content_type
    return Response(content=data, media_type=content_type, headers={"Cache-Control": "no-store"})


@router.post("/teller/open/{application_id}/pairing-code", response_class=HTMLResponse)
def pairing_code(
    request: Request, application_id: int, staff: StaffContext = Depends(requires("teller.operate"))
) -> HTMLResponse:
    """A one-time code for the customer to type on the PIN pad; shown in this response only."""
    try:
        with wallets.audited(_db(request), action="counter.pinpad.code", actor=staff.audit_actor, channel="counter",
                             object_type="counter_application", object_id=application_id) as session:
            code = wallets.pinpad_pairing_code(session, application_id, branch_id=_branch(staff),
                                               by_staff_id=staff.id)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _application_page(request, staff, application_id, error=exc, status_code=exc.status)
    return _application_page(request, staff, application_id, pairing=code)


@router.post("/teller/open/{application_id}/upgrade", response_class=HTMLResponse)
def upgrade_wallet(
    request: Request, application_id: int, staff: StaffContext = Depends(requires("teller.operate"))
) -> Response:
    """The existing holder's wallet moves to tier 1 (verified in person); the receipt is issued with it."""
    try:
        with wallets.audited(_db(request), action="wallet.tier.upgrade", actor=staff.audit_actor, channel="counter",
                             object_type="counter_application", object_id=application_id) as session:
            branch_id = _branch(staff)
            wallets.counter_upgrade_to_tier1(session, application_id, staff.id, branch_id=branch_id)
            receipts.issue(session, branch_id, UPGRADE, application_id, staff.id)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _application_page(request, staff, application_id, error=exc, status_code=exc.status)
    return _see_other(f"/teller/open/{application_id}")


@router.post("/teller/open/{application_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request, application_id: int, staff: StaffContext = Depends(requires("teller.operate"))
) -> Response:
    """The customer left: the application ends and nothing opens (its approval request is withdrawn)."""
    try:
        with wallets.audited(_db(request), action="counter.application.cancel", actor=staff.audit_actor,
                             channel="counter", object_type="counter_application",
                             object_id=application_id) as session:
            teller_opening.withdraw(session, application_id, staff.id, _branch(staff))
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _application_page(request, staff, application_id, error=exc, status_code=exc.status)
    return _see_other(f"/teller/open/{application_id}")


# ---- upgrade of an existing wallet ------------------------------------------------------------------------

@router.get("/teller/upgrade", response_class=HTMLResponse)
def upgrade_form(request: Request, staff: StaffContext = Depends(requires("teller.console"))) -> HTMLResponse:
    return _form_page(request, staff, mode="upgrade")


@router.post("/teller/upgrade", response_class=HTMLResponse)
def upgrade_lookup(
    request: Request,
    lookup: str = Form("", max_length=32),
    via: str = Form("typed", max_length=8),
    staff: StaffContext = Depends(requires("teller.operate")),
) -> HTMLResponse:
    """Find the holder by resident ID or mobile number, or by the card on the reader."""
    form = ApplicationForm()
    try:
        if via == "reader":
            card = _reader(request).read(_device(staff))
            form = form.from_card(card)
            query = card.id_number
        else:
            query = lookup
            if not "".join(query.split()).isdigit() or len("".join(query.split())) != 11:
                form = replace(form, id_number=query.strip())
            else:
                form = replace(form, phone=query.strip())
        with _db(request).read() as session:
            holder = _find_holder(session, query)
    except QianbaoError as exc:
        return _form_page(request, staff, mode="upgrade", form=form, error=exc, lookup=lookup,
                          status_code=exc.status)
    return _form_page(request, staff, mode="upgrade", form=form, holder=holder, lookup=lookup)


# ---- receipts ---------------------------------------------------------------------------------------------------

@router.get("/teller/receipts/{receipt_id}.pdf")
def receipt_pdf(
    request: Request, receipt_id: int, staff: StaffContext = Depends(requires("teller.console"))
) -> Response:
    """Print a receipt of this branch in the page's language (?lang=en for an English copy)."""
    with _db(request).transaction() as session:
        prepared = receipts.print_receipt(session, receipt_id, staff.id, _lang(request), branch_id=_branch(staff))
    return Response(
        content=prepared.pdf(), media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{prepared.serial}.pdf"',
                 "Cache-Control": "no-store"},
    )
