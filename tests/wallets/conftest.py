"""Fixtures of the wallets tests (the helpers themselves live in wallet_helpers.py)."""

from wallet_helpers import h, jpeg, png, verifier  # noqa: F401

from common_fixtures import _keys, clock, settings  # noqa: F401
