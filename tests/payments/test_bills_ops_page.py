"""The ops console's billers page: operators stop offering a biller, add one and change the withholding
maxima, each with a reason; auditors read it without forms."""

from __future__ import annotations

from bills_helpers import HTML, YUAN, Kit

from qianbao.audit.models import AuditEntry
from qianbao.payments import bills, withholding


def test_an_operator_stops_offering_a_biller_with_a_reason(kit: Kit, staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    page = client.get("/ops/config/billers", headers=HTML)
    assert page.status_code == 200 and "国网上海市电力公司" in page.text
    refused = client.post("/ops/config/billers/SH-GAS/enabled", data={"enabled": "0", "reason": "",
                                                                      "csrf_token": client.csrf_token}, headers=HTML)
    assert refused.status_code == 422 and 'data-code="REASON_REQUIRED"' in refused.text
    done = client.post("/ops/config/billers/SH-GAS/enabled", data={"enabled": "0", "reason": "系统切换",
                                                                   "csrf_token": client.csrf_token}, headers=HTML)
    assert done.status_code == 200 and 'data-testid="notice"' in done.text
    assert "SH-GAS" not in [b.code for b in kit.read(bills.list_billers)]
    assert kit.count(AuditEntry, AuditEntry.action == "biller.disable") == 1


def test_an_operator_changes_the_withholding_maxima(kit: Kit, staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    client.post("/ops/config/withholding", data={"max_per_payment": "300", "max_monthly": "1500",
                                                 "reason": "调整", "csrf_token": client.csrf_token}, headers=HTML)
    assert kit.read(withholding.policy) == withholding.PolicyView(300 * YUAN, 1_500 * YUAN)


def test_an_operator_adds_a_biller(kit: Kit, staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("operator")
    client.post("/ops/config/billers", data={"code": "SH-HEAT", "category": "gas", "name_zh": "上海热力",
                                             "name_en": "Shanghai Heating", "region": "上海",
                                             "reference_format": "luhn12", "reason": "新签约",
                                             "csrf_token": client.csrf_token}, headers=HTML)
    assert "SH-HEAT" in [b.code for b in kit.read(bills.list_billers)]


def test_an_auditor_reads_the_page_without_forms(kit: Kit, staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client("auditor")
    page = client.get("/ops/config/billers", headers=HTML)
    assert page.status_code == 200 and 'data-testid="read-only"' in page.text
    assert 'action="/ops/config/withholding"' not in page.text
