"""Branches (网点): created by the CLI or an operator, each creation audited."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.errors import QianbaoError
from qianbao.staff.models import Branch

# Branch numbers are what staff key in and receipts print: 4 to 8 digits, kept with their leading zeros.
_CODE = re.compile(r"^\d{4,8}$")


def normalise_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code or "").strip()


def _clean_text(value: str, max_length: int, field: str) -> str:
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text or len(text) > max_length:
        raise QianbaoError("BRANCH_FIELD_INVALID", field=field, max_length=max_length)
    return text


def create_branch(
    session: Session,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    address: str,
    by: audit.Actor,
    channel: str,
) -> Branch:
    """Create a branch. BRANCH_CODE_INVALID (not 4-8 digits), BRANCH_CODE_TAKEN, BRANCH_FIELD_INVALID."""
    code = normalise_code(code)
    if not _CODE.match(code):
        raise QianbaoError("BRANCH_CODE_INVALID", branch=code[:16])
    branch = Branch(
        code=code,
        name_zh=_clean_text(name_zh, 64, "name_zh"),
        name_en=_clean_text(name_en, 96, "name_en"),
        address=_clean_text(address, 200, "address"),
        created_at=datetime.now(UTC),
    )
    if session.scalar(select(Branch.id).where(Branch.code == code)) is not None:
        raise QianbaoError("BRANCH_CODE_TAKEN", branch=code)
    try:
        # A savepoint, so that a creator racing us past the check above costs only this insert.
        with session.begin_nested():
            session.add(branch)
    except IntegrityError:
        raise QianbaoError("BRANCH_CODE_TAKEN", branch=code) from None
    audit.record(session, action="branch.created", actor=by, channel=channel, object_type="branch",
                 object_id=branch.id, details={"code": code, "name": branch.name_zh})
    return branch


def branch_by_code(session: Session, code: str) -> Branch:
    """The branch with this number; BRANCH_NOT_FOUND otherwise."""
    code = normalise_code(code)
    branch = session.scalar(select(Branch).where(Branch.code == code))
    if branch is None:
        raise QianbaoError("BRANCH_NOT_FOUND", branch=code[:16])
    return branch


def get_branch(session: Session, branch_id: int) -> Branch:
    branch = session.get(Branch, branch_id)
    if branch is None:
        raise QianbaoError("BRANCH_NOT_FOUND", branch=str(branch_id))
    return branch


def list_branches(session: Session) -> list[Branch]:
    return list(session.scalars(select(Branch).order_by(Branch.code)))
