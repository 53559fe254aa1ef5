"""Real-name in the app (SPEC §3.1 step 2): name, resident ID, the card's validity and both photos, then
the outcome — approved (tier 3), rejected with the reason, or under review with a status page that follows
the operators' decision.

The form is multipart. The photos are read up to one byte past the domain's 5 MB limit, so that a larger
file is refused by the domain's own rule (PHOTO_TOO_LARGE) without being read whole; the application's body
limit for this one route is raised to fit two such photos (see `BODY_LIMITS`).
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from qianbao import wallets
from qianbao.errors import QianbaoError
from qianbao.pii.masking import mask_id_number, mask_name
from qianbao.wallets.models import KYC_APPROVED, KYC_PENDING, KYC_REJECTED, REAL_NAME_PENDING
from qianbao.wallets.photos import MAX_BYTES
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import customer_actor, db_of, error_text, lang_of, see_other, settings_of
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

REALNAME_PATH = "/app/realname"
STATUS_PATH = "/app/realname/status"
# Two photos at the limit, the text fields and the multipart framing.
BODY_LIMITS: dict[str, int] = {REALNAME_PATH: 2 * MAX_BYTES + 256 * 1024}


def _status(request: Request, customer_id: int) -> wallets.KycStatus:
    with db_of(request).read() as session:
        return wallets.kyc_status(session, customer_id)


def _form_page(request: Request, customer: CustomerContext, *, form: dict[str, str] | None = None,
               error: str | None = None, error_field: str = "", status_code: int = 200) -> Response:
    return render(request, "customer/realname.html", status_code=status_code, section="me",
                  form=form or {}, error=error, error_field=error_field,
                  kyc=_status(request, customer.customer_id), max_mb=MAX_BYTES // (1024 * 1024))


@router.get(REALNAME_PATH, response_class=HTMLResponse)
def realname_form(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    kyc = _status(request, customer.customer_id)
    if kyc.submission_status == KYC_PENDING or kyc.real_name_status == REAL_NAME_PENDING:
        return see_other(STATUS_PATH)
    return _form_page(request, customer)


def _read_photo(upload: UploadFile | None) -> bytes:
    if upload is None:
        return b""
    return upload.file.read(MAX_BYTES + 1)


def _valid_until(text: str, long_term: bool) -> date | None:
    if long_term:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise QianbaoError("ID_CARD_VALIDITY_INVALID") from None


def _field_of(exc: QianbaoError) -> str:
    if exc.code.startswith("PHOTO_"):
        return str(exc.params.get("side", ""))
    if exc.code in {"NAME_INVALID", "NAME_ID_MISMATCH"}:
        return "name"
    if exc.code.startswith("ID_NUMBER_") or exc.code in {"UNDER_AGE", "DUPLICATE_REAL_NAME_WALLET",
                                                         "REAL_NAME_ID_DIFFERS"}:
        return "id_number"
    if exc.code in {"ID_CARD_EXPIRED", "ID_CARD_VALIDITY_INVALID"}:
        return "valid_until"
    return ""


@router.post(REALNAME_PATH, response_class=HTMLResponse)
def realname_submit(
    request: Request,
    name: str = Form("", max_length=64),
    id_number: str = Form("", max_length=32),
    valid_until: str = Form("", max_length=16),
    long_term: str = Form("", max_length=8),
    front: UploadFile | None = File(None),
    back: UploadFile | None = File(None),
    customer: CustomerContext = Depends(current_customer),
) -> Response:
    form = {"name": name, "id_number": id_number, "valid_until": valid_until, "long_term": long_term}
    details = {"name": mask_name(name), "id_number": mask_id_number(id_number)}
    try:
        with wallets.audited(db_of(request), action="kyc.submit", actor=customer_actor(customer.customer_id),
                             object_type="customer", object_id=customer.customer_id, details=details) as session:
            submission = wallets.submit_real_name(
                session, customer.customer_id, name, id_number, _valid_until(valid_until, long_term == "yes"),
                _read_photo(front), _read_photo(back), settings=settings_of(request),
            )
            outcome = submission.status
    except QianbaoError as exc:
        return _form_page(request, customer, form=form, error=error_text(request, exc), error_field=_field_of(exc),
                          status_code=exc.status)
    if outcome == KYC_PENDING:
        return see_other(STATUS_PATH)
    return see_other(f"{STATUS_PATH}?just={'approved' if outcome == KYC_APPROVED else 'rejected'}")


@router.get(STATUS_PATH, response_class=HTMLResponse)
def realname_status(request: Request, just: str = "",
                    customer: CustomerContext = Depends(current_customer)) -> Response:
    kyc = _status(request, customer.customer_id)
    reason = None
    if kyc.submission_status == KYC_REJECTED:
        reason = kyc.rejection_reason or (
            QianbaoError(kyc.rejection_code).message(lang_of(request)) if kyc.rejection_code else None)
    return render(request, "customer/realname_status.html", section="me", kyc=kyc, reason=reason,
                  just=just if just in {"approved", "rejected"} else "")
