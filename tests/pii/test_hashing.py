"""Keyed look-up hashes: HMAC-SHA256 under the hash key, over a normalised value."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pii_test_tables import RESIDENT_ID, Person
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qianbao.pii.hashing import LOOKUP_HASH_LENGTH, lookup_hash
from qianbao.pii.keyring import Keyring, create_keyring


def test_lookup_hash_is_hmac_sha256_of_kind_and_normalised_value(keyring: Keyring) -> None:
    expected = hmac.new(keyring.hash_key, f"id_number\x00{RESIDENT_ID}".encode(), hashlib.sha256).hexdigest()
    assert lookup_hash("id_number", RESIDENT_ID.lower()) == expected
    assert len(expected) == LOOKUP_HASH_LENGTH


def test_id_number_hash_ignores_case_and_spaces(keyring: Keyring) -> None:
    assert lookup_hash("id_number", " 110105 19491231 002x ") == lookup_hash("id_number", RESIDENT_ID)


@pytest.mark.parametrize("spelling", ["139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "0086 13912345678"])
def test_phone_hash_ignores_punctuation_and_the_country_code(keyring: Keyring, spelling: str) -> None:
    assert lookup_hash("phone", spelling) == lookup_hash("phone", "13912345678")


def test_card_hash_ignores_spaces(keyring: Keyring) -> None:
    assert lookup_hash("card", "6222 0212 3456 7890 123") == lookup_hash("card", "6222021234567890123")


def test_different_values_hash_differently(keyring: Keyring) -> None:
    assert lookup_hash("phone", "13912345678") != lookup_hash("phone", "13912345679")


def test_the_same_digits_of_different_kinds_hash_differently(keyring: Keyring) -> None:
    assert lookup_hash("phone", "13912345678") != lookup_hash("card", "13912345678")


def test_the_hash_depends_on_the_secret_hash_key(keyring: Keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = create_keyring(tmp_path / "other" / "keys.json")
    assert lookup_hash("id_number", RESIDENT_ID, other) != lookup_hash("id_number", RESIDENT_ID, keyring)


def test_rotating_the_data_key_keeps_every_lookup_hash(keyring: Keyring) -> None:
    before = lookup_hash("id_number", RESIDENT_ID)
    keyring.add_key()
    assert lookup_hash("id_number", RESIDENT_ID) == before


def test_an_unknown_kind_is_a_programming_error(keyring: Keyring) -> None:
    with pytest.raises(ValueError):
        lookup_hash("passport", "E12345678")  # type: ignore[arg-type]


def test_a_lookup_hash_finds_an_encrypted_id_number_and_refuses_a_duplicate(people) -> None:  # type: ignore[no-untyped-def]
    with people.transaction() as session:
        session.add(Person(name="张三明", id_number=RESIDENT_ID, id_number_hash=lookup_hash("id_number", RESIDENT_ID)))
    with people.read() as session:
        found = session.scalars(
            select(Person).where(Person.id_number_hash == lookup_hash("id_number", RESIDENT_ID.lower()))
        ).one()
        assert found.name == "张三明"
    with pytest.raises(IntegrityError), people.transaction() as session:
        session.add(Person(name="李四", id_number=RESIDENT_ID, id_number_hash=lookup_hash("id_number", RESIDENT_ID)))
