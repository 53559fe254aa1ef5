"""Field encryption: AES-256-GCM, the key id beside each value, refusals with stable codes."""

from __future__ import annotations

import base64

import pytest

from qianbao.errors import QianbaoError
from qianbao.pii.crypto import (
    EncryptedJSON,
    EncryptedString,
    decrypt_bytes,
    decrypt_text,
    encrypt_bytes,
    encrypt_text,
    key_id_of,
)
from qianbao.pii.keyring import Keyring, installed_keyring, load_keyring, use_keyring

CONTEXT = "wallet_holder.id_number"


def _flip(stored: str, position: int) -> str:
    version, key_id, payload = stored.split(":")
    blob = bytearray(base64.b64decode(payload))
    blob[position] ^= 0x01
    return f"{version}:{key_id}:{base64.b64encode(bytes(blob)).decode()}"


def test_text_round_trips_through_encryption(keyring: Keyring) -> None:
    stored = encrypt_text("张三明 11010519491231002X", CONTEXT)
    assert decrypt_text(stored, CONTEXT) == "张三明 11010519491231002X"


def test_bytes_round_trip_through_encryption(keyring: Keyring) -> None:
    photo = bytes(range(256)) * 40
    assert decrypt_bytes(encrypt_bytes(photo, "kyc_document.photo"), "kyc_document.photo") == photo


def test_stored_value_carries_the_active_key_id_and_no_plaintext(keyring: Keyring) -> None:
    stored = encrypt_text("13912345678", CONTEXT)
    assert stored.startswith(f"v1:{keyring.active}:")
    assert key_id_of(stored) == keyring.active
    assert "13912345678" not in stored
    assert key_id_of(encrypt_bytes(b"x", CONTEXT)) == keyring.active


def test_each_encryption_of_the_same_value_differs(keyring: Keyring) -> None:
    # A fresh nonce per value: equal ciphertexts would tell who shares an ID number.
    assert encrypt_text("same", CONTEXT) != encrypt_text("same", CONTEXT)


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1], ids=["nonce", "nonce-end", "ciphertext", "mid", "tag"])
def test_tampered_ciphertext_is_refused_with_decryption_failed(keyring: Keyring, position: int) -> None:
    stored = encrypt_text("11010519491231002X", CONTEXT)
    with pytest.raises(QianbaoError) as exc:
        decrypt_text(_flip(stored, position), CONTEXT)
    assert exc.value.code == "DECRYPTION_FAILED"
    assert exc.value.params["key_id"] == keyring.active


def test_tampered_bytes_are_refused_with_decryption_failed(keyring: Keyring) -> None:
    stored = bytearray(encrypt_bytes(b"portrait", "kyc_document.photo"))
    stored[-3] ^= 0x80
    with pytest.raises(QianbaoError) as exc:
        decrypt_bytes(bytes(stored), "kyc_document.photo")
    assert exc.value.code == "DECRYPTION_FAILED"


def test_ciphertext_moved_to_another_column_is_refused(keyring: Keyring) -> None:
    stored = encrypt_text("11010519491231002X", "wallet_holder.id_number")
    with pytest.raises(QianbaoError) as exc:
        decrypt_text(stored, "wallet_holder.name")
    assert exc.value.code == "DECRYPTION_FAILED"


def test_value_relabelled_with_another_key_id_is_refused(keyring: Keyring) -> None:
    old = keyring.active
    stored = encrypt_text("13912345678", CONTEXT)
    keyring.add_key()
    relabelled = stored.replace(f"v1:{old}:", f"v1:{keyring.active}:")
    with pytest.raises(QianbaoError) as exc:
        decrypt_text(relabelled, CONTEXT)
    assert exc.value.code == "DECRYPTION_FAILED"


def test_unknown_key_id_is_refused_with_its_code(keyring: Keyring) -> None:
    stored = encrypt_text("13912345678", CONTEXT).replace(f"v1:{keyring.active}:", "v1:k19700101000000dead:")
    with pytest.raises(QianbaoError) as exc:
        decrypt_text(stored, CONTEXT)
    assert exc.value.code == "UNKNOWN_KEY_ID"
    assert exc.value.params["key_id"] == "k19700101000000dead"


@pytest.mark.parametrize("stored", ["13912345678", "v2:k1:AAAA", "v1::AAAA", "v1:k1:not base64!", ""])
def test_a_value_that_is_not_a_ciphertext_is_refused_as_malformed(keyring: Keyring, stored: str) -> None:
    with pytest.raises(QianbaoError) as exc:
        decrypt_text(stored, CONTEXT)
    assert exc.value.code == "CIPHERTEXT_MALFORMED"


def test_without_an_installed_keyring_encryption_is_config_keys_missing() -> None:
    previous = installed_keyring()
    use_keyring(None)
    try:
        with pytest.raises(QianbaoError) as exc:
            encrypt_text("13912345678", CONTEXT)
        assert exc.value.code == "CONFIG_KEYS_MISSING"
    finally:
        use_keyring(previous)


def test_values_under_a_key_added_by_another_process_are_read_after_reloading_the_file(keyring: Keyring) -> None:
    other_process = load_keyring(keyring.path)
    other_process.add_key()
    other_process.save()
    stored = encrypt_text("13912345678", CONTEXT, other_process)
    assert key_id_of(stored) not in keyring.keys
    assert decrypt_text(stored, CONTEXT) == "13912345678"


def test_an_encrypted_type_outside_a_table_column_needs_an_explicit_context(keyring: Keyring) -> None:
    with pytest.raises(TypeError):
        EncryptedString().process_bind_param("13912345678", None)  # type: ignore[arg-type]
    stored = EncryptedString(context=CONTEXT).process_bind_param("13912345678", None)  # type: ignore[arg-type]
    assert decrypt_text(stored or "", CONTEXT) == "13912345678"


def test_a_json_document_round_trips_through_encryption(keyring: Keyring) -> None:
    column = EncryptedJSON(context="outbox_message.payload")
    payload = {"phone": "+8613912345678", "text": "【钱包】验证码 482913", "params": {"n": [1, 2.5, None, True]}}
    stored = column.process_bind_param(payload, None)  # type: ignore[arg-type]
    assert column.process_result_value(stored, None) == payload  # type: ignore[arg-type]


def test_a_json_document_is_stored_as_ciphertext_text_under_the_active_key(keyring: Keyring) -> None:
    stored = EncryptedJSON(context="outbox_message.payload").process_bind_param(
        {"phone": "13912345678"}, None  # type: ignore[arg-type]
    )
    assert isinstance(stored, str) and key_id_of(stored) == keyring.active
    assert "13912345678" not in stored and "phone" not in stored
    assert decrypt_text(stored, "outbox_message.payload") == '{"phone":"13912345678"}'


@pytest.mark.parametrize("value", [{"when": object()}, {"amount": float("nan")}])
def test_a_value_that_is_not_plain_json_is_refused_before_encryption(keyring: Keyring, value: object) -> None:
    with pytest.raises(TypeError):
        EncryptedJSON(context="outbox_message.payload").process_bind_param(value, None)  # type: ignore[arg-type]


def test_a_json_ciphertext_read_under_another_column_is_refused(keyring: Keyring) -> None:
    stored = EncryptedJSON(context="outbox_message.payload").process_bind_param(
        {"phone": "13912345678"}, None  # type: ignore[arg-type]
    )
    with pytest.raises(QianbaoError) as exc:
        EncryptedJSON(context="inbox_notice.params").process_result_value(stored, None)  # type: ignore[arg-type]
    assert exc.value.code == "DECRYPTION_FAILED"
