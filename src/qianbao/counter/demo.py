"""Demo cash for `qianbao serve --demo`: each demo branch's vault holds 500,000 yuan from the cash centre,
so the demo teller T0101 can draw a float and supervisor S0101 can confirm it. Idempotent (one key per branch)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.counter.core import fund_vault, posted, vault_account
from qianbao.money import format_fen
from qianbao.staff.models import Branch

DEMO_VAULT_FEN = 50_000_000


def seed_demo_vaults(session: Session, branch_codes: tuple[str, ...] = ("0101", "0102")) -> list[str]:
    lines = []
    for code in branch_codes:
        branch_id = session.scalar(select(Branch.id).where(Branch.code == code))
        if branch_id is None:
            continue
        balance = posted(session, vault_account(session, branch_id))
        if balance == 0:  # funded once; a later seeding (after the ledger forgot the key) adds nothing
            balance = fund_vault(session, branch_id, DEMO_VAULT_FEN, key=f"demo-{code}",
                                 actor=audit.Actor.system("demo"))
        lines.append(f"  金库 vault BV-{code}: {format_fen(balance)}")
    if lines:
        lines.insert(0, "柜面试一试 Try the counter: T0101 /teller/cash 领取备用金 draw a float"
                        " → S0101 /teller/approvals 确认 approve → 现金存取 cash → /teller/eod 轧账 end of day"
                        " · 客户密码键盘 PIN pad /pinpad/counter")
    return lines
