"""Bill payment (生活缴费, SPEC §6.2): billers, "my billers", looking up what is due, paying it.

Billers are a policy table (`biller`, seeded by the migration, changed by operators with an audit record);
each has a ledger account of kind biller (code `BILLER-<code>`, opened on first use). The biller itself is
reached through the biller adapter (`qianbao.adapters.billers`), never inside a database transaction.

Paying a bill is two-phase, because the money must not leave the wallet unless the biller credits the bill:

    1. one unit of work: the customer's confirmation (PIN / passkey / 小额免密, the caller's `confirm`),
       then `payments.execute(kind="bill", pending=True)`: the limits are counted and the amount is held
       on the wallet; a `bill_payment` row remembers the bill (status processing);
    2. the adapter's `pay` quoting the operation's public reference as the biller's idempotency key;
    3. one unit of work: the biller's confirmation posts the hold (`payments.complete`, succeeded); a
       definitive refusal, or a biller that could not be reached, voids it (`payments.fail`, failed: the
       money is back and the limits released); no answer (a timeout) leaves it processing — the worker
       job `bills_settle` asks the biller again with the same reference until it answers.

Functions taking a Session never commit; the orchestrators (`lookup_bill`, `pay_bill`, `settle`,
`settle_processing`) take the Database because they span units of work around the biller's call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao import audit, ledger
from qianbao.adapters.billers import BillerAdapter, BillerUnavailable
from qianbao.adapters.billers.references import mask_reference, normalise
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import AccountKind
from qianbao.payments.bills_models import (
    BILLER_CATEGORIES,
    FAILED,
    PROCESSING,
    REFERENCE_FORMATS,
    SUCCEEDED,
    Biller,
    BillPayment,
    SavedBiller,
)
from qianbao.pii.hashing import lookup_hash
from qianbao.settings import Settings

# How long the wallet's money may stay held while the biller has not answered. The worker asks again
# long before; past this the payments core voids the hold and the payment is failed.
HOLD_SECONDS = 24 * 3600
# The worker leaves a payment alone this long after its last attempt (the request may still be in flight).
SETTLE_AFTER = timedelta(seconds=30)
MAX_SAVED_BILLERS = 20
LABEL_MAX = 16

# Refusals by the biller after the money was held: the payment is failed and the money released.
DEFINITIVE_REFUSALS = frozenset({
    "BILLER_REFUSED", "BILL_ALREADY_PAID", "BILL_AMOUNT_MISMATCH", "BILL_REFERENCE_UNKNOWN",
    "BILL_REFERENCE_INVALID", "BILLER_UNKNOWN",
})

Confirm = Callable[[Session, int], str]


# ---- views ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BillerView:
    code: str
    category: str
    name_zh: str
    name_en: str
    region: str
    reference_format: str
    enabled: bool

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-CN" else self.name_en


@dataclass(frozen=True)
class DueView:
    biller: BillerView
    reference: str  # digits, as the customer will pay it (the form sends it back)
    reference_masked: str
    holder: str  # masked by the biller
    amount: int
    period: str | None
    due_date: date | None
    bill_id: str | None

    @property
    def nothing_due(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class SavedView:
    id: int
    biller: BillerView
    reference: str
    reference_masked: str
    label: str | None
    last_paid_at: datetime | None


@dataclass(frozen=True)
class BillPaymentView:
    id: int
    operation_reference: str
    biller: BillerView
    reference_masked: str
    holder: str
    period: str | None
    due_date: date | None
    amount: int
    status: str
    failure_code: str | None
    biller_confirmation: str | None
    confirmation_method: str
    created_at: datetime
    completed_at: datetime | None
    replayed: bool = False


def _biller_view(row: Biller) -> BillerView:
    return BillerView(row.code, row.category, row.name_zh, row.name_en, row.region, row.reference_format,
                      row.enabled)


def _payment_view(row: BillPayment, biller: Biller, *, replayed: bool = False) -> BillPaymentView:
    return BillPaymentView(
        id=row.id, operation_reference=row.operation_reference, biller=_biller_view(biller),
        reference_masked=row.reference_masked, holder=row.holder_masked, period=row.period, due_date=row.due_date,
        amount=row.amount, status=row.status, failure_code=row.failure_code,
        biller_confirmation=row.biller_confirmation, confirmation_method=row.confirmation_method,
        created_at=row.created_at, completed_at=row.completed_at, replayed=replayed,
    )


# ---- the billers (policy table) ------------------------------------------------------------------------

# The billers offered at first; the migration inserts the same rows. Operators change the list.
DEFAULT_BILLERS: tuple[dict[str, object], ...] = (
    {"code": "SH-WATER", "category": "water", "name_zh": "上海市自来水", "name_en": "Shanghai Water",
     "region": "上海", "reference_format": "luhn10", "sort_order": 10},
    {"code": "SH-POWER", "category": "electricity", "name_zh": "国网上海市电力公司",
     "name_en": "State Grid Shanghai Electric Power", "region": "上海", "reference_format": "luhn10",
     "sort_order": 20},
    {"code": "SH-GAS", "category": "gas", "name_zh": "上海燃气", "name_en": "Shanghai Gas", "region": "上海",
     "reference_format": "luhn9", "sort_order": 30},
    {"code": "CT-MOBILE", "category": "telecom", "name_zh": "中国电信", "name_en": "China Telecom", "region": "全国",
     "reference_format": "telecom_mobile", "sort_order": 40},
)


def ensure_default_billers(session: Session) -> None:
    """Insert the default billers when the table is empty (never on a migrated database; a database emptied
    by hand, as the PostgreSQL tests do between tests). Never overwrites a row."""
    if session.scalar(select(Biller.id).limit(1)) is not None:
        return
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Biller)
    now = datetime.now(UTC)
    for row in DEFAULT_BILLERS:
        session.execute(insert.values(**row, enabled=True, updated_at=now, updated_by_staff_id=None)
                        .on_conflict_do_nothing(index_elements=["code"]))


def list_billers(session: Session, *, include_disabled: bool = False) -> list[BillerView]:
    ensure_default_billers(session)
    query = select(Biller).order_by(Biller.sort_order, Biller.id)
    if not include_disabled:
        query = query.where(Biller.enabled.is_(True))
    return [_biller_view(row) for row in session.scalars(query)]


def _biller(session: Session, code: str, *, include_disabled: bool = False) -> Biller:
    ensure_default_billers(session)
    row = session.scalar(select(Biller).where(Biller.code == (code or "").strip().upper()[:32]))
    if row is None or (not row.enabled and not include_disabled):
        raise QianbaoError("BILLER_UNKNOWN", biller=(code or "")[:32])
    return row


def get_biller(session: Session, code: str) -> BillerView:
    """An enabled biller by its code; BILLER_UNKNOWN otherwise."""
    return _biller_view(_biller(session, code))


def biller_account(session: Session, code: str) -> int:
    """The ledger account id of the biller (kind biller), opened on first use."""
    row = _biller(session, code, include_disabled=True)
    return ledger.ensure_account(session, AccountKind.BILLER, f"BILLER-{row.code}", name=row.name_en).id


def check_reference(session: Session, code: str, reference: str) -> str:
    """The customer reference as digits, checked against the biller's format (check digit) before any look-up."""
    return normalise(_biller(session, code).reference_format, reference)


def create_biller(session: Session, *, code: str, category: str, name_zh: str, name_en: str, region: str,
                  reference_format: str, by_staff_id: int, reason: str, sort_order: int = 100) -> BillerView:
    """Add a biller (ops configuration); audited. The adapter must serve its code for look-ups to work."""
    code = (code or "").strip().upper()
    if not code or len(code) > 32 or not code.replace("-", "").isalnum():
        raise QianbaoError("BILLER_FIELD_INVALID", field="code")
    if category not in BILLER_CATEGORIES:
        raise QianbaoError("BILLER_FIELD_INVALID", field="category")
    if reference_format not in REFERENCE_FORMATS:
        raise QianbaoError("BILLER_FIELD_INVALID", field="reference_format")
    for field, value, limit in (("name_zh", name_zh, 64), ("name_en", name_en, 128), ("region", region, 32)):
        if not (value or "").strip() or len(value) > limit:
            raise QianbaoError("BILLER_FIELD_INVALID", field=field)
    _reason(reason)
    if session.scalar(select(Biller.id).where(Biller.code == code)) is not None:
        raise QianbaoError("BILLER_CODE_TAKEN", biller=code)
    row = Biller(code=code, category=category, name_zh=name_zh.strip(), name_en=name_en.strip(),
                 region=region.strip(), reference_format=reference_format, enabled=True, sort_order=sort_order,
                 updated_at=datetime.now(UTC), updated_by_staff_id=by_staff_id)
    session.add(row)
    session.flush()
    biller_account(session, code)
    audit.record(session, action="biller.create", actor=audit.Actor.staff(by_staff_id, None), channel="ops",
                 object_type="biller", object_id=code, details={"category": category, "reason": reason.strip()})
    return _biller_view(row)


def set_biller_enabled(session: Session, code: str, enabled: bool, *, by_staff_id: int, reason: str) -> BillerView:
    """Offer a biller to customers or stop offering it (payments in flight finish); audited."""
    _reason(reason)
    row = _biller(session, code, include_disabled=True)
    if row.enabled == enabled:
        raise QianbaoError("POLICY_UNCHANGED")
    row.enabled = enabled
    row.updated_at = datetime.now(UTC)
    row.updated_by_staff_id = by_staff_id
    audit.record(session, action="biller.enable" if enabled else "biller.disable",
                 actor=audit.Actor.staff(by_staff_id, None), channel="ops", object_type="biller",
                 object_id=row.code, details={"reason": reason.strip()})
    return _biller_view(row)


def _reason(reason: str) -> None:
    if not (reason or "").strip():
        raise QianbaoError("REASON_REQUIRED")
    if len(reason) > 500:
        raise QianbaoError("REASON_TOO_LONG")


# ---- my billers ----------------------------------------------------------------------------------------

def saved_billers(session: Session, customer_id: int) -> list[SavedView]:
    rows = session.execute(
        select(SavedBiller, Biller).join(Biller, Biller.id == SavedBiller.biller_id)
        .where(SavedBiller.customer_id == customer_id, Biller.enabled.is_(True))
        .order_by(SavedBiller.last_paid_at.desc().nulls_last(), SavedBiller.id.desc())
    ).all()
    return [SavedView(saved.id, _biller_view(biller), saved.reference, saved.reference_masked, saved.label,
                      saved.last_paid_at) for saved, biller in rows]


def save_biller(session: Session, customer_id: int, code: str, reference: str, *,
                label: str | None = None) -> SavedView:
    """Keep a biller and account for next time; saving the same account again returns the saved one."""
    biller = _biller(session, code)
    digits = normalise(biller.reference_format, reference)
    label = (label or "").strip() or None
    if label is not None and len(label) > LABEL_MAX:
        raise QianbaoError("BILLER_LABEL_TOO_LONG", max=LABEL_MAX)
    digest = lookup_hash("card", digits)
    found = session.scalar(select(SavedBiller).where(
        SavedBiller.customer_id == customer_id, SavedBiller.biller_id == biller.id,
        SavedBiller.reference_hash == digest))
    if found is None:
        count = session.scalar(select(func.count()).select_from(SavedBiller)
                               .where(SavedBiller.customer_id == customer_id)) or 0
        if count >= MAX_SAVED_BILLERS:
            raise QianbaoError("SAVED_BILLERS_LIMIT", max=MAX_SAVED_BILLERS)
        found = SavedBiller(customer_id=customer_id, biller_id=biller.id, reference=digits, reference_hash=digest,
                            reference_masked=mask_reference(digits), label=label, created_at=datetime.now(UTC))
        session.add(found)
        session.flush()
    elif label is not None:
        found.label = label
    return SavedView(found.id, _biller_view(biller), digits, found.reference_masked, found.label,
                     found.last_paid_at)


def remove_saved_biller(session: Session, customer_id: int, saved_id: int) -> None:
    """Forget one of the customer's billers; another customer's (or no such) entry is NOT_FOUND."""
    row = session.get(SavedBiller, saved_id)
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    session.delete(row)
    session.flush()


def get_saved_biller(session: Session, customer_id: int, saved_id: int) -> SavedView:
    row = session.get(SavedBiller, saved_id)
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    biller = session.get(Biller, row.biller_id)
    assert biller is not None
    return SavedView(row.id, _biller_view(biller), row.reference, row.reference_masked, row.label, row.last_paid_at)


# ---- what is due ---------------------------------------------------------------------------------------

def lookup_bill(db: Database, adapter: BillerAdapter, code: str, reference: str) -> DueView:
    """Ask the biller what is due on this account. The reference is checked first (no call for a typo).

    BILLER_UNKNOWN, BILL_REFERENCE_INVALID, BILL_REFERENCE_UNKNOWN, BILLER_UNAVAILABLE; nothing due is
    an answer (amount 0), not an error.
    """
    with db.read() as session:
        biller = _biller_view(_biller(session, code))
    digits = normalise(biller.reference_format, reference)
    due = adapter.lookup(biller.code, digits)
    return DueView(biller, digits, mask_reference(digits), due.holder, due.amount, due.period, due.due_date,
                   due.bill_id)


# ---- paying --------------------------------------------------------------------------------------------

def payment_key(channel: str, customer_id: int, client_key: str) -> str:
    """The idempotency key of a bill payment: the client's key scoped by channel and customer."""
    client_key = (client_key or "").strip()
    if not client_key or len(client_key) > 64:
        raise QianbaoError("IDEMPOTENCY_KEY_MISSING")
    return f"bill:{channel}:{customer_id}:{client_key}"


def start_payment(
    session: Session,
    *,
    key: str,
    customer_id: int,
    code: str,
    reference: str,
    bill_id: str,
    amount: int,
    holder: str,
    period: str | None,
    due_date: date | None,
    confirm: Confirm,
    channel: str = "app",
    save: bool = False,
) -> BillPaymentView:
    """Phase 1 (one unit of work): confirm, hold the money through the payments core, remember the bill.

    A key seen before answers with its payment (`replayed=True`), whatever else was sent.
    """
    from qianbao import payments
    from qianbao.payments import Order, Party
    from qianbao.wallets.customers import wallet_of_customer

    existing = session.scalar(select(BillPayment).where(BillPayment.key == key))
    if existing is not None:
        if existing.customer_id != customer_id:
            raise QianbaoError("IDEMPOTENCY_KEY_REUSED")
        biller_row = session.get(Biller, existing.biller_id)
        assert biller_row is not None
        return _payment_view(existing, biller_row, replayed=True)
    biller = _biller(session, code)
    digits = normalise(biller.reference_format, reference)
    if not bill_id:
        raise QianbaoError("BILL_NOTHING_DUE")
    if type(amount) is not int or amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    wallet = wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    method = confirm(session, amount)
    masked = mask_reference(digits)
    holder = (holder or "")[:64]
    op = payments.execute(session, Order(
        key=key, kind="bill", payer=Party.wallet(wallet.id),
        payee=Party.account(biller_account(session, biller.code), biller.name_zh),
        amount=amount, confirmation=method, pending=True, timeout=HOLD_SECONDS, channel=channel,
        counterparty_label=f"{biller.name_zh} · {masked}", reference=bill_id[:64],
        details={"biller": biller.code, "category": biller.category, "account": masked, "holder": holder,
                 "period": period, "bill_id": bill_id[:40]},
    ))
    row = BillPayment(
        key=key, customer_id=customer_id, wallet_id=wallet.id, biller_id=biller.id, reference=digits,
        reference_masked=masked, holder_masked=holder, period=period, bill_id=bill_id[:40], due_date=due_date,
        amount=amount, confirmation_method=method, channel=channel, operation_id=op.id,
        operation_reference=op.reference, status=PROCESSING, failure_code=None, biller_confirmation=None,
        attempts=0, next_attempt_at=op.created_at + SETTLE_AFTER, created_at=op.created_at, completed_at=None,
    )
    session.add(row)
    session.flush()
    if save:
        save_biller(session, customer_id, biller.code, digits)
    return _payment_view(row, biller)


def settle(db: Database, adapter: BillerAdapter, payment_id: int) -> BillPaymentView:
    """Phases 2 and 3: ask the biller to credit the bill, then post or void the held money.

    Safe to call again at any time: the biller sees the same payment reference, and a payment no longer
    processing is left as it is.
    """
    with db.read() as session:
        row = session.get(BillPayment, payment_id)
        if row is None:
            raise QianbaoError("NOT_FOUND")
        biller = session.get(Biller, row.biller_id)
        assert biller is not None
        if row.status != PROCESSING:
            return _payment_view(row, biller)
        request = (biller.code, row.reference, row.bill_id, row.amount, row.operation_reference)
        from qianbao import payments

        held = payments.get_operation(session, row.operation_id).status == "processing"
    if not held:
        # The hold ran out (the payments core voided it): the biller must not be credited any more.
        return _finish(db, payment_id, FAILED, None, "BILL_HOLD_EXPIRED")
    outcome: str
    confirmation: str | None = None
    failure: str | None = None
    try:
        answer = adapter.pay(request[0], request[1], bill_id=request[2], amount=request[3],
                             payment_reference=request[4])
        outcome, confirmation = SUCCEEDED, answer.confirmation
    except BillerUnavailable as exc:
        # Never reached: nothing was credited, release the money now. Timed out: unknown, ask again later.
        outcome, failure = (FAILED, "BILLER_UNAVAILABLE") if exc.reason == "unavailable" else (PROCESSING, None)
    except QianbaoError as exc:
        if exc.code not in DEFINITIVE_REFUSALS:
            raise
        outcome, failure = FAILED, exc.code
    return _finish(db, payment_id, outcome, confirmation, failure)


def _finish(db: Database, payment_id: int, outcome: str, confirmation: str | None,
            failure: str | None) -> BillPaymentView:
    from qianbao import payments

    with db.transaction() as session:
        row = session.get(BillPayment, payment_id, with_for_update=True)
        assert row is not None
        biller = session.get(Biller, row.biller_id)
        assert biller is not None
        now = datetime.now(UTC)
        if row.status != PROCESSING:
            return _payment_view(row, biller)
        row.attempts += 1
        if outcome == PROCESSING:
            row.next_attempt_at = now + SETTLE_AFTER * 2 ** min(row.attempts - 1, 6)
            return _payment_view(row, biller)
        row.next_attempt_at = None
        op = payments.get_operation(session, row.operation_id)
        if outcome == SUCCEEDED and op.status == "processing":
            done = payments.complete(session, row.operation_id, key=f"{row.key}:post")
            if done.status != SUCCEEDED:  # the hold ran out as the answer came: reconciled by operators
                row.status, row.failure_code, row.biller_confirmation = FAILED, "BILL_HOLD_EXPIRED", confirmation
                row.completed_at = now
                return _payment_view(row, biller)
            row.status, row.biller_confirmation = SUCCEEDED, confirmation
            session.execute(
                update(SavedBiller)
                .where(SavedBiller.customer_id == row.customer_id, SavedBiller.biller_id == row.biller_id,
                       SavedBiller.reference_hash == lookup_hash("card", row.reference))
                .values(last_paid_at=now)
            )
        elif outcome == SUCCEEDED:
            # The hold ran out before the biller answered: the biller has the money's claim, we released
            # it. Recorded as failed with its own code for the operators to reconcile.
            row.status, row.failure_code, row.biller_confirmation = FAILED, "BILL_HOLD_EXPIRED", confirmation
        else:
            if op.status == "processing":
                payments.fail(session, row.operation_id, key=f"{row.key}:void", reason=failure or "BILLER_REFUSED")
            row.status, row.failure_code = FAILED, failure
        row.completed_at = now
        return _payment_view(row, biller)


def pay_bill(
    db: Database,
    adapter: BillerAdapter,
    *,
    key: str,
    customer_id: int,
    code: str,
    reference: str,
    bill_id: str,
    amount: int,
    confirm: Confirm,
    channel: str = "app",
    save: bool = False,
) -> BillPaymentView:
    """Pay the bill the customer saw and confirmed (`bill_id`, `amount`), end to end.

    A key seen before answers with its payment at once (`replayed=True`). Otherwise the biller is asked
    what is due right before the money is held: a bill that changed since the customer saw it (another
    bill, another amount) is refused (BILL_AMOUNT_MISMATCH{amount}, nothing held), nothing due is
    BILL_NOTHING_DUE. A wrong PIN's count is kept (credentials.transaction).
    """
    from qianbao import credentials

    with db.read() as session:
        existing = session.scalar(select(BillPayment).where(BillPayment.key == key))
        if existing is not None:
            if existing.customer_id != customer_id:
                raise QianbaoError("IDEMPOTENCY_KEY_REUSED")
            biller_row = session.get(Biller, existing.biller_id)
            assert biller_row is not None
            found = _payment_view(existing, biller_row, replayed=True)
    if existing is not None:
        return found if found.status != PROCESSING else BillPaymentView(**{**settle(db, adapter, found.id).__dict__,
                                                                              "replayed": True})
    due = lookup_bill(db, adapter, code, reference)
    if due.nothing_due or not bill_id:
        raise QianbaoError("BILL_NOTHING_DUE")
    if due.bill_id != bill_id or due.amount != amount:
        raise QianbaoError("BILL_AMOUNT_MISMATCH", amount=_yuan(due.amount))
    with credentials.transaction(db) as session:
        started = start_payment(session, key=key, customer_id=customer_id, code=code, reference=due.reference,
                                bill_id=bill_id, amount=amount, holder=due.holder, period=due.period,
                                due_date=due.due_date, confirm=confirm, channel=channel, save=save)
    if started.status != PROCESSING:
        return started
    settled = settle(db, adapter, started.id)
    return BillPaymentView(**{**settled.__dict__, "replayed": started.replayed})


def _yuan(fen: int) -> str:
    from qianbao.money import format_fen

    return format_fen(fen, "zh-CN", symbol=False)


def settle_processing(db: Database, adapter: BillerAdapter, *, now: datetime | None = None, limit: int = 50) -> int:
    """The worker's pass: ask the billers again about payments still processing; returns how many settled."""
    moment = now or datetime.now(UTC)
    with db.read() as session:
        ids = list(session.scalars(
            select(BillPayment.id).where(BillPayment.status == PROCESSING, BillPayment.next_attempt_at <= moment)
            .order_by(BillPayment.id).limit(limit)
        ))
    settled = 0
    for payment_id in ids:
        try:
            view = settle(db, adapter, payment_id)
        except QianbaoError:
            continue
        settled += view.status != PROCESSING
    return settled


def settle_job(db: Database, settings: Settings) -> int:
    """Worker job `bills_settle`: payments whose biller did not answer are asked about again, backing off."""
    from qianbao.adapters.billers import adapter_from_settings

    now = datetime.now(UTC)
    with db.read() as session:
        due = session.scalar(select(BillPayment.id).where(BillPayment.status == PROCESSING,
                                                          BillPayment.next_attempt_at <= now).limit(1))
    if due is None:
        return 0
    return settle_processing(db, adapter_from_settings(settings, db), now=now)


# ---- reading -------------------------------------------------------------------------------------------

def get_payment(session: Session, customer_id: int, operation_reference: str) -> BillPaymentView:
    """One of the customer's bill payments by its operation reference; NOT_FOUND for anyone else's."""
    row = session.scalar(select(BillPayment).where(BillPayment.operation_reference == (operation_reference or "")[:64]))
    if row is None or row.customer_id != customer_id:
        raise QianbaoError("NOT_FOUND")
    biller = session.get(Biller, row.biller_id)
    assert biller is not None
    return _payment_view(row, biller)


def recent_payments(session: Session, customer_id: int, *, limit: int = 20) -> list[BillPaymentView]:
    rows = session.execute(
        select(BillPayment, Biller).join(Biller, Biller.id == BillPayment.biller_id)
        .where(BillPayment.customer_id == customer_id)
        .order_by(BillPayment.created_at.desc(), BillPayment.id.desc()).limit(limit)
    ).all()
    return [_payment_view(row, biller) for row, biller in rows]
