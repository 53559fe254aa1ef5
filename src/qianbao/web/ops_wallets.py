"""Ops console: wallet look-up and the operator's actions on a wallet (SPEC §2 downgrades, §10 freezes).

    GET  /ops/wallets?q=                    look up by wallet number, mobile number or resident ID number
    GET  /ops/wallets/{wallet_id}           holder (masked), tier and its history, status, balance, limits
    POST /ops/wallets/{wallet_id}/downgrade wallets.downgrade_by_operator, with a reason
    POST /ops/wallets/{wallet_id}/freeze    wallets.freeze_wallet, with a reason
    POST /ops/wallets/{wallet_id}/unfreeze  wallets.unfreeze_wallet (an operator's freeze only), with a reason

The query is recognised by its shape: 16 digits are a wallet number (its Luhn check digit is checked
before any look-up, WALLET_NUMBER_INVALID), a mainland mobile number is found through its keyed look-up
hash, an 18-character resident ID number (checked first: ID_NUMBER_*) through its keyed hash — among
verified holders and among real-name submissions. Anything else is OPS_LOOKUP_UNRECOGNISED. Each look-up
is audited with the query masked, since a search by someone's ID number is itself a use of their data.

Operators act (action "ops.freeze"); auditors read the same pages without the forms and are refused on
every POST. Balances come from the ledger, never from a copy.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import access, audit, ledger, wallets
from qianbao.audit.models import AuditEntry
from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile, parse_resident_id, resident_id_lookup_hash
from qianbao.pii.masking import mask_card, mask_id_number, mask_name, mask_phone
from qianbao.wallets.customers import customer_by_phone
from qianbao.wallets.models import CLOSED, FROZEN_LOST, FROZEN_OPS, TIERS, Customer, KycSubmission, Wallet
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import Refusal, StaffName, audit_staff, branch_names, db_of, lang_of, refusal, staff_names
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

QueryKind = Literal["wallet", "phone", "id_number"]
RESULT_LIMIT = 50
EVENT_LIMIT = 20
DONE_NOTICES = frozenset({"downgraded", "frozen", "unfrozen"})
REASON_MAX = 500
# Audit actions about one wallet shown on its page, newest first.
WALLET_EVENTS = ("wallet.tier.downgrade", "wallet.tier.upgrade", "wallet.freeze.ops", "wallet.freeze.loss",
                 "wallet.unfreeze")


# ---- look-up ------------------------------------------------------------------------------------------

def classify(text: str) -> tuple[QueryKind, str]:
    """What the typed query is, and its checked value (refusals before any look-up)."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if not ch.isspace() and ch != "-")
    digits = cleaned.isascii() and cleaned.isdigit()
    if digits and len(cleaned) == 16:
        return "wallet", wallets.parse_wallet_number(cleaned)
    if cleaned.startswith("+") or (digits and (len(cleaned) == 11 or (len(cleaned) == 13 and cleaned.startswith("86"))
                                               or (len(cleaned) == 15 and cleaned.startswith("0086")))):
        return "phone", parse_mobile(cleaned)
    if cleaned.isascii() and cleaned[:17].isdigit() and len(cleaned) in (15, 18):
        return "id_number", parse_resident_id(cleaned).number
    raise QianbaoError("OPS_LOOKUP_UNRECOGNISED")


def masked_query(kind: QueryKind, value: str) -> str:
    if kind == "wallet":
        return mask_card(value)
    return mask_phone(value) if kind == "phone" else mask_id_number(value)


@dataclass(frozen=True)
class WalletRow:
    id: int
    number: str
    tier: int
    status: str
    holder: str
    phone: str
    opened_at: datetime
    match: str  # how the query found it: wallet, phone, id_number (verified), submission (a real-name try)


def _rows(session: Session, found: list[tuple[Wallet, str]]) -> list[WalletRow]:
    customers = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.id.in_({wallet.customer_id for wallet, _ in found})))} if found else {}
    rows = []
    for wallet, match in found:
        customer = customers[wallet.customer_id]
        rows.append(WalletRow(
            id=wallet.id, number=wallets.format_wallet_number(wallet.number), tier=wallet.tier, status=wallet.status,
            holder=mask_name(customer.legal_name), phone=mask_phone(customer.phone), opened_at=wallet.opened_at,
            match=match,
        ))
    return rows


def _wallets_of(session: Session, customer_ids: list[int]) -> list[Wallet]:
    if not customer_ids:
        return []
    return list(session.scalars(select(Wallet).where(Wallet.customer_id.in_(customer_ids))
                                .order_by(Wallet.id.desc()).limit(RESULT_LIMIT)))


def look_up(session: Session, kind: QueryKind, value: str) -> list[WalletRow]:
    found: list[tuple[Wallet, str]] = []
    if kind == "wallet":
        wallet = session.scalar(select(Wallet).where(Wallet.number == value))
        found = [(wallet, "wallet")] if wallet else []
    elif kind == "phone":
        customer = customer_by_phone(session, value)
        found = [(w, "phone") for w in _wallets_of(session, [customer.id] if customer else [])]
    else:
        id_hash = resident_id_lookup_hash(parse_resident_id(value))
        verified = list(session.scalars(select(Customer.id).where(Customer.id_hash == id_hash)))
        submitted = list(session.scalars(
            select(KycSubmission.customer_id).where(KycSubmission.id_hash == id_hash).distinct()
        ))
        others = [c for c in submitted if c not in verified]
        found = [(w, "id_number") for w in _wallets_of(session, verified)]
        found += [(w, "submission") for w in _wallets_of(session, others)]
    return _rows(session, found)


@router.get("/ops/wallets", response_class=HTMLResponse)
def wallet_search(
    request: Request, q: str = Query("", max_length=64), staff: StaffContext = Depends(requires("ops.read"))
) -> Response:
    query = q.strip()
    if not query:
        return render(request, "ops/wallets.html", section="wallets", q="", rows=None, error=None)
    try:
        kind, value = classify(query)
    except QianbaoError as exc:
        return render(request, "ops/wallets.html", section="wallets", q=query, rows=None,
                      error=refusal(exc, lang_of(request)), status_code=exc.status)
    with db_of(request).transaction() as session:
        rows = look_up(session, kind, value)
        audit.record(session, action="wallet.lookup", actor=staff.audit_actor, channel="ops",
                     details={"kind": kind, "query": masked_query(kind, value), "found": len(rows)})
    if len(rows) == 1:
        return RedirectResponse(f"/ops/wallets/{rows[0].id}", status_code=303)
    return render(request, "ops/wallets.html", section="wallets", q=query, kind=kind, rows=rows, error=None)


# ---- one wallet ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryRow:
    changed_at: datetime
    from_tier: int | None
    to_tier: int
    cause: str
    reason: str | None
    by: StaffName | None
    branch: str | None
    channel: str


@dataclass(frozen=True)
class EventRow:
    occurred_at: datetime
    action: str
    outcome: str
    by: StaffName | None
    actor_type: str
    reason: str | None


@dataclass(frozen=True)
class WalletView:
    id: int
    number: str
    tier: int
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    outflow_restricted: bool
    outflow_restriction_reason: str | None
    opened_channel: str
    opened_branch: str | None
    opened_by: StaffName | None
    opened_at: datetime
    customer_id: int
    holder: str
    phone: str
    id_number: str
    real_name_status: str
    id_valid_until: date | None
    balance: ledger.Balance
    cap: int | None
    limits: wallets.WalletLimits
    history: list[HistoryRow]
    submissions: list[tuple[int, str, datetime]]
    events: list[EventRow]
    downgrade_to: list[int]

    @property
    def can_freeze(self) -> bool:
        return self.status not in (FROZEN_OPS, CLOSED)

    @property
    def can_unfreeze(self) -> bool:
        return self.status == FROZEN_OPS

    @property
    def frozen_for_loss(self) -> bool:
        return self.status == FROZEN_LOST


def _events(session: Session, wallet_id: int) -> list[EventRow]:
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "wallet", AuditEntry.object_id == str(wallet_id),
                                 AuditEntry.action.in_(WALLET_EVENTS))
        .order_by(AuditEntry.seq.desc()).limit(EVENT_LIMIT)
    ))
    people = staff_names(session, (e.actor_id for e in entries if e.actor_type == "staff"))
    return [
        EventRow(
            occurred_at=e.occurred_at, action=e.action, outcome=e.outcome, actor_type=e.actor_type,
            by=audit_staff(e.actor_type, e.actor_id, people),
            reason=(e.details or {}).get("reason"),
        )
        for e in entries
    ]


def wallet_view(session: Session, wallet_id: int, lang: str) -> WalletView:
    wallet = wallets.get_wallet(session, wallet_id)
    customer = wallets.get_customer(session, wallet.customer_id)
    changes = wallets.tier_history(session, wallet.id)
    people = staff_names(session, [wallet.opened_by_staff_id, *(c.by_staff_id for c in changes)])
    branches = branch_names(session, [wallet.opened_branch_id, *(c.branch_id for c in changes)], lang)
    account = ledger.get_account(session, wallet.ledger_account_id)
    submissions = [(row.id, row.status, row.submitted_at) for row in session.scalars(
        select(KycSubmission).where(KycSubmission.customer_id == customer.id).order_by(KycSubmission.id.desc())
        .limit(10))]
    return WalletView(
        id=wallet.id, number=wallets.format_wallet_number(wallet.number), tier=wallet.tier, status=wallet.status,
        status_reason=wallet.status_reason, status_changed_at=wallet.status_changed_at,
        outflow_restricted=wallet.outflow_restricted, outflow_restriction_reason=wallet.outflow_restriction_reason,
        opened_channel=wallet.opened_channel,
        opened_branch=branches.get(wallet.opened_branch_id) if wallet.opened_branch_id else None,
        opened_by=people.get(wallet.opened_by_staff_id) if wallet.opened_by_staff_id else None,
        opened_at=wallet.opened_at, customer_id=customer.id, holder=mask_name(customer.legal_name),
        phone=mask_phone(customer.phone), id_number=mask_id_number(customer.id_number),
        real_name_status=customer.real_name_status, id_valid_until=customer.id_valid_until,
        balance=ledger.balance(session, wallet.ledger_account_id), cap=account.cap,
        limits=wallets.wallet_limits(session, wallet),
        history=[
            HistoryRow(changed_at=c.changed_at, from_tier=c.from_tier, to_tier=c.to_tier, cause=c.cause,
                       reason=c.reason, by=people.get(c.by_staff_id) if c.by_staff_id else None,
                       branch=branches.get(c.branch_id) if c.branch_id else None, channel=c.channel)
            for c in reversed(changes)
        ],
        submissions=submissions,
        events=_events(session, wallet.id),
        downgrade_to=[tier for tier in sorted(TIERS) if tier > wallet.tier] if wallet.status != CLOSED else [],
    )


ActionName = Literal["downgrade", "freeze", "unfreeze"]


def _detail_page(
    request: Request, staff: StaffContext, wallet_id: int, *, notice: str | None = None,
    failed: ActionName | None = None, error: Refusal | None = None, typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = lang_of(request)
    with db_of(request).read() as session:
        view = wallet_view(session, wallet_id, lang)
    return render(
        request, "ops/wallets_detail.html", status_code=status_code, section="wallets", view=view, notice=notice,
        failed=failed, error=error, typed=typed or {}, reason_max=REASON_MAX,
        can_act=access.can(staff.actor, "ops.freeze"),
    )


@router.get("/ops/wallets/{wallet_id}", response_class=HTMLResponse)
def wallet_detail(
    request: Request, wallet_id: int, done: str = Query("", max_length=16),
    staff: StaffContext = Depends(requires("ops.read")),
) -> HTMLResponse:
    notice = f"ops.wallet.done.{done}" if done in DONE_NOTICES else None
    return _detail_page(request, staff, wallet_id, notice=notice)


def _act(
    request: Request, staff: StaffContext, wallet_id: int, name: ActionName, reason: str, to_tier: str = ""
) -> Response:
    action = {"downgrade": "wallet.tier.downgrade", "freeze": "wallet.freeze.ops", "unfreeze": "wallet.unfreeze"}[name]
    try:
        with wallets.audited(db_of(request), action=action, actor=staff.audit_actor, channel="ops",
                             object_type="wallet", object_id=wallet_id) as session:
            if name == "downgrade":
                tier: int | str = int(to_tier) if to_tier.isascii() and to_tier.isdigit() else to_tier
                wallets.downgrade_by_operator(session, wallet_id, tier, reason, staff.id)  # type: ignore[arg-type]
            elif name == "freeze":
                wallets.freeze_wallet(session, wallet_id, reason, staff.id)
            else:
                wallets.unfreeze_wallet(session, wallet_id, reason, staff.id, channel="ops")
    except QianbaoError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return _detail_page(request, staff, wallet_id, failed=name, error=refusal(exc, lang_of(request)),
                            typed={"reason": reason, "to_tier": to_tier}, status_code=exc.status)
    done = {"downgrade": "downgraded", "freeze": "frozen", "unfreeze": "unfrozen"}[name]
    return RedirectResponse(f"/ops/wallets/{wallet_id}?done={done}", status_code=303)


@router.post("/ops/wallets/{wallet_id}/downgrade", response_class=HTMLResponse)
def wallet_downgrade(
    request: Request, wallet_id: int, to_tier: str = Form("", max_length=4), reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.freeze")),
) -> Response:
    return _act(request, staff, wallet_id, "downgrade", reason, to_tier)


@router.post("/ops/wallets/{wallet_id}/freeze", response_class=HTMLResponse)
def wallet_freeze(
    request: Request, wallet_id: int, reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.freeze")),
) -> Response:
    return _act(request, staff, wallet_id, "freeze", reason)


@router.post("/ops/wallets/{wallet_id}/unfreeze", response_class=HTMLResponse)
def wallet_unfreeze(
    request: Request, wallet_id: int, reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.freeze")),
) -> Response:
    return _act(request, staff, wallet_id, "unfreeze", reason)
