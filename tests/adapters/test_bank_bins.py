"""The BIN table (qianbao.adapters.bank.bins): issuer and card type of the major Chinese banks, Luhn."""

from __future__ import annotations

import pytest

from qianbao.adapters.bank import bins
from qianbao.adapters.bank.bins import CardType


@pytest.mark.parametrize(("number", "bank", "kind"), [
    ("6217991000000000018", "PSBC", CardType.DEBIT),
    ("6221881234567890123", "PSBC", CardType.DEBIT),
    ("6210981234567890123", "PSBC", CardType.DEBIT),
    ("6228101234567890", "PSBC", CardType.CREDIT),
    ("6222021234567890123", "ICBC", CardType.DEBIT),
    ("6212261234567890123", "ICBC", CardType.DEBIT),
    ("6228481234567890123", "ABC", CardType.DEBIT),
    ("6216601234567890123", "BOC", CardType.DEBIT),
    ("6217001234567890123", "CCB", CardType.DEBIT),
    ("4367421234567890123", "CCB", CardType.DEBIT),
    ("6222601234567890123", "BOCOM", CardType.DEBIT),
    ("6225881234567890", "CMB", CardType.DEBIT),
    ("6225751234567890", "CMB", CardType.CREDIT),
    ("6226901234567890", "CITIC", CardType.DEBIT),
    ("6229091234567890123", "CIB", CardType.DEBIT),
    ("6225161234567890", "SPDB", CardType.DEBIT),
    ("6226151234567890", "CMBC", CardType.DEBIT),
    ("6226601234567890", "CEB", CardType.DEBIT),
    ("6221551234567890", "PAB", CardType.DEBIT),
    ("6225551234567890", "CGB", CardType.CREDIT),
])
def test_a_published_bin_names_its_bank_and_card_type(number: str, bank: str, kind: CardType) -> None:
    found = bins.lookup(number)
    assert found is not None and (found.bank_code, found.card_type) == (bank, kind)


def test_the_longest_matching_prefix_wins() -> None:
    # 9558 is ICBC's old 19-digit debit range; the 5-digit 95595 is ABC's.
    assert bins.lookup("9558801234567890123").bank_code == "ICBC"  # type: ignore[union-attr]
    assert bins.lookup("9559512345678901234").bank_code == "ABC"  # type: ignore[union-attr]


def test_an_unknown_bin_is_none() -> None:
    assert bins.lookup("4111111111111111") is None
    assert bins.lookup("not a number") is None


def test_spaces_in_a_typed_number_do_not_matter() -> None:
    assert bins.lookup("6217 9910 0000 0000 018") == bins.lookup("6217991000000000018")


def test_every_bank_has_names_in_both_languages() -> None:
    for bank in bins.BANKS.values():
        assert bank.name_zh and bank.name_en and bank.short_zh
    assert bins.bank("PSBC").name("zh-CN") == "中国邮政储蓄银行"  # type: ignore[union-attr]
    assert bins.bank("PSBC").name("en") == "Postal Savings Bank of China"  # type: ignore[union-attr]
    assert bins.bank("NOPE") is None


def test_every_bin_belongs_to_a_listed_bank() -> None:
    assert {info.bank_code for info in bins.TABLE.values()} == set(bins.BANKS)


def test_luhn_accepts_right_check_digits_and_refuses_wrong_ones() -> None:
    assert bins.luhn_valid("79927398713")
    assert not bins.luhn_valid("79927398710")
    number = bins.card_number("621799", 19, 42)
    assert bins.valid_card_number(number) and len(number) == 19
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not bins.valid_card_number(wrong)


def test_a_card_number_has_16_to_19_digits() -> None:
    for length in (15, 20):
        body = "621799" + "1" * (length - 7)
        number = body + bins.luhn_check_digit(body)
        assert bins.luhn_valid(number) and not bins.valid_card_number(number)
    with pytest.raises(ValueError):
        bins.card_number("621799", 20)
