"""Posting a counter cash operation: wallet ↔ the teller's drawer.

Through `qianbao.payments.execute` (kind cash_in / cash_out, channel and confirmation "counter"), so the
tier limits bind a cash out like any outflow, the balance cap binds a cash in, and the customer's history
and notice come with it. The idempotency key is the counter operation's reference: a retry of the same
operation returns the first posting. While the payments package is not installed the posting goes
straight to the ledger with the same key (the wallet's ledger account refuses frozen, closed, overdrawn
and over-cap), so the counter works on its own.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy.orm import Session

from qianbao import ledger
from qianbao.counter.models import CASH_IN, CounterOperation, CounterSession
from qianbao.errors import QianbaoError
from qianbao.staff.models import Branch
from qianbao.wallets.customers import get_wallet


def _payments() -> Any | None:
    try:
        module = importlib.import_module("qianbao.payments")
    except ImportError:
        return None
    return module if hasattr(module, "execute") and hasattr(module, "Order") else None


def posting_key(op: CounterOperation) -> str:
    return f"counter:{op.reference}"


def post(session: Session, op: CounterOperation, day: CounterSession) -> None:
    assert op.amount is not None and op.wallet_id is not None
    cash_in = op.kind == CASH_IN
    branch = session.get(Branch, op.branch_id)
    label = branch.name_zh if branch is not None else "柜面"
    payments = _payments()
    if payments is not None:
        drawer = payments.Party.account(day.drawer_account_id, label)
        wallet = payments.Party.wallet(op.wallet_id)
        result = payments.execute(session, payments.Order(
            key=posting_key(op), kind=op.kind, payer=drawer if cash_in else wallet,
            payee=wallet if cash_in else drawer, amount=op.amount, fee=0, confirmation="counter",
            channel="counter", counterparty_label=label, reference=op.reference,
            details={"counter_reference": op.reference, "branch": label},
        ))
        if getattr(result, "status", "succeeded") == "failed":
            raise QianbaoError("COUNTER_POSTING_FAILED")
        op.payment_reference = str(result.reference)
        return
    wallet_row = get_wallet(session, op.wallet_id)
    debit, credit = ((day.drawer_account_id, wallet_row.ledger_account_id) if cash_in
                     else (wallet_row.ledger_account_id, day.drawer_account_id))
    transfer = ledger.create_transfer(session, key=posting_key(op), debit=debit, credit=credit, amount=op.amount,
                                      code=op.kind, reference=op.reference)
    op.ledger_reference = str(transfer.id)
