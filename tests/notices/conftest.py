"""Fixtures for the outbox tests: a keyring, gateways that fail on cue or record every call."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from qianbao.adapters.sms import SendResult, SmsTransientError
from qianbao.adapters.sms.dev import DevSmsGateway
from qianbao.adapters.sms.models import SandboxSmsMessage
from qianbao.db import Database
from qianbao.notices.models import OutboxMessage
from qianbao.pii.keyring import Keyring


@pytest.fixture(autouse=True)
def _keys(keyring: Keyring) -> Keyring:
    """Every notices test runs with a keyring installed: payloads and the dev gateway's rows are encrypted."""
    return keyring


class ScriptedGateway:
    """The dev gateway behind a script: fail transiently the first `failures` calls, record every call."""

    def __init__(self, inner: DevSmsGateway, failures: int = 0, before_send: Callable[[], None] | None = None):
        self.inner = inner
        self.failures = failures
        self.before_send = before_send
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def send(self, message_id: str, phone: str, text: str) -> SendResult:
        with self._lock:
            self.calls.append(message_id)
            fail = self.failures > 0
            if fail:
                self.failures -= 1
        if fail:
            raise SmsTransientError("GATEWAY_UNAVAILABLE", "scripted failure")
        if self.before_send is not None:
            self.before_send()
        return self.inner.send(message_id, phone, text)


@pytest.fixture
def dev_gateway(db: Database) -> DevSmsGateway:
    return DevSmsGateway(db)


@pytest.fixture
def scripted(dev_gateway: DevSmsGateway) -> Callable[..., ScriptedGateway]:
    def make(failures: int = 0, before_send: Callable[[], None] | None = None) -> ScriptedGateway:
        return ScriptedGateway(dev_gateway, failures, before_send)

    return make


@pytest.fixture
def sandbox_texts(db: Database) -> Callable[[], list[tuple[str, str]]]:
    """(phone in E.164, text) of every message the dev gateway holds, oldest first."""

    def read() -> list[tuple[str, str]]:
        with db.read() as session:
            rows = session.execute(
                select(SandboxSmsMessage.phone, SandboxSmsMessage.text).order_by(SandboxSmsMessage.id)
            )
            return [(r[0], r[1]) for r in rows]

    return read


@pytest.fixture
def outbox_row(db: Database) -> Callable[[int], OutboxMessage]:
    def read(message_id: int) -> OutboxMessage:
        with db.read() as session:
            row = session.get(OutboxMessage, message_id)
            assert row is not None
            return row

    return read

