"""Fixtures of the wallets tests (the helpers themselves live in wallet_helpers.py)."""

from wallet_helpers import _keys, clock, h, jpeg, png, settings, verifier  # noqa: F401
