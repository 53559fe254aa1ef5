"""`qianbao serve --demo` for the ops console (issue 5 item 9): the printed lines say how the operator and the
auditor sign in and where the demo's waiting real-name submission is reviewed; the queue really holds it."""

from __future__ import annotations

import pytest
from ops_helpers import HTML, cheap_argon2, visible

from qianbao import demo
from qianbao.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return cheap_argon2(settings)


def test_the_demo_lines_say_how_ops_staff_sign_in_and_where_the_review_waits(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    lines = demo.seed(db, settings)
    operator = next(line for line in lines if " OP001 " in line)
    auditor = next(line for line in lines if " AU001 " in line)
    assert "Operator-Demo-001" in operator and "/ops/login" in operator and "TOTP " in operator
    assert "Auditor-Demo-001" in auditor and "/ops/login" in auditor
    assert any("KYC pending" in line and "13800000005" in line for line in lines)
    assert any("/ops/kyc" in line and "/ops/config/tiers" in line and "/ops/wallets" in line for line in lines)
    queue = visible(staff_client("operator").get("/ops/kyc", headers=HTML).text)
    assert "周*国" in queue and "3201**********9132" in queue
