"""Customer references (户号 / 号码) of the billers: their formats and check digits, and how they are shown.

A reference is checked before any look-up, so a mistyped account number is caught at once (as wallet
numbers are): the utilities' account numbers end in a Luhn check digit; telecom bills are paid by the
China Telecom mobile number itself (its number ranges are the check). The billers' adapter applies the
same rules on its side.

    normalise(fmt, text) -> digits          BILL_REFERENCE_INVALID(format=...) when the text does not fit
    mask_reference(reference) -> "3100****1234"
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import luhn

from qianbao.errors import QianbaoError

# format -> number of digits. "luhn<N>": N digits, the last one a Luhn check digit over the others.
LUHN_FORMATS: dict[str, int] = {"luhn10": 10, "luhn9": 9, "luhn12": 12}
TELECOM = "telecom_mobile"
FORMATS: tuple[str, ...] = (*LUHN_FORMATS, TELECOM)
# China Telecom's mobile number ranges (中国电信号段).
TELECOM_PREFIXES = ("133", "149", "153", "162", "173", "174", "177", "180", "181", "189", "190", "191", "193",
                    "199")

_SEPARATORS = re.compile(r"[\s\-]+")


def normalise(fmt: str, text: str) -> str:
    """The reference as digits, or BILL_REFERENCE_INVALID naming the expected format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown reference format {fmt!r}")
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))
    if fmt == TELECOM:
        if value.startswith("+86"):
            value = value[3:]
        if not (re.fullmatch(r"1\d{10}", value) and value.startswith(TELECOM_PREFIXES)):
            raise QianbaoError("BILL_REFERENCE_INVALID", format=fmt, digits=11)
        return value
    digits = LUHN_FORMATS[fmt]
    if not re.fullmatch(rf"\d{{{digits}}}", value) or not luhn.is_valid(value):
        raise QianbaoError("BILL_REFERENCE_INVALID", format=fmt, digits=digits)
    return value


def with_check_digit(body: str) -> str:
    """`body` followed by its Luhn check digit (to make references for the demo and tests)."""
    return body + luhn.calc_check_digit(body)


def mask_reference(reference: str) -> str:
    """Enough to recognise one's own account, not to read someone else's: the first and last four digits."""
    if len(reference) <= 8:
        return reference[:2] + "*" * max(0, len(reference) - 4) + reference[-2:]
    return reference[:4] + "*" * (len(reference) - 8) + reference[-4:]
