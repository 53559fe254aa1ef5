"""HMAC-SHA256 request signatures, one scheme both ways: the merchant signs its API requests, Qianbao signs
the notifications it posts to the merchant (docs/merchants.md, "Signatures").

    string to sign = METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" BODY
    signature      = lowercase hex HMAC-SHA256(secret, string to sign as UTF-8 bytes; BODY as sent)

METHOD upper case; PATH the request target's path with its query string (`/api/merchant/v1/orders?limit=5`);
TIMESTAMP Unix seconds; NONCE 16-64 characters of [A-Za-z0-9_-], never used twice by one merchant; BODY
the raw request body (empty for GET). Headers:

    X-Qianbao-Merchant   the merchant id (merchant_no)
    X-Qianbao-Key        the API key (API requests only)
    X-Qianbao-Timestamp  X-Qianbao-Nonce  X-Qianbao-Signature
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

HEADER_MERCHANT = "X-Qianbao-Merchant"
HEADER_KEY = "X-Qianbao-Key"
HEADER_TIMESTAMP = "X-Qianbao-Timestamp"
HEADER_NONCE = "X-Qianbao-Nonce"
HEADER_SIGNATURE = "X-Qianbao-Signature"
# A request whose timestamp is further than this from the server's clock is refused as stale; nonces are
# remembered at least twice as long, so a replay is refused either as stale or as a replay.
WINDOW_SECONDS = 300
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n".encode() + body


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signature_matches(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes,
                      signature: str) -> bool:
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, signature.strip().lower())


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def signed_headers(merchant_no: str, secret: str, method: str, path: str, body: bytes, *,
                   api_key: str | None = None, timestamp: int | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """The headers of a signed request (what a merchant's client sends; what our notifications carry)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or new_nonce()
    headers = {
        HEADER_MERCHANT: merchant_no,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: once,
        HEADER_SIGNATURE: sign(secret, method, path, ts, once, body),
    }
    if api_key is not None:
        headers[HEADER_KEY] = api_key
    return headers


def header(headers: Mapping[str, str], name: str) -> str:
    return (headers.get(name) or headers.get(name.lower()) or "").strip()


def api_key_hash(api_key: str) -> str:
    """API keys are 32 random bytes: a plain SHA-256 is enough to find one without storing it."""
    return hashlib.sha256(api_key.encode()).hexdigest()
