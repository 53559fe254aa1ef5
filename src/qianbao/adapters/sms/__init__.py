"""The SMS gateway: what the notices worker needs from an SMS provider, and the factory that picks one.

A gateway takes an idempotency key (`message_id`) with every message and sends a given key at most once,
however often it is called with it: the outbox may hand the same message over again after a crash
between "sent" and "marked sent", and the reader must still get one text.

Failures come in two kinds. `SmsTransientError` (provider down, timeout, throttled) is worth retrying
later; `SmsPermanentError` (not a mainland mobile number, text too long) will fail the same way every
time, so the outbox dead-letters the message at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from qianbao.errors import QianbaoError
from qianbao.identity import parse_mobile

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from qianbao.adapters.sms.models import SandboxSmsMessage
    from qianbao.db import Database
    from qianbao.settings import Settings

# Long texts are split into several billed segments by carriers; past this the text is a bug upstream.
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    # True when the gateway had already accepted this message_id and did not send it again.
    duplicate: bool = False


class SmsError(Exception):
    """A refusal or failure from the gateway; `reason` is a short stable code for logs and the outbox."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SmsTransientError(SmsError):
    """Try again later: the same message may well go through."""


class SmsPermanentError(SmsError):
    """Do not retry: the same message will always be refused."""


class SmsGateway(Protocol):
    def send(self, message_id: str, phone: str, text: str) -> SendResult:
        """Send `text` to `phone` once per `message_id`; raise SmsTransientError or SmsPermanentError."""
        ...


def recipient(phone: str) -> str:
    """The E.164 form (+8613812345678) of a mainland China mobile number; SmsPermanentError otherwise.

    The wallet's one mobile-number rule (`qianbao.identity.parse_mobile`) decides, so a number the app
    accepts is one the gateway delivers to, and a landline or a foreign number is refused for good.
    """
    try:
        return parse_mobile(phone)
    except QianbaoError as exc:
        if exc.code != "PHONE_INVALID":
            raise
        raise SmsPermanentError("PHONE_INVALID", "not a mainland China mobile number") from None


def gateway_from_settings(settings: Settings, db: Database) -> SmsGateway:
    """The gateway named by QIANBAO_SMS_GATEWAY ("dev" keeps messages in this database)."""
    if settings.sms_gateway == "dev":
        from qianbao.adapters.sms.dev import DevSmsGateway

        return DevSmsGateway(db, latency_ms=settings.sms_latency_ms, failure_rate=settings.sms_failure_rate)
    raise ValueError(f"unknown SMS gateway {settings.sms_gateway!r}")


def latest_messages(session: Session, phone: str | None = None, limit: int = 50) -> list[SandboxSmsMessage]:
    """Messages the dev gateway has sent, newest first, optionally to one phone (any common spelling).

    A `phone` that is not a mainland mobile number matches nothing: the gateway never sends to one.
    """
    from qianbao.adapters.sms.dev import latest_messages as _latest

    return _latest(session, phone=phone, limit=limit)
