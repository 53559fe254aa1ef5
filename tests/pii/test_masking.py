"""One masking function per kind of personal value (docs/security.md lists the rules)."""

from __future__ import annotations

import pytest

from qianbao.pii.masking import mask_card, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("司马光", "司*光"),
        ("阿卜杜·热合曼", "阿**·**曼"),
        ("买买提·艾力", "买**·*力"),
        (" 张 三明 ", "张*明"),
        ("John Smith", "J*** S****"),
        ("O'Neil", "O*****"),
        ("Li", "L*"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("id_number", "masked"),
    [
        ("110101199003071234", "1101**********1234"),
        ("11010519491231002x", "1101**********002X"),
        ("110101900307123", "1101*******7123"),
        ("E12345678", "******678"),
    ],
)
def test_mask_id_number(id_number: str, masked: str) -> None:
    assert mask_id_number(id_number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("01012345678", "010****5678"),
        ("12345678", "****5678"),
        ("12345", "*****"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("card", "masked"),
    [
        ("6222021234567890123", "****0123"),
        ("6222 0212 3456 7890", "****7890"),
        ("1234", "****"),
    ],
)
def test_mask_card_shows_only_the_last_four(card: str, masked: str) -> None:
    assert mask_card(card) == masked


@pytest.mark.parametrize("mask", [mask_name, mask_id_number, mask_phone, mask_card])
@pytest.mark.parametrize("empty", [None, ""])
def test_masking_nothing_gives_an_empty_string(mask, empty) -> None:  # type: ignore[no-untyped-def]
    assert mask(empty) == ""


@pytest.mark.parametrize(
    ("mask", "value"),
    [
        (mask_name, "张三明"),
        (mask_id_number, "110101199003071234"),
        (mask_phone, "13812345678"),
        (mask_card, "6222021234567890123"),
    ],
)
def test_masking_never_shows_more_than_two_thirds_of_the_value(mask, value: str) -> None:  # type: ignore[no-untyped-def]
    shown = len(mask(value).replace("*", ""))
    assert shown * 3 <= len(value) * 2
