"""The fee schedule in the ops console: shown, edited in yuan and percent with a reason, audited; auditors read."""

from __future__ import annotations

import re

from payments_helpers import YUAN, Pay
from sqlalchemy import select

from qianbao import payments
from qianbao.audit.models import AuditEntry

HTML = {"accept": "text/html"}


def post(client, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": client.csrf_token, **data}, headers=HTML, follow_redirects=False)


def test_the_fee_page_shows_the_default_schedule(staff_client) -> None:  # type: ignore[no-untyped-def]
    page = staff_client("operator").get("/ops/config/fees", headers=HTML)
    assert page.status_code == 200
    row = re.search(r'<tr data-testid="fee-row-withdrawal">(.*?)</tr>', page.text, re.S)
    assert row and "¥1,000.00" in row.group(1) and "0.1%" in row.group(1) and "¥0.10" in row.group(1)


def test_an_operator_changes_the_withdrawal_fee_with_a_reason(staff_client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    done = post(client, "/ops/config/fees/withdrawal",
                {"free_monthly": "500", "rate": "0.15", "min_fee": "0.20", "max_fee": "25", "reason": "调价"})
    assert done.status_code == 303
    rule = pay.run(payments.fee_rule, "withdrawal")
    assert (rule.free_monthly, rule.rate_ppm, rule.min_fee, rule.max_fee) == (500 * YUAN, 1_500, 20, 2_500)
    with pay.db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "policy.fee.update",
                                                        AuditEntry.outcome == "success"))
    assert entry is not None and entry.details["reason"] == "调价" and entry.actor_id == str(client.staff.id)
    page = client.get("/ops/config/fees?done=withdrawal", headers=HTML)
    assert 'data-testid="notice"' in page.text and "调价" in page.text


def test_a_bad_rate_is_refused_next_to_its_field(staff_client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    refused = post(client, "/ops/config/fees/withdrawal",
                   {"free_monthly": "1000", "rate": "0.00001", "min_fee": "0.10", "max_fee": "", "reason": "x"})
    assert refused.status_code == 422 and 'id="fee-withdrawal-rate-error"' in refused.text
    assert pay.run(payments.fee_rule, "withdrawal").rate_ppm == 1_000


def test_a_fee_change_needs_a_reason(staff_client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    refused = post(staff_client("operator"), "/ops/config/fees/withdrawal",
                   {"free_monthly": "1000", "rate": "0.2", "min_fee": "0.10", "max_fee": "", "reason": ""})
    assert refused.status_code == 422 and 'data-code="REASON_REQUIRED"' in refused.text
    assert pay.run(payments.fee_rule, "withdrawal").rate_ppm == 1_000


def test_an_auditor_reads_the_fee_page_but_cannot_change_it(staff_client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("auditor")
    page = client.get("/ops/config/fees", headers=HTML)
    assert page.status_code == 200 and 'data-testid="read-only"' in page.text and "fee-form-" not in page.text
    refused = post(client, "/ops/config/fees/withdrawal",
                   {"free_monthly": "0", "rate": "1", "min_fee": "0", "max_fee": "", "reason": "x"})
    assert refused.status_code == 403
    assert pay.run(payments.fee_rule, "withdrawal").rate_ppm == 1_000
