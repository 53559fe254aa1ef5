"""The keyring file: data-encryption keys by id, which one is active, and the look-up hash key.

Format (JSON, mode 0600):
    {"active": "k20261125a", "keys": {"k20261125a": "<base64 32 bytes>", ...}, "hash_key": "<base64 32 bytes>"}

Old keys stay in the file after a rotation until nothing is encrypted under them any more, so that
values written before the rotation can still be read while `qianbao keys rotate` re-encrypts them.
The hash key is not rotated with the data keys: changing it would orphan every look-up hash.

A key id goes into every stored value (`v1:<key_id>:...`), so ids are short and never contain `:`.

The process holds one installed keyring (`use_keyring`, `current_keyring`); the encrypted column
types read it at bind and result time. `bootstrap.keyring()` and `create_app` install it at start-up.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from qianbao.errors import QianbaoError

KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass
class Keyring:
    path: Path
    active: str
    keys: dict[str, bytes]
    hash_key: bytes
    extra: dict = field(default_factory=dict)
    # The file's identity when read or written, so a process can notice another one's rotation.
    stamp: tuple[int, int, int] | None = None

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

    def remove_key(self, key_id: str) -> None:
        """Forget a retired key; the active key can never be removed."""
        if key_id == self.active:
            raise ValueError(f"{key_id} is the active key")
        self.keys.pop(key_id, None)

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
        self.stamp = _stamp(self.path)


def _stamp(path: Path) -> tuple[int, int, int]:
    # save() replaces the file with a new one, so the inode changes even within one clock tick.
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def create_keyring(path: Path) -> Keyring:
    ring = Keyring(path=path, active="", keys={}, hash_key=secrets.token_bytes(KEY_BYTES))
    ring.add_key()
    ring.save()
    return ring


def load_keyring(path: Path) -> Keyring:
    if not path.exists():
        raise QianbaoError("CONFIG_KEYS_MISSING", path=str(path))
    try:
        stamp = _stamp(path)
        data = json.loads(path.read_text())
        keys = {kid: base64.b64decode(v, validate=True) for kid, v in data["keys"].items()}
        hash_key = base64.b64decode(data["hash_key"], validate=True)
        active = data["active"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason=type(exc).__name__) from exc
    bad_ids = [kid for kid in keys if not KEY_ID_PATTERN.match(kid)]
    if bad_ids:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason=f"key id {bad_ids[0]!r} is not valid")
    if active not in keys:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason=f"active key {active} not in keys")
    if any(len(k) != KEY_BYTES for k in keys.values()) or len(hash_key) != KEY_BYTES:
        raise QianbaoError("CONFIG_KEYS_INVALID", path=str(path), reason="keys must be 32 bytes (AES-256)")
    return Keyring(path=path, active=active, keys=keys, hash_key=hash_key, stamp=stamp)


def reload_if_changed(ring: Keyring) -> Keyring:
    """The same keyring re-read from its file if another process has rewritten it (a rotation), else `ring`."""
    try:
        stamp = _stamp(ring.path)
    except OSError:
        return ring
    if stamp == ring.stamp:
        return ring
    fresh = load_keyring(ring.path)
    if _installed is ring:
        use_keyring(fresh)
    return fresh


_installed: Keyring | None = None
_install_lock = threading.Lock()


def use_keyring(ring: Keyring | None) -> None:
    """Install the keyring this process encrypts and decrypts with (None uninstalls it)."""
    global _installed
    with _install_lock:
        _installed = ring


def installed_keyring() -> Keyring | None:
    return _installed


def current_keyring() -> Keyring:
    """The installed keyring; a coded CONFIG_KEYS_MISSING when start-up did not install one."""
    ring = _installed
    if ring is None:
        raise QianbaoError("CONFIG_KEYS_MISSING", path=_configured_path())
    return ring


def _configured_path() -> str:
    try:
        from qianbao.settings import get_settings

        return str(get_settings().resolved_key_file)
    except Exception:  # the message must still come out when the settings themselves are broken
        return "QIANBAO_KEY_FILE"
