"""Money is integer fen inside; text becomes fen only through parse_yuan."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qianbao.errors import QianbaoError
from qianbao.money import MAX_FEN, format_fen, parse_yuan


@pytest.mark.parametrize(("text", "fen"), [("12.30", 1230), ("0.01", 1), ("1,000", 100000), ("¥5", 500),
                                           (" 7.5 ", 750), (Decimal("3.10"), 310), (42, 4200)])
def test_yuan_text_becomes_fen(text, fen) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(("text", "code"), [
    ("0", "AMOUNT_NOT_POSITIVE"), ("-1", "AMOUNT_NOT_POSITIVE"), ("1.001", "AMOUNT_TOO_MANY_DECIMALS"),
    ("abc", "AMOUNT_INVALID"), ("", "AMOUNT_INVALID"), ("NaN", "AMOUNT_INVALID"), ("Infinity", "AMOUNT_INVALID"),
    (1.5, "AMOUNT_INVALID"), (True, "AMOUNT_INVALID"), (str(MAX_FEN), "AMOUNT_TOO_LARGE"),
])
def test_bad_amounts_are_refused_with_their_own_code(text, code) -> None:
    with pytest.raises(QianbaoError) as caught:
        parse_yuan(text)
    assert caught.value.code == code


@given(st.integers(min_value=1, max_value=10**15))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    assert parse_yuan(format_fen(fen, "en", symbol=False)) == fen


def test_amounts_are_shown_with_the_yuan_sign_and_two_decimals() -> None:
    assert format_fen(123456, "zh-CN") == "¥1,234.56"
    assert format_fen(5, "en", symbol=False) == "0.05"
