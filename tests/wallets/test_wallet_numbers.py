"""Wallet numbers (SPEC §3.4): 16 digits ending in a Luhn check digit, random, unique, grouped in fours."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import event
from stdnum import luhn
from wallet_helpers import Harness

from qianbao import wallets
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.wallets.numbers import new_wallet_number, random_body, with_check_digit


def test_a_new_wallet_number_has_16_digits_and_a_valid_luhn_check_digit(h: Harness) -> None:
    opened = h.register("13800138000")
    assert len(opened.number) == 16 and opened.number.isdigit()
    assert luhn.is_valid(opened.number)
    assert opened.number[0] != "0"


def test_wallet_numbers_are_random_not_sequential(h: Harness) -> None:
    first = h.register("13800138000").number
    second = h.register("13900139000").number
    assert first != second
    assert abs(int(first[:-1]) - int(second[:-1])) > 1


def test_a_wallet_number_is_shown_in_groups_of_four() -> None:
    assert wallets.format_wallet_number("6217000012345678") == "6217 0000 1234 5678"


def test_a_typed_wallet_number_may_contain_spaces_dashes_and_full_width_digits() -> None:
    number = with_check_digit("621700001234567")
    spaced = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    assert wallets.parse_wallet_number(spaced) == number
    assert wallets.parse_wallet_number(number[:8] + "-" + number[8:]) == number
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in number)
    assert wallets.parse_wallet_number(full_width) == number


@pytest.mark.parametrize("mistake", ["one digit changed", "two digits swapped", "too short", "letters"])
def test_a_mistyped_wallet_number_is_refused_before_any_look_up(mistake: str) -> None:
    number = with_check_digit("621700001234567")
    typed = {
        "one digit changed": number[:5] + str((int(number[5]) + 1) % 10) + number[6:],
        "two digits swapped": number[:3] + number[4] + number[3] + number[5:],
        "too short": number[:15],
        "letters": number[:15] + "A",
    }[mistake]
    if typed == number:  # swapping two equal digits changes nothing
        pytest.skip("the swapped digits are equal")
    with pytest.raises(QianbaoError) as caught:
        wallets.parse_wallet_number(typed)
    assert caught.value.code == "WALLET_NUMBER_INVALID"


def test_an_invalid_wallet_number_is_refused_without_touching_the_database(db: Database) -> None:
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with db.transaction() as session, pytest.raises(QianbaoError) as caught:
        wallets.wallet_by_number(session, "1234 5678 9012 3456")
    assert caught.value.code == "WALLET_NUMBER_INVALID"
    assert [s for s in statements if "wallet" in s.lower()] == []


def test_a_drawn_number_that_is_taken_is_drawn_again(h: Harness, db: Database) -> None:
    taken = h.register("13800138000").number
    bodies = itertools.chain([taken[:-1]], iter(lambda: random_body(), None))
    with db.transaction() as session:
        fresh = new_wallet_number(session, draw=lambda: next(bodies))
    assert fresh != taken and luhn.is_valid(fresh)
