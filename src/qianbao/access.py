"""The access policy (SPEC §1, §10 "Access"), in one place: which role may do which action, where.

    access.require(actor, "teller.operate", branch_id=wallet_branch)    FORBIDDEN / ACCESS_OTHER_BRANCH
    access.require_owner(actor, wallet.customer_id)                      NOT_FOUND for anyone else's
    select(Approval).where(access.branch_filter(actor, Approval.branch_id))

Roles: customer; teller and supervisor (in their branch); operator (ops console); auditor (reads the
ops console, changes nothing). `POLICY` is the table of actions; the web layer's dependencies
(`qianbao.web.auth.requires(action)`) check a route's action against it, and the access-matrix test
(tests/web/test_auth_matrix.py) reads the same table to know what each role must get on each route.

Scopes: "own" — a customer's own objects (check with `require_owner`: another customer's object is
NOT_FOUND, so ids cannot be probed); "branch" — a teller's or supervisor's own branch (pass the object's
`branch_id`; another branch's object is ACCESS_OTHER_BRANCH); "all" — no object limit.

Auditors: no action that writes may list the auditor (checked when this module loads), and `require`
refuses every writing request of an auditor whatever the action says (FORBIDDEN) — except
self-service actions on their own session (signing out).

`PUBLIC_ROUTES` is the explicit allow-list of routes anyone may call without signing in; every other
route must declare an action (see docs/access.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, true

from qianbao import audit
from qianbao.errors import QianbaoError

CUSTOMER = "customer"
TELLER = "teller"
SUPERVISOR = "supervisor"
OPERATOR = "operator"
AUDITOR = "auditor"
STAFF_ROLES: tuple[str, ...] = (TELLER, SUPERVISOR, OPERATOR, AUDITOR)
# A merchant (qianbao.merchants): its own orders and refunds, in the merchant pages and the signed merchant API.
MERCHANT = "merchant"
ROLES: tuple[str, ...] = (CUSTOMER, MERCHANT, *STAFF_ROLES)
BRANCH_ROLES = frozenset({TELLER, SUPERVISOR})

Scope = Literal["own", "branch", "all"]


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    scope: Scope
    writes: bool
    description: str
    # Acting on one's own session only (sign out): allowed to every listed role, auditors included.
    self_service: bool = False

    def __post_init__(self) -> None:
        unknown = self.roles - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        if self.writes and AUDITOR in self.roles and not self.self_service:
            raise ValueError("an auditor changes nothing: a writing action cannot list the auditor")


def _rule(roles: set[str], scope: Scope, writes: bool, description: str, *, self_service: bool = False) -> Rule:
    return Rule(frozenset(roles), scope, writes, description, self_service)


POLICY: dict[str, Rule] = {
    # The customer app and the customer API: only the customer's own wallet, cards, records, documents.
    "customer.read": _rule({CUSTOMER}, "own", False, "see own wallet, cards, records and documents"),
    "customer.act": _rule({CUSTOMER}, "own", True, "pay, transfer, change own settings"),
    # The teller console: a teller or supervisor acts only in their own branch.
    "teller.console": _rule({TELLER, SUPERVISOR}, "branch", False, "teller console pages"),
    "teller.operate": _rule({TELLER, SUPERVISOR}, "branch", True, "counter operations for customers"),
    "teller.approvals": _rule({SUPERVISOR}, "branch", False, "the branch's approval queue"),
    "teller.approve": _rule({SUPERVISOR}, "branch", True, "approve or reject a teller's operation"),
    # The ops console: operators work, auditors read.
    "ops.read": _rule({OPERATOR, AUDITOR}, "all", False, "read ops console pages, the audit log and reports"),
    "ops.kyc": _rule({OPERATOR}, "all", True, "decide real-name (KYC) reviews"),
    "ops.risk": _rule({OPERATOR}, "all", True, "decide held payments in the risk queue"),
    "ops.freeze": _rule({OPERATOR}, "all", True, "freeze and unfreeze wallets, downgrade tiers"),
    "ops.tickets": _rule({OPERATOR}, "all", True, "answer tickets and disputes"),
    "ops.recon": _rule({OPERATOR}, "all", True, "reconcile with banks, post corrections"),
    "ops.config": _rule({OPERATOR}, "all", True, "change policy tables: tiers, limits, fees, rules"),
    "ops.staff": _rule({OPERATOR}, "all", True, "create branches and staff, disable, reset password or TOTP"),
    # Merchants (qianbao.merchants): a merchant sees and acts on its own orders only; operators manage merchants.
    "merchant.read": _rule({MERCHANT}, "own", False, "see own orders, refunds and notifications"),
    "merchant.act": _rule({MERCHANT}, "own", True, "create, close, confirm and refund own orders"),
    "ops.merchants": _rule({OPERATOR}, "all", True, "create merchants, rotate secrets, suspend, reset passwords"),
    # Any signed-in staff member on their own session.
    "staff.session": _rule(set(STAFF_ROLES), "all", True, "sign out", self_service=True),
}

# Routes anyone may call without signing in: (method, path template). Static files are public too.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/"),
    ("GET", "/app"),
    ("GET", "/lang/{code}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/api/openapi.json"),
    # Staff sign-in: the later steps check for the pending session themselves.
    *((method, f"/{console}/login{step}") for console in ("teller", "ops")
      for method, step in (("GET", ""), ("POST", ""), ("GET", "/totp"), ("POST", "/totp"),
                           ("POST", "/totp/new"), ("GET", "/password"), ("POST", "/password"))),
    # The customer app before sign-in (qianbao.web.customer_pages): forms post with the device-bound CSRF token.
    ("GET", "/app/register"), ("POST", "/app/register/code"), ("POST", "/app/register"), ("GET", "/app/terms"),
    ("GET", "/app/login"), ("POST", "/app/login"), ("POST", "/app/login/device"),
    ("POST", "/app/login/device/resend"), ("POST", "/app/login/totp"),
    ("GET", "/app/password/reset"), ("POST", "/app/password/reset/code"), ("POST", "/app/password/reset"),
    ("POST", "/api/v1/customer/passkeys/login/options"), ("POST", "/api/v1/customer/passkeys/login"),
    # The customer-facing PIN pad at the counter (qianbao.web.pinpad_pages): paired by a one-time code, its
    # forms post with the device-bound CSRF token and it works with its own short-lived pairing token.
    ("GET", "/pinpad"), ("POST", "/pinpad/pair"), ("POST", "/pinpad/complete"), ("POST", "/pinpad/leave"),
    # The counter PIN pad (qianbao.web.counter_pinpad): the same, paired by the code of one counter operation.
    ("GET", "/pinpad/counter"), ("POST", "/pinpad/counter/pair"), ("POST", "/pinpad/counter/confirm"),
    ("POST", "/pinpad/counter/leave"),
    # The customer JSON API's sign-in (qianbao.api.customer_auth): password, then the new device's SMS code or
    # the dynamic password; every other /api/v1 customer route needs its bearer token.
    ("POST", "/api/v1/sessions"),
    # The bank's callbacks (qianbao.api.bank_callbacks): authenticated by the bank's HMAC signature, not a session.
    ("POST", "/api/bank/callbacks"),
    # Merchants (qianbao.web.merchant_pages): the portal's sign-in (device-bound CSRF), and the public checkout
    # page a shop shows its customer — found only by the order's unguessable token, it shows the QR and amount.
    ("GET", "/m/login"), ("POST", "/m/login"),
    ("GET", "/m/checkout/{token}"), ("GET", "/m/checkout/{token}/status"), ("GET", "/m/checkout/{token}/qr.svg"),
})
PUBLIC_PREFIXES: tuple[str, ...] = ("/static/",)


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES or path.startswith(PUBLIC_PREFIXES)


@dataclass(frozen=True)
class Actor:
    """Who is asking: a customer, or a staff member with their role and branch."""

    kind: Literal["customer", "staff", "merchant"]
    id: int
    role: str
    branch_id: int | None = None

    @classmethod
    def customer(cls, customer_id: int) -> Actor:
        return cls("customer", customer_id, CUSTOMER)

    @classmethod
    def merchant(cls, merchant_id: int) -> Actor:
        return cls("merchant", merchant_id, MERCHANT)

    @classmethod
    def staff(cls, staff_id: int, role: str, branch_id: int | None) -> Actor:
        if role not in STAFF_ROLES:
            raise ValueError(f"{role!r} is not a staff role")
        return cls("staff", staff_id, role, branch_id)

    @property
    def audit_actor(self) -> audit.Actor:
        if self.kind == "customer":
            return audit.Actor.customer(self.id)
        if self.kind == "merchant":
            return audit.Actor.merchant(self.id)
        return audit.Actor.staff(self.id, self.branch_id)


def rule(action: str) -> Rule:
    try:
        return POLICY[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}: add it to qianbao.access.POLICY") from None


def allowed_roles(action: str) -> frozenset[str]:
    return rule(action).roles


def require(actor: Actor | None, action: str, branch_id: int | None = None, *, writes: bool | None = None) -> None:
    """Refuse unless `actor` may do `action` (on an object of `branch_id`, for branch-scoped actions).

    UNAUTHENTICATED without an actor; FORBIDDEN for a role the action does not list, and for an auditor
    on any writing request (`writes`, default the rule's own); ACCESS_OTHER_BRANCH for another branch.
    """
    r = rule(action)
    if actor is None:
        raise QianbaoError("UNAUTHENTICATED")
    if actor.role not in r.roles:
        raise QianbaoError("FORBIDDEN")
    if actor.role == AUDITOR and (r.writes if writes is None else writes or r.writes) and not r.self_service:
        raise QianbaoError("FORBIDDEN")
    if r.scope == "branch" and branch_id is not None and actor.branch_id != branch_id:
        raise QianbaoError("ACCESS_OTHER_BRANCH")


def can(actor: Actor | None, action: str, branch_id: int | None = None) -> bool:
    try:
        require(actor, action, branch_id)
    except QianbaoError:
        return False
    return True


def require_owner(actor: Actor | None, owner_customer_id: int | None) -> None:
    """A customer reaches only their own objects: anyone else's is NOT_FOUND, as if it did not exist."""
    if actor is None:
        raise QianbaoError("UNAUTHENTICATED")
    if actor.kind != "customer" or owner_customer_id is None or actor.id != owner_customer_id:
        raise QianbaoError("NOT_FOUND")


def branch_filter(actor: Actor, column: Any) -> ColumnElement[bool]:
    """A WHERE clause limiting a query to what the staff member may see: their branch for tellers and
    supervisors, everything for operators and auditors, nothing for anyone else."""
    if actor.kind != "staff":
        return false()
    if actor.role in BRANCH_ROLES:
        return column == actor.branch_id  # type: ignore[no-any-return]
    return true()


def owner_filter(actor: Actor, column: Any) -> ColumnElement[bool]:
    """A WHERE clause limiting a query to the customer's own rows (nothing for staff: they use actions)."""
    if actor.kind != "customer":
        return false()
    return column == actor.id  # type: ignore[no-any-return]
