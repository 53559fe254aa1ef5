"""HMAC-SHA256 request signatures between the wallet and the bank, in both directions.

Every request — the wallet's calls to the bank, the bank's callbacks to the wallet — carries

    X-Bank-Merchant:   the wallet's merchant id at the bank
    X-Bank-Timestamp:  Unix time in seconds when it was signed
    X-Bank-Nonce:      16–64 random URL-safe characters, never used twice
    X-Bank-Signature:  hex HMAC-SHA256 under the shared secret of
                       METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n hex(SHA-256(body))

The receiver recomputes the signature (constant-time compare), refuses a timestamp more than five minutes
from its own clock, and refuses a nonce it has seen within that window. The signed string names the method
and path, so a signed request cannot be replayed against another endpoint, and the body's digest, so not a
byte of the body can change. Each direction has its own secret (`bank_api_secret` for requests to the
bank, `bank_callback_secret` for callbacks), so a request to the bank can never pass as a callback.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

MERCHANT = "X-Bank-Merchant"
TIMESTAMP = "X-Bank-Timestamp"
NONCE = "X-Bank-Nonce"
SIGNATURE = "X-Bank-Signature"
# How far a request's timestamp may be from the receiver's clock, either way.
TOLERANCE_SECONDS = 300
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def request_target(scope: Mapping[str, object]) -> str:
    """The path and query exactly as sent (percent-encoding kept), from an ASGI scope: what was signed."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else str(scope.get("path", "/"))
    query = scope.get("query_string")
    if isinstance(query, bytes) and query:
        path += "?" + query.decode("latin-1")
    return path


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest())).encode()


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def sign(secret: str, merchant: str, method: str, path: str, body: bytes, *, now: float | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """The four headers for a request: a fresh nonce and the current time unless given."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or new_nonce()
    return {MERCHANT: merchant, TIMESTAMP: timestamp, NONCE: nonce,
            SIGNATURE: signature(secret, method, path, timestamp, nonce, body)}


@dataclass(frozen=True)
class Signed:
    """A request whose signature and timestamp check out; the caller still has to refuse a seen nonce."""

    merchant: str
    timestamp: int
    nonce: str


class SignatureError(Exception):
    """Why a request was refused: `code` is SIGNATURE_MISSING, SIGNATURE_INVALID or TIMESTAMP_STALE."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return (value or "").strip()


def verify(secrets_by_merchant: Mapping[str, str], headers: Mapping[str, str], method: str, path: str, body: bytes,
           *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> Signed:
    """Check the signature headers of a request; raises SignatureError. `path` includes the query string."""
    merchant, timestamp, nonce, sig = (_header(headers, name) for name in (MERCHANT, TIMESTAMP, NONCE, SIGNATURE))
    if not (merchant and timestamp and nonce and sig):
        raise SignatureError("SIGNATURE_MISSING")
    secret = secrets_by_merchant.get(merchant)
    if (secret is None or not timestamp.isdigit() or len(timestamp) > 12 or NONCE_PATTERN.fullmatch(nonce) is None
            or not hmac.compare_digest(signature(secret, method, path, timestamp, nonce, body), sig.lower())):
        raise SignatureError("SIGNATURE_INVALID")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise SignatureError("TIMESTAMP_STALE")
    return Signed(merchant, int(timestamp), nonce)


__all__ = ["MERCHANT", "NONCE", "SIGNATURE", "TIMESTAMP", "TOLERANCE_SECONDS", "SignatureError", "Signed",
           "canonical", "new_nonce", "request_target", "sign", "signature", "verify"]
