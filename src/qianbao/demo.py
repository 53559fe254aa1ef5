"""Demo data for `qianbao serve --demo` and `qianbao demo seed`: idempotent, built through the domain.

Each later package adds its part (branches and staff, customers at each tier, merchants...).
"""

from __future__ import annotations

from qianbao.db import Database
from qianbao.settings import Settings


def seed(db: Database, settings: Settings) -> list[str]:
    """Create what is missing and return lines telling how to sign in as each demo user."""
    from qianbao.staff.demo import seed_demo_staff, sign_in_lines

    lines: list[str] = []
    with db.transaction() as session:
        lines += sign_in_lines(seed_demo_staff(session, settings=settings), settings.base_url)
    from qianbao.wallets.demo import seed_demo_customers

    with db.transaction() as session:
        lines += seed_demo_customers(session, settings)
    from qianbao.merchants.demo import seed_demo_merchants

    with db.transaction() as session:
        lines += seed_demo_merchants(session, settings)
    from qianbao.counter.demo import seed_demo_vaults

    with db.transaction() as session:
        lines += seed_demo_vaults(session)
    from qianbao.payments.bills_demo import seed_demo_bills

    lines += seed_demo_bills(db, settings)
    from qianbao.payments.demo import seed_demo_history

    with db.transaction() as session:
        lines += seed_demo_history(session)
    lines.append("运营后台试一试 Try as OP001: 实名审核 KYC review /ops/kyc · 等级与限额 tiers /ops/config/tiers · "
                 "钱包查询 wallets /ops/wallets · 短信验证码 SMS codes /ops/sms")
    return lines
