"""Keyed look-up hashes: find an encrypted value (unique constraint, index) without decrypting it.

`lookup_hash("id_number", "11010519491231002x")` is HMAC-SHA256 under the keyring's hash key over
`<kind>\\x00<normalised value>`, as 64 hex characters (store it in `String(64)`, `LOOKUP_HASH_LENGTH`).
The kind is part of the message so that a phone number and a card number made of the same digits
never share a hash. Being keyed, a leaked database does not let anyone confirm a guessed ID number
by hashing it: the hash key lives in the key file, not in the database.

Normalisation makes the spellings people type hash alike:
    id_number  spaces removed, upper case (the final check character `x` → `X`)
    phone      digits only; a leading 86 / 0086 country code dropped from a 13/15-digit mainland number
    card       digits only
    name       Unicode NFKC, surrounding spaces removed, inner runs of spaces collapsed to one
    email      surrounding spaces removed, lower case
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from typing import Literal

from qianbao.pii.keyring import Keyring, current_keyring

LOOKUP_HASH_LENGTH = 64

Kind = Literal["id_number", "phone", "card", "name", "email"]

_NON_DIGITS = re.compile(r"\D")
_SPACES = re.compile(r"\s+")


def normalise_id_number(value: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", value)).upper()


def normalise_phone(value: str) -> str:
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", value))
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normalise_card(value: str) -> str:
    return _NON_DIGITS.sub("", unicodedata.normalize("NFKC", value))


def normalise_name(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def normalise_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()


NORMALISERS: dict[str, Callable[[str], str]] = {
    "id_number": normalise_id_number,
    "phone": normalise_phone,
    "card": normalise_card,
    "name": normalise_name,
    "email": normalise_email,
}


def normalise(kind: Kind, value: str) -> str:
    try:
        return NORMALISERS[kind](value)
    except KeyError:
        raise ValueError(f"unknown look-up hash kind {kind!r}; one of {sorted(NORMALISERS)}") from None


def lookup_hash(kind: Kind, value: str, ring: Keyring | None = None) -> str:
    """HMAC-SHA256 (hex) of the normalised value under the hash key of the installed keyring."""
    message = f"{kind}\x00{normalise(kind, value)}".encode()
    key = (ring or current_keyring()).hash_key
    return hmac.new(key, message, hashlib.sha256).hexdigest()
