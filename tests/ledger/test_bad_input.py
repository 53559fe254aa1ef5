"""Every bad input the issue lists is refused with its own code, and nothing is written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ledger_helpers import Chart, key, snapshot

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import NewTransfer

BIGGEST = 2**63 - 1


def refused(db: Database, call: Any) -> str:
    before = snapshot(db)
    with db.transaction() as s, pytest.raises(QianbaoError) as caught:
        call(s)
    assert snapshot(db) == before, "a refused request wrote something"
    return caught.value.code


def pay(chart: Chart, **overrides: Any) -> Any:
    args = {"key": key(), "debit": chart.alice, "credit": chart.bob, "amount": 100, "code": "p2p", **overrides}
    return lambda s: ledger.create_transfer(s, **args)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "AMOUNT_NOT_POSITIVE"),
        (-1, "AMOUNT_NOT_POSITIVE"),
        (-BIGGEST, "AMOUNT_NOT_POSITIVE"),
        (1.0, "AMOUNT_INVALID"),
        (Decimal("1"), "AMOUNT_INVALID"),
        ("100", "AMOUNT_INVALID"),
        (True, "AMOUNT_INVALID"),
        (None, "AMOUNT_INVALID"),
        (BIGGEST + 1, "AMOUNT_TOO_LARGE"),
        (2**64, "AMOUNT_TOO_LARGE"),
    ],
)
def test_an_amount_that_is_not_a_positive_64_bit_integer_is_refused(db: Database, funded: Chart, amount: Any,
                                                                     code: str) -> None:
    assert refused(db, pay(funded, amount=amount)) == code


def test_the_same_account_on_both_sides_is_refused(db: Database, funded: Chart) -> None:
    assert refused(db, pay(funded, credit=funded.alice)) == "LEDGER_SAME_ACCOUNT"


@pytest.mark.parametrize("side", ["debit", "credit"])
def test_an_unknown_account_is_refused(db: Database, funded: Chart, side: str) -> None:
    assert refused(db, pay(funded, **{side: 987_654})) == "LEDGER_ACCOUNT_NOT_FOUND"


@pytest.mark.parametrize("account", ["W-ALICE", 1.5, None, -3])
def test_an_account_that_is_not_an_id_is_refused(db: Database, funded: Chart, account: Any) -> None:
    assert refused(db, pay(funded, credit=account)) == "LEDGER_ACCOUNT_NOT_FOUND"


@pytest.mark.parametrize("side", ["debit", "credit"])
def test_a_closed_account_is_refused(db: Database, funded: Chart, side: str) -> None:
    with db.transaction() as s:
        closed = ledger.open_account(s, "customer_wallet")
        ledger.close_account(s, closed.id)
    args = {"debit": closed.id, "credit": funded.alice} if side == "debit" else {"credit": closed.id}
    assert refused(db, pay(funded, **args)) == "LEDGER_ACCOUNT_CLOSED"


def test_a_currency_mismatch_is_refused(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        usd = ledger.open_account(s, "merchant", currency="USD")
    assert refused(db, pay(funded, credit=usd.id)) == "LEDGER_CURRENCY_MISMATCH"


def test_a_post_above_the_pending_amount_is_refused(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=500, code="pay",
                                      pending=True)
    assert refused(db, lambda s: ledger.post_pending(s, key=key(), pending_id=hold.id, amount=501)) \
        == "LEDGER_POST_EXCEEDS_PENDING"


@pytest.mark.parametrize("verb", ["post", "void"])
def test_post_or_void_of_a_transfer_that_is_not_a_hold_is_refused(db: Database, funded: Chart, verb: str) -> None:
    with db.transaction() as s:
        plain = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5, code="p2p")
    call = ledger.post_pending if verb == "post" else ledger.void_pending
    assert refused(db, lambda s: call(s, key=key(), pending_id=plain.id)) == "LEDGER_TRANSFER_NOT_PENDING"


@pytest.mark.parametrize("verb", ["post", "void"])
def test_post_or_void_of_an_unknown_transfer_is_refused(db: Database, funded: Chart, verb: str) -> None:
    call = ledger.post_pending if verb == "post" else ledger.void_pending
    assert refused(db, lambda s: call(s, key=key(), pending_id=424_242)) == "LEDGER_TRANSFER_NOT_FOUND"


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        ("post", "post", "LEDGER_PENDING_ALREADY_POSTED"),
        ("post", "void", "LEDGER_PENDING_ALREADY_POSTED"),
        ("void", "post", "LEDGER_PENDING_ALREADY_VOIDED"),
        ("void", "void", "LEDGER_PENDING_ALREADY_VOIDED"),
    ],
)
def test_post_or_void_of_a_hold_no_longer_pending_is_refused(db: Database, funded: Chart, first: str, then: str,
                                                             code: str) -> None:
    verbs = {"post": ledger.post_pending, "void": ledger.void_pending}
    with db.transaction() as s:
        hold = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=5, code="pay",
                                      pending=True)
        verbs[first](s, key=key(), pending_id=hold.id)
    assert refused(db, lambda s: verbs[then](s, key=key(), pending_id=hold.id)) == code


def test_an_empty_batch_is_refused(db: Database, funded: Chart) -> None:
    assert refused(db, lambda s: ledger.create_transfers(s, [])) == "LEDGER_BATCH_EMPTY"


def test_an_oversized_batch_is_refused_as_a_whole(db: Database, funded: Chart) -> None:
    items = [NewTransfer(key(), funded.alice, funded.bob, 1, "p2p") for _ in range(10_001)]
    assert refused(db, lambda s: ledger.create_transfers(s, items)) == "LEDGER_BATCH_TOO_LARGE"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"key": ""}, "IDEMPOTENCY_KEY_MISSING"),
        ({"key": "   "}, "IDEMPOTENCY_KEY_MISSING"),
        ({"key": None}, "IDEMPOTENCY_KEY_MISSING"),
        ({"key": "k" * 129}, "LEDGER_IDEMPOTENCY_KEY_INVALID"),
        ({"key": 12}, "LEDGER_IDEMPOTENCY_KEY_INVALID"),
        ({"code": ""}, "LEDGER_TRANSFER_CODE_INVALID"),
        ({"code": "x" * 33}, "LEDGER_TRANSFER_CODE_INVALID"),
        ({"code": "p2p transfer"}, "LEDGER_TRANSFER_CODE_INVALID"),
        ({"reference": "r" * 65}, "LEDGER_REFERENCE_INVALID"),
        ({"user_data": ["not", "an", "object"]}, "LEDGER_USER_DATA_INVALID"),
        ({"user_data": {"n": float("nan")}}, "LEDGER_USER_DATA_INVALID"),
        ({"user_data": {"big": "x" * 2_000}}, "LEDGER_USER_DATA_INVALID"),
        ({"timeout": 60}, "LEDGER_TIMEOUT_INVALID"),
        ({"pending": True, "timeout": 0}, "LEDGER_TIMEOUT_INVALID"),
        ({"pending": True, "timeout": -5}, "LEDGER_TIMEOUT_INVALID"),
        ({"pending": True, "timeout": 1.5}, "LEDGER_TIMEOUT_INVALID"),
    ],
)
def test_malformed_request_fields_are_refused(db: Database, funded: Chart, overrides: dict, code: str) -> None:
    assert refused(db, pay(funded, **overrides)) == code
