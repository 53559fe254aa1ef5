"""Helpers and fixtures for the wallets tests: photos, a verifier, openings (cheap argon2 and the frozen clock
come from tests/common_fixtures.py).

Helpers open wallets through the domain's own functions (never raw inserts), each step in its own unit
of work like a web request would.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import time_machine
from PIL import Image
from sqlalchemy import func, select

from qianbao import wallets
from qianbao.adapters.identity import VerificationResult, VerifierUnavailable
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.audit.models import AuditEntry
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

TELLER = 101
OTHER_TELLER = 102
SUPERVISOR = 201
OPERATOR = 301
BRANCH = 1
OTHER_BRANCH = 2
PASSWORD = "Lantern-Harbour-42"
PIN = "258036"

# Sandbox register people (qianbao.adapters.identity.citizens) and numbers by the sandbox's rules.
LI_MING = ("李明", "440305199210110058")  # match; card valid until 2039
WANG_XIUYING = ("王秀英", "11010519491231002X")  # match; long-term card
ZHOU_JIANGUO = ("周建国", "320102196510019132")  # sequence 913: unsure
ZHAO_XIAOYU = ("赵小雨", "330106201006010084")  # a minor until 2028-06-01
LI_MIN_WRONG_NAME = ("李敏", "440305199210110058")  # the register says 李明: mismatch
VALID_UNTIL = date(2039, 3, 1)


@pytest.fixture
def verifier() -> SandboxIdentityVerifier:
    return SandboxIdentityVerifier(latency_ms=0)


class DownVerifier:
    """The identity service is down: every call fails."""

    def verify(self, name: str, id_number: str) -> VerificationResult:
        raise VerifierUnavailable("unavailable")


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (640, 400), color: str = "#d8e4f0") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def jpeg() -> bytes:
    return image_bytes("JPEG")


@pytest.fixture
def png() -> bytes:
    return image_bytes("PNG", color="#f0e4d8")


def audit_count(db: Database, outcome: str | None = None, action: str | None = None) -> int:
    with db.read() as session:
        stmt = select(func.count()).select_from(AuditEntry)
        if outcome is not None:
            stmt = stmt.where(AuditEntry.outcome == outcome)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        return int(session.scalar(stmt) or 0)


def count(db: Database, model: Any) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass
class Opened:
    customer_id: int
    wallet_id: int
    number: str
    phone: str


@dataclass
class Harness:
    """Runs domain functions each in their own unit of work, as the web layer would."""

    db: Database
    settings: Settings
    verifier: Any

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with wallets.audited(self.db, action="test.step", actor=wallets_actor()) as session:
            return fn(session, *args, **kwargs)

    def refusal(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            self.run(fn, *args, **kwargs)
        return caught.value

    def register(self, phone: str, password: str = PASSWORD) -> Opened:
        issued = self.run(wallets.start_registration, phone, "10.0.0.1", "zh-CN", settings=self.settings)
        customer, wallet = self.run(wallets.complete_registration, phone, issued.code, password, True,
                                    settings=self.settings)
        return Opened(customer.id, wallet.id, wallet.number, customer.phone)

    def real_name(self, opened: Opened, person: tuple[str, str], valid_until: date | None = VALID_UNTIL,
                  front: bytes | None = None, back: bytes | None = None, verifier: Any = None) -> Any:
        return self.run(
            wallets.submit_real_name, opened.customer_id, person[0], person[1], valid_until,
            front or image_bytes("JPEG"), back or image_bytes("PNG"), verifier=verifier or self.verifier,
            settings=self.settings,
        )

    def counter(self, person: tuple[str, str], phone: str, *, teller: int = TELLER, branch: int = BRANCH,
                valid_until: date | None = VALID_UNTIL, verifier: Any = None) -> Any:
        return self.run(
            wallets.counter_application, teller, branch, person[0], person[1], phone,
            wallets.ManualIdCard(valid_until=valid_until, physical_card_checked=True), image_bytes("JPEG"),
            verifier=verifier or self.verifier, settings=self.settings,
        )

    def open_at_counter(self, person: tuple[str, str], phone: str) -> tuple[Any, Any]:
        application = self.counter(person, phone)
        if application.status == "awaiting_supervisor":
            self.run(wallets.approve_application, application.id, SUPERVISOR)
        code = self.run(wallets.pinpad_pairing_code, application.id)
        pairing = self.run(wallets.pair_pinpad, code.code, ip="10.1.1.1")
        return self.run(wallets.complete_counter_opening, pairing.token, PASSWORD, PIN, settings=self.settings)


def wallets_actor() -> Any:
    from qianbao.audit import Actor

    return Actor("customer")


@pytest.fixture
def h(db: Database, settings: Settings, verifier: SandboxIdentityVerifier, clock: time_machine.Traveller) -> Harness:
    return Harness(db, settings, verifier)
