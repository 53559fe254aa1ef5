"""The sandbox billers behave like a bill-payment gateway: reference checks, latency, timeouts, failures,
one payment per bill, idempotent payment references (docs/bills-and-parcels.md)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine

from qianbao.adapters.billers import BillerUnavailable, adapter_from_settings
from qianbao.adapters.billers.references import mask_reference, normalise, with_check_digit
from qianbao.adapters.billers.sandbox import SANDBOX_BILLERS, SandboxBillers
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import Keyring
from qianbao.settings import Settings

DUE = with_check_digit("310012345")


@pytest.fixture(autouse=True)
def _clock(keyring: Keyring) -> Iterator[None]:
    with time_machine.travel(datetime(2026, 11, 10, 2, 0, tzinfo=UTC), tick=False):
        yield


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _billers(db: Database, **options) -> tuple[SandboxBillers, Sleeps]:  # type: ignore[no-untyped-def]
    sleeps = Sleeps()
    return SandboxBillers(db, sleep=sleeps, **options), sleeps


def _refused(fn, *args, **kwargs) -> QianbaoError:  # type: ignore[no-untyped-def]
    with pytest.raises(QianbaoError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_utility_references_carry_a_luhn_check_digit() -> None:
    assert normalise("luhn10", " 3100-1234 58 ") == "3100123458"
    assert _refused(normalise, "luhn10", "3100123459").code == "BILL_REFERENCE_INVALID"
    assert _refused(normalise, "luhn10", "310012345").code == "BILL_REFERENCE_INVALID"
    assert _refused(normalise, "luhn9", "31001234x").code == "BILL_REFERENCE_INVALID"


def test_telecom_bills_are_paid_by_a_china_telecom_mobile_number() -> None:
    assert normalise("telecom_mobile", "+86 189 1234 5678") == "18912345678"
    assert _refused(normalise, "telecom_mobile", "13812345678").code == "BILL_REFERENCE_INVALID"  # China Mobile
    assert _refused(normalise, "telecom_mobile", "1891234567").code == "BILL_REFERENCE_INVALID"


def test_references_are_masked_to_their_first_and_last_four_digits() -> None:
    assert mask_reference("3100123458") == "3100**3458"
    assert mask_reference("18912345678") == "1891***5678"


def test_the_sandbox_serves_water_electricity_gas_and_telecom() -> None:
    assert {biller.category for biller in SANDBOX_BILLERS.values()} == {"water", "electricity", "gas", "telecom"}


def test_a_lookup_answers_after_the_configured_latency(db: Database) -> None:
    billers, sleeps = _billers(db, latency_ms=120)
    due = billers.lookup("SH-WATER", DUE)
    assert sleeps == [0.12]
    assert due.amount > 0 and due.period == "2026-10" and due.due_date == date(2026, 11, 25)


def test_a_lookup_slower_than_the_timeout_is_a_timeout(db: Database) -> None:
    billers, sleeps = _billers(db, latency_ms=6_000, timeout_ms=5_000)
    with pytest.raises(BillerUnavailable) as caught:
        billers.lookup("SH-WATER", DUE)
    assert caught.value.reason == "timeout" and sleeps == [5.0]


def test_failures_happen_at_the_configured_rate(db: Database) -> None:
    billers, _ = _billers(db, failure_rate=0.5, rng=random.Random(7))
    outcomes = []
    for _ in range(40):
        try:
            billers.lookup("SH-WATER", DUE)
            outcomes.append("ok")
        except BillerUnavailable as exc:
            outcomes.append(exc.reason)
    assert set(outcomes) == {"ok", "unavailable"}
    assert 8 <= outcomes.count("unavailable") <= 32


def test_the_same_account_and_month_always_bill_the_same_amount(db: Database) -> None:
    billers, _ = _billers(db)
    first = billers.lookup("SH-POWER", DUE)
    assert billers.lookup("SH-POWER", DUE) == first
    low, high = SANDBOX_BILLERS["SH-POWER"].amount_range
    assert low <= first.amount <= high


def test_a_bill_is_paid_once_for_its_exact_amount(db: Database) -> None:
    billers, _ = _billers(db)
    due = billers.lookup("SH-WATER", DUE)
    assert due.bill_id is not None
    error = _refused(billers.pay, "SH-WATER", DUE, bill_id=due.bill_id, amount=due.amount + 1, payment_reference="P1")
    assert error.code == "BILL_AMOUNT_MISMATCH"
    paid = billers.pay("SH-WATER", DUE, bill_id=due.bill_id, amount=due.amount, payment_reference="P1")
    assert paid.confirmation and not paid.duplicate
    error = _refused(billers.pay, "SH-WATER", DUE, bill_id=due.bill_id, amount=due.amount, payment_reference="P2")
    assert error.code == "BILL_ALREADY_PAID"
    assert billers.lookup("SH-WATER", DUE).nothing_due


def test_the_same_payment_reference_gets_the_first_confirmation_again(db: Database) -> None:
    billers, _ = _billers(db)
    due = billers.lookup("SH-WATER", DUE)
    assert due.bill_id is not None
    first = billers.pay("SH-WATER", DUE, bill_id=due.bill_id, amount=due.amount, payment_reference="P1")
    again = billers.pay("SH-WATER", DUE, bill_id=due.bill_id, amount=due.amount, payment_reference="P1")
    assert again.duplicate and again.confirmation == first.confirmation


def test_a_lost_answer_is_recorded_and_confirmed_when_asked_again(db: Database) -> None:
    billers, sleeps = _billers(db, timeout_ms=5_000)
    reference = with_check_digit("610012345")
    due = billers.lookup("SH-WATER", reference)
    assert due.bill_id is not None
    with pytest.raises(BillerUnavailable) as caught:
        billers.pay("SH-WATER", reference, bill_id=due.bill_id, amount=due.amount, payment_reference="P1")
    assert caught.value.reason == "timeout" and sleeps == [5.0]
    again = billers.pay("SH-WATER", reference, bill_id=due.bill_id, amount=due.amount, payment_reference="P1")
    assert again.duplicate


def test_the_class_digit_decides_unknown_paid_up_and_refusing_accounts(db: Database) -> None:
    billers, _ = _billers(db)
    assert _refused(billers.lookup, "SH-WATER", with_check_digit("910012345")).code == "BILL_REFERENCE_UNKNOWN"
    assert billers.lookup("SH-WATER", with_check_digit("810012345")).nothing_due
    refusing = with_check_digit("710012345")
    due = billers.lookup("SH-WATER", refusing)
    assert due.bill_id is not None
    error = _refused(billers.pay, "SH-WATER", refusing, bill_id=due.bill_id, amount=due.amount, payment_reference="P")
    assert error.code == "BILLER_REFUSED"
    assert billers.lookup("SH-WATER", refusing).bill_id == due.bill_id


def test_an_unknown_biller_code_is_refused(db: Database) -> None:
    billers, _ = _billers(db)
    assert _refused(billers.lookup, "XX-NONE", DUE).code == "BILLER_UNKNOWN"


def test_the_holder_is_masked(db: Database) -> None:
    billers, _ = _billers(db)
    assert "*" in billers.lookup("SH-WATER", DUE).holder


def test_settings_choose_the_sandbox_with_its_latency(db: Database, settings: Settings) -> None:
    adapter = adapter_from_settings(settings.model_copy(update={"biller_latency_ms": 80}), db)
    assert isinstance(adapter, SandboxBillers) and adapter.latency_ms == 80
