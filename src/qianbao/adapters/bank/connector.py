"""What the wallet asks of a bank, whatever bank it is: the `BankConnector` protocol and its result types.

Results come back as frozen dataclasses; refusals as `QianbaoError` with a BANK_* code (or
IDEMPOTENCY_KEY_REUSED), so callers handle a bank's "no" like any other refusal. The bank's own answer
codes map to the wallet's in `BANK_CODES`; an answer the wallet cannot read, a timeout or a bank that keeps
failing after the retries is BANK_UNAVAILABLE — the outcome of a debit or credit is then unknown, and the
caller must `query(key)` (or wait for the callback) before deciding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from qianbao.errors import QianbaoError

OperationKind = Literal["debit", "credit"]
OperationStatus = Literal["processing", "succeeded", "failed"]


@dataclass(frozen=True)
class BindingChallenge:
    """The bank sent its one-time code to the card's phone: confirm with `ref` and that code."""

    ref: str
    masked_phone: str
    expires_at: datetime


@dataclass(frozen=True)
class CardToken:
    """The vault token standing for a bound card, with what may be shown of it."""

    token: str
    bank_code: str
    card_type: str  # "debit" | "credit"
    last4: str


@dataclass(frozen=True)
class Accepted:
    """The bank took a debit or credit: the result follows in a signed callback (or `query`)."""

    bank_ref: str
    key: str
    status: OperationStatus
    replayed: bool  # the same key was sent before: this is the first answer again


@dataclass(frozen=True)
class BankOperation:
    """A debit or credit as the bank knows it (`query`)."""

    bank_ref: str
    key: str
    kind: OperationKind
    amount: int
    reference: str | None
    status: OperationStatus
    reason: str | None  # the wallet's code for a failure: BANK_INSUFFICIENT_FUNDS, BANK_CARD_FROZEN, ...
    created_at: datetime
    completed_at: datetime | None


@runtime_checkable
class BankConnector(Protocol):
    """A bank, as the cards, top-up and withdrawal code uses it. Every call may raise QianbaoError."""

    def start_binding(self, card_number: str, holder_name: str, id_number: str, phone: str) -> BindingChallenge:
        """The bank checks the card and its holder (name, ID number, the phone it has for the card) and texts
        a code to that phone. BANK_CARD_INVALID, BANK_CARD_UNKNOWN, BANK_HOLDER_MISMATCH, BANK_PHONE_MISMATCH,
        BANK_CARD_FROZEN."""
        ...

    def confirm_binding(self, ref: str, otp: str) -> CardToken:
        """The code the holder typed. BANK_OTP_WRONG (tries_left), BANK_OTP_TOO_MANY_TRIES, BANK_OTP_EXPIRED,
        BANK_BINDING_NOT_FOUND. Sending the right code again returns the same token."""
        ...

    def debit(self, token: str, amount: int, key: str, reference: str | None = None) -> Accepted:
        """Take `amount` fen from the card (a top-up). Same `key` → the same answer, moved once."""
        ...

    def credit(self, token: str, amount: int, key: str, reference: str | None = None) -> Accepted:
        """Pay `amount` fen to the card (a withdrawal). Same `key` → the same answer, moved once."""
        ...

    def query(self, key: str) -> BankOperation | None:
        """The operation sent with `key`, None if the bank never received it."""
        ...

    def unbind(self, token: str) -> None:
        """Retire the token at the bank (unbinding); a retired token is refused (BANK_TOKEN_INVALID)."""
        ...


# The bank's answer codes (the sandbox bank's API, docs/sandbox-bank.md) -> the wallet's error codes.
BANK_CODES: dict[str, str] = {
    "CARD_INVALID": "BANK_CARD_INVALID",
    "CARD_UNKNOWN": "BANK_CARD_UNKNOWN",
    "HOLDER_MISMATCH": "BANK_HOLDER_MISMATCH",
    "PHONE_MISMATCH": "BANK_PHONE_MISMATCH",
    "CARD_FROZEN": "BANK_CARD_FROZEN",
    "INSUFFICIENT_FUNDS": "BANK_INSUFFICIENT_FUNDS",
    "DECLINED": "BANK_DECLINED",
    "OTP_WRONG": "BANK_OTP_WRONG",
    "OTP_EXPIRED": "BANK_OTP_EXPIRED",
    "OTP_TOO_MANY_TRIES": "BANK_OTP_TOO_MANY_TRIES",
    "BINDING_NOT_FOUND": "BANK_BINDING_NOT_FOUND",
    "TOKEN_INVALID": "BANK_TOKEN_INVALID",
    "AMOUNT_INVALID": "BANK_AMOUNT_INVALID",
    "IDEMPOTENCY_CONFLICT": "IDEMPOTENCY_KEY_REUSED",
    "DATE_INVALID": "VALIDATION_FAILED",
    # The wallet's own signing is wrong or its clock is off: a configuration fault, not the customer's.
    "SIGNATURE_MISSING": "BANK_AUTH_FAILED",
    "SIGNATURE_INVALID": "BANK_AUTH_FAILED",
    "TIMESTAMP_STALE": "BANK_AUTH_FAILED",
    "NONCE_REPLAYED": "BANK_AUTH_FAILED",
}
# Parameters of a bank answer that are passed on with the wallet's code.
_PASSED_PARAMS = ("tries_left",)


def bank_error(bank_code: str | None, params: dict[str, object] | None = None) -> QianbaoError:
    """The wallet's refusal for a bank's answer code (BANK_UNAVAILABLE for one it does not know)."""
    code = BANK_CODES.get(bank_code or "", "BANK_UNAVAILABLE")
    passed = {k: v for k, v in (params or {}).items() if k in _PASSED_PARAMS and isinstance(v, int)}
    return QianbaoError(code, **passed)


def failure_reason(bank_reason: str | None) -> str | None:
    """The wallet's code for the reason a debit or credit failed (None for none)."""
    if not bank_reason:
        return None
    return BANK_CODES.get(bank_reason, "BANK_DECLINED")


__all__ = ["BANK_CODES", "Accepted", "BankConnector", "BankOperation", "BindingChallenge", "CardToken",
           "OperationKind", "OperationStatus", "bank_error", "failure_reason"]
