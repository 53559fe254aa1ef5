"""Opening a wallet at the counter (SPEC §3.2), and the counter's upgrade of an existing wallet to tier 1.

The flow, each step a function the teller console (and the customer-facing PIN pad) calls:

1. `counter_application` — the teller keys in name, resident ID number and mobile number, and gives the
   ID card: the reader's chip data (`IdCardData`, which must agree with what was keyed in) or, without a
   reader, a `ManualIdCard` with its validity and the teller's "physical card checked" mark (required).
   The customer's photo is taken (a real JPEG/PNG). Bad input refuses and keeps nothing (NAME_INVALID,
   ID_NUMBER_*, PHONE_INVALID, ID_CARD_DATA_MISMATCH, PHYSICAL_CARD_NOT_CHECKED, ID_CARD_EXPIRED,
   PHOTO_*, UNDER_AGE, PHONE_ALREADY_REGISTERED when the phone belongs to another verified holder,
   PHONE_MISMATCH_EXISTING_WALLET, DUPLICATE_REAL_NAME_WALLET when the person already has tier 1).
   The identity verifier is asked; the application needs a supervisor (status `awaiting_supervisor`)
   when the verifier says mismatch or unsure or cannot be reached, when the ID number already has a
   wallet, or when the phone has an unverified wallet; otherwise it is `ready`.
2. `approve_application` — a supervisor approves; never the teller who took it (SELF_APPROVAL_FORBIDDEN).
   `reject_application` ends it with a reason; the teller can `cancel_application`.
3. New wallet: `pinpad_pairing_code` gives the teller a one-time 6-digit code (3 minutes) that the
   customer types on the PIN pad; `pair_pinpad` trades it (once) for a PIN-pad token (10 minutes); with
   it the customer sets the login password and the payment PIN in `complete_counter_opening`, which
   opens the holder (real name verified in person), a TIER-1 wallet and its ledger account, sends the
   opening SMS and in-app notice and audits. The password and PIN pass only through the PIN pad's
   token: no teller-side function takes or returns them.
   Existing wallet: `counter_upgrade_to_tier1` records the in-person verification on the holder and moves
   their wallet to tier 1 (the holder keeps their password and PIN; the PIN pad is not used).
4. `opening_receipt_data` — what the receipt prints: wallet number, tier, limits, branch, teller, time.

Teller-side functions take an optional `branch_id`: given, an application of another branch is NOT_FOUND
(a teller acts only in their branch). Applications left open for 24 hours expire (`expire_applications`,
a worker job) and lose their photos.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.adapters.idcard import IdCardData
from qianbao.adapters.identity import IdentityVerifier, verifier_from_settings
from qianbao.credentials import (
    CredentialFailure,
    Principal,
    check_password_rules,
    check_pin_rules,
    ratelimit,
    set_password,
    set_pin,
)
from qianbao.credentials.base import keyed_digest, resolve_settings
from qianbao.errors import QianbaoError
from qianbao.identity import (
    ResidentId,
    check_id_card_valid,
    parse_legal_name,
    parse_mobile,
    parse_resident_id,
    resident_id_lookup_hash,
    today_in_shanghai,
)
from qianbao.pii.masking import mask_id_number, mask_name, mask_phone
from qianbao.settings import Settings
from qianbao.wallets import policy
from qianbao.wallets.customers import (
    customer_by_id_number,
    customer_by_phone,
    get_customer,
    get_wallet,
    name_hash,
    new_customer,
    open_wallet,
    phone_hash,
    set_real_name,
    wallet_of_customer,
)
from qianbao.wallets.kyc import ask_verifier, check_age, settle_pending_after_counter
from qianbao.wallets.models import (
    APP_APPROVED,
    APP_AWAITING_SUPERVISOR,
    APP_CANCELLED,
    APP_COMPLETED,
    APP_EXPIRED,
    APP_READY,
    APP_REJECTED,
    CAUSE_COUNTER,
    CounterApplication,
    Customer,
    KycPhoto,
    Wallet,
)
from qianbao.wallets.notify import notify, tail
from qianbao.wallets.numbers import format_wallet_number
from qianbao.wallets.opening import TERMS_VERSION, language
from qianbao.wallets.photos import check_photo, store_photo
from qianbao.wallets.tiers import upgrade

COUNTER_TIER = 1
PAIRING_CODE_DIGITS = 6
PAIRING_CODE_TTL = timedelta(minutes=3)
PINPAD_TOKEN_TTL = timedelta(minutes=10)
APPLICATION_TTL = timedelta(hours=24)
# Wrong pairing codes per client address: a 6-digit code lives 3 minutes, so 10 tries in 10 minutes
# leave a guesser one chance in 100,000 per open code.
PAIRING_TRIES_LIMIT = 10
PAIRING_TRIES_WINDOW_SECONDS = 600
OPEN_STATUSES = (APP_AWAITING_SUPERVISOR, APP_READY, APP_APPROVED)
SETUP_STATUSES = (APP_READY, APP_APPROVED)


@dataclass(frozen=True)
class ManualIdCard:
    """The ID card as the teller read it by eye, for a branch without a reader."""

    valid_until: date | None  # the last valid day; None for a long-term (长期) card
    physical_card_checked: bool


@dataclass(frozen=True)
class PairingCode:
    application_id: int
    code: str  # show it on the teller's screen only; it is kept as a keyed hash
    expires_at: datetime


@dataclass(frozen=True)
class PinpadPairing:
    """What the PIN pad holds after pairing: its token and what to show the customer to confirm."""

    application_id: int
    token: str
    expires_at: datetime
    masked_name: str
    masked_phone: str


@dataclass(frozen=True)
class OpeningReceipt:
    serial: str
    wallet_id: int
    wallet_number: str  # grouped in fours
    tier: int
    limits: policy.TierLimits
    masked_name: str
    masked_phone: str
    branch_id: int
    teller_staff_id: int
    supervisor_staff_id: int | None
    upgraded: bool  # an existing wallet moved to tier 1, rather than a new wallet
    opened_at: datetime
    lang: str


def _staff(staff_id: int, branch_id: int | None) -> audit.Actor:
    return audit.Actor.staff(staff_id, branch_id)


def counter_application(
    session: Session,
    teller_staff_id: int,
    branch_id: int,
    name: str,
    id_number: str,
    phone: str,
    id_card: IdCardData | ManualIdCard,
    customer_photo_jpeg: bytes,
    *,
    reader_device_id: str | None = None,
    lang: str | None = None,
    verifier: IdentityVerifier | None = None,
    settings: Settings | None = None,
) -> CounterApplication:
    """Record the application (SPEC §3.2 step 2); its status says whether a supervisor must approve."""
    legal_name = parse_legal_name(name)
    resident_id = parse_resident_id(id_number)
    e164 = parse_mobile(phone)
    chip_photo = None
    if isinstance(id_card, IdCardData):
        same_number = parse_resident_id(id_card.id_number).number == resident_id.number
        if not same_number or parse_legal_name(id_card.name) != legal_name:
            raise QianbaoError("ID_CARD_DATA_MISMATCH")
        valid_until, source = id_card.valid_until, "reader"
    else:
        if id_card.physical_card_checked is not True:
            raise QianbaoError("PHYSICAL_CARD_NOT_CHECKED")
        valid_until, source = id_card.valid_until, "manual"
    check_id_card_valid(valid_until, today_in_shanghai())
    photo = check_photo(customer_photo_jpeg, "customer")
    if isinstance(id_card, IdCardData):
        chip_photo = check_photo(id_card.photo_jpeg, "chip")
    decision, result = ask_verifier(verifier or verifier_from_settings(resolve_settings(settings)),
                                    legal_name, resident_id.number)

    check_age(session, resident_id)
    reasons = [] if decision == "match" else [f"verifier_{decision}"]
    existing = _existing_holder(session, resident_id=resident_id, phone_e164=e164)
    if existing is not None:
        reasons.append("existing_wallet" if existing.is_real_name_verified else "phone_registered")

    application = CounterApplication(
        branch_id=branch_id, teller_staff_id=teller_staff_id, legal_name=legal_name, name_hash=name_hash(legal_name),
        id_number=resident_id.number, id_hash=resident_id_lookup_hash(resident_id),
        birth_date=resident_id.birth_date, id_valid_until=valid_until, phone=e164, phone_hash=phone_hash(e164),
        card_source=source, reader_device_id=reader_device_id if source == "reader" else None,
        physical_card_checked=True, verifier_decision=decision,
        verifier_reason=None if result is None else str(result.reason_code),
        verifier_reference=None if result is None else result.reference, approval_reasons=reasons,
        existing_customer_id=None if existing is None else existing.id,
        status=APP_AWAITING_SUPERVISOR if reasons else APP_READY, lang=language(lang),
        created_at=datetime.now(UTC),
    )
    session.add(application)
    session.flush()
    store_photo(session, photo, application_id=application.id)
    if chip_photo is not None:
        store_photo(session, chip_photo, application_id=application.id)
    audit.record(
        session, action="counter.application.create", actor=_staff(teller_staff_id, branch_id), channel="counter",
        object_type="counter_application", object_id=application.id,
        details={"name": mask_name(legal_name), "id_number": mask_id_number(resident_id.number),
                 "phone": mask_phone(e164), "card_source": source, "verifier": decision,
                 "approval_reasons": reasons, "status": application.status},
    )
    return application


def _existing_holder(session: Session, *, resident_id: ResidentId, phone_e164: str) -> Customer | None:
    """The holder this application would upgrade, or None for a new one; refuses the impossible cases."""
    by_id = customer_by_id_number(session, resident_id)
    by_phone = customer_by_phone(session, phone_e164)
    if by_id is not None:
        if by_phone is None or by_phone.id != by_id.id:
            # The person has a wallet under another phone number: change the number first (CHANGE_PHONE).
            raise QianbaoError("PHONE_MISMATCH_EXISTING_WALLET")
        wallet = wallet_of_customer(session, by_id.id)
        if wallet is not None and wallet.tier == COUNTER_TIER:
            raise QianbaoError("DUPLICATE_REAL_NAME_WALLET")
        return by_id
    if by_phone is not None:
        if by_phone.is_real_name_verified:
            raise QianbaoError("PHONE_ALREADY_REGISTERED")
        return by_phone
    return None


def get_application(
    session: Session, application_id: int, *, branch_id: int | None = None, lock: bool = False
) -> CounterApplication:
    stmt = (select(CounterApplication).where(CounterApplication.id == application_id)
            .execution_options(populate_existing=True))
    if lock:
        stmt = stmt.with_for_update()
    application = session.scalar(stmt) if type(application_id) is int else None
    if application is None or (branch_id is not None and application.branch_id != branch_id):
        raise QianbaoError("NOT_FOUND")
    return application


def applications_awaiting_supervisor(session: Session, branch_id: int) -> list[CounterApplication]:
    """The branch's applications waiting for a supervisor, oldest first."""
    return list(session.scalars(
        select(CounterApplication)
        .where(CounterApplication.branch_id == branch_id, CounterApplication.status == APP_AWAITING_SUPERVISOR)
        .order_by(CounterApplication.created_at, CounterApplication.id)
    ))


def _require_status(application: CounterApplication, *allowed: str) -> None:
    if application.status not in allowed:
        raise QianbaoError("COUNTER_APPLICATION_STATE", state=application.status)


def approve_application(
    session: Session, app_id: int, supervisor_id: int, *, branch_id: int | None = None, note: str | None = None
) -> CounterApplication:
    """A supervisor approves an application that needs it; SELF_APPROVAL_FORBIDDEN for its own teller."""
    application = get_application(session, app_id, branch_id=branch_id, lock=True)
    _require_status(application, APP_AWAITING_SUPERVISOR)
    if supervisor_id == application.teller_staff_id:
        raise QianbaoError("SELF_APPROVAL_FORBIDDEN")
    application.status = APP_APPROVED
    application.supervisor_staff_id = supervisor_id
    application.supervisor_decided_at = datetime.now(UTC)
    application.supervisor_note = (note or "").strip() or None
    session.flush()
    audit.record(
        session, action="counter.application.approve", actor=_staff(supervisor_id, application.branch_id),
        channel="counter", object_type="counter_application", object_id=application.id,
        details={"approval_reasons": application.approval_reasons, "teller_staff_id": application.teller_staff_id},
    )
    return application


def reject_application(
    session: Session, app_id: int, supervisor_id: int, reason: str, *, branch_id: int | None = None
) -> CounterApplication:
    """A supervisor turns an application down with a reason (REASON_REQUIRED; not its own teller)."""
    text = policy.check_reason(reason)
    application = get_application(session, app_id, branch_id=branch_id, lock=True)
    _require_status(application, APP_AWAITING_SUPERVISOR)
    if supervisor_id == application.teller_staff_id:
        raise QianbaoError("SELF_APPROVAL_FORBIDDEN")
    application.status = APP_REJECTED
    application.supervisor_staff_id = supervisor_id
    application.supervisor_decided_at = datetime.now(UTC)
    application.supervisor_note = text
    session.flush()
    audit.record(
        session, action="counter.application.reject", actor=_staff(supervisor_id, application.branch_id),
        channel="counter", object_type="counter_application", object_id=application.id, details={"reason": text},
    )
    return application


def cancel_application(
    session: Session, app_id: int, by_staff_id: int, *, branch_id: int | None = None
) -> CounterApplication:
    """The teller abandons an open application (the customer left); nothing was opened."""
    application = get_application(session, app_id, branch_id=branch_id, lock=True)
    _require_status(application, *OPEN_STATUSES)
    application.status = APP_CANCELLED
    application.pairing_code_hash = None
    application.pinpad_token_hash = None
    session.flush()
    audit.record(
        session, action="counter.application.cancel", actor=_staff(by_staff_id, application.branch_id),
        channel="counter", object_type="counter_application", object_id=application.id,
    )
    return application


def _code_hash(code: str) -> str:
    return keyed_digest("pinpad-code", code)


def _token_hash(token: str) -> str:
    return keyed_digest("pinpad-token", token)


def pinpad_pairing_code(
    session: Session, app_id: int, *, branch_id: int | None = None, by_staff_id: int | None = None
) -> PairingCode:
    """A fresh one-time code for the PIN pad (replacing any earlier one), valid 3 minutes.

    Only for a new wallet whose application is ready or approved; an upgrade of an existing wallet
    needs no PIN pad (COUNTER_APPLICATION_IS_UPGRADE).
    """
    application = get_application(session, app_id, branch_id=branch_id, lock=True)
    _require_status(application, *SETUP_STATUSES)
    if application.existing_customer_id is not None:
        raise QianbaoError("COUNTER_APPLICATION_IS_UPGRADE")
    now = datetime.now(UTC)
    for _ in range(20):
        code = f"{secrets.randbelow(10 ** PAIRING_CODE_DIGITS):0{PAIRING_CODE_DIGITS}d}"
        digest = _code_hash(code)
        if session.scalar(select(CounterApplication.id).where(CounterApplication.pairing_code_hash == digest)) is None:
            break
    else:  # pragma: no cover - twenty live codes colliding means the random source is broken
        raise RuntimeError("could not draw an unused pairing code")
    application.pairing_code_hash = digest
    application.pairing_expires_at = now + PAIRING_CODE_TTL
    application.pinpad_token_hash = None
    session.flush()
    audit.record(
        session, action="counter.pinpad.code", actor=_staff(by_staff_id or application.teller_staff_id,
                                                            application.branch_id),
        channel="counter", object_type="counter_application", object_id=application.id,
    )
    return PairingCode(application_id=application.id, code=code, expires_at=now + PAIRING_CODE_TTL)


def pair_pinpad(session: Session, code: str, *, ip: str | None = None) -> PinpadPairing:
    """The PIN pad trades the teller's code for its token; the code works once (PAIRING_CODE_INVALID).

    Wrong codes are counted per client address (RATE_LIMITED after 10 in 10 minutes); the refusal is a
    CredentialFailure so the count survives: run it in `wallets.audited` or `credentials.transaction`.
    """
    ratelimit.hit(session, "pinpad_pair", ip or "-", PAIRING_TRIES_LIMIT, PAIRING_TRIES_WINDOW_SECONDS)
    typed = "".join((code or "").split())
    now = datetime.now(UTC)
    application = session.scalar(
        select(CounterApplication).where(CounterApplication.pairing_code_hash == _code_hash(typed))
        .with_for_update().execution_options(populate_existing=True)
    ) if typed.isdigit() and len(typed) == PAIRING_CODE_DIGITS else None
    if (
        application is None
        or application.status not in SETUP_STATUSES
        or application.pairing_expires_at is None
        or application.pairing_expires_at <= now
    ):
        raise CredentialFailure("PAIRING_CODE_INVALID")
    token = secrets.token_urlsafe(32)
    application.pairing_code_hash = None
    application.pairing_expires_at = None
    application.pinpad_token_hash = _token_hash(token)
    application.pinpad_token_expires_at = now + PINPAD_TOKEN_TTL
    session.flush()
    return PinpadPairing(
        application_id=application.id, token=token, expires_at=now + PINPAD_TOKEN_TTL,
        masked_name=mask_name(application.legal_name), masked_phone=mask_phone(application.phone),
    )


def pinpad_application(session: Session, pairing_token: str, *, lock: bool = False) -> CounterApplication:
    """The application a PIN-pad token stands for; PAIRING_TOKEN_INVALID once used, expired or unknown."""
    stmt = (select(CounterApplication).where(CounterApplication.pinpad_token_hash == _token_hash(pairing_token or ""))
            .execution_options(populate_existing=True))
    if lock:
        stmt = stmt.with_for_update()
    application = session.scalar(stmt) if pairing_token else None
    if (
        application is None
        or application.status not in SETUP_STATUSES
        or application.pinpad_token_expires_at is None
        or application.pinpad_token_expires_at <= datetime.now(UTC)
    ):
        raise QianbaoError("PAIRING_TOKEN_INVALID")
    return application


def complete_counter_opening(
    session: Session, pairing_token: str, password: str, pin: str, *, settings: Settings | None = None
) -> tuple[Customer, Wallet]:
    """The customer, on the PIN pad, sets the login password and payment PIN: the tier-1 wallet opens.

    Refusals keep the token usable (the customer tries another password): PAIRING_TOKEN_INVALID,
    PASSWORD_*, PIN_*, and, if someone else got there first, PHONE_ALREADY_REGISTERED or
    DUPLICATE_REAL_NAME_WALLET.
    """
    application = pinpad_application(session, pairing_token, lock=True)
    check_password_rules(password, phone=application.phone, birth_date=application.birth_date)
    check_pin_rules(pin, birth_date=application.birth_date, id_number=application.id_number)
    resident_id = parse_resident_id(application.id_number)

    customer = new_customer(session, application.phone, lang=application.lang, channel="counter",
                            terms_version=TERMS_VERSION)
    set_real_name(session, customer, name=application.legal_name, resident_id=resident_id,
                  valid_until=application.id_valid_until, channel="counter")
    wallet = open_wallet(session, customer, tier=COUNTER_TIER, channel="counter", branch_id=application.branch_id,
                         staff_id=application.teller_staff_id)
    principal = Principal.customer(customer.id)
    set_password(session, principal, password, phone=application.phone, birth_date=application.birth_date,
                 settings=settings)
    set_pin(session, principal, pin, birth_date=application.birth_date, id_number=application.id_number,
            settings=settings)
    _complete(application, customer, wallet)
    session.flush()
    notify(session, customer, "opened", {"wallet_tail": tail(wallet.number), "tier": wallet.tier})
    audit.record(
        session, action="wallet.open", actor=_staff(application.teller_staff_id, application.branch_id),
        channel="counter", object_type="wallet", object_id=wallet.id,
        details={"tier": wallet.tier, "application_id": application.id, "customer_id": customer.id,
                 "supervisor_staff_id": application.supervisor_staff_id, "via": "pinpad"},
    )
    return customer, wallet


def _complete(application: CounterApplication, customer: Customer, wallet: Wallet) -> None:
    application.status = APP_COMPLETED
    application.customer_id = customer.id
    application.wallet_id = wallet.id
    application.pinpad_token_hash = None
    application.pinpad_token_expires_at = None
    application.pairing_code_hash = None
    application.completed_at = datetime.now(UTC)


def counter_upgrade_to_tier1(
    session: Session, app_id: int, teller_staff_id: int, *, branch_id: int | None = None
) -> Wallet:
    """Upgrade the existing holder of an approved application: real name verified in person, tier 1.

    The new card's validity replaces the old one (lifting an ID-expiry restriction). COUNTER_APPLICATION_STATE
    unless the application is approved (or ready) and names an existing holder.
    """
    application = get_application(session, app_id, branch_id=branch_id, lock=True)
    _require_status(application, *SETUP_STATUSES)
    if application.existing_customer_id is None:
        raise QianbaoError("COUNTER_APPLICATION_STATE", state=application.status)
    customer = get_customer(session, application.existing_customer_id, lock=True)
    set_real_name(session, customer, name=application.legal_name,
                  resident_id=parse_resident_id(application.id_number), valid_until=application.id_valid_until,
                  channel="counter")
    settle_pending_after_counter(session, customer, teller_staff_id)
    existing = wallet_of_customer(session, customer.id)
    if existing is None:
        wallet = open_wallet(session, customer, tier=COUNTER_TIER, channel="counter",
                             branch_id=application.branch_id, staff_id=teller_staff_id)
    else:
        wallet = get_wallet(session, existing.id, lock=True)
        upgrade(session, wallet, COUNTER_TIER, cause=CAUSE_COUNTER, channel="counter", by_staff_id=teller_staff_id,
                branch_id=application.branch_id)
    _complete(application, customer, wallet)
    session.flush()
    notify(session, customer, "upgraded_tier1", {"wallet_tail": tail(wallet.number), "tier": wallet.tier})
    audit.record(
        session, action="wallet.tier.upgrade", actor=_staff(teller_staff_id, application.branch_id),
        channel="counter", object_type="wallet", object_id=wallet.id,
        details={"to_tier": wallet.tier, "cause": CAUSE_COUNTER, "application_id": application.id,
                 "supervisor_staff_id": application.supervisor_staff_id},
    )
    return wallet


def opening_receipt_data(session: Session, wallet_id: int, *, branch_id: int | None = None) -> OpeningReceipt:
    """The receipt of the wallet's latest counter opening or upgrade; NOT_FOUND when it has none."""
    wallet = get_wallet(session, wallet_id)
    stmt = select(CounterApplication).where(CounterApplication.wallet_id == wallet.id,
                                            CounterApplication.status == APP_COMPLETED)
    if branch_id is not None:
        stmt = stmt.where(CounterApplication.branch_id == branch_id)
    application = session.scalar(stmt.order_by(CounterApplication.id.desc()).limit(1))
    if application is None or application.completed_at is None:
        raise QianbaoError("NOT_FOUND")
    customer = get_customer(session, wallet.customer_id)
    return OpeningReceipt(
        serial=f"KH{application.completed_at.astimezone(UTC):%Y%m%d}{application.id:08d}",
        wallet_id=wallet.id, wallet_number=format_wallet_number(wallet.number), tier=wallet.tier,
        limits=policy.tier_policy(session, wallet.tier), masked_name=mask_name(customer.legal_name),
        masked_phone=mask_phone(customer.phone), branch_id=application.branch_id,
        teller_staff_id=application.teller_staff_id, supervisor_staff_id=application.supervisor_staff_id,
        upgraded=application.existing_customer_id is not None, opened_at=application.completed_at,
        lang=customer.lang,
    )


def expire_applications(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Applications left open for 24 hours end as `expired`, and their photos are deleted; returns how many."""
    cutoff = (now or datetime.now(UTC)) - APPLICATION_TTL
    ids = list(session.scalars(
        select(CounterApplication.id)
        .where(CounterApplication.status.in_(OPEN_STATUSES), CounterApplication.created_at < cutoff)
        .order_by(CounterApplication.id).limit(limit).with_for_update(skip_locked=True)
    ))
    if not ids:
        return 0
    for application in session.scalars(select(CounterApplication).where(CounterApplication.id.in_(ids))):
        application.status = APP_EXPIRED
        application.pairing_code_hash = None
        application.pinpad_token_hash = None
    session.execute(delete(KycPhoto).where(KycPhoto.application_id.in_(ids)))
    session.flush()
    return len(ids)
