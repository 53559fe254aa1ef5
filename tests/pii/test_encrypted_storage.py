"""Encrypted columns in a real table: values go in clear through the model and lie encrypted on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from pii_test_tables import PHONE, RESIDENT_ID, Person
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.hashing import lookup_hash
from qianbao.pii.keyring import Keyring

CONTROL = "plain-note-QB-control-7f3a"
EMERGENCY_PHONE = "13698765432"  # stored in a plain column: proves the scan would see a value


def _store_person(db: Database) -> int:
    with db.transaction() as session:
        person = Person(
            name="张三明",
            id_number=RESIDENT_ID,
            id_number_hash=lookup_hash("id_number", RESIDENT_ID),
            phone=PHONE,
            photo=b"\x89PNG portrait of " + RESIDENT_ID.encode(),
            contacts={"emergency": EMERGENCY_PHONE},
            note=CONTROL,
        )
        session.add(person)
        session.flush()
        return person.id


def _raw_row(db: Database, person_id: int) -> dict:
    with db.engine.connect() as conn:
        return dict(
            conn.execute(text("SELECT * FROM pii_test_person WHERE id = :id"), {"id": person_id}).mappings().one()
        )


def test_an_encrypted_column_reads_back_the_value_stored(people: Database) -> None:
    person_id = _store_person(people)
    with people.read() as session:
        person = session.get_one(Person, person_id)
        assert (person.name, person.id_number, person.phone) == ("张三明", RESIDENT_ID, PHONE)
        assert person.photo == b"\x89PNG portrait of " + RESIDENT_ID.encode()
        assert person.contacts == {"emergency": EMERGENCY_PHONE}


def test_a_stored_value_is_ciphertext_under_the_active_key(people: Database, keyring: Keyring) -> None:
    row = _raw_row(people, _store_person(people))
    for column in ("name", "id_number", "phone", "contacts"):
        assert row[column].startswith(f"v1:{keyring.active}:")
    assert bytes(row["photo"]).startswith(f"v1:{keyring.active}:".encode())
    assert RESIDENT_ID not in row["id_number"] and PHONE not in row["phone"] and "张" not in row["name"]


def test_a_null_stays_null(people: Database) -> None:
    with people.transaction() as session:
        session.add(Person(name="李四", id_number="110101199003071234", id_number_hash="h", phone=None))
    with people.engine.connect() as conn:
        assert conn.execute(text("SELECT phone, photo FROM pii_test_person")).one() == (None, None)


def test_no_personal_value_appears_in_clear_in_the_sqlite_database_files(people: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the PostgreSQL variant reads the rows back raw instead")
    _store_person(people)
    people.dispose()
    path = Path(make_url(people.url).database or "")
    # The main file and the write-ahead log: a value may still sit in the WAL.
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert CONTROL.encode() in data
    for secret in (RESIDENT_ID, PHONE, EMERGENCY_PHONE, "张三明", "portrait of", "emergency"):
        assert secret.encode() not in data, secret
        assert secret.encode("utf-16-le") not in data, secret


def test_no_personal_value_appears_in_clear_in_a_raw_select(people: Database) -> None:
    _store_person(people)
    with people.engine.connect() as conn:
        if people.is_sqlite:
            dumped = " ".join(str(value) for value in conn.execute(text("SELECT * FROM pii_test_person")).one())
        else:
            dumped = conn.execute(text("SELECT p::text FROM pii_test_person AS p")).scalar_one()
    assert CONTROL in dumped
    for secret in (RESIDENT_ID, PHONE, EMERGENCY_PHONE, "张三明", "portrait of", "emergency"):
        assert secret not in dumped, secret


def test_a_value_copied_into_another_column_cannot_be_read(people: Database) -> None:
    person_id = _store_person(people)
    with people.engine.begin() as conn:
        conn.execute(text("UPDATE pii_test_person SET phone = id_number WHERE id = :id"), {"id": person_id})
    with pytest.raises(QianbaoError) as exc, people.read() as session:
        session.get_one(Person, person_id)
    assert exc.value.code == "DECRYPTION_FAILED"


def test_a_value_edited_in_the_database_is_refused_when_read(people: Database) -> None:
    person_id = _store_person(people)
    stored = _raw_row(people, person_id)["id_number"]
    version, key_id, payload = stored.split(":")
    forged = f"{version}:{key_id}:{('B' if payload[5] == 'A' else 'A').join([payload[:5], payload[6:]])}"
    with people.engine.begin() as conn:
        conn.execute(text("UPDATE pii_test_person SET id_number = :v WHERE id = :id"), {"v": forged, "id": person_id})
    with pytest.raises(QianbaoError) as exc, people.read() as session:
        session.scalars(select(Person)).one()
    assert exc.value.code == "DECRYPTION_FAILED"
