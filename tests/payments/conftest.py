"""Fixtures of the payments tests (the helpers live in payments_helpers.py; other modules may add theirs)."""

from bills_helpers import bills_client, bills_clock, kit, sandbox_billers  # noqa: F401
from payments_helpers import pay  # noqa: F401

from common_fixtures import _keys, clock, settings  # noqa: F401
