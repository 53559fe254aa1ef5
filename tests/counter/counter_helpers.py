"""Helpers of the counter tests: two branches with a teller and a supervisor each, funded vaults, and the
demo holders (tier 3 李明 and tier 1 王秀英, both with the PIN 258036) opened through the wallets package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from qianbao import approvals, counter, ledger, wallets
from qianbao.approvals.models import ApprovalRequest
from qianbao.db import Database
from qianbao.identity import parse_resident_id
from qianbao.settings import Settings
from qianbao.wallets.customers import customer_by_id_number

PIN = "258036"
LI_MING = "440305199210110058"  # tier 3 (real name in the app)
WANG_XIUYING = "11010519491231002X"  # tier 1 (opened at the counter)
VAULT_FEN = 100_000_000  # 1,000,000 yuan in each vault


@dataclass
class Counter:
    db: Database
    settings: Settings
    staff: dict[str, Any]

    # ---- people and money -----------------------------------------------------------------------------
    def ident(self, id_number: str = WANG_XIUYING) -> counter.Identified:
        with self.db.read() as session:
            return counter.identify(session, id_number, source="reader", card_checked=True)

    def wallet(self, id_number: str = WANG_XIUYING) -> wallets.Wallet:
        with self.db.read() as session:
            customer = customer_by_id_number(session, parse_resident_id(id_number))
            assert customer is not None
            wallet = session.scalar(select(wallets.Wallet).where(wallets.Wallet.customer_id == customer.id))
            assert wallet is not None
            return wallet

    def balance(self, account_id: int) -> int:
        with self.db.read() as session:
            return ledger.balance(session, account_id).posted

    def wallet_balance(self, id_number: str = WANG_XIUYING) -> int:
        return self.balance(self.wallet(id_number).ledger_account_id)

    def account(self, code: str) -> int:
        with self.db.read() as session:
            found = ledger.account_by_code(session, code)
            return 0 if found is None else ledger.balance(session, found.id).posted

    def journal_size(self) -> int:
        from qianbao.ledger.models import LedgerTransfer

        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(LedgerTransfer)) or 0)

    def check_ledger(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report

    # ---- the day ----------------------------------------------------------------------------------------
    def open_day(self, who: str = "teller", float_fen: int = 2_000_000, approver: str = "supervisor") -> int:
        teller = self.staff[who]
        with self.db.transaction() as session:
            day = counter.open_day(session, teller.id, float_fen)
            day_id = day.id
        self.approve_latest(approver)
        return day_id

    def latest_request(self, branch: str = "0101") -> ApprovalRequest:
        with self.db.read() as session:
            branch_id = self.staff["teller" if branch == "0101" else "other_teller"].member.branch_id
            pending = approvals.pending_for_branch(session, branch_id)
            assert pending, "nothing waits for a supervisor"
            session.expunge(pending[-1])
            return pending[-1]

    def approve_latest(self, approver: str = "supervisor", approve: bool = True, reason: str = "") -> None:
        request = self.latest_request(
            "0101" if self.staff[approver].member.branch_id == self.staff["teller"].member.branch_id else "0102")
        with self.db.transaction() as session:
            approvals.decide(session, request.id, self.staff[approver].id, approve=approve, reason=reason or None)

    def expected(self, who: str = "teller") -> int:
        with self.db.read() as session:
            live = counter.live_session(session, self.staff[who].id)
            assert live is not None
            return counter.drawer_expected(session, live)

    # ---- cash and the PIN pad -------------------------------------------------------------------------------
    def start_cash(self, kind: str, amount: int, *, who: str = "teller", id_number: str = WANG_XIUYING
                   ) -> tuple[int, str]:
        ident = self.ident(id_number)
        with self.db.transaction() as session:
            op, code = counter.start_cash(session, self.staff[who].id, kind, ident, amount)
            assert code is not None
            return op.id, code.code

    def pad(self, code: str, *, pin: str | None = PIN, secret: str | None = None) -> Any:
        from qianbao import credentials

        with credentials.transaction(self.db) as session:
            token, _op = counter.pad_pair(session, code, ip="127.0.0.1")
        with credentials.transaction(self.db) as session:
            op = counter.pad_confirm(session, token, pin=pin, new_secret=secret, settings=self.settings)
            return op.status

    def cash(self, kind: str, amount: int, **kw: Any) -> tuple[int, str]:
        op_id, code = self.start_cash(kind, amount, **kw)
        return op_id, self.pad(code)

    def op(self, op_id: int) -> counter.CounterOperation:
        with self.db.read() as session:
            row = counter.get_operation(session, op_id)
            session.expunge(row)
            return row


