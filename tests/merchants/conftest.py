"""Fixtures of the merchants tests (the helpers live in merchant_helpers.py)."""

from merchant_helpers import _keys, clock, settings, shop  # noqa: F401
