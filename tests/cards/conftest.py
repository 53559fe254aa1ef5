"""Fixtures of the cards tests (the helpers live in card_helpers.py)."""

from card_helpers import _keys, cards, desk_bank, settings  # noqa: F401
