"""The teller's day, the drawer, cash in and out, the PIN pad confirmation and end of day (SPEC §7).

Ledger accounts (opened on first use, codes readable in `qianbao ledger balance`):
    BV-<branch>            the branch vault (branch_vault)
    TD-<branch>-<teller>   the teller's cash drawer (teller_drawer); its posted balance is the drawer's
                           expected cash at any moment
    SU-CASH-<branch>       the branch's cash over/short suspense (suspense)
    BC-CASH-CENTRE         the cash centre the vaults are funded from (bank_clearing)

Every posting carries an idempotency key derived from the operation's reference, and each happens in
the unit of work that decides it (the approval's, the PIN pad's), so a crash leaves it all or nothing
and a retry with the same key cannot post twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import approvals, audit, credentials, ledger, wallets
from qianbao.approvals.models import ApprovalRequest
from qianbao.counter.models import (
    AWAITING_APPROVAL,
    AWAITING_BANK,
    AWAITING_FLOAT,
    AWAITING_PINPAD,
    BALANCING,
    CANCELLED,
    CANCELLED_OP,
    CASH_IN,
    CASH_OUT,
    CLOSED,
    FLOAT,
    LIVE_SESSION,
    OP_PENDING,
    OPEN,
    OVER_SHORT,
    REJECTED,
    SUCCEEDED,
    VAULT_RETURN,
    CounterOperation,
    CounterSession,
)
from qianbao.credentials import Principal
from qianbao.credentials.base import keyed_digest
from qianbao.errors import QianbaoError
from qianbao.identity import parse_resident_id
from qianbao.ledger import AccountKind, Leg
from qianbao.money import format_fen
from qianbao.pii.masking import mask_id_number, mask_name
from qianbao.settings import Settings, get_settings
from qianbao.staff.models import Branch, StaffMember
from qianbao.wallets.customers import customer_by_id_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
APPROVAL_FLOAT = "counter.float"
APPROVAL_CASH_OUT = "counter.cash_out"
APPROVAL_EOD = "counter.eod_difference"
SUBJECT_OPERATION = "counter_operation"
SUBJECT_SESSION = "counter_session"
RECEIPT_KIND = "counter.operation"
DAY_REPORT_KIND = "counter.day_report"
PAD_CODE_DIGITS = 6
PAD_CODE_TTL = timedelta(minutes=5)
PAD_TOKEN_TTL = timedelta(minutes=10)
MAX_CLIENT_KEY = 64
# Chinese banknotes and coins in circulation, in fen: 100, 50, 20, 10, 5, 1 yuan; 5, 2, 1 jiao.
DENOMINATIONS: tuple[int, ...] = (10000, 5000, 2000, 1000, 500, 100, 50, 20, 10)
MAX_PIECES = 1_000_000


# ---- accounts -------------------------------------------------------------------------------------------

def _branch(session: Session, branch_id: int) -> Branch:
    branch = session.get(Branch, branch_id)
    if branch is None:
        raise QianbaoError("BRANCH_NOT_FOUND", branch=str(branch_id))
    return branch


def vault_account(session: Session, branch_id: int) -> int:
    branch = _branch(session, branch_id)
    return ledger.ensure_account(session, AccountKind.BRANCH_VAULT, f"BV-{branch.code}",
                                 name=f"{branch.name_zh} 尾箱金库").id


def drawer_account(session: Session, branch_id: int, teller: StaffMember) -> int:
    branch = _branch(session, branch_id)
    return ledger.ensure_account(session, AccountKind.TELLER_DRAWER, f"TD-{branch.code}-{teller.employee_no}",
                                 name=f"{teller.name} 钱箱").id


def suspense_account(session: Session, branch_id: int) -> int:
    branch = _branch(session, branch_id)
    return ledger.ensure_account(session, AccountKind.SUSPENSE, f"SU-CASH-{branch.code}",
                                 name=f"{branch.name_zh} 长短款挂账").id


def cash_centre_account(session: Session) -> int:
    return ledger.ensure_account(session, AccountKind.BANK_CLEARING, "BC-CASH-CENTRE", name="现金中心").id


def posted(session: Session, account_id: int) -> int:
    return ledger.balance(session, account_id).posted


def fund_vault(session: Session, branch_id: int, amount: int, *, key: str, actor: audit.Actor) -> int:
    """Cash delivered to a branch vault by the cash centre (the demo seed, an operator). Idempotent per key."""
    vault = vault_account(session, branch_id)
    transfer = ledger.create_transfer(session, key=f"counter:vault-fund:{key}", debit=vault,
                                      credit=cash_centre_account(session), amount=amount, code="vault_fund")
    if not transfer.replayed:
        audit.record(session, action="counter.vault.fund", actor=actor, channel="system", object_type="branch",
                     object_id=branch_id, details={"amount": amount})
    return posted(session, vault)


# ---- staff and sessions ------------------------------------------------------------------------------------

def _teller(session: Session, teller_id: int) -> StaffMember:
    member = session.get(StaffMember, teller_id)
    if member is None or not member.active or member.role not in ("teller", "supervisor") or member.branch_id is None:
        raise QianbaoError("FORBIDDEN")
    return member


def _actor(member: StaffMember) -> audit.Actor:
    return audit.Actor.staff(member.id, member.branch_id)


def _today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def live_session(session: Session, teller_id: int, *, lock: bool = False) -> CounterSession | None:
    """The teller's session that is not over (awaiting its float, open, or balancing), if any."""
    stmt = select(CounterSession).where(CounterSession.live_teller_id == teller_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def closed_today(session: Session, teller_id: int) -> bool:
    """Whether the teller has already balanced and closed a day today (Shanghai): the console says so."""
    stmt = select(CounterSession.id).where(CounterSession.teller_id == teller_id,
                                           CounterSession.business_date == _today(),
                                           CounterSession.status == CLOSED).limit(1)
    return session.scalar(stmt) is not None


def require_open(session: Session, teller_id: int, *, lock: bool = False) -> CounterSession:
    """The teller's open session; COUNTER_SESSION_NOT_OPEN when there is none (or it is not open yet/any more)."""
    current = live_session(session, teller_id, lock=lock)
    if current is None or current.status != OPEN:
        raise QianbaoError("COUNTER_SESSION_NOT_OPEN")
    return current


def get_session(session: Session, session_id: int, *, branch_id: int | None = None,
                lock: bool = False) -> CounterSession:
    stmt = select(CounterSession).where(CounterSession.id == session_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(stmt) if type(session_id) is int else None
    if row is None or (branch_id is not None and row.branch_id != branch_id):
        raise QianbaoError("NOT_FOUND")
    return row


def drawer_expected(session: Session, counter_session: CounterSession) -> int:
    """The cash the drawer should hold now: its posted ledger balance."""
    return posted(session, counter_session.drawer_account_id)


def _reference() -> str:
    return "C" + datetime.now(UTC).astimezone(SHANGHAI).strftime("%y%m%d") + secrets.token_hex(5).upper()


def _client_key(teller_id: int, key: str | None) -> str:
    text = (key or "").strip()
    if not text:
        text = secrets.token_hex(12)
    if len(text) > MAX_CLIENT_KEY:
        raise QianbaoError("IDEMPOTENCY_KEY_MISSING")
    return f"{teller_id}:{text}"


def _existing_by_key(session: Session, client_key: str) -> CounterOperation | None:
    return session.scalar(select(CounterOperation).where(CounterOperation.client_key == client_key))


def _new_operation(
    session: Session, counter_session: CounterSession, kind: str, *, client_key: str, status: str,
    amount: int | None = None, wallet: wallets.Wallet | None = None, details: dict[str, Any] | None = None,
    id_check: str | None = None,
) -> CounterOperation:
    op = CounterOperation(
        reference=_reference(), client_key=client_key, session_id=counter_session.id,
        branch_id=counter_session.branch_id, teller_id=counter_session.teller_id, kind=kind, status=status,
        wallet_id=None if wallet is None else wallet.id, customer_id=None if wallet is None else wallet.customer_id,
        amount=amount, details=dict(details or {}), id_check=id_check, created_at=datetime.now(UTC),
    )
    session.add(op)
    session.flush()
    return op


def _finish(op: CounterOperation, status: str, code: str | None = None) -> None:
    op.status = status
    op.outcome_code = code
    op.completed_at = datetime.now(UTC)
    op.pad_code_hash = op.pad_token_hash = None
    op.pad_code_expires_at = op.pad_token_expires_at = None


def _issue_receipt(session: Session, op: CounterOperation) -> str:
    from qianbao import receipts

    return receipts.issue(session, op.branch_id, RECEIPT_KIND, op.id, op.teller_id)


def open_day(session: Session, teller_id: int, float_amount: int, *, client_key: str | None = None) -> CounterSession:
    """Start the teller's day with a float drawn from the branch vault, once a supervisor confirms it.

    COUNTER_SESSION_ALREADY_OPEN when the teller has a live session (also under a race: the unique
    `live_teller_id`); COUNTER_VAULT_SHORT when the vault does not hold the float.
    """
    teller = _teller(session, teller_id)
    assert teller.branch_id is not None
    if type(float_amount) is not int or float_amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    if live_session(session, teller_id) is not None:
        raise QianbaoError("COUNTER_SESSION_ALREADY_OPEN")
    vault = vault_account(session, teller.branch_id)
    if ledger.balance(session, vault).available < float_amount:
        raise QianbaoError("COUNTER_VAULT_SHORT", amount=format_fen(float_amount))
    row = CounterSession(
        branch_id=teller.branch_id, teller_id=teller.id, live_teller_id=teller.id, business_date=_today(),
        status=AWAITING_FLOAT, float_amount=float_amount,
        drawer_account_id=drawer_account(session, teller.branch_id, teller), vault_account_id=vault,
        opened_at=datetime.now(UTC),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise QianbaoError("COUNTER_SESSION_ALREADY_OPEN") from None
    op = _new_operation(session, row, FLOAT, client_key=_client_key(teller_id, client_key), status=AWAITING_APPROVAL,
                        amount=float_amount)
    request = approvals.request_approval(
        session, APPROVAL_FLOAT, teller.branch_id, teller.id, SUBJECT_OPERATION, op.id,
        approvals.Summary("counter.approval.float", {"teller": f"{teller.name} ({teller.employee_no})",
                                                    "amount_fen": float_amount}),
    )
    op.approval_id = request.id
    session.flush()
    audit.record(session, action="counter.session.open", actor=_actor(teller), channel="counter",
                 object_type="counter_session", object_id=row.id, details={"float": float_amount})
    return row


def get_operation(
    session: Session, op_id: int, *, branch_id: int | None = None, lock: bool = False
) -> CounterOperation:
    stmt = select(CounterOperation).where(CounterOperation.id == op_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    op = session.scalar(stmt) if type(op_id) is int else None
    if op is None or (branch_id is not None and op.branch_id != branch_id):
        raise QianbaoError("NOT_FOUND")
    return op


def operations_of(session: Session, session_id: int) -> list[CounterOperation]:
    return list(session.scalars(select(CounterOperation).where(CounterOperation.session_id == session_id)
                                .order_by(CounterOperation.id)))


def _on_float(session: Session, request: ApprovalRequest) -> None:
    op = get_operation(session, int(request.subject_id), lock=True)
    day = get_session(session, op.session_id, lock=True)
    if op.status != AWAITING_APPROVAL or day.status != AWAITING_FLOAT:
        return
    if request.status == "approved":
        assert op.amount is not None
        transfer = ledger.create_transfer(session, key=f"counter:{op.reference}", debit=day.drawer_account_id,
                                          credit=day.vault_account_id, amount=op.amount, code="counter_float",
                                          reference=op.reference)
        op.ledger_reference = str(transfer.id)
        _finish(op, SUCCEEDED)
        day.status = OPEN
        session.flush()
        _issue_receipt(session, op)
    else:
        _finish(op, REJECTED if request.status == "rejected" else CANCELLED_OP)
        day.status = CANCELLED
        day.live_teller_id = None
        day.closed_at = datetime.now(UTC)
        session.flush()


approvals.register(APPROVAL_FLOAT, on_approved=_on_float, on_rejected=_on_float)


# ---- identifying the customer ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Identified:
    customer: wallets.Customer
    wallet: wallets.Wallet
    id_check: str  # reader | manual


def identify(session: Session, id_number: str, *, source: str, card_checked: bool) -> Identified:
    """The holder in front of the teller, by the resident ID read from the card (or typed, with the card
    checked by eye). COUNTER_HOLDER_NOT_FOUND when no verified holder has it or they have no wallet."""
    if source != "reader" and not card_checked:
        raise QianbaoError("PHYSICAL_CARD_NOT_CHECKED")
    resident = parse_resident_id(id_number)
    customer = customer_by_id_number(session, resident)
    wallet = None if customer is None else _latest_wallet(session, customer.id)
    if customer is None or wallet is None:
        raise QianbaoError("COUNTER_HOLDER_NOT_FOUND")
    return Identified(customer, wallet, "reader" if source == "reader" else "manual")


def _latest_wallet(session: Session, customer_id: int) -> wallets.Wallet | None:
    wallet = wallets.wallet_of_customer(session, customer_id)
    if wallet is not None:
        return wallet
    return session.scalar(select(wallets.Wallet).where(wallets.Wallet.customer_id == customer_id)
                          .order_by(wallets.Wallet.id.desc()))


def _check_wallet_usable(session: Session, wallet: wallets.Wallet, branch_id: int) -> None:
    if wallet.status == wallets.CLOSED:
        raise QianbaoError("WALLET_CLOSED")
    if wallet.is_frozen:
        raise QianbaoError("COUNTER_WALLET_FROZEN")
    _check_not_pending_elsewhere(session, wallet, branch_id)


def _check_not_pending_elsewhere(session: Session, wallet: wallets.Wallet, branch_id: int) -> None:
    elsewhere = session.scalar(select(CounterOperation.id).where(
        CounterOperation.wallet_id == wallet.id, CounterOperation.status.in_(OP_PENDING),
        CounterOperation.branch_id != branch_id).limit(1))
    if elsewhere is not None:
        raise QianbaoError("COUNTER_WALLET_PENDING_ELSEWHERE")


def _check_pin_usable(session: Session, customer_id: int) -> None:
    principal = Principal.customer(customer_id)
    if not credentials.has_pin(session, principal):
        raise QianbaoError("PIN_NOT_SET")
    until = credentials.pin_locked_until(session, principal)
    if until is not None:
        raise QianbaoError("PIN_LOCKED", until=until.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))


def masked_facts(ident: Identified) -> dict[str, Any]:
    customer, wallet = ident.customer, ident.wallet
    return {
        "name": mask_name(customer.legal_name or ""), "id_number": mask_id_number(customer.id_number or ""),
        "wallet": wallets.format_wallet_number(wallet.number)[:4] + " **** **** " + wallet.number[-4:],
        "tier": wallet.tier,
    }


# ---- the PIN pad -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PadCode:
    code: str
    expires_at: datetime


def _code_hash(code: str) -> str:
    return keyed_digest("counter-pad-code", code)


def _token_hash(token: str) -> str:
    return keyed_digest("counter-pad-token", token)


def issue_pad_code(session: Session, op: CounterOperation) -> PadCode:
    """A fresh one-time code for the customer to type on the PIN pad (replacing any earlier one)."""
    if op.status != AWAITING_PINPAD:
        raise QianbaoError("COUNTER_OPERATION_STATE", state=op.status)
    now = datetime.now(UTC)
    for _ in range(20):
        code = f"{secrets.randbelow(10 ** PAD_CODE_DIGITS):0{PAD_CODE_DIGITS}d}"
        digest = _code_hash(code)
        if session.scalar(select(CounterOperation.id).where(CounterOperation.pad_code_hash == digest)) is None:
            break
    else:  # pragma: no cover - twenty live codes colliding means the random source is broken
        raise RuntimeError("could not draw an unused PIN pad code")
    op.pad_code_hash = digest
    op.pad_code_expires_at = now + PAD_CODE_TTL
    op.pad_token_hash = None
    op.pad_token_expires_at = None
    session.flush()
    return PadCode(code, now + PAD_CODE_TTL)


def pad_pair(session: Session, code: str, *, ip: str | None = None) -> tuple[str, CounterOperation]:
    """The PIN pad trades the code on the teller's screen for its own token (once; COUNTER_PAD_CODE_INVALID)."""
    credentials.ratelimit.hit(session, "counter_pad_pair", ip or "-", 10, 600)
    typed = "".join((code or "").split())
    now = datetime.now(UTC)
    op = session.scalar(
        select(CounterOperation).where(CounterOperation.pad_code_hash == _code_hash(typed))
        .with_for_update().execution_options(populate_existing=True)
    ) if typed.isdigit() and len(typed) == PAD_CODE_DIGITS else None
    if op is None or op.status != AWAITING_PINPAD or op.pad_code_expires_at is None or op.pad_code_expires_at <= now:
        raise credentials.CredentialFailure("COUNTER_PAD_CODE_INVALID")
    token = secrets.token_urlsafe(32)
    op.pad_code_hash = None
    op.pad_code_expires_at = None
    op.pad_token_hash = _token_hash(token)
    op.pad_token_expires_at = now + PAD_TOKEN_TTL
    session.flush()
    return token, op


def pad_operation(session: Session, token: str | None, *, lock: bool = False) -> CounterOperation:
    """The operation a PIN-pad token stands for; PAIRING_TOKEN_INVALID once done, expired or unknown."""
    if not token:
        raise QianbaoError("PAIRING_TOKEN_INVALID")
    stmt = (select(CounterOperation).where(CounterOperation.pad_token_hash == _token_hash(token))
            .execution_options(populate_existing=True))
    if lock:
        stmt = stmt.with_for_update()
    op = session.scalar(stmt)
    if op is None or op.status != AWAITING_PINPAD or op.pad_token_expires_at is None \
            or op.pad_token_expires_at <= datetime.now(UTC):
        raise QianbaoError("PAIRING_TOKEN_INVALID")
    return op


# ---- cash in / cash out -------------------------------------------------------------------------------------

def cash_out_threshold(settings: Settings | None = None) -> int:
    s = settings or get_settings()
    return int(s.counter_cash_out_approval_yuan) * 100


def start_cash(
    session: Session, teller_id: int, kind: str, ident: Identified, amount: int, *, client_key: str | None = None,
) -> tuple[CounterOperation, PadCode | None]:
    """Take a cash deposit or withdrawal for the identified holder: it waits for their PIN on the PIN pad.

    Refusals (nothing written): COUNTER_SESSION_NOT_OPEN, AMOUNT_NOT_POSITIVE, WALLET_CLOSED,
    COUNTER_WALLET_FROZEN, COUNTER_WALLET_PENDING_ELSEWHERE, PIN_NOT_SET, PIN_LOCKED, and for cash out
    COUNTER_DRAWER_SHORT (the drawer cannot pay it). A form sent twice returns the first operation.
    """
    if kind not in (CASH_IN, CASH_OUT):
        raise QianbaoError("COUNTER_OPERATION_STATE", state=kind)
    key = _client_key(teller_id, client_key)
    existing = _existing_by_key(session, key)
    if existing is not None:
        return existing, None
    day = require_open(session, teller_id, lock=True)
    if type(amount) is not int or amount <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    _check_wallet_usable(session, ident.wallet, day.branch_id)
    _check_pin_usable(session, ident.customer.id)
    if kind == CASH_OUT and drawer_expected(session, day) < amount:
        raise QianbaoError("COUNTER_DRAWER_SHORT", amount=format_fen(amount))
    op = _new_operation(session, day, kind, client_key=key, status=AWAITING_PINPAD, amount=amount,
                        wallet=ident.wallet, details=masked_facts(ident), id_check=ident.id_check)
    code = issue_pad_code(session, op)
    teller = _teller(session, teller_id)
    audit.record(session, action=f"counter.{kind}.start", actor=_actor(teller), channel="counter",
                 object_type=SUBJECT_OPERATION, object_id=op.id,
                 details={"amount": amount, "wallet_id": ident.wallet.id, "id_check": ident.id_check})
    return op, code


def _post_cash(session: Session, op: CounterOperation) -> None:
    """Move the money between the wallet and the drawer: through qianbao.payments (limits, history, notice),
    or straight in the ledger while the payments package is not there."""
    from qianbao.counter import cash_posting

    day = get_session(session, op.session_id)
    cash_posting.post(session, op, day)


def _settle_confirmed_cash(session: Session, op: CounterOperation, settings: Settings | None) -> None:
    """After the customer's PIN: post now, or (cash out above the threshold) ask a supervisor."""
    assert op.amount is not None
    if op.kind == CASH_OUT and op.amount > cash_out_threshold(settings):
        teller = _teller(session, op.teller_id)
        op.status = AWAITING_APPROVAL
        op.pad_code_hash = op.pad_token_hash = None
        op.pad_code_expires_at = op.pad_token_expires_at = None
        session.flush()
        request = approvals.request_approval(
            session, APPROVAL_CASH_OUT, op.branch_id, op.teller_id, SUBJECT_OPERATION, op.id,
            approvals.Summary("counter.approval.cash_out", {
                "teller": f"{teller.name} ({teller.employee_no})", "amount_fen": op.amount,
                "name": op.details.get("name", ""), "wallet": op.details.get("wallet", ""),
            }),
        )
        op.approval_id = request.id
        session.flush()
        return
    _post_cash(session, op)
    _finish(op, SUCCEEDED)
    session.flush()
    _issue_receipt(session, op)


def _on_cash_out(session: Session, request: ApprovalRequest) -> None:
    op = get_operation(session, int(request.subject_id), lock=True)
    if op.status != AWAITING_APPROVAL:
        return
    if request.status == "approved":
        # The posting and the decision commit together: a crash before the commit leaves the request
        # pending in the queue and the operation awaiting approval, never one without the other.
        _post_cash(session, op)
        _finish(op, SUCCEEDED)
        session.flush()
        _issue_receipt(session, op)
    else:
        _finish(op, REJECTED if request.status == "rejected" else CANCELLED_OP)
        session.flush()


approvals.register(APPROVAL_CASH_OUT, on_approved=_on_cash_out, on_rejected=_on_cash_out)


def cancel_operation(session: Session, op_id: int, teller_id: int) -> CounterOperation:
    """The customer left: a pending operation ends and nothing moves (its approval request is withdrawn)."""
    teller = _teller(session, teller_id)
    op = get_operation(session, op_id, branch_id=teller.branch_id, lock=True)
    if op.status not in OP_PENDING or op.status == AWAITING_BANK:  # the bank's answer ends a payout
        raise QianbaoError("COUNTER_OPERATION_STATE", state=op.status)
    if op.status == AWAITING_APPROVAL and op.approval_id is not None:
        approvals.cancel(session, op.approval_id, teller_id, "customer left")
    else:
        _finish(op, CANCELLED_OP)
        session.flush()
    audit.record(session, action="counter.operation.cancel", actor=_actor(teller), channel="counter",
                 object_type=SUBJECT_OPERATION, object_id=op.id, details={"kind": op.kind})
    return op


# ---- end of day ---------------------------------------------------------------------------------------------

def parse_counts(counts: dict[int, int | str]) -> dict[int, int]:
    """Pieces per denomination (fen → count), each a whole number ≥ 0 (COUNTER_COUNT_INVALID)."""
    result: dict[int, int] = {}
    for denomination, raw in counts.items():
        if denomination not in DENOMINATIONS:
            raise QianbaoError("COUNTER_COUNT_INVALID", denomination=format_fen(int(denomination)))
        text = str(raw).strip() or "0"
        if not text.isdigit() or int(text) > MAX_PIECES:
            raise QianbaoError("COUNTER_COUNT_INVALID", denomination=format_fen(denomination))
        if int(text):
            result[denomination] = int(text)
    return result


def declare_end_of_day(session: Session, teller_id: int, counts: dict[int, int | str]) -> CounterSession:
    """轧账: the teller declares the counted cash by denomination and the system compares it with the drawer.

    Equal: the drawer returns to the vault and the session closes. Different: the session waits for the
    supervisor's sign-off (approvals kind counter.eod_difference), who posts the over/short against the
    branch's suspense account and returns the drawer. COUNTER_OPERATIONS_PENDING while an operation of
    the session still waits for the PIN pad or a supervisor.
    """
    teller = _teller(session, teller_id)
    day = require_open(session, teller_id, lock=True)
    pieces = parse_counts(counts)
    pending = session.scalar(select(CounterOperation.id).where(
        CounterOperation.session_id == day.id, CounterOperation.status.in_(OP_PENDING)).limit(1))
    if pending is not None:
        raise QianbaoError("COUNTER_OPERATIONS_PENDING")
    counted = sum(d * n for d, n in pieces.items())
    expected = drawer_expected(session, day)
    day.denominations = {str(d): n for d, n in sorted(pieces.items(), reverse=True)}
    day.counted_total = counted
    day.expected_total = expected
    day.difference = counted - expected
    day.declared_at = datetime.now(UTC)
    day.status = BALANCING
    session.flush()
    audit.record(session, action="counter.eod.declare", actor=_actor(teller), channel="counter",
                 object_type="counter_session", object_id=day.id,
                 details={"counted": counted, "expected": expected, "difference": counted - expected})
    if counted == expected:
        _close_day(session, day, signed_off_by=None)
    else:
        approvals.request_approval(
            session, APPROVAL_EOD, day.branch_id, teller.id, SUBJECT_SESSION, day.id,
            approvals.Summary("counter.approval.eod_short" if counted < expected else "counter.approval.eod_over", {
                "teller": f"{teller.name} ({teller.employee_no})", "difference_fen": abs(counted - expected),
                "counted_fen": counted, "expected_fen": expected,
            }),
        )
    return day


def _close_day(session: Session, day: CounterSession, *, signed_off_by: int | None) -> None:
    """Post the over/short (if any) and return the counted cash to the vault, in one linked group."""
    assert day.counted_total is not None and day.difference is not None
    base = f"counter:eod:{day.id}"
    legs: list[Leg] = []
    ops: list[CounterOperation] = []
    if day.difference:
        suspense = suspense_account(session, day.branch_id)
        short = day.difference < 0
        op = _new_operation(session, day, OVER_SHORT, client_key=f"{base}:over_short", status=SUCCEEDED,
                            amount=abs(day.difference), details={"direction": "short" if short else "over"})
        legs.append(Leg(debit=suspense if short else day.drawer_account_id,
                        credit=day.drawer_account_id if short else suspense,
                        amount=abs(day.difference), code="cash_short" if short else "cash_over",
                        reference=op.reference))
        ops.append(op)
    if day.counted_total > 0:
        op = _new_operation(session, day, VAULT_RETURN, client_key=f"{base}:vault_return", status=SUCCEEDED,
                            amount=day.counted_total)
        legs.append(Leg(debit=day.vault_account_id, credit=day.drawer_account_id, amount=day.counted_total,
                        code="vault_return", reference=op.reference))
        ops.append(op)
    if legs:
        transfers = ledger.create_group(session, key=base, legs=legs) if len(legs) > 1 else [
            ledger.create_transfer(session, key=base, debit=legs[0].debit, credit=legs[0].credit,
                                   amount=legs[0].amount, code=legs[0].code, reference=legs[0].reference)]
        for op, transfer in zip(ops, transfers, strict=True):
            op.ledger_reference = str(transfer.id)
            op.completed_at = datetime.now(UTC)
    day.status = CLOSED
    day.live_teller_id = None
    day.closed_at = datetime.now(UTC)
    day.signed_off_by = signed_off_by
    session.flush()
    for op in ops:
        _issue_receipt(session, op)
    from qianbao import receipts

    receipts.issue(session, day.branch_id, DAY_REPORT_KIND, day.id, day.teller_id)


def _on_eod(session: Session, request: ApprovalRequest) -> None:
    day = get_session(session, int(request.subject_id), lock=True)
    if day.status != BALANCING:
        return
    if request.status == "approved":
        _close_day(session, day, signed_off_by=request.decided_by)
    else:
        # Recount: the declaration is set aside and the session is open again.
        day.status = OPEN
        day.denominations = None
        day.counted_total = day.expected_total = day.difference = None
        day.declared_at = None
        session.flush()


approvals.register(APPROVAL_EOD, on_approved=_on_eod, on_rejected=_on_eod)


def pending_eod_request(session: Session, session_id: int) -> ApprovalRequest | None:
    return session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.kind == APPROVAL_EOD, ApprovalRequest.subject_type == SUBJECT_SESSION,
        ApprovalRequest.subject_id == str(session_id), ApprovalRequest.status == "pending"))


def branch_sessions(session: Session, branch_id: int, *, day: date | None = None) -> list[CounterSession]:
    """The branch's sessions of a business day (today by default) and every live one."""
    the_day = day or _today()
    stmt = select(CounterSession).where(
        CounterSession.branch_id == branch_id,
        (CounterSession.business_date == the_day) | CounterSession.status.in_(LIVE_SESSION),
    ).order_by(CounterSession.id)
    return list(session.scalars(stmt))


def latest_session(session: Session, teller_id: int) -> CounterSession | None:
    return session.scalar(select(CounterSession).where(CounterSession.teller_id == teller_id)
                          .order_by(CounterSession.id.desc()).limit(1))
