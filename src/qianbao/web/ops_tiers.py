"""Ops console: the tiers-and-limits policy (SPEC §2, §3 minimum age, §11 configuration; issue 5 item 4).

    GET  /ops/config                     the configuration area (tiers and limits is its first page)
    GET  /ops/config/tiers               the four tiers' limits, the confirmation caps, the minimum age,
                                         and the latest changes with their reasons (from the audit log)
    POST /ops/config/tiers/{tier}        wallets.update_tier_policy   (balance cap change reaches the ledger)
    POST /ops/config/wallet-policy       wallets.update_wallet_policy (confirmation caps, minimum age)

Amounts are typed in yuan (money.parse_yuan); a blank field is "no limit" and 0 is a limit of nothing.
A reason is required and kept in the audit record. Refusals are shown next to the field they concern,
with what the operator typed kept in the form. Operators change (action "ops.config"); auditors read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import access, wallets
from qianbao.audit.models import AuditEntry
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.wallets.models import TIERS
from qianbao.wallets.policy import AMOUNT_POLICY_FIELDS, TIER_FIELDS
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import (
    Refusal,
    StaffName,
    audit_staff,
    db_of,
    lang_of,
    parse_limit,
    refusal,
    staff_names,
    yuan_field,
)
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

WIDE_FIELDS = (*AMOUNT_POLICY_FIELDS, "minimum_age")
POLICY_ACTIONS = ("policy.tier.update", "policy.wallet.update")
HISTORY_LIMIT = 10
REASON_MAX = 500


@dataclass
class PolicyForm:
    """One edit form: the values as typed, the error of each field, and the form's own error."""

    values: dict[str, str]
    reason: str = ""
    errors: dict[str, Refusal] = field(default_factory=dict)
    error: Refusal | None = None


@dataclass(frozen=True)
class Change:
    """One audited policy change: when, who, which tier (None: wallet-wide), what moved, why."""

    occurred_at: datetime
    by: StaffName | None
    tier: int | None
    moves: list[tuple[str, Any, Any]]
    reason: str


def tier_form(limits: wallets.TierLimits) -> PolicyForm:
    return PolicyForm({name: yuan_field(getattr(limits, name)) for name in TIER_FIELDS})


def wide_form(policy: wallets.WalletWidePolicy) -> PolicyForm:
    values = {name: yuan_field(getattr(policy, name)) for name in AMOUNT_POLICY_FIELDS}
    values["minimum_age"] = str(policy.minimum_age)
    return PolicyForm(values)


def recent_changes(session: Session, *, limit: int = HISTORY_LIMIT) -> list[Change]:
    entries = list(session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(POLICY_ACTIONS), AuditEntry.outcome == "success")
        .order_by(AuditEntry.seq.desc()).limit(limit)
    ))
    people = staff_names(session, (e.actor_id for e in entries if e.actor_type == "staff"))
    changes = []
    for entry in entries:
        details = entry.details or {}
        before, after = details.get("before") or {}, details.get("after") or {}
        moves = [(name, before.get(name), after.get(name)) for name in after if before.get(name) != after.get(name)]
        by = audit_staff(entry.actor_type, entry.actor_id, people)
        changes.append(Change(entry.occurred_at, by, details.get("tier"), moves, str(details.get("reason", ""))))
    return changes


def _page(
    request: Request, staff: StaffContext, *, forms: dict[str, PolicyForm] | None = None,
    notice: str | None = None, status_code: int = 200,
) -> HTMLResponse:
    with db_of(request).read() as session:
        tiers = wallets.all_tiers(session)
        wide = wallets.wallet_policy(session)
        changes = recent_changes(session)
        people = staff_names(session, [*(t.updated_by_staff_id for t in tiers), wide.updated_by_staff_id])
    shown = {f"tier{limits.tier}": tier_form(limits) for limits in tiers}
    shown["wallet"] = wide_form(wide)
    shown.update(forms or {})
    return render(
        request, "ops/tiers.html", status_code=status_code, section="config", tiers=tiers, wide=wide,
        changes=changes, people=people, forms=shown, notice=notice, reason_max=REASON_MAX,
        can_edit=access.can(staff.actor, "ops.config"),
    )


@router.get("/ops/config", dependencies=[Depends(requires("ops.read"))])
def ops_config() -> RedirectResponse:
    return RedirectResponse("/ops/config/tiers", status_code=303)


@router.get("/ops/config/tiers", response_class=HTMLResponse)
def tiers_page(
    request: Request, done: str = Query("", max_length=16), staff: StaffContext = Depends(requires("ops.read"))
) -> HTMLResponse:
    lang = lang_of(request)
    notice = None
    if done in {f"tier{tier}" for tier in TIERS}:
        notice = translate("ops.tiers.done.tier", lang, tier=int(done.removeprefix("tier")))
    elif done == "wallet":
        notice = translate("ops.tiers.done.wallet", lang)
    return _page(request, staff, notice=notice)


def _field_of(exc: QianbaoError, fields: tuple[str, ...]) -> str | None:
    """The form field a refusal concerns, if it names one."""
    if exc.code in {"REASON_REQUIRED", "REASON_TOO_LONG"}:
        return "reason"
    name = exc.params.get("field")
    return name if name in fields else None


def _apply_error(form: PolicyForm, exc: QianbaoError, fields: tuple[str, ...], lang: str) -> None:
    """Put the refusal next to the field it names (in the words of the form: yuan, years), else on top."""
    target = _field_of(exc, fields)
    if exc.code == "POLICY_VALUE_INVALID" and target:
        exc = QianbaoError("POLICY_AGE_INVALID" if target == "minimum_age" else "POLICY_AMOUNT_INVALID")
    if target:
        form.errors[target] = refusal(exc, lang)
    else:
        form.error = refusal(exc, lang)


def _parse_amounts(form: PolicyForm, fields: tuple[str, ...], lang: str) -> dict[str, int | None]:
    """Every amount field parsed, each bad one noted on the form (all of them at once, not the first)."""
    parsed: dict[str, int | None] = {}
    for name in fields:
        try:
            parsed[name] = parse_limit(form.values[name])
        except QianbaoError as exc:
            form.errors[name] = refusal(exc, lang)
    return parsed


@router.post("/ops/config/tiers/{tier}", response_class=HTMLResponse)
def tier_update(
    request: Request,
    tier: int,
    balance_cap: str = Form("", max_length=40),
    single_payment_limit: str = Form("", max_length=40),
    daily_outflow_limit: str = Form("", max_length=40),
    annual_outflow_limit: str = Form("", max_length=40),
    reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.config")),
) -> Response:
    if tier not in TIERS:
        raise QianbaoError("NOT_FOUND")
    lang = lang_of(request)
    key = f"tier{tier}"
    form = PolicyForm({"balance_cap": balance_cap, "single_payment_limit": single_payment_limit,
                       "daily_outflow_limit": daily_outflow_limit, "annual_outflow_limit": annual_outflow_limit},
                      reason)
    changes = _parse_amounts(form, TIER_FIELDS, lang)
    if form.errors:
        return _page(request, staff, forms={key: form}, status_code=422)
    try:
        with wallets.audited(db_of(request), action="policy.tier.update", actor=staff.audit_actor, channel="ops",
                             object_type="tier_policy", object_id=tier) as session:
            wallets.update_tier_policy(session, tier, changes, staff.id, reason)
    except QianbaoError as exc:
        _apply_error(form, exc, TIER_FIELDS, lang)
        return _page(request, staff, forms={key: form}, status_code=exc.status)
    return RedirectResponse(f"/ops/config/tiers?done={key}#{key}", status_code=303)


@router.post("/ops/config/wallet-policy", response_class=HTMLResponse)
def wallet_policy_update(
    request: Request,
    password_free_daily_limit: str = Form("", max_length=40),
    static_qr_daily_limit: str = Form("", max_length=40),
    minimum_age: str = Form("", max_length=8),
    reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.config")),
) -> Response:
    lang = lang_of(request)
    form = PolicyForm({"password_free_daily_limit": password_free_daily_limit,
                       "static_qr_daily_limit": static_qr_daily_limit, "minimum_age": minimum_age}, reason)
    changes = _parse_amounts(form, AMOUNT_POLICY_FIELDS, lang)
    age = minimum_age.strip()
    if age.isascii() and age.isdigit():
        changes["minimum_age"] = int(age)
    else:
        form.errors["minimum_age"] = refusal(QianbaoError("POLICY_AGE_INVALID"), lang)
    if form.errors:
        return _page(request, staff, forms={"wallet": form}, status_code=422)
    try:
        with wallets.audited(db_of(request), action="policy.wallet.update", actor=staff.audit_actor,
                             channel="ops", object_type="wallet_policy", object_id=1) as session:
            wallets.update_wallet_policy(session, changes, staff.id, reason)
    except QianbaoError as exc:
        _apply_error(form, exc, WIDE_FIELDS, lang)
        return _page(request, staff, forms={"wallet": form}, status_code=exc.status)
    return RedirectResponse("/ops/config/tiers?done=wallet#wallet", status_code=303)
