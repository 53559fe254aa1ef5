"""The ledger's invariants, each a query for its counter-examples, all read in one snapshot.

Run inside `db.read()` (REPEATABLE READ on PostgreSQL, one WAL snapshot on SQLite) so that every
rule looks at the same ledger. A rule passes when its query finds nothing; otherwise the report
keeps a few examples and the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from qianbao.ledger.models import UTCDateTime

SAMPLES = 20
# The rules in the order they are reported; their titles are i18n keys `ledger.rule.<name>`.
RULES = (
    "debits_equal_credits",
    "balances_match_journal",
    "no_negative_respected",
    "caps_respected",
    "holds_within_timeout",
    "groups_whole",
    "holds_consistent",
    "reversals_mirror",
    "currencies_match",
    "closed_accounts_empty",
    "journal_accounts_exist",
)


@dataclass(frozen=True, slots=True)
class Breach:
    rule: str
    subject: str
    detail: str


@dataclass
class Report:
    checked_at: datetime
    accounts: int
    transfers: int
    breaches: dict[str, list[Breach]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def failed_rules(self) -> list[str]:
        return [rule for rule in RULES if self.counts.get(rule)]


_POSTED = "('posted', 'post')"


def _side_sums(side: str) -> str:
    return (
        f"SELECT t.{side}_account_id AS acc, "
        f"SUM(CASE WHEN t.kind IN {_POSTED} THEN t.amount ELSE 0 END) AS posted, "
        "SUM(CASE WHEN t.kind = 'pending' AND p.status = 'pending' THEN t.amount ELSE 0 END) AS held "
        f"FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.transfer_id = t.id GROUP BY t.{side}_account_id"
    )


_QUERIES: dict[str, str] = {
    "debits_equal_credits": (
        "SELECT SUM(debits_posted - credits_posted), SUM(debits_pending - credits_pending) FROM ledger_accounts "
        "HAVING SUM(debits_posted - credits_posted) <> 0 OR SUM(debits_pending - credits_pending) <> 0"
    ),
    "balances_match_journal": (
        "SELECT a.code, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, "
        "COALESCE(d.posted, 0), COALESCE(c.posted, 0), COALESCE(d.held, 0), COALESCE(c.held, 0) "
        f"FROM ledger_accounts a LEFT JOIN ({_side_sums('debit')}) d ON d.acc = a.id "
        f"LEFT JOIN ({_side_sums('credit')}) c ON c.acc = a.id "
        "WHERE a.debits_posted <> COALESCE(d.posted, 0) OR a.credits_posted <> COALESCE(c.posted, 0) "
        "OR a.debits_pending <> COALESCE(d.held, 0) OR a.credits_pending <> COALESCE(c.held, 0) ORDER BY a.id"
    ),
    "no_negative_respected": (
        "SELECT code, CASE WHEN normal_side = 'credit' THEN credits_posted - debits_posted - debits_pending "
        "ELSE debits_posted - credits_posted - credits_pending END AS available FROM ledger_accounts "
        "WHERE no_negative AND CASE WHEN normal_side = 'credit' "
        "THEN debits_posted + debits_pending > credits_posted "
        "ELSE credits_posted + credits_pending > debits_posted END ORDER BY id"
    ),
    # Over the cap is a breach only if a credit was accepted since the cap was last set: lowering a
    # cap below the balance is allowed and only stops further credits.
    "caps_respected": (
        "SELECT a.code, a.cap, CASE WHEN a.normal_side = 'credit' THEN a.credits_posted - a.debits_posted "
        "ELSE a.debits_posted - a.credits_posted END AS posted FROM ledger_accounts a "
        "WHERE a.cap IS NOT NULL AND CASE WHEN a.normal_side = 'credit' THEN a.credits_posted - a.debits_posted "
        "ELSE a.debits_posted - a.credits_posted END > a.cap AND EXISTS (SELECT 1 FROM ledger_transfers t "
        f"WHERE t.kind IN {_POSTED} AND t.created_at >= COALESCE(a.cap_changed_at, a.created_at) AND "
        "((a.normal_side = 'credit' AND t.credit_account_id = a.id) "
        "OR (a.normal_side = 'debit' AND t.debit_account_id = a.id))) ORDER BY a.id"
    ),
    "holds_within_timeout": (
        "SELECT transfer_id, timeout_at FROM ledger_pending WHERE status = 'pending' AND timeout_at IS NOT NULL "
        "AND timeout_at <= :now ORDER BY timeout_at"
    ),
    "groups_whole": (
        "SELECT t.group_id, 'holds resolved differently' FROM ledger_transfers t "
        "JOIN ledger_pending p ON p.transfer_id = t.id WHERE t.group_id IS NOT NULL AND t.kind = 'pending' "
        "GROUP BY t.group_id HAVING COUNT(DISTINCT CASE WHEN p.status = 'expired' THEN 'voided' ELSE p.status END) > 1 "
        "UNION ALL SELECT group_id, 'holds and plain transfers mixed' FROM ledger_transfers "
        "WHERE group_id IS NOT NULL AND kind IN ('posted', 'pending') "
        "GROUP BY group_id HAVING COUNT(DISTINCT kind) > 1 "
        "UNION ALL SELECT DISTINCT t.group_id, 'first transfer missing' FROM ledger_transfers t "
        "LEFT JOIN ledger_transfers g ON g.id = t.group_id AND g.group_id = t.group_id "
        "WHERE t.group_id IS NOT NULL AND g.id IS NULL"
    ),
    "holds_consistent": (
        "SELECT h.id, COALESCE(p.status, 'no state'), r.id, r.kind FROM ledger_transfers h "
        "LEFT JOIN ledger_pending p ON p.transfer_id = h.id LEFT JOIN ledger_transfers r ON r.pending_id = h.id "
        "WHERE h.kind = 'pending' AND (p.transfer_id IS NULL "
        "OR (p.status = 'pending' AND r.id IS NOT NULL) "
        "OR (p.status <> 'pending' AND (r.id IS NULL OR p.resolved_by IS NULL OR p.resolved_by <> r.id "
        "OR r.kind <> CASE p.status WHEN 'posted' THEN 'post' WHEN 'voided' THEN 'void' ELSE 'expire' END)) "
        "OR (r.id IS NOT NULL AND (r.debit_account_id <> h.debit_account_id "
        "OR r.credit_account_id <> h.credit_account_id OR r.amount > h.amount "
        "OR (r.kind <> 'post' AND r.amount <> h.amount)))) "
        "UNION ALL SELECT r.id, 'resolves no hold', r.pending_id, r.kind FROM ledger_transfers r "
        "LEFT JOIN ledger_transfers h ON h.id = r.pending_id "
        "WHERE (r.kind IN ('post', 'void', 'expire') AND (h.id IS NULL OR h.kind <> 'pending')) "
        "OR (r.kind IN ('posted', 'pending') AND r.pending_id IS NOT NULL) "
        "UNION ALL SELECT p.transfer_id, 'state without a hold', NULL, NULL FROM ledger_pending p "
        "LEFT JOIN ledger_transfers h ON h.id = p.transfer_id WHERE h.id IS NULL OR h.kind <> 'pending'"
    ),
    "reversals_mirror": (
        "SELECT r.id, r.reverses_id FROM ledger_transfers r LEFT JOIN ledger_transfers o ON o.id = r.reverses_id "
        "WHERE r.reverses_id IS NOT NULL AND (o.id IS NULL OR r.kind <> 'posted' OR o.kind NOT IN ('posted', 'post') "
        "OR o.reverses_id IS NOT NULL OR r.debit_account_id <> o.credit_account_id "
        "OR r.credit_account_id <> o.debit_account_id OR r.amount <> o.amount)"
    ),
    "currencies_match": (
        "SELECT t.id, d.currency, c.currency FROM ledger_transfers t "
        "JOIN ledger_accounts d ON d.id = t.debit_account_id JOIN ledger_accounts c ON c.id = t.credit_account_id "
        "WHERE d.currency <> c.currency"
    ),
    "closed_accounts_empty": (
        "SELECT code FROM ledger_accounts WHERE closed AND (debits_posted <> credits_posted "
        "OR debits_pending <> 0 OR credits_pending <> 0)"
    ),
    "journal_accounts_exist": (
        "SELECT t.id, CASE WHEN d.id IS NULL THEN t.debit_account_id ELSE t.credit_account_id END "
        "FROM ledger_transfers t LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id "
        "LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id WHERE d.id IS NULL OR c.id IS NULL"
    ),
}

_DESCRIBE: dict[str, Callable[[Any], tuple[str, str]]] = {
    "debits_equal_credits": lambda r: ("ledger", f"posted debits − credits = {r[0]}, pending = {r[1]}"),
    "balances_match_journal": lambda r: (
        f"account {r[0]}",
        f"stored debits/credits posted {r[1]}/{r[2]}, pending {r[3]}/{r[4]}; "
        f"journal says {r[5]}/{r[6]}, pending {r[7]}/{r[8]}",
    ),
    "no_negative_respected": lambda r: (f"account {r[0]}", f"available balance {r[1]} fen"),
    "caps_respected": lambda r: (f"account {r[0]}", f"balance {r[2]} fen above cap {r[1]} fen after a credit"),
    "holds_within_timeout": lambda r: (f"hold {r[0]}", f"still pending after its timeout {r[1]}"),
    "groups_whole": lambda r: (f"group {r[0]}", str(r[1])),
    "holds_consistent": lambda r: (f"transfer {r[0]}", f"state {r[1]}, resolution {r[2]} ({r[3]})"),
    "reversals_mirror": lambda r: (f"transfer {r[0]}", f"is not the mirror of transfer {r[1]}"),
    "currencies_match": lambda r: (f"transfer {r[0]}", f"debit account in {r[1]}, credit account in {r[2]}"),
    "closed_accounts_empty": lambda r: (f"account {r[0]}", "closed with a balance or a hold"),
    "journal_accounts_exist": lambda r: (f"transfer {r[0]}", f"names account {r[1]}, which does not exist"),
}


def check_invariants(session: Session, *, now: datetime | None = None) -> Report:
    """Check every rule in the session's snapshot; holds are overdue if their timeout is at or before `now`."""
    now = now or datetime.now(UTC)
    accounts = session.execute(text("SELECT COUNT(*) FROM ledger_accounts")).scalar_one()
    transfers = session.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one()
    report = Report(checked_at=now, accounts=accounts, transfers=transfers)
    for rule in RULES:
        statement = text(_QUERIES[rule])
        params: dict[str, Any] = {}
        if ":now" in _QUERIES[rule]:
            statement = statement.bindparams(bindparam("now", type_=UTCDateTime()))
            params["now"] = now
        rows = session.execute(statement, params).all()
        report.counts[rule] = len(rows)
        report.breaches[rule] = [Breach(rule, *_DESCRIBE[rule](row)) for row in rows[:SAMPLES]]
    return report
