"""Key rotation: a new active key, every encrypted value re-encrypted, old keys retired when unused."""

from __future__ import annotations

import pytest
from pii_test_tables import Person, PiiTestBase
from sqlalchemy import select, text

from qianbao.db import Database
from qianbao.pii import rotate
from qianbao.pii.crypto import key_id_of
from qianbao.pii.keyring import Keyring, load_keyring

ROWS = 23


def _photos(start: int, stop: int) -> int:
    return sum(1 for i in range(start, stop) if i % 2)


def _contacts(start: int, stop: int) -> int:
    return sum(1 for i in range(start, stop) if i % 3 == 0)


def _store(db: Database, count: int = ROWS, *, start: int = 0) -> None:
    with db.transaction() as session:
        for i in range(start, start + count):
            session.add(
                Person(
                    name=f"张{i}明",
                    id_number=f"1101051949123{i:04d}X",
                    id_number_hash=f"hash-{i}",
                    phone=f"139{i:08d}",
                    photo=b"photo-%d" % i if i % 2 else None,
                    contacts={"mobile": f"139{i:08d}", "note": "紧急联系人"} if i % 3 == 0 else None,
                )
            )


def _stored_key_ids(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    with db.engine.connect() as conn:
        for row in conn.execute(text("SELECT name, id_number, phone, photo, contacts FROM pii_test_person")):
            for value in row:
                if value is not None:
                    key_id = key_id_of(value if isinstance(value, str) else bytes(value))
                    counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def _columns() -> list[rotate.EncryptedColumn]:
    return rotate.encrypted_columns(PiiTestBase.metadata)


def test_encrypted_columns_are_found_by_their_type() -> None:
    contexts = [c.context for c in _columns()]
    assert contexts == ["pii_test_person.name", "pii_test_person.id_number", "pii_test_person.phone",
                        "pii_test_person.photo", "pii_test_person.contacts"]


def test_the_platforms_encrypted_json_and_sms_columns_are_found_for_rotation() -> None:
    contexts = {c.context for c in rotate.encrypted_columns()}
    assert {"outbox_message.payload", "sandbox_sms_message.phone", "sandbox_sms_message.text"} <= contexts


def test_values_written_before_a_rotation_stay_readable_and_new_ones_use_the_new_key(
    people: Database, keyring: Keyring
) -> None:
    old = keyring.active
    _store(people, 3)
    new = keyring.add_key()
    _store(people, 2, start=3)
    assert _stored_key_ids(people) == {
        old: 3 * 3 + _photos(0, 3) + _contacts(0, 3),
        new: 2 * 3 + _photos(3, 5) + _contacts(3, 5),
    }
    with people.read() as session:
        names = sorted(session.scalars(select(Person.name)))
    assert names == sorted(f"张{i}明" for i in range(5))


def test_rotation_reencrypts_every_value_under_the_new_key(people: Database, keyring: Keyring) -> None:
    _store(people)
    with people.read() as session:
        before = {p.id: (p.name, p.id_number, p.phone, p.photo, p.contacts) for p in session.scalars(select(Person))}
    new = keyring.add_key()
    total = rotate.count_values(people, _columns())
    report = rotate.reencrypt_all(people, keyring, _columns(), batch_size=5)
    assert report.reencrypted == total == 3 * ROWS + _photos(0, ROWS) + _contacts(0, ROWS)
    assert report.per_column["pii_test_person.contacts"] == {new: _contacts(0, ROWS)}
    assert dict(report.per_key) == {new: total}
    assert _stored_key_ids(people) == {new: total}
    with people.read() as session:
        after = {p.id: (p.name, p.id_number, p.phone, p.photo, p.contacts) for p in session.scalars(select(Person))}
    assert after == before


def test_rotation_interrupted_part_way_resumes_where_it_stopped(people: Database, keyring: Keyring) -> None:
    _store(people)
    new = keyring.add_key()
    total = rotate.count_values(people, _columns())

    class Interrupted(Exception):
        pass

    def stop_after_two_batches(_: int, calls: list[int] = []) -> None:  # noqa: B006
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        rotate.reencrypt_all(people, keyring, _columns(), batch_size=5, on_progress=stop_after_two_batches)
    assert _stored_key_ids(people)[new] == 10  # two committed batches of the first column

    resumed = rotate.reencrypt_all(people, keyring, _columns(), batch_size=5)
    assert resumed.reencrypted == total - 10
    assert _stored_key_ids(people) == {new: total}
    again = rotate.reencrypt_all(people, keyring, _columns(), batch_size=5)
    assert again.reencrypted == 0 and again.per_key[new] == total


def test_values_per_key_counts_what_each_key_still_encrypts(people: Database, keyring: Keyring) -> None:
    old = keyring.active
    _store(people, 4)
    new = keyring.add_key()
    _store(people, 1, start=4)
    counts = rotate.values_per_key(people, _columns(), batch_size=3)
    assert dict(counts.per_key) == {old: 4 * 3 + _photos(0, 4) + _contacts(0, 4), new: 3}
    assert counts.per_column["pii_test_person.photo"] == {old: 2}


def test_retiring_removes_only_keys_that_no_value_uses(people: Database, keyring: Keyring) -> None:
    first = keyring.active
    _store(people, 2)
    second = keyring.add_key()
    rotate.reencrypt_all(people, keyring, _columns())
    third = keyring.add_key()
    _store(people, 1, start=2)  # under the third key; nothing re-encrypted yet: the second still holds values
    retired = rotate.retire_unused(keyring, rotate.values_per_key(people, _columns()).per_key)
    assert retired == [first]
    assert set(load_keyring(keyring.path).keys) == {second, third}


def test_a_value_that_cannot_be_decrypted_is_reported_and_the_rest_rotated(people: Database, keyring: Keyring) -> None:
    _store(people, 3)
    with people.engine.begin() as conn:
        conn.execute(text("UPDATE pii_test_person SET phone = name WHERE id_number_hash = 'hash-1'"))
    new = keyring.add_key()
    report = rotate.reencrypt_all(people, keyring, _columns())
    failures = [(context, code) for context, _pk, code in report.failures]
    assert failures == [("pii_test_person.phone", "DECRYPTION_FAILED")]
    assert report.per_key[new] == 3 * 3 + _photos(0, 3) + _contacts(0, 3) - 1
