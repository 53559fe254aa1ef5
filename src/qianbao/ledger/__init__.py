"""The ledger: double-entry accounts in integer fen, holds, linked groups, idempotency, invariants.

Every money movement in Qianbao goes through this package (SPEC §6.1); no other package writes a
balance. It imports no other domain package. The rules chosen are written down in docs/ledger.md.

Public API — every function takes the SQLAlchemy Session first and never commits; call it inside
`with db.transaction() as session:` so the ledger's rows commit with the caller's own.

Accounts
    open_account(session, kind, *, code=None, name=None, currency="CNY", no_negative=None, cap=None) -> Account
    ensure_account(session, kind, code, ...) -> Account        get-or-open, for system accounts
    get_account(session, account_id) / account_by_code(session, code)
    set_cap(session, account_id, cap | None)                   the balance ceiling (wallet tiers)
    freeze(session, account_id) / unfreeze(...)                a frozen account neither pays nor receives
    close_account(session, account_id)                         only when empty and without holds

Moving money (every write carries the client's idempotency `key`)
    create_transfer(session, *, key, debit, credit, amount, code, reference=None, user_data=None,
                    pending=False, timeout=None) -> Transfer
    create_group(session, *, key, legs=[Leg(...), ...], pending=False, timeout=None) -> list[Transfer]
        a linked group (payment + fee): all legs or none; leg keys are derived as key#0, key#1, ...
    post_pending(session, *, key, pending_id, amount=None) -> Transfer   full or partial; rest released
    void_pending(session, *, key, pending_id) -> Transfer
        the holds of a linked group are posted or voided together (whichever one is named)
    reverse(session, *, key, transfer_id, code=None, reference=None) -> Transfer
    create_transfers(session, [NewTransfer | PostPending | VoidPending | Reverse, ...]) -> list[ItemResult]
        the batch API: one result per item, linked chains all-or-nothing, refusals write nothing

    A retry with the same key and the same request returns the original (`replayed=True`) and moves
    nothing; the same key with another request raises IDEMPOTENCY_KEY_REUSED.

Reading
    balance(session, account_id) -> Balance                    posted, held, incoming, available
    balance_as_of(session, account_id, moment) -> Balance
    postings(session, account_id, *, limit=50, cursor=None) -> PostingsPage   newest first
    get_transfer(session, transfer_id) / transfer_group(session, transfer_id)

Upkeep
    sweep_expired(session, *, now=None, limit=500) -> int      void holds past their timeout
    purge_keys(session, ...) -> int                            forget keys past the retention period
    key_transfer(session, key) -> int | None                   the transfer a remembered key made
    check_invariants(session) -> Report                        run it in `db.read()` (one snapshot)

Amounts are int fen (1 .. 2**63-1); accounts are passed by their integer id (`Account.id`), shown
to people by their code. Make one ledger call per transaction where you can: a call locks all its
accounts at once in a fixed order, two calls in one transaction take their locks in two steps.

Refusals are QianbaoError with a LEDGER_* code (or AMOUNT_*, IDEMPOTENCY_*); see errors.CATALOGUE.
"""

from qianbao.ledger.accounts import (
    account_by_code,
    close_account,
    ensure_account,
    freeze,
    get_account,
    open_account,
    set_cap,
    unfreeze,
)
from qianbao.ledger.engine import create_transfers
from qianbao.ledger.holds import sweep_expired
from qianbao.ledger.idempotency import key_transfer, purge_keys
from qianbao.ledger.invariants import Report, check_invariants
from qianbao.ledger.queries import balance, balance_as_of, get_transfer, postings, transfer_group
from qianbao.ledger.transfers import create_group, create_transfer, post_pending, reverse, void_pending
from qianbao.ledger.types import (
    Account,
    AccountKind,
    Balance,
    ItemResult,
    Leg,
    NewTransfer,
    PendingStatus,
    Posting,
    PostingsPage,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
)

__all__ = [
    "Account",
    "AccountKind",
    "Balance",
    "ItemResult",
    "Leg",
    "NewTransfer",
    "PendingStatus",
    "PostPending",
    "Posting",
    "PostingsPage",
    "Report",
    "Reverse",
    "Transfer",
    "VoidPending",
    "account_by_code",
    "balance",
    "balance_as_of",
    "check_invariants",
    "close_account",
    "create_group",
    "create_transfer",
    "create_transfers",
    "ensure_account",
    "freeze",
    "get_account",
    "get_transfer",
    "key_transfer",
    "open_account",
    "post_pending",
    "postings",
    "purge_keys",
    "reverse",
    "set_cap",
    "sweep_expired",
    "transfer_group",
    "unfreeze",
    "void_pending",
]
