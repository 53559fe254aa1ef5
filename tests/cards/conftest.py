"""Fixtures of the cards tests (the helpers live in card_helpers.py)."""

from card_helpers import _keys, bank_client, card_bank_process, cards, desk_bank, flow, settings  # noqa: F401
