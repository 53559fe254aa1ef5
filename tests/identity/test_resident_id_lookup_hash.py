"""One real-name wallet per ID number is found through a keyed hash of the normalised number."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from qianbao.identity import parse_resident_id, resident_id_lookup_hash
from qianbao.pii.keyring import Keyring, create_keyring, use_keyring

TODAY = date(2026, 6, 1)


def test_spellings_of_one_number_hash_alike(keyring: Keyring) -> None:
    typed = [parse_resident_id(text, today=TODAY) for text in ("11010519491231002x", " 110105 19491231 002X")]
    hashes = {resident_id_lookup_hash(resident) for resident in typed}
    assert len(hashes) == 1
    assert len(hashes.pop()) == 64


def test_different_numbers_hash_differently(keyring: Keyring) -> None:
    first = resident_id_lookup_hash(parse_resident_id("11010519491231002X", today=TODAY))
    second = resident_id_lookup_hash(parse_resident_id("440305199210110058", today=TODAY))
    assert first != second


def test_hash_depends_on_the_key(keyring: Keyring, tmp_path: Path) -> None:
    resident = parse_resident_id("11010519491231002X", today=TODAY)
    under_first_key = resident_id_lookup_hash(resident)
    use_keyring(create_keyring(tmp_path / "other-keys.json"))
    try:
        assert resident_id_lookup_hash(resident) != under_first_key
    finally:
        use_keyring(keyring)
