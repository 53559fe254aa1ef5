"""Demo money for `qianbao serve --demo`: each demo holder's wallet gets a top-up, and the tier-3 holder
sends the tier-4 holder a transfer, so the home balance and the transaction history are not empty.

Idempotent: every movement carries a fixed idempotency key (`demo:...`), so a second seed moves nothing.
"""

from __future__ import annotations

import contextlib

from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.payments.service import Order, Party, execute, system_account
from qianbao.wallets.customers import customer_by_phone, wallet_of_customer
from qianbao.wallets.demo import DEMO_CUSTOMERS

TOP_UP = 500_00  # fen
TRANSFER = 88_80


def seed_demo_history(session: Session) -> list[str]:
    clearing = system_account(session, "bank_clearing:ICBC")
    wallets = []
    for demo in DEMO_CUSTOMERS:
        customer = customer_by_phone(session, "+86" + demo.phone)
        wallet = wallet_of_customer(session, customer.id) if customer is not None else None
        if wallet is None:
            continue
        wallets.append((demo, wallet))
        try:
            execute(session, Order(key=f"demo:topup:{wallet.number}", kind="topup",
                                   payer=Party.account(clearing, "工商银行 储蓄卡 尾号 8888"),
                                   payee=Party.wallet(wallet.id), amount=TOP_UP, confirmation="system",
                                   channel="system"))
        except QianbaoError:
            continue  # a wallet at its cap or frozen in someone's demo: leave it as it is
    tier3 = next((w for d, w in wallets if w.tier == 3), None)
    tier4 = next((w for d, w in wallets if w.tier == 4), None)
    if tier3 is not None and tier4 is not None:
        with contextlib.suppress(QianbaoError):
            execute(session, Order(key=f"demo:transfer:{tier3.number}", kind="transfer", payer=Party.wallet(tier3.id),
                                   payee=Party.wallet(tier4.id), amount=TRANSFER, confirmation="pin",
                                   channel="system", note="午饭 AA"))
    return ["交易记录 Transactions: /app/records · 转账 Transfer: /app/transfer · 支付设置 /app/settings/payments"]
