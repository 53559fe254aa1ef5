"""Counter services for a customer identified in person (SPEC §3.2 "The counter also"), and the PIN pad's
confirmation of every operation that needs one.

    on the PIN pad (the teller never sees what is typed):
        password_reset   the customer sets a new login password (twice)   credentials.reset_password_by_staff
        pin_reset        the customer sets a new payment PIN (twice)       credentials.reset_pin_by_staff
        change_phone     the customer confirms with their PIN              the bound mobile number changes
        close_wallet     the customer confirms with their PIN              balance must be zero first, or paid
                                                                           out to a bound debit card (close_to_card)
        cash_in/out      the customer confirms with their PIN              qianbao.counter.core
    at once, after the teller's in-person check:
        unfreeze         a wallet frozen for loss (挂失) is released         wallets.unfreeze_wallet(channel="counter")
        report_loss      挂失 on the customer's behalf                       wallets.report_loss
        statement        the wallet's postings over a period, printed (PDF)

Every service is a counter operation of the teller's open session and gets a receipt.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit, credentials, ledger, wallets
from qianbao.counter import close_to_card, core
from qianbao.counter.models import (
    AWAITING_PINPAD,
    CASH_KINDS,
    CHANGE_PHONE,
    CLOSE_WALLET,
    PASSWORD_RESET,
    PIN_RESET,
    REPORT_LOSS,
    STATEMENT,
    SUCCEEDED,
    UNFREEZE,
    CounterOperation,
)
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile
from qianbao.money import format_fen
from qianbao.notices.outbox import enqueue_inbox, enqueue_sms
from qianbao.pii.masking import mask_phone
from qianbao.settings import Settings
from qianbao.wallets.customers import get_customer, get_wallet, phone_hash
from qianbao.wallets.models import CLOSED, FROZEN_LOST

PAD_KINDS = (PASSWORD_RESET, PIN_RESET, CHANGE_PHONE, CLOSE_WALLET)
AT_ONCE_KINDS = (UNFREEZE, REPORT_LOSS, STATEMENT)
SERVICE_KINDS = PAD_KINDS + AT_ONCE_KINDS
MAX_STATEMENT_DAYS = 366


def _notify(session: Session, customer: wallets.Customer, event: str, params: dict[str, Any],
            *, phone: str | None = None) -> None:
    enqueue_inbox(session, customer.id, f"notice.counter.{event}.title", f"notice.counter.{event}.body", params)
    enqueue_sms(session, phone or customer.phone, key=f"sms.counter.{event}", params=params, lang=customer.lang)


def start_service(
    session: Session, teller_id: int, kind: str, ident: core.Identified, *, client_key: str | None = None,
    new_phone: str | None = None, reason: str | None = None, period: tuple[date, date] | None = None,
    payout_card: str | None = None,
) -> tuple[CounterOperation, core.PadCode | None]:
    """Begin a counter service for the identified holder. PIN-pad services return the code for the pad;
    the others are done at once (and return None)."""
    if kind not in SERVICE_KINDS:
        raise QianbaoError("COUNTER_OPERATION_STATE", state=kind)
    key = core._client_key(teller_id, client_key)
    existing = core._existing_by_key(session, key)
    if existing is not None:
        return existing, None
    day = core.require_open(session, teller_id, lock=True)
    teller = core._teller(session, teller_id)
    wallet, customer = ident.wallet, ident.customer
    details = core.masked_facts(ident)
    if kind != STATEMENT and wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    core._check_not_pending_elsewhere(session, wallet, day.branch_id)
    if kind == CHANGE_PHONE:
        e164 = parse_mobile(new_phone or "")
        if e164 == customer.phone:
            raise QianbaoError("COUNTER_PHONE_UNCHANGED")
        if wallets.customer_by_phone(session, e164) is not None:
            raise QianbaoError("PHONE_ALREADY_REGISTERED")
        details.update(new_phone=e164, new_phone_masked=mask_phone(e164), old_phone_masked=mask_phone(customer.phone))
    if kind in (CHANGE_PHONE, CLOSE_WALLET):
        if wallet.is_frozen:
            raise QianbaoError("COUNTER_WALLET_FROZEN")
        core._check_pin_usable(session, customer.id)
    if kind == CLOSE_WALLET and payout_card:
        # The balance goes to a bound debit card after the PIN (qianbao.counter.close_to_card).
        details.update(close_to_card.payout_details(session, wallet, customer.id, payout_card))
    elif kind == CLOSE_WALLET:
        balance = ledger.balance(session, wallet.ledger_account_id)
        if balance.posted or balance.held or balance.incoming:
            raise QianbaoError("COUNTER_WALLET_NOT_EMPTY", balance=format_fen(balance.posted))
    if kind == UNFREEZE and wallet.status != FROZEN_LOST:
        raise QianbaoError("WALLET_UNFREEZE_BY_OPERATOR" if wallet.is_frozen else "WALLET_NOT_FROZEN")
    if kind == STATEMENT:
        if period is None or period[0] > period[1] or (period[1] - period[0]).days > MAX_STATEMENT_DAYS:
            raise QianbaoError("COUNTER_PERIOD_INVALID", days=MAX_STATEMENT_DAYS)
        details.update(period_from=period[0].isoformat(), period_to=period[1].isoformat())
    pad = kind in PAD_KINDS
    op = core._new_operation(session, day, kind, client_key=key, status=AWAITING_PINPAD if pad else SUCCEEDED,
                             wallet=wallet, details=details, id_check=ident.id_check)
    audit.record(session, action=f"counter.{kind}.start" if pad else f"counter.{kind}", actor=core._actor(teller),
                 channel="counter", object_type=core.SUBJECT_OPERATION, object_id=op.id,
                 details={"wallet_id": wallet.id, "id_check": ident.id_check})
    if pad:
        return op, core.issue_pad_code(session, op)
    if kind == UNFREEZE:
        wallets.unfreeze_wallet(session, wallet.id, (reason or "").strip() or "counter: identity checked in person",
                                teller.id, channel="counter", branch_id=day.branch_id)
    elif kind == REPORT_LOSS:
        if wallet.status == wallets.FROZEN_OPS:
            raise QianbaoError("WALLET_ALREADY_FROZEN")
        wallets.report_loss(session, wallet.id, by_staff_id=teller.id)
    op.completed_at = datetime.now(UTC)
    session.flush()
    core._issue_receipt(session, op)
    return op, None


def pad_confirm(
    session: Session, token: str, *, pin: str | None = None, new_secret: str | None = None,
    settings: Settings | None = None, ip: str | None = None,
) -> CounterOperation:
    """What the customer typed on the PIN pad completes the operation.

    Cash and the PIN-confirmed services verify the payment PIN first (PIN_WRONG, PIN_LOCKED: a
    CredentialFailure, so run this in `credentials.transaction`); resets take the new secret instead.
    """
    op = core.pad_operation(session, token, lock=True)
    assert op.customer_id is not None and op.wallet_id is not None
    customer = get_customer(session, op.customer_id)
    principal = Principal.customer(customer.id)
    if op.kind in CASH_KINDS or op.kind in (CHANGE_PHONE, CLOSE_WALLET):
        credentials.verify_pin(session, principal, pin or "", ip=ip, settings=settings)
    if op.kind in CASH_KINDS:
        wallet = get_wallet(session, op.wallet_id)
        core._check_wallet_usable(session, wallet, op.branch_id)
        core._settle_confirmed_cash(session, op, settings)
        audit.record(session, action=f"counter.{op.kind}.confirmed",
                     actor=audit.Actor.staff(op.teller_id, op.branch_id), channel="counter",
                     object_type=core.SUBJECT_OPERATION, object_id=op.id,
                     details={"wallet_id": op.wallet_id, "amount": op.amount, "status": op.status,
                              "confirmed_on": "pinpad"})
        return op
    if op.kind == PASSWORD_RESET:
        credentials.reset_password_by_staff(session, principal, new_secret or "", by_staff_id=op.teller_id,
                                            phone=customer.phone, birth_date=customer.birth_date, settings=settings)
        _notify(session, customer, "password_reset", {})
    elif op.kind == PIN_RESET:
        if credentials.has_pin(session, principal):
            credentials.reset_pin_by_staff(session, principal, new_secret or "", by_staff_id=op.teller_id,
                                           birth_date=customer.birth_date, id_number=customer.id_number,
                                           settings=settings)
        else:
            credentials.set_pin(session, principal, new_secret or "", birth_date=customer.birth_date,
                                id_number=customer.id_number, settings=settings)
        _notify(session, customer, "pin_reset", {})
    elif op.kind == CHANGE_PHONE:
        _change_phone(session, op, customer)
    elif op.kind == CLOSE_WALLET and "payout_card" in op.details:
        close_to_card.begin_payout(session, op)  # the close waits for the bank (close_to_card.settle_close)
        return op
    elif op.kind == CLOSE_WALLET:
        _close_wallet(session, op)
    core._finish(op, SUCCEEDED)
    session.flush()
    audit.record(session, action=f"counter.{op.kind}", actor=audit.Actor.staff(op.teller_id, op.branch_id),
                 channel="counter", object_type=core.SUBJECT_OPERATION, object_id=op.id,
                 details={"wallet_id": op.wallet_id, "confirmed_on": "pinpad"})
    core._issue_receipt(session, op)
    return op


def _change_phone(session: Session, op: CounterOperation, customer: wallets.Customer) -> None:
    new_phone = str(op.details.get("new_phone", ""))
    if wallets.customer_by_phone(session, new_phone) is not None:
        raise QianbaoError("PHONE_ALREADY_REGISTERED")
    old_phone = customer.phone
    customer.phone = new_phone
    customer.phone_hash = phone_hash(new_phone)
    details = dict(op.details)
    details.pop("new_phone", None)  # only the masked number stays on the operation
    op.details = details
    session.flush()
    params = {"phone": mask_phone(new_phone)}
    _notify(session, customer, "phone_changed", params, phone=old_phone)
    enqueue_sms(session, new_phone, key="sms.counter.phone_changed", params=params, lang=customer.lang)
    # Signed-in devices keep nothing tied to the old number, but a stolen phone's session must end too.
    credentials.revoke_all(session, Principal.customer(customer.id), reason="phone_changed")


def _close_wallet(session: Session, op: CounterOperation) -> None:
    assert op.wallet_id is not None
    wallet = get_wallet(session, op.wallet_id, lock=True)
    if wallet.status == CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    balance = ledger.balance(session, wallet.ledger_account_id)
    if balance.posted or balance.held or balance.incoming:
        raise QianbaoError("COUNTER_WALLET_NOT_EMPTY", balance=format_fen(balance.posted))
    if wallet.is_frozen:
        raise QianbaoError("COUNTER_WALLET_FROZEN")
    ledger.close_account(session, wallet.ledger_account_id)
    wallet.status = CLOSED
    wallet.status_reason = "closed at the counter"
    wallet.status_changed_at = datetime.now(UTC)
    session.flush()
    customer = get_customer(session, wallet.customer_id)
    _notify(session, customer, "wallet_closed", {"wallet_tail": wallet.number[-4:]})
    credentials.revoke_all(session, Principal.customer(customer.id), reason="wallet_closed")


def statement_postings(session: Session, op: CounterOperation) -> list[ledger.Posting]:
    """The wallet's journal rows in the statement's period (Asia/Shanghai days), oldest first."""
    assert op.wallet_id is not None
    wallet = get_wallet(session, op.wallet_id)
    start = date.fromisoformat(str(op.details["period_from"]))
    end = date.fromisoformat(str(op.details["period_to"]))
    rows: list[ledger.Posting] = []
    cursor: str | None = None
    while True:
        page = ledger.postings(session, wallet.ledger_account_id, limit=200, cursor=cursor)
        for item in page.items:
            day = item.created_at.astimezone(core.SHANGHAI).date()
            if day < start:
                return list(reversed(rows))
            if day <= end:
                rows.append(item)
        if page.next_cursor is None:
            return list(reversed(rows))
        cursor = page.next_cursor


def pending_pad_operation(session: Session, teller_id: int) -> CounterOperation | None:
    """The teller's newest operation still waiting for the PIN pad."""
    return session.scalar(select(CounterOperation).where(
        CounterOperation.teller_id == teller_id, CounterOperation.status == AWAITING_PINPAD,
    ).order_by(CounterOperation.id.desc()).limit(1))
