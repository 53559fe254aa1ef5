"""Helpers of the ops console tests (tests/web/test_ops_*.py): customers, wallets and real-name submissions
made through the domain's own functions, each step in its own unit of work as a web request would do it,
and the small readers the tests share (audit entries, page text, form posts)."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from typing import Any

from PIL import Image
from sqlalchemy import select
from stdnum.cn import ric

from qianbao import ledger, wallets
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.audit.models import AuditEntry
from qianbao.db import Database
from qianbao.settings import Settings

HTML = {"accept": "text/html"}
PASSWORD = "Lantern-Harbour-42"
# Sandbox register people (qianbao.adapters.identity.citizens): the verifier matches them.
LI_MING = ("李明", "440305199210110058")
ZHOU_JIANGUO = ("周建国", "320102196510019132")  # sequence 913: the verifier is unsure

_phones = count(13700000001)
_sequences = count()


def cheap_argon2(settings: Settings) -> Settings:
    """The shared test settings with argon2 made cheap: no rule here depends on its cost."""
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


def photo(color: str = "#d8e4f0", fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(buffer, format=fmt)
    return buffer.getvalue()


def unsure_id_number() -> str:
    """A fresh valid resident ID number whose sequence (900-989) makes the sandbox verifier unsure."""
    n = next(_sequences)
    body = f"110105{date(1990, 1, 1) + timedelta(days=n // 90):%Y%m%d}{900 + n % 90}"
    return body + ric.calc_check_digit(body + "0")


@dataclass(frozen=True)
class Holder:
    customer_id: int
    wallet_id: int
    phone: str
    number: str


def register(db: Database, settings: Settings, phone: str | None = None) -> Holder:
    """A tier-4 wallet opened in the app (mobile, SMS code, password, terms)."""
    phone = phone or str(next(_phones))
    with db.transaction() as session:
        issued = wallets.start_registration(session, phone, None, "zh-CN", send=False, settings=settings)
    with db.transaction() as session:
        customer, wallet = wallets.complete_registration(session, phone, issued.code, PASSWORD, True,
                                                         settings=settings)
        return Holder(customer.id, wallet.id, phone, wallet.number)


def submit(db: Database, settings: Settings, holder: Holder, name: str, id_number: str,
           front: bytes | None = None, back: bytes | None = None) -> tuple[int, str]:
    """A real-name submission; (submission id, status) as the sandbox verifier decided."""
    with db.transaction() as session:
        submission = wallets.submit_real_name(
            session, holder.customer_id, name, id_number, None, front or photo(), back or photo("#f0e4d8", "PNG"),
            verifier=SandboxIdentityVerifier(latency_ms=0), settings=settings,
        )
        return submission.id, submission.status


def pending(db: Database, settings: Settings, name: str = "周建国", id_number: str | None = None,
            **photos: bytes) -> tuple[Holder, int]:
    """A holder whose real-name submission waits in the review queue."""
    holder = register(db, settings)
    submission_id, status = submit(db, settings, holder, name, id_number or unsure_id_number(), **photos)
    assert status == "pending"
    return holder, submission_id


def top_up(db: Database, wallet_id: int, amount: int) -> None:
    with db.transaction() as session:
        bank = ledger.ensure_account(session, "bank_clearing", "BC-OPS-TEST")
        account = wallets.get_wallet(session, wallet_id).ledger_account_id
        ledger.create_transfer(session, key=uuid.uuid4().hex, debit=bank.id, credit=account, amount=amount,
                               code="topup")


def audit_entries(db: Database, action: str, outcome: str | None = None) -> list[AuditEntry]:
    with db.read() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == action)
        if outcome:
            stmt = stmt.where(AuditEntry.outcome == outcome)
        return list(session.scalars(stmt.order_by(AuditEntry.seq)))


def post(client: Any, path: str, **data: str) -> Any:
    return client.post(path, headers=HTML, data={**data, "csrf_token": client.csrf_token}, follow_redirects=False)


def visible(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, white space collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def error_code(response: Any) -> str | None:
    match = re.search(r'data-code="([A-Z_]+)"', response.text)
    return match.group(1) if match else None
