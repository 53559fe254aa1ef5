"""Real-name in the app (SPEC §3.1 step 2) and the operators' KYC review queue.

`submit_real_name` takes the name, the resident ID number, the card's validity and the two photos, and:

1. refuses bad input, keeping nothing: NAME_INVALID, ID_NUMBER_* (format, check digit, birth date,
   region), ID_CARD_EXPIRED, PHOTO_TOO_LARGE / PHOTO_NOT_IMAGE / PHOTO_FORMAT (front, then back);
2. asks the identity verifier (before touching the database, so the SQLite write lock is not held
   while the verifier thinks);
3. refuses, keeping nothing: UNDER_AGE (the policy's minimum age, today in Shanghai),
   KYC_ALREADY_PENDING (a submission is waiting for review), REAL_NAME_ID_DIFFERS (a verified holder
   renewing their card must give the same number), DUPLICATE_REAL_NAME_WALLET (another holder has a
   wallet under this number; checked by its keyed hash, and race-safe by the UNIQUE `customer.id_hash`);
4. records the submission and decides:
       match                → approved at once: real name recorded, tier 4 → 3, ID-expiry restriction
                              lifted; photos kept (encrypted)
       mismatch             → rejected at once with the code NAME_ID_MISMATCH, which is the reason the
                              customer sees; the photos are not kept (no one will look at them)
       unsure / unavailable → pending in the review queue with its photos; the holder's real-name status
                              is "pending" until an operator approves or rejects with a reason.

`approve_kyc` / `reject_kyc` decide a pending submission once (KYC_ALREADY_DECIDED after that); both are
audited and tell the customer by an in-app notice and an SMS. `kyc_status` is what the customer's status
page shows. A verified holder whose card expired submits again with the same number and the new validity:
approval records the new date and lifts the outflow restriction; the tier never goes down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.adapters.identity import (
    Decision,
    IdentityVerifier,
    VerificationResult,
    VerifierUnavailable,
    verifier_from_settings,
)
from qianbao.credentials.base import resolve_settings
from qianbao.errors import QianbaoError
from qianbao.identity import (
    ResidentId,
    check_id_card_valid,
    check_minimum_age,
    parse_legal_name,
    parse_resident_id,
    resident_id_lookup_hash,
    today_in_shanghai,
)
from qianbao.pii.masking import mask_id_number, mask_name
from qianbao.settings import Settings
from qianbao.wallets import policy
from qianbao.wallets.customers import get_customer, name_hash, set_real_name, wallet_of_customer
from qianbao.wallets.models import (
    CAUSE_REAL_NAME,
    KYC_APPROVED,
    KYC_PENDING,
    KYC_REJECTED,
    REAL_NAME_NONE,
    REAL_NAME_PENDING,
    Customer,
    KycSubmission,
)
from qianbao.wallets.notify import notify
from qianbao.wallets.photos import CheckedPhoto, check_photo, store_photo
from qianbao.wallets.tiers import upgrade

REAL_NAME_TIER = 3
MISMATCH_CODE = "NAME_ID_MISMATCH"


@dataclass(frozen=True)
class KycStatus:
    """What the customer's real-name page shows."""

    real_name_status: str  # none / pending / verified
    submission_id: int | None
    submission_status: str | None  # pending / approved / rejected, of the latest submission
    rejection_code: str | None  # NAME_ID_MISMATCH when the verifier said no (translate error.<code>)
    rejection_reason: str | None  # the reviewer's words
    submitted_at: datetime | None
    decided_at: datetime | None
    id_valid_until: date | None


def ask_verifier(verifier: IdentityVerifier, name: str, number: str) -> tuple[str, VerificationResult | None]:
    """(decision, result): "unavailable" with no result when the service failed or timed out."""
    try:
        result = verifier.verify(name, number)
    except VerifierUnavailable:
        return "unavailable", None
    return str(result.decision), result


def check_age(session: Session, resident_id: ResidentId) -> None:
    check_minimum_age(resident_id, today_in_shanghai(), policy.minimum_age(session))


def submit_real_name(
    session: Session,
    customer_id: int,
    name: str,
    id_number: str,
    valid_until: date | None,
    front_photo: bytes,
    back_photo: bytes,
    *,
    verifier: IdentityVerifier | None = None,
    settings: Settings | None = None,
) -> KycSubmission:
    """Submit the real name; returns the submission (status approved, rejected or pending).

    `valid_until` is the card's last valid day, None for a long-term (长期) card. Call it first in its
    unit of work: the verifier is asked before any query, so on SQLite no write lock is held meanwhile.
    """
    legal_name = parse_legal_name(name)
    resident_id = parse_resident_id(id_number)
    check_id_card_valid(valid_until, today_in_shanghai())
    front = check_photo(front_photo, "front")
    back = check_photo(back_photo, "back")
    decision, result = ask_verifier(verifier or verifier_from_settings(resolve_settings(settings)),
                                    legal_name, resident_id.number)

    customer = get_customer(session, customer_id, lock=True)
    check_age(session, resident_id)
    id_hash = resident_id_lookup_hash(resident_id)
    waiting = select(KycSubmission.id).where(KycSubmission.customer_id == customer.id,
                                             KycSubmission.status == KYC_PENDING)
    if session.scalar(waiting.limit(1)) is not None:
        raise QianbaoError("KYC_ALREADY_PENDING")
    if customer.id_hash is not None and customer.id_hash != id_hash:
        raise QianbaoError("REAL_NAME_ID_DIFFERS")
    holder = session.scalar(select(Customer.id).where(Customer.id_hash == id_hash, Customer.id != customer.id))
    if holder is not None:
        raise QianbaoError("DUPLICATE_REAL_NAME_WALLET")

    submission = KycSubmission(
        customer_id=customer.id, legal_name=legal_name, name_hash=name_hash(legal_name),
        id_number=resident_id.number, id_hash=id_hash, birth_date=resident_id.birth_date,
        id_valid_until=valid_until, status=KYC_PENDING, verifier_decision=decision,
        verifier_reason=None if result is None else str(result.reason_code),
        verifier_reference=None if result is None else result.reference, submitted_at=datetime.now(UTC),
    )
    session.add(submission)
    session.flush()
    details = {"submission_id": submission.id, "verifier": decision, "name": mask_name(legal_name),
               "id_number": mask_id_number(resident_id.number)}

    if decision == Decision.MISMATCH:
        submission.status = KYC_REJECTED
        submission.rejection_code = MISMATCH_CODE
        submission.decided_at = submission.submitted_at
        session.flush()
        notify(session, customer, "real_name_mismatch")
        audit.record(session, action="kyc.submit", actor=audit.Actor.customer(customer.id), channel="app",
                     object_type="kyc_submission", object_id=submission.id,
                     details={**details, "decision": KYC_REJECTED})
        return submission

    _store_photos(session, submission.id, front, back)
    if decision == Decision.MATCH:
        _approve(session, submission, customer, resident_id=resident_id, by_staff_id=None)
    else:
        if customer.real_name_status == REAL_NAME_NONE:
            customer.real_name_status = REAL_NAME_PENDING
        session.flush()
        notify(session, customer, "real_name_pending")
    audit.record(session, action="kyc.submit", actor=audit.Actor.customer(customer.id), channel="app",
                 object_type="kyc_submission", object_id=submission.id,
                 details={**details, "decision": submission.status})
    return submission


def _store_photos(session: Session, submission_id: int, *photos: CheckedPhoto) -> None:
    for photo in photos:
        store_photo(session, photo, submission_id=submission_id)


def _approve(
    session: Session,
    submission: KycSubmission,
    customer: Customer,
    *,
    resident_id: ResidentId,
    by_staff_id: int | None,
) -> None:
    set_real_name(session, customer, name=submission.legal_name, resident_id=resident_id,
                  valid_until=submission.id_valid_until, channel="app")
    submission.status = KYC_APPROVED
    submission.decided_by_staff_id = by_staff_id
    submission.decided_at = datetime.now(UTC)
    wallet = wallet_of_customer(session, customer.id)
    if wallet is not None:
        upgrade(session, wallet, REAL_NAME_TIER, cause=CAUSE_REAL_NAME, channel="ops" if by_staff_id else "app",
                by_staff_id=by_staff_id)
    session.flush()
    notify(session, customer, "real_name_approved", {"tier": wallet.tier if wallet else REAL_NAME_TIER})


def _pending(session: Session, submission_id: int) -> KycSubmission:
    stmt = (select(KycSubmission).where(KycSubmission.id == submission_id).with_for_update()
            .execution_options(populate_existing=True))
    submission = session.scalar(stmt) if type(submission_id) is int else None
    if submission is None:
        raise QianbaoError("NOT_FOUND")
    if submission.status != KYC_PENDING:
        raise QianbaoError("KYC_ALREADY_DECIDED", state=submission.status)
    return submission


def approve_kyc(session: Session, submission_id: int, by_staff_id: int) -> KycSubmission:
    """A reviewer approves a pending submission: real name recorded, tier → 3, the customer told.

    KYC_ALREADY_DECIDED if it was decided before; UNDER_AGE if the policy's minimum age changed since;
    DUPLICATE_REAL_NAME_WALLET if another holder was verified with this number meanwhile.
    """
    submission = _pending(session, submission_id)
    customer = get_customer(session, submission.customer_id, lock=True)
    resident_id = parse_resident_id(submission.id_number)
    check_age(session, resident_id)
    _approve(session, submission, customer, resident_id=resident_id, by_staff_id=by_staff_id)
    audit.record(session, action="kyc.approve", actor=audit.Actor.staff(by_staff_id), channel="ops",
                 object_type="kyc_submission", object_id=submission.id,
                 details={"customer_id": customer.id, "verifier": submission.verifier_decision})
    return submission


def reject_kyc(session: Session, submission_id: int, reason: str, by_staff_id: int) -> KycSubmission:
    """A reviewer rejects a pending submission with the reason the customer will read (REASON_REQUIRED)."""
    text = policy.check_reason(reason)
    submission = _pending(session, submission_id)
    customer = get_customer(session, submission.customer_id, lock=True)
    submission.status = KYC_REJECTED
    submission.rejection_reason = text
    submission.decided_by_staff_id = by_staff_id
    submission.decided_at = datetime.now(UTC)
    if customer.real_name_status == REAL_NAME_PENDING:
        customer.real_name_status = REAL_NAME_NONE
    session.flush()
    notify(session, customer, "real_name_rejected", {"reason": text})
    audit.record(session, action="kyc.reject", actor=audit.Actor.staff(by_staff_id), channel="ops",
                 object_type="kyc_submission", object_id=submission.id,
                 details={"customer_id": customer.id, "reason": text})
    return submission


def settle_pending_after_counter(session: Session, customer: Customer, by_staff_id: int) -> int:
    """The holder was verified in person at a counter: settle their submissions still waiting for review.

    One with the verified ID number is approved (the teller saw the person and the card); one with
    another number is rejected with REAL_NAME_ID_DIFFERS. Returns how many were settled.
    """
    pending = list(session.scalars(
        select(KycSubmission).where(KycSubmission.customer_id == customer.id, KycSubmission.status == KYC_PENDING)
        .with_for_update()
    ))
    now = datetime.now(UTC)
    for submission in pending:
        if submission.id_hash == customer.id_hash:
            submission.status = KYC_APPROVED
        else:
            submission.status = KYC_REJECTED
            submission.rejection_code = "REAL_NAME_ID_DIFFERS"
        submission.decided_by_staff_id = by_staff_id
        submission.decided_at = now
    session.flush()
    return len(pending)


def kyc_queue(session: Session, *, limit: int = 50) -> list[KycSubmission]:
    """Pending submissions, oldest first: the operators' review queue."""
    return list(session.scalars(
        select(KycSubmission).where(KycSubmission.status == KYC_PENDING)
        .order_by(KycSubmission.submitted_at, KycSubmission.id).limit(limit)
    ))


def get_submission(session: Session, submission_id: int) -> KycSubmission:
    submission = session.get(KycSubmission, submission_id) if type(submission_id) is int else None
    if submission is None:
        raise QianbaoError("NOT_FOUND")
    return submission


def kyc_status(session: Session, customer_id: int) -> KycStatus:
    customer = get_customer(session, customer_id)
    latest = session.scalar(
        select(KycSubmission).where(KycSubmission.customer_id == customer_id)
        .order_by(KycSubmission.id.desc()).limit(1)
    )
    return KycStatus(
        real_name_status=customer.real_name_status,
        submission_id=None if latest is None else latest.id,
        submission_status=None if latest is None else latest.status,
        rejection_code=None if latest is None else latest.rejection_code,
        rejection_reason=None if latest is None else latest.rejection_reason,
        submitted_at=None if latest is None else latest.submitted_at,
        decided_at=None if latest is None else latest.decided_at,
        id_valid_until=customer.id_valid_until,
    )
