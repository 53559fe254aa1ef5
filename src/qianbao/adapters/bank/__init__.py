"""The bank connector (SPEC §5, §6.2, §12): what the wallet asks of a bank, over HTTP, and the bank's callbacks.

    bins          the BIN table: lookup(number) -> BinInfo(bank_code, card_type), bank(code) -> Bank(name_zh, name_en),
                  luhn_valid, valid_card_number, card_number(prefix, length, serial)
    connector     BankConnector (Protocol) and its results: BindingChallenge(ref, masked_phone, expires_at),
                  CardToken(token, bank_code, card_type, last4), Accepted(bank_ref, key, status, replayed),
                  BankOperation (query); refusals are QianbaoError BANK_* (see connector.BANK_CODES)
    http          HttpBankConnector.from_settings(settings): signed requests, timeouts, retries with the same key
    signing       the HMAC-SHA256 request signature used both ways (timestamp, nonce, method, path, body digest)
    callbacks     register(kind, handler) for the bank's results; the endpoint is qianbao.api.bank_callbacks

`connector_for(settings)` gives the configured connector. docs/sandbox-bank.md describes the protocol and the
sandbox bank (`qianbao sandbox-bank serve`) that implements the bank's side.
"""

from __future__ import annotations

from qianbao.adapters.bank.connector import (
    Accepted,
    BankConnector,
    BankOperation,
    BindingChallenge,
    CardToken,
    bank_error,
    failure_reason,
)
from qianbao.settings import Settings


def connector_for(settings: Settings) -> BankConnector:
    """The bank connector the settings name (the HTTP connector to QIANBAO_BANK_URL)."""
    from qianbao.adapters.bank.http import HttpBankConnector

    return HttpBankConnector.from_settings(settings)


__all__ = ["Accepted", "BankConnector", "BankOperation", "BindingChallenge", "CardToken", "bank_error",
           "connector_for", "failure_reason"]
