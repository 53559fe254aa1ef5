"""Helpers of the sandbox bank's tests: people and cards, raw signed requests."""

from __future__ import annotations

import itertools
import json
import os
import time
from typing import Any

import httpx

from qianbao.adapters.bank import bins, signing
from qianbao.sandbox_bank.config import DEV_API_SECRET

MERCHANT = "QIANBAO-DEV"
NAME, ID_NUMBER, PHONE = "李明", "440305199210110058", "13800000003"
_SERIALS = itertools.count(500_000 + (os.getpid() % 1000) * 1000)


def new_card(bank: Any, *, balance: int = 100_000, prefix: str = "621799", card_type: str = "debit",
             frozen: bool = False, phone: str = PHONE) -> str:
    """A fresh card at the sandbox bank in the test holder's name; returns its number."""
    info = bins.lookup(prefix + "0" * 10)
    assert info is not None
    number = bins.card_number(prefix, 19 if card_type == "debit" else 16, next(_SERIALS))
    bank.create_card(NAME, ID_NUMBER, phone, bank_code=info.bank_code, card_type=card_type, balance=balance,
                     number=number, frozen=frozen)
    return number


def bind(bank: Any, connector: Any, number: str, phone: str = PHONE) -> Any:
    """Bind a card through the connector with the code the bank texted; the CardToken."""
    challenge = connector.start_binding(number, NAME, ID_NUMBER, phone)
    return connector.confirm_binding(challenge.ref, bank.latest_otp(phone))


def signed_request(url: str, method: str, path: str, payload: Any = None, *, secret: str = DEV_API_SECRET,
                   now: float | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """A raw request to the sandbox bank, signed (or not, with `headers` given) as the tests choose."""
    body = b"" if payload is None else json.dumps(payload).encode()
    sent = headers if headers is not None else signing.sign(secret, MERCHANT, method, path, body,
                                                           now=time.time() if now is None else now)
    return httpx.request(method, url + path, content=body or None,
                         headers={**sent, "content-type": "application/json"}, timeout=10)
