"""Ops console: the real-name (KYC) review queue (SPEC §3.1 step 2, issue 5 item 2).

    GET  /ops/kyc                              pending submissions, oldest first; recent reviewer decisions
    GET  /ops/kyc/{submission_id}              one submission: what the customer gave, the verifier's answer
    GET  /ops/kyc/{submission_id}/photos/{side}   an ID photo, decrypted, never cached
    POST /ops/kyc/{submission_id}/approve      wallets.approve_kyc (tier 4 → 3)
    POST /ops/kyc/{submission_id}/reject       wallets.reject_kyc with the reason the customer reads

Operators decide (action "ops.kyc"); auditors read the same pages and photos (action "ops.read") and get
no forms. Who sees what (docs/wallets.md, "The ops console"): names and ID numbers are masked everywhere,
except that an operator reviewing a submission that is still pending sees the full name and ID number,
which they must compare with the photographed card; every such view and every photo served is audited.
The domain audits each decision; a refused decision (twice, too late, under age...) is audited as refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qianbao import access, audit, wallets
from qianbao.errors import QianbaoError
from qianbao.identity import age_on, today_in_shanghai
from qianbao.pii.masking import mask_id_number, mask_name, mask_phone
from qianbao.wallets.models import KYC_PENDING, KycPhoto, KycSubmission
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import (
    Refusal,
    SlaState,
    StaffName,
    db_of,
    lang_of,
    now_utc,
    refusal,
    sla_state,
    staff_names,
    waited_text,
)
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

QUEUE_LIMIT = 100
RECENT_LIMIT = 20
PHOTO_SIDES = ("front", "back")
DONE_NOTICES = frozenset({"approved", "rejected"})
REASON_MAX = 500


@dataclass(frozen=True)
class QueueRow:
    id: int
    name: str
    id_number: str
    verifier_decision: str
    verifier_reason: str | None
    submitted_at: datetime
    waited: str
    sla: SlaState


@dataclass(frozen=True)
class DecidedRow:
    id: int
    name: str
    status: str
    decided_at: datetime | None
    decided_by: StaffName | None
    reason: str | None


def pending_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(KycSubmission)
                              .where(KycSubmission.status == KYC_PENDING)) or 0)


def queue_rows(session: Session, lang: str, *, limit: int = QUEUE_LIMIT) -> list[QueueRow]:
    now = now_utc()
    return [
        QueueRow(
            id=row.id, name=mask_name(row.legal_name), id_number=mask_id_number(row.id_number),
            verifier_decision=row.verifier_decision, verifier_reason=row.verifier_reason,
            submitted_at=row.submitted_at, waited=waited_text(now - row.submitted_at, lang),
            sla=sla_state(now - row.submitted_at),
        )
        for row in wallets.kyc_queue(session, limit=limit)
    ]


def recent_decisions(session: Session, *, limit: int = RECENT_LIMIT) -> list[DecidedRow]:
    """The latest submissions decided by a person (reviewers, or a counter verification), newest first."""
    rows = list(session.scalars(
        select(KycSubmission)
        .where(KycSubmission.status != KYC_PENDING, KycSubmission.decided_by_staff_id.is_not(None))
        .order_by(KycSubmission.decided_at.desc(), KycSubmission.id.desc()).limit(limit)
    ))
    people = staff_names(session, (row.decided_by_staff_id for row in rows))
    return [
        DecidedRow(
            id=row.id, name=mask_name(row.legal_name), status=row.status, decided_at=row.decided_at,
            decided_by=people.get(row.decided_by_staff_id) if row.decided_by_staff_id else None,
            reason=row.rejection_reason,
        )
        for row in rows
    ]


@router.get("/ops/kyc", response_class=HTMLResponse)
def kyc_queue_page(
    request: Request, done: str = Query("", max_length=16), staff: StaffContext = Depends(requires("ops.read"))
) -> HTMLResponse:
    lang = lang_of(request)
    with db_of(request).read() as session:
        rows = queue_rows(session, lang)
        total = pending_count(session)
        decided = recent_decisions(session)
    notice = f"ops.kyc.done.{done}" if done in DONE_NOTICES else None
    return render(
        request, "ops/kyc.html", section="kyc", rows=rows, total=total, decided=decided, notice=notice,
        can_decide=access.can(staff.actor, "ops.kyc"),
    )


# ---- one submission -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhotoInfo:
    side: str
    width: int
    height: int


@dataclass(frozen=True)
class SubmissionView:
    id: int
    status: str
    full_values: bool
    name: str
    id_number: str
    birth_date: date | None
    age: int | None
    valid_until: date | None
    verifier_decision: str
    verifier_reason: str | None
    verifier_reference: str | None
    submitted_at: datetime
    waited: str | None
    sla: SlaState | None
    decided_at: datetime | None
    decided_by: StaffName | None
    rejection_code: str | None
    rejection_reason: str | None
    customer_id: int
    customer_phone: str
    customer_since: datetime
    real_name_status: str
    wallet_id: int | None
    wallet_number: str | None
    wallet_tier: int | None
    photos: list[PhotoInfo]
    earlier: list[DecidedRow]


def submission_view(session: Session, submission_id: int, *, full_values: bool, lang: str) -> SubmissionView:
    """What the detail page shows; `full_values` unmasks the name and ID number (a pending review)."""
    row = wallets.get_submission(session, submission_id)
    customer = wallets.get_customer(session, row.customer_id)
    wallet = wallets.wallet_of_customer(session, customer.id)
    photos = [PhotoInfo(side, width, height) for side, width, height in session.execute(
        select(KycPhoto.side, KycPhoto.width, KycPhoto.height)
        .where(KycPhoto.submission_id == row.id, KycPhoto.side.in_(PHOTO_SIDES))
    )]
    photos.sort(key=lambda photo: PHOTO_SIDES.index(photo.side))
    earlier_rows = list(session.scalars(
        select(KycSubmission).where(KycSubmission.customer_id == customer.id, KycSubmission.id != row.id)
        .order_by(KycSubmission.id.desc()).limit(10)
    ))
    people = staff_names(session, [row.decided_by_staff_id, *(r.decided_by_staff_id for r in earlier_rows)])
    now = now_utc()
    pending = row.status == KYC_PENDING
    today = today_in_shanghai()
    return SubmissionView(
        id=row.id, status=row.status, full_values=full_values,
        name=row.legal_name if full_values else mask_name(row.legal_name),
        id_number=row.id_number if full_values else mask_id_number(row.id_number),
        birth_date=row.birth_date if full_values else None,
        age=age_on(row.birth_date, today) if row.birth_date <= today else None,
        valid_until=row.id_valid_until,
        verifier_decision=row.verifier_decision, verifier_reason=row.verifier_reason,
        verifier_reference=row.verifier_reference, submitted_at=row.submitted_at,
        waited=waited_text(now - row.submitted_at, lang) if pending else None,
        sla=sla_state(now - row.submitted_at) if pending else None,
        decided_at=row.decided_at,
        decided_by=people.get(row.decided_by_staff_id) if row.decided_by_staff_id else None,
        rejection_code=row.rejection_code, rejection_reason=row.rejection_reason,
        customer_id=customer.id, customer_phone=mask_phone(customer.phone), customer_since=customer.created_at,
        real_name_status=customer.real_name_status,
        wallet_id=wallet.id if wallet else None,
        wallet_number=wallets.format_wallet_number(wallet.number) if wallet else None,
        wallet_tier=wallet.tier if wallet else None,
        photos=photos,
        earlier=[
            DecidedRow(id=r.id, name=mask_name(r.legal_name), status=r.status,
                       decided_at=r.decided_at or r.submitted_at,
                       decided_by=people.get(r.decided_by_staff_id) if r.decided_by_staff_id else None,
                       reason=r.rejection_reason)
            for r in earlier_rows
        ],
    )


def shows_full_values(staff: StaffContext, status: str) -> bool:
    """The full name and ID number: for the operator who may decide a pending submission, nobody else."""
    return status == KYC_PENDING and access.can(staff.actor, "ops.kyc")


def _detail_page(
    request: Request, staff: StaffContext, submission_id: int, *, error: Refusal | None = None,
    reason: str = "", status_code: int = 200,
) -> HTMLResponse:
    lang = lang_of(request)
    with db_of(request).transaction() as session:
        status = wallets.get_submission(session, submission_id).status
        full = shows_full_values(staff, status)
        view = submission_view(session, submission_id, full_values=full, lang=lang)
        if full:
            # Unmasked personal data on a screen is a disclosure: the log says who saw whose, and when.
            audit.record(session, action="kyc.view", actor=staff.audit_actor, channel="ops",
                         object_type="kyc_submission", object_id=submission_id,
                         details={"full_values": True, "id_number": mask_id_number(view.id_number)})
    return render(
        request, "ops/kyc_detail.html", status_code=status_code, section="kyc", view=view, error=error,
        reason=reason, can_decide=access.can(staff.actor, "ops.kyc") and view.status == KYC_PENDING,
        reason_max=REASON_MAX,
    )


@router.get("/ops/kyc/{submission_id}", response_class=HTMLResponse)
def kyc_detail_page(
    request: Request, submission_id: int, staff: StaffContext = Depends(requires("ops.read"))
) -> HTMLResponse:
    return _detail_page(request, staff, submission_id)


@router.get("/ops/kyc/{submission_id}/photos/{side}")
def kyc_photo(
    request: Request, submission_id: int, side: Literal["front", "back"],
    staff: StaffContext = Depends(requires("ops.read")),
) -> Response:
    """The photo, decrypted for this response only: no-store so that neither the browser nor a proxy keeps
    a copy of someone's ID card, and audited like every look at it."""
    with db_of(request).transaction() as session:
        photo = wallets.photo_of(session, side, submission_id=submission_id)
        audit.record(session, action="kyc.photo.view", actor=staff.audit_actor, channel="ops",
                     object_type="kyc_submission", object_id=submission_id, details={"side": side})
        data, content_type = photo.data, photo.content_type
    extension = "png" if content_type == "image/png" else "jpg"
    return Response(content=data, media_type=content_type, headers={
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Content-Disposition": f'inline; filename="kyc-{submission_id}-{side}.{extension}"',
    })


def _decide(
    request: Request, staff: StaffContext, submission_id: int, *, approve: bool, reason: str = ""
) -> Response:
    action = "kyc.approve" if approve else "kyc.reject"
    try:
        with wallets.audited(db_of(request), action=action, actor=staff.audit_actor, channel="ops",
                             object_type="kyc_submission", object_id=submission_id) as session:
            if approve:
                wallets.approve_kyc(session, submission_id, staff.id)
            else:
                wallets.reject_kyc(session, submission_id, reason, staff.id)
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _detail_page(request, staff, submission_id, error=refusal(exc, lang_of(request)),
                            reason=reason, status_code=exc.status)
    return RedirectResponse(f"/ops/kyc?done={'approved' if approve else 'rejected'}", status_code=303)


@router.post("/ops/kyc/{submission_id}/approve", response_class=HTMLResponse)
def kyc_approve(
    request: Request, submission_id: int, staff: StaffContext = Depends(requires("ops.kyc"))
) -> Response:
    return _decide(request, staff, submission_id, approve=True)


@router.post("/ops/kyc/{submission_id}/reject", response_class=HTMLResponse)
def kyc_reject(
    request: Request, submission_id: int, reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.kyc")),
) -> Response:
    return _decide(request, staff, submission_id, approve=False, reason=reason)
