"""What a card number must be before the bank is asked (SPEC §5), and how a card is named on screen.

    check_card_number("6222 0212 3456 7890 128") -> CheckedCard    CARD_NUMBER_INVALID / CARD_UNKNOWN_BANK

A card number is 16 to 19 digits once spaces and dashes are dropped (full-width digits count, as a phone's
keyboard may type them), with a valid Luhn check digit (python-stdnum); its BIN must be in the bank table
(`qianbao.adapters.bank.bins`), which gives the issuing bank and whether it is a debit or a credit card.
Nothing here stores or logs the number: callers keep only `bin`, `last4` and the encrypted number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from stdnum import luhn

from qianbao.errors import QianbaoError
from qianbao.pii.hashing import lookup_hash

MIN_DIGITS = 16
MAX_DIGITS = 19
_SEPARATORS = re.compile(r"[\s\-]")
_DIGITS = re.compile(r"[0-9]{16,19}")
BIN_DIGITS = 6


@dataclass(frozen=True)
class CheckedCard:
    """A card number that passed the rules. `number` is the full number: keep it in memory only."""

    number: str
    bin: str
    last4: str
    bank_code: str
    card_type: str  # "debit" | "credit"

    @property
    def number_hash(self) -> str:
        return lookup_hash("card", self.number)

    def __repr__(self) -> str:  # never the full number in a traceback or a log line
        return f"CheckedCard(bin={self.bin!r}, last4={self.last4!r}, bank={self.bank_code!r}, type={self.card_type!r})"


def normalise(text: str | None) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))


def check_card_number(text: str | None) -> CheckedCard:
    number = normalise(text)
    if _DIGITS.fullmatch(number) is None or not luhn.is_valid(number):
        raise QianbaoError("CARD_NUMBER_INVALID")
    info = bank_of(number)
    if info is None:
        raise QianbaoError("CARD_UNKNOWN_BANK", bin=number[:BIN_DIGITS])
    bank_code, card_type = info
    return CheckedCard(number=number, bin=number[:BIN_DIGITS], last4=number[-4:], bank_code=bank_code,
                       card_type=card_type)


def bank_of(number: str) -> tuple[str, str] | None:
    """(bank code, "debit"/"credit") of a card number from the BIN table, None for an unknown BIN."""
    from qianbao.adapters.bank import bins

    found = bins.lookup(number)
    if found is None:
        return None
    return found.bank_code, str(found.card_type)


def bank_name(bank_code: str, lang: str) -> str:
    """The issuing bank's name in the reader's language (the BIN table's zh-CN and English names)."""
    from qianbao.adapters.bank import bins

    bank = bins.bank(bank_code)
    return bank.name(lang) if bank is not None else bank_code


def card_label(bank_code: str, card_type: str, last4: str, lang: str) -> str:
    """How a card is named on screen and in history: 中国邮政储蓄银行 储蓄卡 (1234)."""
    from qianbao.i18n import translate

    return translate("card.label", lang, bank=bank_name(bank_code, lang),
                     type=translate(f"card.type.{card_type}", lang), last4=last4)
