"""Wallet numbers (SPEC §3.4): 16 digits, the last a Luhn check digit, random, shown grouped in fours.

The first digit is never 0, so a number never loses a digit in a spreadsheet, and the other 14 digits
before the check digit come from `secrets`: a number says nothing about its holder, its branch or when it
was opened, and cannot be guessed from a neighbour's. With 9 × 10^14 numbers, collisions are rare but
possible, so `new_wallet_number` draws again while the number is taken (the UNIQUE constraint on
`wallet.number` stays the last word).

`parse_wallet_number` is the one door for a typed number: it accepts spaces, dashes and full-width
digits, and refuses anything that is not 16 digits with a correct check digit (WALLET_NUMBER_INVALID)
before any look-up, so a mistyped digit never reaches the database nor reveals whether a number exists.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from qianbao.errors import QianbaoError
from qianbao.wallets.models import Wallet

LENGTH = 16
MAX_DRAWS = 20


def random_body() -> str:
    """15 random digits, the first not 0: everything but the check digit."""
    return str(1 + secrets.randbelow(9)) + f"{secrets.randbelow(10 ** (LENGTH - 2)):0{LENGTH - 2}d}"


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def format_wallet_number(number: str) -> str:
    """"6217 0000 1234 5678": the number in groups of four, for pages, receipts and messages."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def parse_wallet_number(text: str) -> str:
    """The 16 digits of a typed wallet number; WALLET_NUMBER_INVALID unless its Luhn check digit is right."""
    cleaned = "".join(
        ch for ch in unicodedata.normalize("NFKC", text or "") if not ch.isspace() and ch != "-"
    )
    if len(cleaned) != LENGTH or not cleaned.isascii() or not cleaned.isdigit() or not luhn.is_valid(cleaned):
        raise QianbaoError("WALLET_NUMBER_INVALID")
    return cleaned


def new_wallet_number(session: Session, draw: Callable[[], str] = random_body) -> str:
    """A number no wallet has yet (`draw` is replaceable so a test can force a collision)."""
    for _ in range(MAX_DRAWS):
        number = with_check_digit(draw())
        if session.scalar(select(Wallet.id).where(Wallet.number == number)) is None:
            return number
    # Twenty collisions in a row means the random source is broken, not that the space is full.
    raise RuntimeError("could not draw an unused wallet number")
