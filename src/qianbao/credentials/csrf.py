"""CSRF protection: a synchronizer token tied to the signed-in session (or, before sign-in, to the device).

    token = csrf_token(user_session)        # put in every form as a hidden field (and htmx's header)
    verify_csrf(user_session, submitted)    # on every state-changing request; CSRF_FAILED otherwise

The token is HMAC-SHA256 of the session's public id under a key derived from the keyring, so nothing
needs storing, it changes whenever the session is rotated (sign-in), and a token from one session is
worthless in another. Forms shown before sign-in (sign-in, registration, forgotten password) bind the
token to the device cookie's id instead: `csrf_token(device_id)`. SameSite=Lax cookies already stop most
cross-site posts; the token covers the rest (older browsers, same-site subdomains, top-level GETs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from qianbao.credentials.base import derived_key
from qianbao.credentials.models import UserSession
from qianbao.errors import QianbaoError

FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def _binding(bound_to: UserSession | str) -> bytes:
    if isinstance(bound_to, UserSession):
        return b"session\x00" + bound_to.public_id.encode()
    if not bound_to:
        raise ValueError("a CSRF token needs a session or a device id")
    return b"device\x00" + bound_to.encode()


def csrf_token(bound_to: UserSession | str) -> str:
    """The form token for a signed-in session, or for a device id before sign-in."""
    digest = hmac.new(derived_key("csrf"), _binding(bound_to), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_csrf(bound_to: UserSession | str | None, token: str | None) -> None:
    """CSRF_FAILED unless `token` is the one `csrf_token` gives for the same session or device."""
    if bound_to is None or not token:
        raise QianbaoError("CSRF_FAILED")
    if not hmac.compare_digest(csrf_token(bound_to).encode(), token.encode()):
        raise QianbaoError("CSRF_FAILED")
