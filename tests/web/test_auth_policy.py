"""The access policy (qianbao.access): SPEC §1's roles and §10's rule that every request is authorised for
the object it touches — customers their own, tellers their branch, auditors read and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qianbao import access
from qianbao.access import Actor, require, require_owner
from qianbao.errors import QianbaoError
from qianbao.staff.models import StaffMember

TELLER_A = Actor.staff(1, "teller", 10)
SUPERVISOR_A = Actor.staff(2, "supervisor", 10)
OPERATOR = Actor.staff(3, "operator", None)
AUDITOR = Actor.staff(4, "auditor", None)
CUSTOMER = Actor.customer(42)


def refused(actor: Actor | None, action: str, branch_id: int | None = None, **options: bool) -> str | None:
    try:
        require(actor, action, branch_id, **options)
    except QianbaoError as exc:
        return exc.code
    return None


def actions_of(role: str) -> set[str]:
    return {action for action, rule in access.POLICY.items() if role in rule.roles}


def test_each_role_has_the_actions_spec_section_1_gives_it() -> None:
    # Customers act in the app; tellers and supervisors at the counter; operators and auditors in ops.
    assert {"customer.read", "customer.act"} <= actions_of("customer")
    assert all(action.startswith("customer.") for action in actions_of("customer"))
    assert {"teller.console", "teller.operate", "staff.session"} <= actions_of("teller")
    assert all(action.startswith(("teller.", "staff.")) for action in actions_of("teller"))
    # A supervisor has a teller's rights and the approvals on top.
    assert actions_of("supervisor") >= actions_of("teller") | {"teller.approvals", "teller.approve"}
    assert actions_of("operator") == {a for a in access.POLICY if a.startswith("ops.")} | {"staff.session"}
    # An auditor reads the ops console and nothing else.
    assert actions_of("auditor") == {"ops.read", "staff.session"}


def test_no_writing_action_lists_the_auditor() -> None:
    assert [a for a, rule in access.POLICY.items() if rule.writes and "auditor" in rule.roles
            and not rule.self_service] == []
    with pytest.raises(ValueError, match="auditor changes nothing"):
        access.Rule(frozenset({"auditor"}), "all", True, "edit the audit log")


def test_a_role_the_action_does_not_list_is_forbidden() -> None:
    assert refused(TELLER_A, "ops.read") == "FORBIDDEN"
    assert refused(OPERATOR, "teller.operate") == "FORBIDDEN"
    assert refused(CUSTOMER, "teller.console") == "FORBIDDEN"
    assert refused(TELLER_A, "teller.approve", 10) == "FORBIDDEN"
    assert refused(None, "ops.read") == "UNAUTHENTICATED"


def test_a_teller_acts_only_in_their_own_branch() -> None:
    assert refused(TELLER_A, "teller.operate", 10) is None
    assert refused(TELLER_A, "teller.operate", 11) == "ACCESS_OTHER_BRANCH"
    assert refused(SUPERVISOR_A, "teller.approve", 11) == "ACCESS_OTHER_BRANCH"


def test_an_auditor_reads_but_every_write_is_refused_except_signing_out() -> None:
    assert refused(AUDITOR, "ops.read") is None
    assert refused(AUDITOR, "ops.read", writes=True) == "FORBIDDEN"
    assert refused(AUDITOR, "ops.config") == "FORBIDDEN"
    assert refused(AUDITOR, "staff.session", writes=True) is None


def test_a_customer_reaches_only_their_own_objects_and_others_look_absent() -> None:
    require_owner(CUSTOMER, 42)
    for actor, owner in ((CUSTOMER, 43), (CUSTOMER, None), (OPERATOR, 42)):
        with pytest.raises(QianbaoError) as caught:
            require_owner(actor, owner)
        assert caught.value.code == "NOT_FOUND"


def test_an_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        require(OPERATOR, "ops.everything")


def test_queries_are_limited_to_what_the_actor_may_see(db, make_staff) -> None:  # type: ignore[no-untyped-def]
    a = make_staff("teller", branch="0101")
    b = make_staff("teller", branch="0102")
    ops = make_staff("operator")

    def visible(actor: Actor) -> set[int]:
        with db.read() as session:
            stmt = select(StaffMember.id).where(access.branch_filter(actor, StaffMember.branch_id))
            return set(session.scalars(stmt))

    teller = Actor.staff(a.id, "teller", a.member.branch_id)
    assert visible(teller) == {a.id}
    assert visible(Actor.staff(ops.id, "operator", None)) == {a.id, b.id, ops.id}
    assert visible(CUSTOMER) == set()
    with db.read() as session:
        owned = select(StaffMember.id).where(access.owner_filter(CUSTOMER, StaffMember.id))
        assert set(session.scalars(owned)) == set()


def test_the_public_allow_list_names_only_pages_anyone_may_open() -> None:
    assert access.is_public("GET", "/teller/login") and access.is_public("GET", "/static/htmx.min.js")
    assert not access.is_public("GET", "/teller") and not access.is_public("POST", "/staff/logout")
    assert not any(path.startswith(("/ops", "/teller")) and "/login" not in path for _, path in access.PUBLIC_ROUTES)
