"""The keyring file: data-encryption keys by id, which one is active, and the look-up hash key.

Format (JSON, mode 0600):
    {"active": "k20261125a", "keys": {"k20261125a": "<base64 32 bytes>", ...}, "hash_key": "<base64 32 bytes>"}

Old keys stay in the file after a rotation until nothing is encrypted under them any more, so that
values written before the rotation can still be read while `qianbao keys rotate` re-encrypts them.
The hash key is not rotated with the data keys: changing it would orphan every look-up hash.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from qianbao.errors import QianbaoError

KEY_BYTES = 32


@dataclass
class Keyring:
    path: Path
    active: str
    keys: dict[str, bytes]
    hash_key: bytes
    extra: dict = field(default_factory=dict)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise QianbaoError("UNKNOWN_KEY_ID", key_id=key_id) from None

    @property
    def active_key(self) -> bytes:
        return self.key(self.active)

    def add_key(self) -> str:
        """Make a new data key the active one; the old ones stay for reading."""
        key_id = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
        self.keys[key_id] = secrets.token_bytes(KEY_BYTES)
        self.active = key_id
        return key_id

    def save(self) -> None:
        payload = {
            "active": self.active,
            "keys": {kid: base64.b64encode(k).decode() for kid, k in self.keys.items()},
            "hash_key": base64.b64encode(self.hash_key).decode(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def create_keyring(path: Path) -> Keyring:
    ring = Keyring(path=path, active="", keys={}, hash_key=secrets.token_bytes(KEY_BYTES))
    ring.add_key()
    ring.save()
    return ring


def load_keyring(path: Path) -> Keyring:
    if not path.exists():
        raise QianbaoError("CONFIG_KEYS_MISSING", path=str(path))
    try:
        data = json.loads(path.read_text())
        keys = {kid: base64.b64decode(v, validate=True) for kid, v in data["keys"].items()}
        hash_key = base64.b64decode(data["hash_key"], validate=True)
        active = data["active"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason=type(exc).__name__) from exc
    if active not in keys:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason=f"active key {active} not in keys")
    if any(len(k) != KEY_BYTES for k in keys.values()) or len(hash_key) != KEY_BYTES:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason="keys must be 32 bytes (AES-256)")
    return Keyring(path=path, active=active, keys=keys, hash_key=hash_key)
