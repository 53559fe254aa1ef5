"""Money is an int of fen (分) inside Qianbao; this module is the only edge where text meets it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal

from qianbao.errors import QianbaoError
from qianbao.i18n import babel_locale

Fen = int

# A transfer amount must fit a signed 64-bit column with room for sums of many of them.
MAX_FEN = 2**63 - 1


def parse_yuan(text: str | int | Decimal) -> Fen:
    """Parse a yuan amount ("12.30", "12", Decimal("0.01")) into fen, refusing what is not money.

    Refuses floats outright: a float has already lost the cent the customer typed.
    """
    if isinstance(text, bool | float):
        raise QianbaoError("AMOUNT_INVALID")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    else:
        cleaned = text.strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥")
        if not cleaned:
            raise QianbaoError("AMOUNT_INVALID")
        try:
            value = Decimal(cleaned)
        except InvalidOperation as exc:
            raise QianbaoError("AMOUNT_INVALID") from exc
    if not value.is_finite():
        raise QianbaoError("AMOUNT_INVALID")
    if value <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise QianbaoError("AMOUNT_TOO_MANY_DECIMALS")
    result = int(fen)
    if result > MAX_FEN:
        raise QianbaoError("AMOUNT_TOO_LARGE")
    return result


def to_yuan(fen: Fen) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def format_fen(fen: Fen, lang: str = "zh-CN", *, symbol: bool = True) -> str:
    """¥1,234.56 in either language; without the symbol for table columns headed '(元)'."""
    locale = babel_locale(lang)
    if symbol:
        return format_currency(to_yuan(fen), "CNY", locale=locale)
    return format_decimal(to_yuan(fen), format="#,##0.00", locale=locale)
