"""Fixtures of the ledger tests (the helpers themselves live in ledger_helpers.py)."""

from ledger_helpers import chart, funded  # noqa: F401
