"""Mainland China mobile numbers (SPEC §3), checked with phonenumbers and kept in E.164."""

from __future__ import annotations

import pytest

from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile


def test_eleven_digit_mobile_becomes_e164() -> None:
    assert parse_mobile("13812345678") == "+8613812345678"


@pytest.mark.parametrize(
    "typed", ["+86 138 1234 5678", "+8613812345678", "008613812345678", "138-1234-5678", "１３８１２３４５６７８"]
)
def test_country_code_separators_and_full_width_digits_are_accepted(typed: str) -> None:
    assert parse_mobile(typed) == "+8613812345678"


@pytest.mark.parametrize("typed", ["19912345678", "16612345678", "14712345678"])
def test_newer_mobile_ranges_are_accepted(typed: str) -> None:
    assert parse_mobile(typed) == "+86" + typed


def refused(text: str) -> str:
    with pytest.raises(QianbaoError) as caught:
        parse_mobile(text)
    return caught.value.code


@pytest.mark.parametrize("typed", ["010 6552 9988", "+86 10 6552 9988", "021-6321-1234"])
def test_landline_is_refused(typed: str) -> None:
    assert refused(typed) == "PHONE_INVALID"


def test_number_of_another_country_is_refused() -> None:
    assert refused("+1 650 253 0000") == "PHONE_INVALID"


def test_hong_kong_mobile_is_not_a_mainland_number() -> None:
    assert refused("+852 9123 4567") == "PHONE_INVALID"


def test_ten_digits_is_refused() -> None:
    assert refused("1381234567") == "PHONE_INVALID"


@pytest.mark.parametrize("typed", ["", "abc", "138123456789"])
def test_text_that_is_no_number_is_refused(typed: str) -> None:
    assert refused(typed) == "PHONE_INVALID"
