"""Wallet-to-wallet transfers (转账, SPEC §6.2): to a wallet number or a registered mobile number.

    preview(session, payer_wallet_id, recipient, amount=None) -> TransferPreview
        the recipient's masked name (or masked phone when they have no real name) and wallet number,
        the fee, shown before the customer confirms. Refusals: TRANSFER_RECIPIENT_INVALID (neither a
        16-digit wallet number nor a mobile number), WALLET_NUMBER_INVALID (bad check digit),
        TRANSFER_RECIPIENT_NOT_FOUND, TRANSFER_TO_SELF, RECIPIENT_CANNOT_RECEIVE (frozen or closed);
        look-ups are rate limited per paying wallet (RATE_LIMITED), so the masked names of a phone book
        cannot be harvested.
    transfer(session, payer_wallet_id=, recipient=, amount=, key=, confirmation=, note=None, channel="app")
        -> Operation   the recipient is resolved again (a stale preview is checked afresh), then
        `payments.execute` with kind "transfer" (its limits, idempotency, notices and refusals).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.credentials import ratelimit
from qianbao.errors import QianbaoError
from qianbao.identity.rules import parse_mobile
from qianbao.money import parse_yuan
from qianbao.payments.fees import quote_fee
from qianbao.payments.service import Operation, Order, Party, execute, find_operation, wallet_label
from qianbao.wallets.customers import customer_by_phone, get_customer, get_wallet, wallet_of_customer
from qianbao.wallets.models import CLOSED, Wallet
from qianbao.wallets.numbers import parse_wallet_number

LOOKUPS_PER_HOUR = 60
RECIPIENT_MAX = 32


@dataclass(frozen=True)
class Recipient:
    wallet_id: int
    masked_name: str
    masked_number: str  # "6217 **** **** 5678"
    number_tail: str
    via: str  # "wallet_number" | "phone"


@dataclass(frozen=True)
class TransferPreview:
    recipient: Recipient
    amount: int | None
    fee: int

    @property
    def total(self) -> int:
        return (self.amount or 0) + self.fee


_DECIMAL = re.compile(r"-?[0-9]{1,16}(\.[0-9]+)?")


def parse_amount(text: str | None) -> int:
    """A yuan amount typed as a plain decimal ("12.34"): AMOUNT_INVALID for anything else ("1e3", "12,34"),
    AMOUNT_TOO_MANY_DECIMALS past the fen, AMOUNT_NOT_POSITIVE, AMOUNT_TOO_LARGE."""
    cleaned = (text or "").strip()
    if _DECIMAL.fullmatch(cleaned) is None:
        raise QianbaoError("AMOUNT_INVALID")
    return parse_yuan(cleaned)


def mask_wallet_number(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}"


def _clean(text: str) -> str:
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if not ch.isspace() and ch != "-")
    if not cleaned or len(cleaned) > RECIPIENT_MAX:
        raise QianbaoError("TRANSFER_RECIPIENT_INVALID")
    return cleaned


def find_recipient(session: Session, text: str) -> tuple[Wallet, str]:
    """The wallet a typed wallet number or mobile number names, and how it was found."""
    cleaned = _clean(text)
    digits = cleaned.removeprefix("+")
    if len(cleaned) == 16 and cleaned.isdigit():
        number = parse_wallet_number(cleaned)
        wallet = session.scalar(select(Wallet).where(Wallet.number == number))
        via = "wallet_number"
    elif digits.isdigit() and 11 <= len(digits) <= 15:
        try:
            phone = parse_mobile(cleaned)
        except QianbaoError:
            raise QianbaoError("TRANSFER_RECIPIENT_INVALID") from None
        customer = customer_by_phone(session, phone)
        wallet = wallet_of_customer(session, customer.id) if customer is not None else None
        via = "phone"
    else:
        raise QianbaoError("TRANSFER_RECIPIENT_INVALID")
    if wallet is None:
        raise QianbaoError("TRANSFER_RECIPIENT_NOT_FOUND")
    return wallet, via


def resolve_recipient(session: Session, payer_wallet_id: int, text: str) -> Recipient:
    wallet, via = find_recipient(session, text)
    if wallet.id == payer_wallet_id:
        raise QianbaoError("TRANSFER_TO_SELF")
    if wallet.is_frozen or wallet.status == CLOSED:
        raise QianbaoError("RECIPIENT_CANNOT_RECEIVE")
    holder = get_customer(session, wallet.customer_id)
    return Recipient(wallet_id=wallet.id, masked_name=wallet_label(holder),
                     masked_number=mask_wallet_number(wallet.number), number_tail=wallet.number[-4:], via=via)


def preview(session: Session, payer_wallet_id: int, recipient: str, amount: int | None = None) -> TransferPreview:
    """Look the recipient up and quote the fee; counts one look-up against the payer's hourly allowance."""
    ratelimit.hit(session, "transfer_lookup", str(payer_wallet_id), LOOKUPS_PER_HOUR, 3600)
    found = resolve_recipient(session, payer_wallet_id, recipient)
    if amount is not None and (type(amount) is not int or amount <= 0):
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    fee = quote_fee(session, "transfer", amount, wallet_id=payer_wallet_id) if amount else 0
    return TransferPreview(recipient=found, amount=amount, fee=fee)


def transfer(
    session: Session,
    *,
    payer_wallet_id: int,
    recipient: str,
    amount: int,
    key: str,
    confirmation: str,
    note: str | None = None,
    channel: str = "app",
) -> Operation:
    """Move `amount` fen to the recipient (see the module docstring). Never commits.

    A key already used is answered by `execute` (replay or IDEMPOTENCY_KEY_REUSED) without the
    recipient's state being checked again: a retry of a transfer that went through still finds it.
    """
    payer = get_wallet(session, payer_wallet_id)
    existing = find_operation(session, key)
    if existing is not None:
        wallet, via = find_recipient(session, recipient)
        payee_id, fee, tail = wallet.id, existing.fee, wallet.number[-4:]
        label = existing.counterparty_label
    else:
        found = resolve_recipient(session, payer.id, recipient)
        payee_id, via, tail = found.wallet_id, found.via, found.number_tail
        fee = quote_fee(session, "transfer", amount, wallet_id=payer.id)
        label = f"{found.masked_name} · {found.number_tail}"
    return execute(session, Order(
        key=key, kind="transfer", payer=Party.wallet(payer.id), payee=Party.wallet(payee_id),
        amount=amount, fee=fee, confirmation=confirmation, channel=channel,
        counterparty_label=label, note=note or None, details={"recipient_tail": tail, "via": via},
    ))
