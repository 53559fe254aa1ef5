"""`qianbao keys init`, `qianbao keys rotate` and `qianbao keys status`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pii_test_tables import Person, PiiTestBase
from sqlalchemy import select, text
from typer.testing import CliRunner

import qianbao.models
from qianbao.adapters.sms import latest_messages
from qianbao.adapters.sms.dev import DevSmsGateway
from qianbao.cli import app
from qianbao.db import Database
from qianbao.notices import outbox
from qianbao.notices.models import OutboxMessage
from qianbao.pii.crypto import key_id_of
from qianbao.pii.keyring import Keyring, load_keyring, use_keyring


def _env(database_url: str, key_file: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "QIANBAO_DATABASE_URL": database_url,
        "QIANBAO_KEY_FILE": str(key_file),
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_CLI_LANG": "en",
        "COLUMNS": "200",
    }


@pytest.fixture
def with_test_table(people: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Let the command find the test table's encrypted columns as if it were one of the platform's."""
    monkeypatch.setattr(qianbao.models, "metadata", PiiTestBase.metadata)
    with people.transaction() as session:
        for i in range(7):
            session.add(Person(name=f"王{i}", id_number=f"11010519491231{i:03d}X", id_number_hash=str(i), phone="1"))
    return people


def _key_ids(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, id_number, phone FROM pii_test_person")).all()
    return {key_id_of(value) for row in rows for value in row}


def test_keys_init_creates_a_private_key_file(database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "keys.json"
    result = CliRunner().invoke(app, ["keys", "init"], env=_env(database_url, key_file, tmp_path))
    assert result.exit_code == 0, result.output
    ring = load_keyring(key_file)
    assert ring.active in result.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_keys_init_refuses_to_overwrite_an_existing_key_file(
    database_url: str, keyring: Keyring, tmp_path: Path
) -> None:
    before = keyring.path.read_bytes()
    result = CliRunner().invoke(app, ["keys", "init"], env=_env(database_url, keyring.path, tmp_path))
    assert result.exit_code == 2
    assert "CONFIG_KEYS_EXIST" in result.output
    assert keyring.path.read_bytes() == before


def test_keys_rotate_without_a_key_file_says_what_to_fix(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "rotate"], env=_env(database_url, tmp_path / "none.json", tmp_path))
    assert result.exit_code == 2
    assert "CONFIG_KEYS_MISSING" in result.output and "Traceback" not in result.output


def test_keys_rotate_adds_a_key_and_reencrypts_every_value(
    with_test_table: Database, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    old = keyring.active
    result = CliRunner().invoke(app, ["keys", "rotate", "--batch-size", "3"],
                                env=_env(database_url, keyring.path, tmp_path))
    assert result.exit_code == 0, result.output
    ring = load_keyring(keyring.path)
    assert ring.active != old and set(ring.keys) == {old, ring.active}
    assert _key_ids(with_test_table) == {ring.active}
    assert "21 value(s) re-encrypted" in result.output
    use_keyring(ring)
    with with_test_table.read() as session:
        assert sorted(session.scalars(select(Person.name))) == [f"王{i}" for i in range(7)]


def test_keys_rotate_resume_adds_no_key(
    with_test_table: Database, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    old = keyring.active
    result = CliRunner().invoke(app, ["keys", "rotate", "--resume"], env=_env(database_url, keyring.path, tmp_path))
    assert result.exit_code == 0, result.output
    assert set(load_keyring(keyring.path).keys) == {old}
    assert "0 value(s) re-encrypted" in result.output


def test_keys_rotate_retire_removes_the_key_no_value_uses(
    with_test_table: Database, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    old = keyring.active
    result = CliRunner().invoke(app, ["keys", "rotate", "--retire"], env=_env(database_url, keyring.path, tmp_path))
    assert result.exit_code == 0, result.output
    ring = load_keyring(keyring.path)
    assert old not in ring.keys and list(ring.keys) == [ring.active]
    assert f"retired 1 unused key(s): {old}" in result.output


def test_keys_status_shows_how_many_values_each_key_holds(
    with_test_table: Database, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["keys", "status"], env=_env(database_url, keyring.path, tmp_path))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if keyring.active in line)
    assert "21" in line and "active" in line


def test_keys_rotate_reencrypts_outbox_payloads_and_the_dev_gateways_texts(
    db: Database, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    with db.transaction() as session:
        message_id = outbox.enqueue_sms(session, "13912345678", text="【钱包】您的验证码为 482913")
    DevSmsGateway(db).send("outbox-0", "13912345678", "【钱包】您的验证码为 482913")

    result = CliRunner().invoke(app, ["keys", "rotate"], env=_env(database_url, keyring.path, tmp_path))

    assert result.exit_code == 0, result.output
    ring = load_keyring(keyring.path)
    with db.engine.connect() as conn:
        stored = [
            *conn.execute(text("SELECT payload FROM outbox_message")).scalars(),
            *conn.execute(text("SELECT phone FROM sandbox_sms_message")).scalars(),
            *conn.execute(text("SELECT text FROM sandbox_sms_message")).scalars(),
        ]
    assert [key_id_of(value) for value in stored] == [ring.active] * 3
    use_keyring(ring)
    with db.read() as session:
        assert session.get_one(OutboxMessage, message_id).payload == {
            "phone": "13912345678", "text": "【钱包】您的验证码为 482913"
        }
        sent = latest_messages(session, phone="13912345678")
        assert [(m.phone, m.text) for m in sent] == [("+8613912345678", "【钱包】您的验证码为 482913")]
