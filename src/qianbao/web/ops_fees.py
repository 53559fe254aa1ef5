"""Ops console: the fee schedule (收费标准, SPEC §6.3, §11 configuration).

    GET  /ops/config/fees            every kind's rule (free monthly allowance, rate, minimum, maximum),
                                     and the latest changes with their reasons (from the audit log)
    POST /ops/config/fees/{kind}     payments.update_fee_rule, audited with the reason

Amounts are typed in yuan; the rate in percent ("0.1" = 0.1% = 1,000 parts per million). A blank maximum is
"no ceiling". Operators change (action "ops.config"); auditors read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from qianbao import access, payments
from qianbao.audit.models import AuditEntry
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import to_yuan
from qianbao.payments.models import KINDS
from qianbao.wallets import audited
from qianbao.web.auth import StaffContext, requires
from qianbao.web.ops_views import Refusal, audit_staff, db_of, lang_of, parse_limit, refusal, staff_names
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

FIELDS = ("free_monthly", "rate", "min_fee", "max_fee")
HISTORY_LIMIT = 10


@dataclass
class FeeForm:
    values: dict[str, str]
    reason: str = ""
    errors: dict[str, Refusal] = field(default_factory=dict)
    error: Refusal | None = None


@dataclass(frozen=True)
class FeeChange:
    occurred_at: datetime
    by: Any
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str


def rate_text(ppm: int) -> str:
    """Parts per million as a percentage without trailing zeros: 1000 → "0.1"."""
    return format((Decimal(ppm) / 10_000).normalize(), "f")


def parse_rate(text: str) -> int:
    try:
        value = Decimal((text or "").strip().rstrip("%") or "x")
    except InvalidOperation:
        raise QianbaoError("POLICY_VALUE_INVALID", field="rate") from None
    ppm = value * 10_000
    if not value.is_finite() or ppm != ppm.to_integral_value() or not 0 <= ppm <= 1_000_000:
        raise QianbaoError("POLICY_VALUE_INVALID", field="rate")
    return int(ppm)


def _form(rule: payments.FeeSchedule) -> FeeForm:
    return FeeForm({"free_monthly": str(to_yuan(rule.free_monthly)), "rate": rate_text(rule.rate_ppm),
                    "min_fee": str(to_yuan(rule.min_fee)),
                    "max_fee": "" if rule.max_fee is None else str(to_yuan(rule.max_fee))})


def _page(request: Request, staff: StaffContext, *, forms: dict[str, FeeForm] | None = None,
          notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    with db_of(request).read() as session:
        rules = payments.fee_rules(session)
        entries = list(session.scalars(
            select(AuditEntry).where(AuditEntry.action == "policy.fee.update", AuditEntry.outcome == "success")
            .order_by(AuditEntry.seq.desc()).limit(HISTORY_LIMIT)))
        people = staff_names(session, [*(e.actor_id for e in entries if e.actor_type == "staff"),
                                       *(r.updated_by_staff_id for r in rules)])
    changes = [FeeChange(e.occurred_at, audit_staff(e.actor_type, e.actor_id, people), str(e.details.get("kind")),
                         e.details.get("before") or {}, e.details.get("after") or {}, str(e.details.get("reason", "")))
               for e in entries]
    shown = {rule.kind: _form(rule) for rule in rules}
    shown.update(forms or {})
    known = {rule.kind for rule in rules}
    return render(request, "ops/fees.html", status_code=status_code, section="config", rules=rules, forms=shown,
                  changes=changes, people=people, notice=notice, rate_text=rate_text,
                  new_kinds=[kind for kind in KINDS if kind not in known],
                  can_edit=access.can(staff.actor, "ops.config"))


@router.get("/ops/config/fees", response_class=HTMLResponse)
def fees_page(request: Request, done: str = Query("", max_length=24),
              staff: StaffContext = Depends(requires("ops.read"))) -> HTMLResponse:
    notice = translate("ops.fees.done", lang_of(request), kind=translate(f"records.kind.{done}", lang_of(request))) \
        if done in KINDS else None
    return _page(request, staff, notice=notice)


@router.post("/ops/config/fees/{kind}", response_class=HTMLResponse)
def fee_update(
    request: Request,
    kind: str,
    free_monthly: str = Form("", max_length=40),
    rate: str = Form("", max_length=20),
    min_fee: str = Form("", max_length=40),
    max_fee: str = Form("", max_length=40),
    reason: str = Form("", max_length=2000),
    staff: StaffContext = Depends(requires("ops.config")),
) -> Response:
    if kind not in KINDS:
        raise QianbaoError("NOT_FOUND")
    lang = lang_of(request)
    form = FeeForm({"free_monthly": free_monthly, "rate": rate, "min_fee": min_fee, "max_fee": max_fee}, reason)
    changes: dict[str, int | None] = {}
    for name, target in (("free_monthly", "free_monthly"), ("min_fee", "min_fee"), ("max_fee", "max_fee")):
        try:
            value = parse_limit(form.values[name])
            if value is None and name != "max_fee":
                value = 0
            changes[target] = value
        except QianbaoError as exc:
            form.errors[name] = refusal(exc, lang)
    try:
        changes["rate_ppm"] = parse_rate(rate)
    except QianbaoError as exc:
        form.errors["rate"] = refusal(exc, lang)
    if form.errors:
        return _page(request, staff, forms={kind: form}, status_code=422)
    try:
        with audited(db_of(request), action="policy.fee.update", actor=staff.audit_actor, channel="ops",
                     object_type="fee_rule", object_id=kind) as session:
            payments.update_fee_rule(session, kind, changes, staff.id, reason)
    except QianbaoError as exc:
        if exc.code in {"REASON_REQUIRED", "REASON_TOO_LONG"}:
            form.errors["reason"] = refusal(exc, lang)
        else:
            form.error = refusal(exc, lang)
        return _page(request, staff, forms={kind: form}, status_code=exc.status)
    return RedirectResponse(f"/ops/config/fees?done={kind}#fee-{kind}", status_code=303)
