"""Fixtures of the merchants tests (the helpers live in merchant_helpers.py)."""

from merchant_helpers import shop  # noqa: F401

from common_fixtures import _keys, clock, settings  # noqa: F401
