"""Branches (网点): numbers of 4-8 digits, unique, every creation audited."""

from __future__ import annotations

import pytest

from qianbao import audit
from qianbao.staff import branch_by_code, create_branch, list_branches

OPERATOR_ACTOR = audit.Actor.staff(900, None)


def _create(run, code: str = "0101", **overrides):  # type: ignore[no-untyped-def]
    fields = {"name_zh": "北京西城支行", "name_en": "Beijing Xicheng Branch", "address": "金融大街 1 号", **overrides}
    return run(create_branch, code=code, by=OPERATOR_ACTOR, channel="ops", **fields)


def test_a_branch_is_created_with_its_number_names_and_address(run) -> None:  # type: ignore[no-untyped-def]
    _create(run, " 0101 ")
    branch = run(branch_by_code, "0101")
    assert (branch.code, branch.name("zh-CN"), branch.name("en"), branch.address) == (
        "0101", "北京西城支行", "Beijing Xicheng Branch", "金融大街 1 号")


def test_branch_creation_is_audited(run, audit_actions) -> None:  # type: ignore[no-untyped-def]
    branch = _create(run)
    assert audit_actions() == [("branch.created", "success", str(branch.id))]


@pytest.mark.parametrize("code", ["101", "123456789", "01A1", "", "０１０１x"])
def test_a_branch_number_is_four_to_eight_digits(refusal, code: str) -> None:  # type: ignore[no-untyped-def]
    error = refusal(create_branch, code=code, name_zh="支行", name_en="Branch", address="路", by=OPERATOR_ACTOR,
                    channel="ops")
    assert error.code == "BRANCH_CODE_INVALID"


def test_full_width_digits_are_read_as_digits(run) -> None:  # type: ignore[no-untyped-def]
    assert _create(run, "０１０２").code == "0102"


def test_a_branch_number_is_taken_once(run, refusal) -> None:  # type: ignore[no-untyped-def]
    _create(run)
    error = refusal(create_branch, code="0101", name_zh="另一支行", name_en="Other", address="路",
                    by=OPERATOR_ACTOR, channel="ops")
    assert (error.code, error.params) == ("BRANCH_CODE_TAKEN", {"branch": "0101"})


@pytest.mark.parametrize(("field", "value"), [("name_zh", " "), ("name_en", ""), ("address", "路" * 201)])
def test_each_branch_field_must_be_filled_in_and_not_too_long(refusal, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    fields = {"name_zh": "支行", "name_en": "Branch", "address": "路", field: value}
    error = refusal(create_branch, code="0101", by=OPERATOR_ACTOR, channel="ops", **fields)
    assert (error.code, error.params["field"]) == ("BRANCH_FIELD_INVALID", field)


def test_an_unknown_branch_number_is_not_found(refusal) -> None:  # type: ignore[no-untyped-def]
    assert refusal(branch_by_code, "0199").code == "BRANCH_NOT_FOUND"


def test_branches_are_listed_by_number(run) -> None:  # type: ignore[no-untyped-def]
    _create(run, "0202")
    _create(run, "0101")
    assert [b.code for b in run(list_branches)] == ["0101", "0202"]
