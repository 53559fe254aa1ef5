"""Checks that need no database: amounts, keys, codes, timeouts, and the canonical form of a request.

The canonical form (a tuple) is what an idempotency key is bound to: the same key with the same
canonical request is a retry; with any other it is a misuse of the key.
"""

from __future__ import annotations

import json
import re
from hashlib import blake2b
from typing import Any

from qianbao.errors import QianbaoError
from qianbao.ledger.types import NewTransfer, PostPending, Request, Reverse, VoidPending

MAX_FEN = 2**63 - 1
KEY_MAX_LENGTH = 128
REFERENCE_MAX_LENGTH = 64
USER_DATA_MAX_LENGTH = 2_000
# A hold may wait at most a year: long enough for any settlement cycle, short enough to notice a bug.
TIMEOUT_MAX_SECONDS = 366 * 24 * 3600
_CODE = re.compile(r"[A-Za-z0-9_.:\-]{1,32}")
# Codes that passed the pattern once: the engine's fast path checks membership instead of matching.
KNOWN_CODES: set[str] = set()


def check_amount(value: Any) -> int:
    """An amount is a plain int of fen in 1..2**63-1; bools, floats, Decimals and strings are not."""
    if type(value) is int and 0 < value <= MAX_FEN:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise QianbaoError("AMOUNT_INVALID")
    if value <= 0:
        raise QianbaoError("AMOUNT_NOT_POSITIVE")
    raise QianbaoError("AMOUNT_TOO_LARGE")


def check_key(key: Any) -> str:
    if type(key) is str and 0 < len(key) <= KEY_MAX_LENGTH and not key.isspace():
        return key
    if key is None or (isinstance(key, str) and not key.strip()):
        raise QianbaoError("IDEMPOTENCY_KEY_MISSING")
    raise QianbaoError("LEDGER_IDEMPOTENCY_KEY_INVALID", max=KEY_MAX_LENGTH)


def check_code(code: Any) -> str:
    if type(code) is str and _CODE.fullmatch(code):
        if len(KNOWN_CODES) < 1_000:  # transfer codes are a small vocabulary; remember the good ones
            KNOWN_CODES.add(code)
        return code
    raise QianbaoError("LEDGER_TRANSFER_CODE_INVALID")


def check_reference(reference: Any) -> str | None:
    if reference is None or (type(reference) is str and len(reference) <= REFERENCE_MAX_LENGTH):
        return reference
    raise QianbaoError("LEDGER_REFERENCE_INVALID", max=REFERENCE_MAX_LENGTH)


def check_account_id(value: Any) -> int:
    if type(value) is int and value > 0:
        return value
    raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(value)[:40])


def user_data_json(user_data: Any) -> str | None:
    """User data is a small JSON object; it is stored as given and compared in canonical form."""
    if user_data is None:
        return None
    if not isinstance(user_data, dict):
        raise QianbaoError("LEDGER_USER_DATA_INVALID", max=USER_DATA_MAX_LENGTH)
    try:
        text = json.dumps(user_data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QianbaoError("LEDGER_USER_DATA_INVALID", max=USER_DATA_MAX_LENGTH) from exc
    if len(text) > USER_DATA_MAX_LENGTH:
        raise QianbaoError("LEDGER_USER_DATA_INVALID", max=USER_DATA_MAX_LENGTH)
    return text


def check_timeout(item: NewTransfer) -> int | None:
    timeout = item.timeout
    if timeout is None:
        return None
    if not item.pending or type(timeout) is not int or not 0 < timeout <= TIMEOUT_MAX_SECONDS:
        raise QianbaoError("LEDGER_TIMEOUT_INVALID", max=TIMEOUT_MAX_SECONDS)
    return timeout


def canonical(item: Request) -> tuple[Any, ...]:
    """Validate one request on its own and return the tuple its idempotency key is bound to."""
    if type(item) is NewTransfer:
        # The common shape, checked in one go; anything else takes the detailed path below.
        key, debit, credit, amount, code, reference = (
            item.key, item.debit, item.credit, item.amount, item.code, item.reference)
        if (type(key) is str and 0 < len(key) <= KEY_MAX_LENGTH and type(debit) is int and type(credit) is int
                and 0 < debit != credit > 0 and type(amount) is int and 0 < amount <= MAX_FEN
                and code in KNOWN_CODES and item.user_data is None and item.pending is False
                and item.timeout is None and (reference is None or (type(reference) is str
                                                                    and len(reference) <= REFERENCE_MAX_LENGTH))
                and not key.isspace()):
            return ("T", debit, credit, amount, code, reference, None, False, None)
    check_key(item.key)
    if isinstance(item, NewTransfer):
        debit = check_account_id(item.debit)
        credit = check_account_id(item.credit)
        amount = check_amount(item.amount)
        code = check_code(item.code)
        reference = check_reference(item.reference)
        data = user_data_json(item.user_data)
        if type(item.pending) is not bool:
            raise QianbaoError("LEDGER_REQUEST_INVALID")
        timeout = check_timeout(item)
        if debit == credit:
            raise QianbaoError("LEDGER_SAME_ACCOUNT")
        return ("T", debit, credit, amount, code, reference, data, item.pending, timeout)
    if isinstance(item, PostPending):
        part = None if item.amount is None else check_amount(item.amount)
        return ("P", _transfer_id(item.pending_id), part)
    if isinstance(item, VoidPending):
        return ("V", _transfer_id(item.pending_id))
    if isinstance(item, Reverse):
        reversal_code = None if item.code is None else check_code(item.code)
        return ("R", _transfer_id(item.transfer_id), reversal_code, check_reference(item.reference))
    raise QianbaoError("LEDGER_REQUEST_INVALID")


def _transfer_id(value: Any) -> int:
    if type(value) is int and value > 0:
        return value
    raise QianbaoError("LEDGER_TRANSFER_NOT_FOUND", transfer=str(value)[:40])


def request_hash(form: tuple[Any, ...], chain: list[tuple[Any, ...]] | None = None, position: int = 0) -> bytes:
    """16 bytes binding a key to its request and, inside a linked chain, to the whole chain."""
    subject = form if chain is None else (position, tuple(chain))
    return blake2b(repr(subject).encode(), digest_size=16).digest()
