"""The biller adapter: what the wallet asks of a utility company (缴费单位) to pay a customer's bill.

In production this is the bill-payment gateway the operator connects to (a clearing platform for water,
electricity, gas and telecom bills). Two questions, each answered over the network:

    lookup(biller_code, reference) -> BillDue
        who the account belongs to (masked), what is due, for which period, by when; `amount == 0`
        means nothing is due now. BILL_REFERENCE_INVALID (the check digit fails), BILL_REFERENCE_UNKNOWN
        (no such account at this biller), BILLER_UNKNOWN (the gateway does not serve this biller).
    pay(biller_code, reference, bill_id=, amount=, payment_reference=) -> PaymentConfirmation
        credits the bill at the biller, which confirms with its own serial number. `payment_reference`
        is the wallet's idempotency key for the payment: the same reference again returns the first
        confirmation (`duplicate=True`) and credits nothing twice. Definitive refusals: BILL_ALREADY_PAID,
        BILL_AMOUNT_MISMATCH, BILLER_REFUSED (the biller will not take it: account closed, under dispute).

`BillerUnavailable` is not an answer: `reason="unavailable"` means the request never reached the biller
(nothing was credited: the wallet releases the customer's money); `reason="timeout"` means the request
went out and no answer came back, so the outcome is unknown until the payment is asked again with the
same `payment_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from qianbao.errors import QianbaoError

if TYPE_CHECKING:
    from qianbao.db import Database
    from qianbao.settings import Settings

CATEGORIES = ("water", "electricity", "gas", "telecom")


@dataclass(frozen=True)
class BillDue:
    biller_code: str
    reference: str
    holder: str  # the account holder's name, masked by the biller (张*明)
    amount: int  # fen; 0 = nothing due
    period: str | None  # "2026-10": the month billed
    due_date: date | None
    bill_id: str | None  # the biller's bill number, quoted when paying

    @property
    def nothing_due(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class PaymentConfirmation:
    confirmation: str  # the biller's serial number for the payment (缴费流水号)
    paid_at: datetime
    duplicate: bool = False  # this payment_reference had already been confirmed


class BillerUnavailable(QianbaoError):
    """No answer from the biller: `reason` is "unavailable" (never reached it) or "timeout" (unknown outcome)."""

    def __init__(self, reason: str) -> None:
        super().__init__("BILLER_UNAVAILABLE")
        self.reason = reason


class BillerAdapter(Protocol):
    def lookup(self, biller_code: str, reference: str) -> BillDue:
        ...

    def pay(self, biller_code: str, reference: str, *, bill_id: str, amount: int,
            payment_reference: str) -> PaymentConfirmation:
        ...


def adapter_from_settings(settings: Settings, db: Database) -> BillerAdapter:
    """The adapter named by QIANBAO_BILLER_ADAPTER ("sandbox": docs/bills-and-parcels.md has its rules)."""
    if settings.biller_adapter == "sandbox":
        from qianbao.adapters.billers.sandbox import SandboxBillers

        return SandboxBillers(db, latency_ms=settings.biller_latency_ms, timeout_ms=settings.biller_timeout_ms,
                              failure_rate=settings.biller_failure_rate)
    raise ValueError(f"unknown biller adapter {settings.biller_adapter!r}")
