"""Field encryption: AES-256-GCM with the key id stored beside every value.

Stored forms (one column each, no side table):
    text   `v1:<key_id>:<base64(nonce || ciphertext+tag)>`   EncryptedString, impl TEXT
    bytes  `v1:<key_id>:` + nonce || ciphertext+tag           EncryptedBytes, impl BLOB / BYTEA
    json   the text form of the value's JSON                   EncryptedJSON, impl TEXT

The 96-bit nonce is random per value (the NIST limit of 2^32 values per key is far beyond one key's
life here, and rotation resets the count). The associated data is `qianbao/v1/<key_id>/<table>.<column>`,
so a ciphertext copied into another column, or relabelled with another key id, fails authentication
instead of decrypting. It does not bind the row: the primary key of a new row is not known when its
values are encrypted, so swapping two values of the same column between rows is not caught here.

Encrypted columns cannot be searched or compared in SQL (each encryption of the same value differs):
find rows through a keyed look-up hash column (`qianbao.pii.hashing.lookup_hash`) beside the value.
In migrations declare EncryptedString and EncryptedJSON as `sa.Text()`, EncryptedBytes as `sa.LargeBinary()`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, Text, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from qianbao.errors import QianbaoError
from qianbao.pii.keyring import Keyring, current_keyring, reload_if_changed

VERSION = "v1"
NONCE_BYTES = 12
_PREFIX = VERSION + ":"
_PREFIX_BYTES = _PREFIX.encode()


def _aad(key_id: str, context: str) -> bytes:
    return f"qianbao/{VERSION}/{key_id}/{context}".encode()


def _key(ring: Keyring, key_id: str) -> bytes:
    if key_id not in ring.keys:
        # Another process may have rotated: the key file then has the key this value was written with.
        ring = reload_if_changed(ring)
    return ring.key(key_id)


def _seal(plaintext: bytes, context: str, ring: Keyring | None) -> tuple[str, bytes]:
    ring = ring or current_keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.active_key).encrypt(nonce, plaintext, _aad(ring.active, context))
    return ring.active, nonce + sealed


def _open(key_id: str, blob: bytes, context: str, ring: Keyring | None) -> bytes:
    ring = ring or current_keyring()
    key = _key(ring, key_id)
    if len(blob) < NONCE_BYTES + 16:
        raise QianbaoError("DECRYPTION_FAILED", key_id=key_id, context=context)
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(key_id, context))
    except InvalidTag:
        raise QianbaoError("DECRYPTION_FAILED", key_id=key_id, context=context) from None


def _split(stored: str | bytes, context: str) -> tuple[str, bytes]:
    """(key id, nonce||ciphertext) of a stored value in either form."""
    if isinstance(stored, str):
        version, _, rest = stored.partition(":")
        key_id, sep, payload = rest.partition(":")
        if version != VERSION or not sep or not key_id:
            raise QianbaoError("CIPHERTEXT_MALFORMED", context=context)
        try:
            return key_id, base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise QianbaoError("CIPHERTEXT_MALFORMED", context=context) from None
    stored = bytes(stored)
    if not stored.startswith(_PREFIX_BYTES):
        raise QianbaoError("CIPHERTEXT_MALFORMED", context=context)
    raw_id, sep, blob = stored[len(_PREFIX_BYTES):].partition(b":")
    if not sep or not raw_id:
        raise QianbaoError("CIPHERTEXT_MALFORMED", context=context)
    try:
        return raw_id.decode("ascii"), blob
    except UnicodeDecodeError:
        raise QianbaoError("CIPHERTEXT_MALFORMED", context=context) from None


def key_id_of(stored: str | bytes) -> str:
    """The id of the key a stored value was encrypted with (needs only its first few dozen characters)."""
    prefix = stored[:64]
    if isinstance(prefix, str):
        version, _, rest = prefix.partition(":")
        key_id, sep, _ = rest.partition(":")
    else:
        version_b, _, rest_b = bytes(prefix).partition(b":")
        key_id_b, sep_b, _ = rest_b.partition(b":")
        version, key_id, sep = version_b.decode("ascii", "replace"), key_id_b.decode("ascii", "replace"), sep_b
    if version != VERSION or not sep or not key_id:
        raise QianbaoError("CIPHERTEXT_MALFORMED", context="?")
    return key_id


def encrypt_text(plaintext: str, context: str, ring: Keyring | None = None) -> str:
    key_id, blob = _seal(plaintext.encode("utf-8"), context, ring)
    return f"{VERSION}:{key_id}:{base64.b64encode(blob).decode('ascii')}"


def decrypt_text(stored: str, context: str, ring: Keyring | None = None) -> str:
    key_id, blob = _split(stored, context)
    return _open(key_id, blob, context, ring).decode("utf-8")


def encrypt_bytes(plaintext: bytes, context: str, ring: Keyring | None = None) -> bytes:
    key_id, blob = _seal(bytes(plaintext), context, ring)
    return _PREFIX_BYTES + key_id.encode("ascii") + b":" + blob


def decrypt_bytes(stored: bytes, context: str, ring: Keyring | None = None) -> bytes:
    key_id, blob = _split(bytes(stored), context)
    return _open(key_id, blob, context, ring)


def reencrypt(stored: str | bytes, context: str, ring: Keyring | None = None) -> str | bytes:
    """The same value sealed again under the active key (in the same stored form)."""
    if isinstance(stored, str):
        return encrypt_text(decrypt_text(stored, context, ring), context, ring)
    return encrypt_bytes(decrypt_bytes(stored, context, ring), context, ring)


class EncryptedType(TypeDecorator[Any]):
    """Shared part of the encrypted column types: which column they serve, for the associated data.

    The context is `<table>.<column>` of the column the type is attached to, read lazily because a
    declarative column learns its name and table after its type is attached. Pass `context=` to fix
    it by hand (for a value that is not a table column).
    """

    cache_ok = True
    stored_form: type

    def __init__(self, context: str | None = None) -> None:
        super().__init__()
        self.context = context
        self._column: Column[Any] | None = None

    def column_context(self) -> str:
        if self.context:
            return self.context
        column = self._column
        table = getattr(column, "table", None) if column is not None else None
        if column is None or table is None or not column.name:
            raise TypeError(f"{type(self).__name__} used outside a table column; pass context=")
        return f"{table.name}.{column.name}"


@event.listens_for(EncryptedType, "after_parent_attach", propagate=True)
def _remember_column(target: EncryptedType, parent: Any) -> None:
    if isinstance(parent, Column):
        target._column = parent


class EncryptedString(EncryptedType):
    """A text value stored AES-GCM encrypted: `mapped_column(EncryptedString)`, Python type `str`."""

    impl = Text
    cache_ok = True
    stored_form = str

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"EncryptedString takes str, not {type(value).__name__}")
        return encrypt_text(value, self.column_context())

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return decrypt_text(value, self.column_context())

    @property
    def python_type(self) -> type:
        return str


class EncryptedBytes(EncryptedType):
    """A binary value (an ID photo) stored AES-GCM encrypted: Python type `bytes`."""

    impl = LargeBinary
    cache_ok = True
    stored_form = bytes

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"EncryptedBytes takes bytes, not {type(value).__name__}")
        return encrypt_bytes(bytes(value), self.column_context())

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return decrypt_bytes(bytes(value), self.column_context())

    @property
    def python_type(self) -> type:
        return bytes


class EncryptedJSON(EncryptedType):
    """A JSON document (dict, list, str, number, bool) stored AES-GCM encrypted as one text value.

    Serialised with the standard JSON rules (no NaN or infinity, non-ASCII kept as is), then sealed
    like EncryptedString, so rotation treats it as text. Unlike `sqlalchemy.JSON` it offers no SQL
    operators on the document: nothing inside it can be queried, only the whole value read back.
    Like `JSON`, changes made in place to a loaded dict are not noticed: assign a new value.
    """

    impl = Text
    cache_ok = True
    stored_form = str

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            document = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"EncryptedJSON takes plain JSON values: {exc}") from exc
        return encrypt_text(document, self.column_context())

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(decrypt_text(value, self.column_context()))

    @property
    def python_type(self) -> type:
        return dict
