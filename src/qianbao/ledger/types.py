"""The ledger's values: account kinds, write requests (the batch items), and what reads return.

Requests are small frozen dataclasses so a batch of thousands costs little to build and to check.
Every request carries the client's idempotency key; `linked=True` ties an item to the next one, and
a chain ends at the first item that is not linked (TigerBeetle's rule), so `[a(linked), b]` is one
all-or-nothing group and `[a, b]` are two independent transfers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from qianbao.errors import QianbaoError


class AccountKind(StrEnum):
    CUSTOMER_WALLET = "customer_wallet"
    MERCHANT = "merchant"
    BILLER = "biller"
    BANK_CLEARING = "bank_clearing"
    TELLER_DRAWER = "teller_drawer"
    BRANCH_VAULT = "branch_vault"
    FEE_INCOME = "fee_income"
    PROMOTION_EXPENSE = "promotion_expense"
    SUSPENSE = "suspense"


# kind -> (the side on which its balance grows, whether it may go below zero by default).
# Wallets, merchants and billers are the operator's liabilities; drawers and vaults hold real cash.
KIND_DEFAULTS: dict[AccountKind, tuple[str, bool]] = {
    AccountKind.CUSTOMER_WALLET: ("credit", True),
    AccountKind.MERCHANT: ("credit", True),
    AccountKind.BILLER: ("credit", True),
    AccountKind.BANK_CLEARING: ("debit", False),
    AccountKind.TELLER_DRAWER: ("debit", True),
    AccountKind.BRANCH_VAULT: ("debit", True),
    AccountKind.FEE_INCOME: ("credit", False),
    AccountKind.PROMOTION_EXPENSE: ("debit", False),
    AccountKind.SUSPENSE: ("debit", False),
}


class PendingStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class NewTransfer:
    """Move `amount` fen from `debit` to `credit` (account ids); `pending=True` only places a hold.

    `timeout` (seconds, pending only): after it the hold voids itself and can no longer be posted.
    """

    key: str
    debit: int
    credit: int
    amount: int
    code: str
    reference: str | None = None
    user_data: dict[str, Any] | None = None
    pending: bool = False
    timeout: int | None = None
    linked: bool = False


@dataclass(frozen=True, slots=True)
class PostPending:
    """Post a hold, in full (`amount=None`) or in part; what is not posted is released."""

    key: str
    pending_id: int
    amount: int | None = None
    linked: bool = False


@dataclass(frozen=True, slots=True)
class VoidPending:
    """Release a hold in full."""

    key: str
    pending_id: int
    linked: bool = False


@dataclass(frozen=True, slots=True)
class Reverse:
    """Post the opposite of a posted transfer, pointing at it; a transfer is reversed at most once."""

    key: str
    transfer_id: int
    code: str | None = None
    reference: str | None = None
    linked: bool = False


Request = NewTransfer | PostPending | VoidPending | Reverse


@dataclass(frozen=True, slots=True)
class Leg:
    """One transfer of a linked group created with `create_group` (the group carries the key)."""

    debit: int
    credit: int
    amount: int
    code: str
    reference: str | None = None
    user_data: dict[str, Any] | None = None


# ----------------------------------------------------------------------------------------------- results


@dataclass(slots=True)
class ItemResult:
    """The outcome of one batch item: the transfer it made (or made before, if `replayed`), or its error."""

    index: int
    key: str
    transfer_id: int | None = None
    error: QianbaoError | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str:
        return "OK" if self.error is None else self.error.code


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    code: str
    name: str | None
    kind: str
    currency: str
    normal_side: str
    no_negative: bool
    cap: int | None
    frozen: bool
    closed: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balance on its normal side, in fen.

    `posted` is the settled balance; `held` the pending outflows (holds) and `incoming` the pending
    inflows; `available = posted - held` is what may still leave the account.
    """

    account_id: int
    posted: int
    held: int
    incoming: int
    available: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    id: int
    kind: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str
    reference: str | None
    user_data: dict[str, Any] | None
    pending_id: int | None
    reverses_id: int | None
    group_id: int | None
    timeout_at: datetime | None
    created_at: datetime
    # For a hold: pending / posted / voided / expired. None for every other kind.
    status: str | None = None
    # True when this write was answered from its idempotency key and moved nothing.
    replayed: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Posting:
    """One journal row seen from one account: `direction` is that account's side of it."""

    transfer_id: int
    kind: str
    direction: str
    amount: int
    # Change of the account's posted balance on its normal side (0 for holds and their voids).
    posted_delta: int
    counterparty_account_id: int
    code: str
    reference: str | None
    pending_id: int | None
    reverses_id: int | None
    group_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostingsPage:
    items: list[Posting]
    next_cursor: str | None
