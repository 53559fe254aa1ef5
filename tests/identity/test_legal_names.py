"""Legal names as on the resident ID card: 2–20 Chinese characters, the middle dot between parts."""

from __future__ import annotations

import pytest

from qianbao.errors import QianbaoError
from qianbao.identity import parse_legal_name


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜", "才让卓玛"])
def test_chinese_name_is_accepted(name: str) -> None:
    assert parse_legal_name(name) == name


def test_minority_name_with_middle_dot_is_accepted() -> None:
    assert parse_legal_name("阿卜杜·热合曼") == "阿卜杜·热合曼"
    assert parse_legal_name("阿依古丽·买买提·艾力") == "阿依古丽·买买提·艾力"


@pytest.mark.parametrize("dot", ["•", ".", "・", "．", "‧", "･"])
def test_look_alike_dots_become_the_middle_dot(dot: str) -> None:
    assert parse_legal_name(f"阿卜杜{dot}热合曼") == "阿卜杜\u00b7热合曼"


def test_white_space_is_dropped() -> None:
    assert parse_legal_name(" 阿卜杜 · 热合曼\u3000") == "阿卜杜·热合曼"


def test_rare_characters_of_the_extension_blocks_are_accepted() -> None:
    assert parse_legal_name("王𠀀") == "王𠀀"


def test_twenty_characters_are_accepted() -> None:
    assert parse_legal_name("阿" * 20) == "阿" * 20


def refused(text: str) -> str:
    with pytest.raises(QianbaoError) as caught:
        parse_legal_name(text)
    return caught.value.code


def test_more_than_twenty_characters_is_refused() -> None:
    assert refused("阿" * 21) == "NAME_INVALID"


@pytest.mark.parametrize("text", ["", "张", " 张 "])
def test_fewer_than_two_characters_is_refused(text: str) -> None:
    assert refused(text) == "NAME_INVALID"


@pytest.mark.parametrize("text", ["张3", "张三1", "李四５"])
def test_name_with_digits_is_refused(text: str) -> None:
    assert refused(text) == "NAME_INVALID"


@pytest.mark.parametrize("text", ["John Smith", "张John", "Zhang San"])
def test_latin_letters_are_refused(text: str) -> None:
    assert refused(text) == "NAME_INVALID"


@pytest.mark.parametrize("text", ["张-三", "张三!", "张😀"])
def test_other_symbols_are_refused(text: str) -> None:
    assert refused(text) == "NAME_INVALID"


@pytest.mark.parametrize("text", ["·热合曼", "阿卜杜·", "阿卜杜··热合曼"])
def test_dot_first_last_or_doubled_is_refused(text: str) -> None:
    assert refused(text) == "NAME_INVALID"
