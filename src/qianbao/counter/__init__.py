"""The counter (柜面, SPEC §3.2, §7): the teller's day and drawer, cash in and out, end of day, counter services.

docs/counter.md states the rules. Domain only: functions take the Session first and never commit.

The day (core.py)
    open_day(s, teller_id, float_fen, client_key=) -> CounterSession     waits for a supervisor (counter.float)
    live_session(s, teller_id) / require_open(s, teller_id)             COUNTER_SESSION_NOT_OPEN
    closed_today(s, teller_id)                                          a day already balanced today
    drawer_expected(s, counter_session) -> fen                           the drawer's posted balance
    declare_end_of_day(s, teller_id, {denomination_fen: pieces})         轧账; a difference → counter.eod_difference
    fund_vault(s, branch_id, fen, key=, actor=)                          cash centre → branch vault
Cash (core.py)
    identify(s, id_number, source="reader"|"manual", card_checked=) -> Identified
    start_cash(s, teller_id, "cash_in"|"cash_out", identified, fen, client_key=) -> (op, PadCode)
    cancel_operation(s, op_id, teller_id)
The PIN pad (core.py, services.py)
    pad_pair(s, code, ip=) -> (token, op)       pad_operation(s, token)       pad_confirm(s, token, pin=|new_secret=)
Services (services.py)
    start_service(s, teller_id, kind, identified, new_phone=, reason=, period=) -> (op, PadCode | None)
Printing (documents.py): receipt kinds counter.operation and counter.day_report.
"""

from qianbao.counter import documents as _documents  # noqa: F401 - registers the receipt kinds
from qianbao.counter.core import (
    APPROVAL_CASH_OUT,
    APPROVAL_EOD,
    APPROVAL_FLOAT,
    DAY_REPORT_KIND,
    DENOMINATIONS,
    RECEIPT_KIND,
    Identified,
    PadCode,
    branch_sessions,
    cancel_operation,
    cash_out_threshold,
    closed_today,
    declare_end_of_day,
    drawer_account,
    drawer_expected,
    fund_vault,
    get_operation,
    get_session,
    identify,
    issue_pad_code,
    latest_session,
    live_session,
    open_day,
    operations_of,
    pad_operation,
    pad_pair,
    pending_eod_request,
    require_open,
    start_cash,
    suspense_account,
    vault_account,
)
from qianbao.counter.models import CounterOperation, CounterSession
from qianbao.counter.services import pad_confirm, pending_pad_operation, start_service

__all__ = [
    "APPROVAL_CASH_OUT",
    "APPROVAL_EOD",
    "APPROVAL_FLOAT",
    "DAY_REPORT_KIND",
    "DENOMINATIONS",
    "RECEIPT_KIND",
    "CounterOperation",
    "CounterSession",
    "Identified",
    "PadCode",
    "branch_sessions",
    "cancel_operation",
    "cash_out_threshold",
    "closed_today",
    "declare_end_of_day",
    "drawer_account",
    "drawer_expected",
    "fund_vault",
    "get_operation",
    "get_session",
    "identify",
    "issue_pad_code",
    "latest_session",
    "live_session",
    "open_day",
    "operations_of",
    "pad_confirm",
    "pad_operation",
    "pad_pair",
    "pending_eod_request",
    "pending_pad_operation",
    "require_open",
    "start_cash",
    "start_service",
    "suspense_account",
    "vault_account",
]
