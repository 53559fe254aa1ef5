"""Payments core: the one function through which every customer-facing money movement goes.

Limits, fees, holds, idempotency, history entries and notices happen in the caller's database
transaction (SPEC §2, §6, §8). The rules chosen are in docs/payments.md.

Public API — every function takes the SQLAlchemy Session first and never commits.

Moving money (service.py)
    execute(session, Order(key, kind, payer, payee, amount, fee=0, confirmation="pin", static_qr=False,
                           pending=False, timeout=None, channel="app", counterparty_label=None, note=None,
                           reference=None, details={})) -> Operation
        Party.wallet(wallet_id) | Party.account(ledger_account_id, label)
        kinds: topup withdrawal transfer merchant_payment bill parcel refund cash_in cash_out
        confirmations: pin passkey password_free withholding counter system
        channels: app api counter merchant system
        The same key with the same order → the original Operation with `replayed=True`, nothing moves;
        with another order → IDEMPOTENCY_KEY_REUSED. Refusals (nothing written, even if the caller
        commits): WALLET_FROZEN, WALLET_CLOSED, WALLET_OUTFLOW_RESTRICTED, LIMIT_EXCEEDED{limit, remaining,
        remaining_fen} (limit: single | daily | annual | password_free | static_qr), INSUFFICIENT_BALANCE,
        RECIPIENT_CANNOT_RECEIVE, PAYMENT_SAME_PARTY, AMOUNT_*, PAYMENT_*_INVALID, NOT_FOUND (wallet).
    complete(session, operation_id, *, key) -> Operation     post a pending operation; idempotent;
        returns status "failed" when the hold expired or the payee can no longer receive
    fail(session, operation_id, *, key, reason) -> Operation  void it, give its limit usage back; idempotent
        (complete after fail / fail after complete: PAYMENT_ALREADY_FINISHED)
    expire_overdue(session) -> int                            worker job `payments_expire`
    get_operation(session, reference | id) -> Operation        PAYMENT_NOT_FOUND
    find_operation(session, key) -> Operation | None
    system_account(session, "fee_income" | "promotion_expense" | "suspense" | "bank_clearing:<BANK>") -> int
    wallet_label(customer) -> masked name (or masked phone) shown to the other party

    Operation: id, reference (public, random), kind, status ("processing" | "succeeded" | "failed"),
    amount, fee, payer/payee wallet ids, account ids and labels, confirmation, channel,
    counterparty_label, note, order_reference, details, ledger_transfer_ids, pending, failure_reason,
    created_at, completed_at, replayed.

Fees (fees.py)
    quote_fee(session, kind, amount, *, wallet_id=None) -> int fen     shown before the customer confirms
    fee_rules(session) / fee_rule(session, kind) -> FeeSchedule
    update_fee_rule(session, kind, {field: value}, by_staff_id, reason) -> FeeSchedule   audited
        fields: free_monthly, rate_ppm, min_fee, max_fee

Limits (limits.py)
    remaining(session, wallet, *, now) -> Remaining(single, daily, annual, password_free, static_qr)

Confirmation (confirm.py)
    confirm(session, customer_id, *, amount, pin=None, passkey=None, rp_id=None, origin=None,
            binding=None, ip=None) -> "pin" | "passkey" | "password_free"
        PIN_WRONG (a CredentialFailure: run in credentials.transaction(db)), PIN_LOCKED, PIN_NOT_SET,
        PASSKEY_*, CONFIRMATION_REQUIRED
    payment_settings(session, customer_id) -> PaymentSettings
    set_password_free(session, customer_id, *, enabled, threshold) -> PaymentSettings   audited
"""

from qianbao.payments.confirm import (
    PaymentSettings,
    confirm,
    password_free_allowed,
    payment_settings,
    set_password_free,
)
from qianbao.payments.fees import FeeSchedule, fee_rule, fee_rules, quote_fee, update_fee_rule
from qianbao.payments.limits import Remaining, remaining
from qianbao.payments.service import (
    Operation,
    Order,
    Party,
    complete,
    execute,
    expire_overdue,
    fail,
    find_operation,
    get_operation,
    system_account,
    wallet_label,
)

__all__ = [
    "FeeSchedule",
    "Operation",
    "Order",
    "Party",
    "PaymentSettings",
    "Remaining",
    "complete",
    "confirm",
    "execute",
    "expire_overdue",
    "fail",
    "fee_rule",
    "fee_rules",
    "find_operation",
    "get_operation",
    "password_free_allowed",
    "payment_settings",
    "quote_fee",
    "remaining",
    "set_password_free",
    "system_account",
    "update_fee_rule",
    "wallet_label",
]
