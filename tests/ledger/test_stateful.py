"""A hypothesis state machine drives random sequences against the ledger and a plain in-memory model.

Steps: transfers (overdrafts included), linked groups, holds with and without timeouts, posts (full and
partial), voids, the clock moving on with the sweep, reversals, retries with the same key, a key reused
for another request, freezing. After every step each account's balance must equal the model's, and
every invariant must hold. Runs on whichever database the suite runs on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from qianbao import ledger
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.ledger import Leg, NewTransfer

pytestmark = pytest.mark.slow

WALLETS = ("w0", "w1", "w2")
NAMES = ("bank", *WALLETS, "shop", "fees")
_runs = itertools.count()


@dataclass
class MAccount:
    id: int
    credit_normal: bool
    no_negative: bool
    cap: int | None = None
    frozen: bool = False
    dp: int = 0
    cp: int = 0
    dpe: int = 0
    cpe: int = 0

    def posted(self) -> int:
        return self.cp - self.dp if self.credit_normal else self.dp - self.cp

    def held(self) -> int:
        return self.dpe if self.credit_normal else self.cpe


@dataclass
class MTransfer:
    kind: str  # posted / pending / post / void / expire
    debit: str
    credit: str
    amount: int
    status: str | None = None
    timeout_at: datetime | None = None
    group: int | None = None
    reversal: bool = False
    reversed: bool = False


@dataclass
class Model:
    accounts: dict[str, MAccount] = field(default_factory=dict)
    transfers: dict[int, MTransfer] = field(default_factory=dict)

    def move(self, debit: str, credit: str, amount: int, pending: bool) -> str | None:
        d, c = self.accounts[debit], self.accounts[credit]
        if d.frozen or c.frozen:
            return "LEDGER_ACCOUNT_FROZEN"
        dp, dpe = (d.dp, d.dpe + amount) if pending else (d.dp + amount, d.dpe)
        cp, cpe = (c.cp, c.cpe + amount) if pending else (c.cp + amount, c.cpe)
        if d.credit_normal and d.no_negative and dp + dpe > d.cp:
            return "LEDGER_INSUFFICIENT_FUNDS"
        if c.credit_normal and c.cap is not None and cp + cpe - c.dp > c.cap:
            return "LEDGER_CAP_EXCEEDED"
        d.dp, d.dpe, c.cp, c.cpe = dp, dpe, cp, cpe
        return None

    def resolve(self, tid: int, verb: str, amount: int | None, now: datetime) -> str | None:
        hold = self.transfers.get(tid)
        if hold is None:
            return "LEDGER_TRANSFER_NOT_FOUND"
        if hold.kind != "pending":
            return "LEDGER_TRANSFER_NOT_PENDING"
        if hold.status != "pending":
            return {"posted": "LEDGER_PENDING_ALREADY_POSTED", "voided": "LEDGER_PENDING_ALREADY_VOIDED",
                    "expired": "LEDGER_PENDING_EXPIRED"}[hold.status]  # type: ignore[index]
        if verb != "expire" and hold.timeout_at is not None and now >= hold.timeout_at:
            return "LEDGER_PENDING_EXPIRED"
        d, c = self.accounts[hold.debit], self.accounts[hold.credit]
        posted = 0
        if verb == "post":
            posted = hold.amount if amount is None else amount
            if posted > hold.amount:
                return "LEDGER_POST_EXCEEDS_PENDING"
            if d.frozen or c.frozen:
                return "LEDGER_ACCOUNT_FROZEN"
            if c.credit_normal and c.cap is not None and c.cp + posted - c.dp > c.cap:
                return "LEDGER_CAP_EXCEEDED"
        d.dpe -= hold.amount
        c.cpe -= hold.amount
        d.dp += posted
        c.cp += posted
        hold.status = {"post": "posted", "void": "voided", "expire": "expired"}[verb]
        return None

    def snapshot(self) -> Any:
        return (
            {n: (a.dp, a.cp, a.dpe, a.cpe, a.frozen) for n, a in self.accounts.items()},
            {i: (t.status, t.reversed) for i, t in self.transfers.items()},
        )

    def restore(self, snap: Any) -> None:
        accounts, transfers = snap
        for n, (dp, cp, dpe, cpe, frozen) in accounts.items():
            a = self.accounts[n]
            a.dp, a.cp, a.dpe, a.cpe, a.frozen = dp, cp, dpe, cpe, frozen
        for i, (status, rev) in transfers.items():
            self.transfers[i].status, self.transfers[i].reversed = status, rev


# Mostly amounts the wallets can afford, now and then one that overdraws or breaks the cap.
amounts = st.one_of(st.integers(1, 1_500), st.integers(1, 1_500), st.sampled_from([1, 5_000, 20_000]))


class LedgerMachine(RuleBasedStateMachine):
    db: Database

    def __init__(self) -> None:
        super().__init__()
        run = next(_runs)
        # Every run starts later than the one before, so the clock never goes back on earlier rows.
        self.clock = time_machine.travel(datetime(2099, 1, 1, tzinfo=UTC) + timedelta(days=run), tick=False)
        self.traveller = self.clock.start()
        self.model = Model()
        self.keys = itertools.count()
        self.prefix = f"sm{run}"
        self.last: tuple[Any, ...] | None = None  # the last successful request, to retry it
        # Earlier runs share the database: their holds are overdue by now, so release them first.
        with self.db.transaction() as s:
            ledger.sweep_expired(s, limit=10_000)

    def teardown(self) -> None:
        self.clock.stop()

    def key(self) -> str:
        return f"{self.prefix}-{next(self.keys)}"

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def ids(self, name: str) -> int:
        return self.model.accounts[name].id

    @initialize()
    def open_accounts(self) -> None:
        with self.db.transaction() as s:
            for name in NAMES:
                kind = {"bank": "bank_clearing", "shop": "merchant", "fees": "fee_income"}.get(name, "customer_wallet")
                cap = 8_000 if name == "w2" else None
                account = ledger.open_account(s, kind, code=f"{self.prefix}-{name}", cap=cap)
                self.model.accounts[name] = MAccount(account.id, account.normal_side == "credit",
                                                     account.no_negative, cap)
            for name in WALLETS:
                ledger.create_transfer(s, key=self.key(), debit=self.ids("bank"), credit=self.ids(name),
                                       amount=5_000, code="topup")
                self.model.move("bank", name, 5_000, False)

    def expect(self, expected: str | None, call: Any) -> Any:
        try:
            with self.db.transaction() as s:
                result = call(s)
        except QianbaoError as error:
            assert error.code == expected, f"ledger refused with {error.code}, model expected {expected}"
            return None
        assert expected is None, f"ledger accepted, model expected {expected}"
        return result

    # ------------------------------------------------------------------------------------------ rules

    @rule(debit=st.sampled_from(NAMES), credit=st.sampled_from(NAMES), amount=amounts)
    def transfer(self, debit: str, credit: str, amount: int) -> None:
        if debit == credit:
            return
        snap = self.model.snapshot()
        expected = self.model.move(debit, credit, amount, False)
        if expected:
            self.model.restore(snap)
        k = self.key()
        t = self.expect(expected, lambda s: ledger.create_transfer(
            s, key=k, debit=self.ids(debit), credit=self.ids(credit), amount=amount, code="p2p"))
        if t is not None:
            self.model.transfers[t.id] = MTransfer("posted", debit, credit, amount)
            self.last = ("transfer", k, debit, credit, amount)

    @rule(payer=st.sampled_from(WALLETS), amount=amounts, fee=st.integers(1, 300), pending=st.booleans(),
          timeout=st.sampled_from([None, 10, 100]))
    def group(self, payer: str, amount: int, fee: int, pending: bool, timeout: int | None) -> None:
        if not pending:
            timeout = None
        snap = self.model.snapshot()
        expected = self.model.move(payer, "shop", amount, pending) or self.model.move(payer, "fees", fee, pending)
        if expected:
            self.model.restore(snap)
        legs = [Leg(self.ids(payer), self.ids("shop"), amount, "pay"), Leg(self.ids(payer), self.ids("fees"), fee,
                                                                            "fee")]
        made = self.expect(expected, lambda s: ledger.create_group(s, key=self.key(), legs=legs, pending=pending,
                                                                    timeout=timeout))
        if made is not None:
            for t, credit, amt in zip(made, ("shop", "fees"), (amount, fee), strict=True):
                self.model.transfers[t.id] = MTransfer(
                    t.kind, payer, credit, amt, "pending" if pending else None, t.timeout_at, made[0].id)

    @rule(debit=st.sampled_from(NAMES), credit=st.sampled_from(NAMES), amount=amounts,
          timeout=st.sampled_from([None, 10, 100]))
    def hold(self, debit: str, credit: str, amount: int, timeout: int | None) -> None:
        if debit == credit:
            return
        snap = self.model.snapshot()
        expected = self.model.move(debit, credit, amount, True)
        if expected:
            self.model.restore(snap)
        t = self.expect(expected, lambda s: ledger.create_transfer(
            s, key=self.key(), debit=self.ids(debit), credit=self.ids(credit), amount=amount, code="hold",
            pending=True, timeout=timeout))
        if t is not None:
            self.model.transfers[t.id] = MTransfer("pending", debit, credit, amount, "pending", t.timeout_at)

    def _pick(self, data: st.DataObject, likely: list[int]) -> int:
        """Mostly a transfer the step is meant for, sometimes any (to provoke the refusals)."""
        if likely and data.draw(st.integers(0, 4)) > 0:
            return data.draw(st.sampled_from(likely))
        return data.draw(st.sampled_from(sorted(self.model.transfers)))

    def _resolve(self, data: st.DataObject, verb: str) -> None:
        if not self.model.transfers:
            return
        tid = self._pick(data, [i for i, t in self.model.transfers.items() if t.status == "pending"])
        hold = self.model.transfers[tid]
        amount = None
        if verb == "post" and hold.kind == "pending":
            amount = data.draw(st.sampled_from([None, max(1, hold.amount // 2), hold.amount, hold.amount + 1]))
        snap = self.model.snapshot()
        expected = self.model.resolve(tid, verb, amount, self.now)
        siblings = [i for i, t in self.model.transfers.items() if hold.group is not None and t.group == hold.group
                    and i != tid and t.kind == "pending" and t.status == "pending"]
        for sibling in siblings:
            if expected is None:
                expected = self.model.resolve(sibling, verb, None, self.now)
        if expected:
            self.model.restore(snap)
        call = ledger.post_pending if verb == "post" else ledger.void_pending
        kwargs = {"amount": amount} if verb == "post" else {}
        result = self.expect(expected, lambda s: call(s, key=self.key(), pending_id=tid, **kwargs))
        if result is not None:
            self.model.transfers[result.id] = MTransfer(result.kind, hold.debit, hold.credit, result.amount)
            with self.db.read() as s:
                for t in ledger.transfer_group(s, tid):
                    if t.pending_id is not None and t.id not in self.model.transfers:
                        sib = self.model.transfers[t.pending_id]
                        self.model.transfers[t.id] = MTransfer(t.kind, sib.debit, sib.credit, t.amount)

    @rule(data=st.data())
    def post(self, data: st.DataObject) -> None:
        self._resolve(data, "post")

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        self._resolve(data, "void")

    @rule(seconds=st.sampled_from([1, 9, 11, 60, 120]))
    def time_passes_and_the_sweep_runs(self, seconds: int) -> None:
        self.traveller.shift(seconds)
        expired = 0
        for tid, t in list(self.model.transfers.items()):
            if t.kind == "pending" and t.status == "pending" and t.timeout_at is not None and self.now >= t.timeout_at:
                self.model.resolve(tid, "expire", None, self.now)
                expired += 1
        with self.db.transaction() as s:
            swept = ledger.sweep_expired(s, limit=10_000)
        assert swept >= expired  # other runs' holds on the same database may expire too
        with self.db.read() as s:
            for tid, t in list(self.model.transfers.items()):
                if t.kind == "pending" and t.status == "expired":
                    for r in ledger.transfer_group(s, tid):
                        if r.pending_id == tid and r.id not in self.model.transfers:
                            self.model.transfers[r.id] = MTransfer("expire", t.debit, t.credit, t.amount)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.model.transfers:
            return
        tid = self._pick(data, [i for i, t in self.model.transfers.items()
                                if t.kind in ("posted", "post") and not t.reversal and not t.reversed])
        original = self.model.transfers[tid]
        snap = self.model.snapshot()
        if original.kind not in ("posted", "post") or original.reversal:
            expected: str | None = "LEDGER_NOT_REVERSIBLE"
        elif original.reversed:
            expected = "LEDGER_ALREADY_REVERSED"
        else:
            expected = self.model.move(original.credit, original.debit, original.amount, False)
        if expected:
            self.model.restore(snap)
        t = self.expect(expected, lambda s: ledger.reverse(s, key=self.key(), transfer_id=tid))
        if t is not None:
            original.reversed = True
            self.model.transfers[t.id] = MTransfer("posted", original.credit, original.debit, original.amount,
                                                   reversal=True)

    @rule()
    def retry_with_the_same_key_moves_nothing(self) -> None:
        if self.last is None:
            return
        _, k, debit, credit, amount = self.last
        with self.db.transaction() as s:
            t = ledger.create_transfer(s, key=k, debit=self.ids(debit), credit=self.ids(credit), amount=amount,
                                       code="p2p")
        assert t.replayed

    @rule()
    def the_same_key_for_another_request_is_refused(self) -> None:
        if self.last is None:
            return
        _, k, debit, credit, amount = self.last
        self.expect("IDEMPOTENCY_KEY_REUSED", lambda s: ledger.create_transfer(
            s, key=k, debit=self.ids(debit), credit=self.ids(credit), amount=amount + 1, code="p2p"))

    @rule(name=st.sampled_from(WALLETS))
    def freeze_or_unfreeze(self, name: str) -> None:
        account = self.model.accounts[name]
        account.frozen = not account.frozen
        with self.db.transaction() as s:
            (ledger.freeze if account.frozen else ledger.unfreeze)(s, account.id)

    @rule(items=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), amounts), min_size=1,
                         max_size=6))
    def batch(self, items: list[tuple[str, str, int]]) -> None:
        requests, expected = [], []
        for debit, credit, amount in items:
            if debit == credit:
                continue
            snap = self.model.snapshot()
            code = self.model.move(debit, credit, amount, False)
            if code:
                self.model.restore(snap)
            expected.append((code or "OK", debit, credit, amount))
            requests.append(NewTransfer(self.key(), self.ids(debit), self.ids(credit), amount, "bulk"))
        if not requests:
            return
        with self.db.transaction() as s:
            results = ledger.create_transfers(s, requests)
        assert [r.code for r in results] == [e[0] for e in expected]
        for r, (_, debit, credit, amount) in zip(results, expected, strict=True):
            if r.ok:
                self.model.transfers[r.transfer_id] = MTransfer("posted", debit, credit, amount)  # type: ignore[index]

    # ------------------------------------------------------------------------------------- invariants

    @invariant()
    def balances_equal_the_model(self) -> None:
        if not self.model.accounts:
            return
        with self.db.read() as s:
            for name, account in self.model.accounts.items():
                b = ledger.balance(s, account.id)
                assert (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending) == (
                    account.dp, account.cp, account.dpe, account.cpe), name
                assert (b.posted, b.held) == (account.posted(), account.held()), name

    @invariant()
    def every_ledger_invariant_holds(self) -> None:
        with self.db.read() as s:
            report = ledger.check_invariants(s)
        assert report.ok, {rule: report.breaches[rule] for rule in report.failed_rules()}

    @invariant()
    def hold_states_equal_the_model(self) -> None:
        holds = {i: t.status for i, t in self.model.transfers.items() if t.kind == "pending"}
        if not holds:
            return
        with self.db.read() as s:
            assert {i: ledger.get_transfer(s, i).status for i in holds} == holds


def test_random_sequences_agree_with_the_model_and_keep_every_invariant(db: Database) -> None:
    LedgerMachine.db = db
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
