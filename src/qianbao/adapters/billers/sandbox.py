"""The sandbox billers: a bill-payment gateway for four Shanghai utilities, answering by documented rules.

Billers it serves (code → category, reference format):

    SH-WATER   上海市自来水         water        10-digit account number, Luhn check digit
    SH-POWER   国网上海市电力公司   electricity  10-digit account number, Luhn check digit
    SH-GAS     上海燃气             gas          9-digit account number, Luhn check digit
    CT-MOBILE  中国电信             telecom      an 11-digit China Telecom mobile number

Accounts are decided by one digit of the reference (the first digit; for a mobile number the first digit
after its 3-digit range), so that tests and the demo can pick the case they need:

    9   no such account                                   lookup/pay: BILL_REFERENCE_UNKNOWN
    8   the account is paid up                            lookup: nothing due (amount 0)
    7   the biller refuses payments (account in dispute)  pay: BILLER_REFUSED, nothing recorded
    6   the biller's answer to a payment is lost           pay: the payment is recorded, then
                                                          BillerUnavailable("timeout"); the same
                                                          payment_reference again gets the confirmation
    other digits: a bill is due

Every account has one bill per month: on a look-up the biller issues the bill for the previous
(Asia/Shanghai) month if it has not yet, due on the 25th of the current month, for an amount drawn from a
hash of the account and the month (in a range typical for the category). The oldest unpaid bill is what
is due. A bill is paid once: exactly its amount, quoting its bill number.

Like a real gateway it takes time (`latency_ms`, `sleep` injectable), gives up after `timeout_ms` (a latency
above the timeout is a timeout: for a payment, recorded but unanswered), and fails now and then
(`failure_rate`, before the request reaches the biller: BillerUnavailable("unavailable")).
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.adapters.billers import BillDue, BillerUnavailable, PaymentConfirmation
from qianbao.adapters.billers.models import SandboxBill
from qianbao.adapters.billers.references import TELECOM, normalise
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.money import format_fen
from qianbao.pii.masking import mask_name

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE_DAY = 25

UNKNOWN_DIGIT = "9"
PAID_UP_DIGIT = "8"
REFUSING_DIGIT = "7"
LOST_ANSWER_DIGIT = "6"


@dataclass(frozen=True)
class SandboxBiller:
    code: str
    category: str
    reference_format: str
    amount_range: tuple[int, int]  # fen, inclusive


SANDBOX_BILLERS: dict[str, SandboxBiller] = {
    biller.code: biller for biller in (
        SandboxBiller("SH-WATER", "water", "luhn10", (1_850, 16_800)),
        SandboxBiller("SH-POWER", "electricity", "luhn10", (6_020, 42_550)),
        SandboxBiller("SH-GAS", "gas", "luhn9", (2_910, 21_330)),
        SandboxBiller("CT-MOBILE", "telecom", TELECOM, (3_900, 19_900)),
    )
}

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("建华", "秀英", "志强", "丽娟", "海燕", "文杰", "晓明", "桂芳", "永红", "子涵", "浩然", "雨婷")


def class_digit(biller: SandboxBiller, reference: str) -> str:
    return reference[3] if biller.reference_format == TELECOM else reference[0]


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big")


def holder_of(biller_code: str, reference: str) -> str:
    """The (unmasked) account holder the sandbox biller has on file for this account."""
    n = _digest("holder", reference)
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // 97) % len(_GIVEN)]


def billing_period(now: datetime) -> tuple[str, date]:
    """(the month billed, its due date) for a look-up at `now`: last month, due the 25th of this one."""
    local = now.astimezone(SHANGHAI).date()
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}", date(local.year, local.month, DUE_DAY)


def bill_amount(biller: SandboxBiller, reference: str, period: str) -> int:
    low, high = biller.amount_range
    return low + _digest("amount", biller.code, reference, period) % (high - low + 1)


class SandboxBillers:
    def __init__(
        self,
        db: Database,
        *,
        latency_ms: int = 0,
        timeout_ms: int = 5000,
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.latency_ms = latency_ms
        self.timeout_ms = timeout_ms
        self.failure_rate = failure_rate
        self.rng = rng or random.Random()
        self.sleep = sleep

    # ---- the two questions -------------------------------------------------------------------------

    def lookup(self, biller_code: str, reference: str) -> BillDue:
        biller, reference = self._account(biller_code, reference)
        self._reach()
        if self.latency_ms > self.timeout_ms:
            self.sleep(self.timeout_ms / 1000)
            raise BillerUnavailable("timeout")
        self._wait()
        digit = class_digit(biller, reference)
        if digit == UNKNOWN_DIGIT:
            raise QianbaoError("BILL_REFERENCE_UNKNOWN")
        holder = holder_of(biller.code, reference)
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            if digit != PAID_UP_DIGIT:
                period, due = billing_period(now)
                self._issue(session, biller.code, reference, period, bill_amount(biller, reference, period), due,
                            holder, now)
            bill = session.scalars(
                select(SandboxBill).where(SandboxBill.biller_code == biller.code, SandboxBill.reference == reference,
                                          SandboxBill.paid_at.is_(None))
                .order_by(SandboxBill.period).limit(1)
            ).first()
            if bill is None:
                return BillDue(biller.code, reference, mask_name(holder), 0, None, None, None)
            return BillDue(biller.code, reference, mask_name(bill.holder_name), bill.amount, bill.period,
                           bill.due_date, bill.bill_id)

    def pay(self, biller_code: str, reference: str, *, bill_id: str, amount: int,
            payment_reference: str) -> PaymentConfirmation:
        biller, reference = self._account(biller_code, reference)
        self._reach()
        digit = class_digit(biller, reference)
        with self.db.transaction() as session:
            earlier = session.scalars(
                select(SandboxBill).where(SandboxBill.payment_reference == payment_reference)
            ).first()
            if earlier is not None and earlier.paid_at is not None and earlier.confirmation is not None:
                self._wait_or_timeout()
                return PaymentConfirmation(earlier.confirmation, earlier.paid_at, duplicate=True)
            if digit == UNKNOWN_DIGIT:
                raise QianbaoError("BILL_REFERENCE_UNKNOWN")
            if digit == REFUSING_DIGIT:
                self._wait()
                raise QianbaoError("BILLER_REFUSED")
            bill = session.scalars(
                select(SandboxBill).where(SandboxBill.bill_id == bill_id, SandboxBill.biller_code == biller.code,
                                          SandboxBill.reference == reference)
            ).first()
            if bill is None:
                raise QianbaoError("BILL_REFERENCE_UNKNOWN")
            if bill.paid_at is not None:
                raise QianbaoError("BILL_ALREADY_PAID")
            if bill.amount != amount:
                raise QianbaoError("BILL_AMOUNT_MISMATCH", amount=format_fen(bill.amount, "zh-CN", symbol=False))
            now = datetime.now(UTC)
            confirmation = f"{biller.code.split('-')[-1][:2]}{now.astimezone(SHANGHAI):%Y%m%d}" \
                           f"{secrets.randbelow(10**10):010d}"
            result = session.execute(
                update(SandboxBill).where(SandboxBill.id == bill.id, SandboxBill.paid_at.is_(None))
                .values(paid_at=now, payment_reference=payment_reference, confirmation=confirmation)
            )
            if not getattr(result, "rowcount", 0):
                raise QianbaoError("BILL_ALREADY_PAID")
        # Recorded (committed) before the answer is sent: a lost or late answer leaves the payment made.
        if digit == LOST_ANSWER_DIGIT:
            self.sleep(self.timeout_ms / 1000)
            raise BillerUnavailable("timeout")
        self._wait_or_timeout()
        return PaymentConfirmation(confirmation, now)

    # ---- for the demo and tests: what the biller's own billing run would do ------------------------

    def issue_bill(self, biller_code: str, reference: str, *, amount: int, period: str, due_date: date,
                   holder_name: str | None = None) -> None:
        biller, reference = self._account(biller_code, reference)
        with self.db.transaction() as session:
            session.execute(delete(SandboxBill).where(
                SandboxBill.biller_code == biller.code, SandboxBill.reference == reference,
                SandboxBill.period == period, SandboxBill.paid_at.is_(None)))
            self._issue(session, biller.code, reference, period, amount, due_date,
                        holder_name or holder_of(biller.code, reference), datetime.now(UTC))

    # ---- the gateway's behaviour --------------------------------------------------------------------

    @staticmethod
    def _account(biller_code: str, reference: str) -> tuple[SandboxBiller, str]:
        biller = SANDBOX_BILLERS.get(biller_code)
        if biller is None:
            raise QianbaoError("BILLER_UNKNOWN", biller=biller_code[:32])
        return biller, normalise(biller.reference_format, reference)

    def _reach(self) -> None:
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise BillerUnavailable("unavailable")

    def _wait(self) -> None:
        if self.latency_ms:
            self.sleep(min(self.latency_ms, self.timeout_ms) / 1000)

    def _wait_or_timeout(self) -> None:
        if self.latency_ms > self.timeout_ms:
            self.sleep(self.timeout_ms / 1000)
            raise BillerUnavailable("timeout")
        self._wait()

    @staticmethod
    def _issue(session: Session, biller_code: str, reference: str, period: str, amount: int, due: date,
               holder: str, now: datetime) -> None:
        dialect = session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SandboxBill)
        serial = _digest("bill", biller_code, reference, period) % 10**10
        bill_id = f"{biller_code.split('-')[-1][:2]}{period.replace('-', '')}{serial:010d}"
        session.execute(insert.values(
            biller_code=biller_code, reference=reference, period=period, bill_id=bill_id, amount=amount,
            due_date=due, holder_name=holder, issued_at=now,
        ).on_conflict_do_nothing(index_elements=["biller_code", "reference", "period"]))
