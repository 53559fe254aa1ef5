"""Resident ID numbers (SPEC §3): 18 characters, GB 11643 check digit, a real birth date, a known region.

Vectors: 11010519491231002X is the example number of GB 11643; the others change one part of a valid
number (with the check digit recomputed, except where the check digit is what is wrong).
"""

from __future__ import annotations

from datetime import date

import pytest

from qianbao.errors import QianbaoError
from qianbao.identity import Gender, parse_resident_id

TODAY = date(2026, 6, 1)


def refusal(text: str) -> QianbaoError:
    with pytest.raises(QianbaoError) as caught:
        parse_resident_id(text, today=TODAY)
    return caught.value


def test_valid_number_gives_birth_date_region_and_gender() -> None:
    resident = parse_resident_id("11010519491231002X", today=TODAY)
    assert resident.number == "11010519491231002X"
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.region_code == "110105"
    assert (resident.province, resident.county) == ("北京市", "朝阳区")
    assert resident.sequence == "002"
    assert resident.gender is Gender.FEMALE


def test_odd_sequence_digit_is_male() -> None:
    assert parse_resident_id("440305199210110058", today=TODAY).gender is Gender.MALE


@pytest.mark.parametrize(
    "typed", ["11010519491231002x", " 110105 19491231 002X ", "１１０１０５１９４９１２３１００２Ｘ"]
)
def test_lower_case_x_spaces_and_full_width_digits_are_normalised(typed: str) -> None:
    assert parse_resident_id(typed, today=TODAY).number == "11010519491231002X"


@pytest.mark.parametrize("text", ["", "11010519491231002", "11010519491231002X1", "110105491231002"])
def test_number_not_18_characters_is_a_format_error(text: str) -> None:
    assert refusal(text).code == "ID_NUMBER_FORMAT"


@pytest.mark.parametrize("text", ["1101051949123100A2", "11010519491231002Y", "11010519491231-02X"])
def test_characters_other_than_digits_and_a_final_x_are_a_format_error(text: str) -> None:
    assert refusal(text).code == "ID_NUMBER_FORMAT"


@pytest.mark.parametrize("text", ["110105194912310021", "110105194912310020", "440305199210110059"])
def test_wrong_check_digit_is_a_checksum_error(text: str) -> None:
    assert refusal(text).code == "ID_NUMBER_CHECKSUM"


def test_impossible_birth_date_is_a_birth_date_error() -> None:
    error = refusal("110105194902301234")  # 30 February 1949, check digit right
    assert error.code == "ID_NUMBER_BIRTH_DATE"
    assert error.params == {"birth_digits": "19490230"}


def test_future_birth_date_is_a_birth_date_error() -> None:
    assert refusal("110105209901011234").code == "ID_NUMBER_BIRTH_DATE"


def test_birth_date_before_1900_is_a_birth_date_error() -> None:
    assert refusal("110105180001010010").code == "ID_NUMBER_BIRTH_DATE"


def test_unknown_region_code_is_a_region_error() -> None:
    error = refusal("990000194912310026")
    assert error.code == "ID_NUMBER_REGION"
    assert error.params == {"region_code": "990000"}


def test_region_abolished_before_the_birth_year_is_a_region_error() -> None:
    # 310225 was Nanhui County, Shanghai, until 2001: nobody born in 2002 was registered there.
    assert refusal("310225200201010019").code == "ID_NUMBER_REGION"


def test_region_created_after_the_birth_year_is_accepted() -> None:
    # Pudong New Area (310115) dates from 1992; people born earlier were registered there later.
    assert parse_resident_id("310115198002290013", today=TODAY).county == "浦东新区"


def test_a_number_with_several_faults_reports_the_check_digit_first() -> None:
    # An impossible date with a wrong check digit: the mistyped digit is the likelier story.
    assert refusal("110105194902301235").code == "ID_NUMBER_CHECKSUM"


@pytest.mark.parametrize(
    ("text", "code"),
    [("1101051949", "ID_NUMBER_FORMAT"), ("110105194912310021", "ID_NUMBER_CHECKSUM"),
     ("110105194902301234", "ID_NUMBER_BIRTH_DATE"), ("990000194912310026", "ID_NUMBER_REGION")],
)
def test_each_refusal_has_its_own_message_in_both_languages(text: str, code: str) -> None:
    error = refusal(text)
    assert error.code == code
    assert error.status == 422
    for lang in ("zh-CN", "en"):
        assert error.message(lang) != f"error.{code}"
    assert "19490230" in refusal("110105194902301234").message("zh-CN")
