"""Shared pieces of the ops console's work pages (KYC queue, tiers and limits, wallet look-up, overview).

Reading helpers only: who a staff id is, how long something has waited and whether that breaks the review
target, how a limit in fen is written back into a yuan field. The pages themselves live in
qianbao.web.ops_kyc, ops_tiers, ops_wallets and ops_dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan, to_yuan
from qianbao.staff.models import Branch, StaffMember

# The operators' target for a real-name review (SPEC is silent; docs/wallets.md, "The ops console"): a
# customer who photographed their ID card hears back within a day. The queue warns from 18 hours on.
KYC_REVIEW_SLA = timedelta(hours=24)
KYC_REVIEW_WARNING = timedelta(hours=18)

SlaState = Literal["ok", "due_soon", "overdue"]


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def db_of(request: Request) -> Any:
    return request.app.state.db


def now_utc() -> datetime:
    return datetime.now(UTC)


def sla_state(waited: timedelta) -> SlaState:
    if waited >= KYC_REVIEW_SLA:
        return "overdue"
    if waited >= KYC_REVIEW_WARNING:
        return "due_soon"
    return "ok"


def waited_text(waited: timedelta, lang: str) -> str:
    """How long something has waited, to the minute: 45 分钟 / 3 小时 12 分 / 2 天 4 小时."""
    minutes = max(0, int(waited.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return translate("ops.age.days", lang, days=days, hours=hours)
    if hours:
        return translate("ops.age.hours", lang, hours=hours, minutes=mins)
    return translate("ops.age.minutes", lang, minutes=mins)


@dataclass(frozen=True)
class StaffName:
    employee_no: str
    name: str


def staff_names(session: Session, ids: Iterable[int | str | None]) -> dict[int, StaffName]:
    """Employee number and name of each staff id given (unknown ids are left out)."""
    wanted = {int(value) for value in ids if value is not None and str(value).isdigit()}
    if not wanted:
        return {}
    rows = session.execute(select(StaffMember.id, StaffMember.employee_no, StaffMember.name)
                           .where(StaffMember.id.in_(wanted)))
    return {row.id: StaffName(row.employee_no, row.name) for row in rows}


def audit_staff(actor_type: str, actor_id: str | None, people: dict[int, StaffName]) -> StaffName | None:
    """The staff member an audit entry names as its actor, if it is one we know."""
    if actor_type != "staff" or not actor_id or not actor_id.isdigit():
        return None
    return people.get(int(actor_id))


def branch_names(session: Session, ids: Iterable[int | None], lang: str) -> dict[int, str]:
    wanted = {value for value in ids if value is not None}
    if not wanted:
        return {}
    return {branch.id: f"{branch.code} {branch.name(lang)}"
            for branch in session.scalars(select(Branch).where(Branch.id.in_(wanted)))}


def yuan_field(fen: int | None) -> str:
    """A limit as the form shows it for editing: plain yuan with two decimals, blank for "no limit"."""
    return "" if fen is None else f"{to_yuan(fen)}"


def parse_limit(text: str) -> int | None:
    """A limit typed in yuan: blank is no limit, 0 is a limit of nothing (it stops that kind of payment),
    anything else as money.parse_yuan reads it. Not an amount, or below zero: POLICY_AMOUNT_INVALID (a limit
    may be 0, so parse_yuan's "must be more than 0" would mislead); too many decimals or too large keep
    parse_yuan's own refusals."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        if Decimal(cleaned.replace(",", "").replace("，", "").lstrip("¥￥")) == 0:
            return 0
    except InvalidOperation:
        pass
    try:
        return parse_yuan(cleaned)
    except QianbaoError as exc:
        if exc.code in {"AMOUNT_INVALID", "AMOUNT_NOT_POSITIVE"}:
            raise QianbaoError("POLICY_AMOUNT_INVALID") from None
        raise


@dataclass(frozen=True)
class Refusal:
    """A refusal as a page shows it next to its form: the stable code (data-code) and the message."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def refusal(exc: QianbaoError, lang: str) -> Refusal:
    return Refusal(exc.code, exc.message(lang))
