"""Wallet look-up and the operator's actions in the ops console (issue 5 items 4 and 5, SPEC §2, §3.4, §10):
a wallet is found by its number (check digit first), the holder's mobile or resident ID number (keyed
hashes); its page shows the holder masked, the tier and its history, the status and the ledger balance;
an operator downgrades, freezes and unfreezes with a reason; auditors see no forms and are refused."""

from __future__ import annotations

import re

import pytest
from ops_helpers import (
    HTML,
    LI_MING,
    audit_entries,
    cheap_argon2,
    error_code,
    pending,
    post,
    register,
    submit,
    top_up,
    visible,
)

from qianbao import ledger, wallets
from qianbao.settings import Settings
from qianbao.wallets import format_wallet_number


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return cheap_argon2(settings)


def wallet_state(db, wallet_id: int) -> tuple[int, str, int | None, bool]:  # type: ignore[no-untyped-def]
    with db.read() as session:
        wallet = wallets.get_wallet(session, wallet_id)
        account = ledger.get_account(session, wallet.ledger_account_id)
        return wallet.tier, wallet.status, account.cap, account.frozen


def mistype(number: str) -> str:
    """The number with its last digit changed: the Luhn check digit no longer fits."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_a_mistyped_wallet_number_is_caught_before_any_look_up(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    response = staff_client("operator").get("/ops/wallets", params={"q": mistype(holder.number)}, headers=HTML)
    assert response.status_code == 422 and 'data-code="WALLET_NUMBER_INVALID"' in response.text
    assert "钱包编号不正确" in response.text and f'value="{mistype(holder.number)}"' in response.text
    assert audit_entries(db, "wallet.lookup") == []


def test_a_wallet_number_as_shown_in_fours_opens_the_wallet(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    response = staff_client("operator").get("/ops/wallets", params={"q": format_wallet_number(holder.number)},
                                            headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/ops/wallets/{holder.wallet_id}"


def test_a_mobile_number_finds_the_holders_wallet(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    register(db, settings)
    response = staff_client("operator").get("/ops/wallets", params={"q": f"+86 {holder.phone}"}, headers=HTML,
                                            follow_redirects=False)
    assert response.headers["location"] == f"/ops/wallets/{holder.wallet_id}"


def test_a_resident_id_number_finds_the_verified_holder_and_real_name_attempts(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    verified = register(db, settings)
    submit(db, settings, verified, *LI_MING)
    response = staff_client("operator").get("/ops/wallets", params={"q": LI_MING[1]}, headers=HTML,
                                            follow_redirects=False)
    assert response.headers["location"] == f"/ops/wallets/{verified.wallet_id}"

    waiting, _ = pending(db, settings, id_number="320102196510019132")
    other, _ = pending(db, settings, id_number="320102196510019132")
    page = staff_client("operator").get("/ops/wallets", params={"q": "320102196510019132"}, headers=HTML)
    assert page.status_code == 200
    found = re.findall(r'href="/ops/wallets/(\d+)"', page.text.split('data-testid="wallet-results"')[1])
    assert sorted(int(n) for n in found) == sorted([waiting.wallet_id, other.wallet_id])
    results = page.text.split('data-testid="wallet-search"')[1].split("</form>")[1]
    assert "实名申请中的证件号（未通过）" in results and "320102196510019132" not in results


def test_an_invalid_resident_id_number_is_refused_with_its_own_code(staff_client) -> None:  # type: ignore[no-untyped-def]
    response = staff_client("operator").get("/ops/wallets", params={"q": "440305199210110059"}, headers=HTML)
    assert response.status_code == 422 and 'data-code="ID_NUMBER_CHECKSUM"' in response.text


def test_a_query_of_no_known_shape_says_what_to_type(staff_client) -> None:  # type: ignore[no-untyped-def]
    response = staff_client("operator").get("/ops/wallets", params={"q": "张三"}, headers=HTML)
    assert response.status_code == 422 and 'data-code="OPS_LOOKUP_UNRECOGNISED"' in response.text
    assert "16 位钱包号、11 位手机号或 18 位身份证号" in response.text


def test_no_match_shows_an_empty_state(staff_client) -> None:  # type: ignore[no-untyped-def]
    page = staff_client("operator").get("/ops/wallets", params={"q": "13912345678"}, headers=HTML)
    assert page.status_code == 200 and "没有找到匹配的钱包" in page.text


def test_each_look_up_is_audited_with_the_query_masked(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    operator = staff_client("auditor")
    operator.get("/ops/wallets", params={"q": holder.phone}, headers=HTML)
    operator.get("/ops/wallets", params={"q": LI_MING[1]}, headers=HTML)
    entries = audit_entries(db, "wallet.lookup")
    assert [(e.actor_id, e.details) for e in entries] == [
        (str(operator.staff.id), {"kind": "phone", "query": f"{holder.phone[:3]}****{holder.phone[-4:]}",
                                  "found": 1}),
        (str(operator.staff.id), {"kind": "id_number", "query": "4403**********0058", "found": 0}),
    ]


def test_the_wallet_page_shows_the_holder_masked_the_tier_history_and_the_ledger_balance(
    db, settings, staff_client  # type: ignore[no-untyped-def]
) -> None:
    holder = register(db, settings)
    submit(db, settings, holder, *LI_MING)
    top_up(db, holder.wallet_id, 1_234_56)
    page = staff_client("auditor").get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
    assert f">{format_wallet_number(holder.number)}<" in page
    facts = visible(page.split('data-testid="holder-facts"')[1].split("</dl>")[0])
    assert "李*" in facts and "4403**********0058" in facts and "已实名" in facts
    assert "李明" not in page and LI_MING[1] not in page and holder.phone not in page
    assert 'data-testid="balance">¥1,234.56<' in page and 'data-testid="balance-cap">¥20,000.00<' in page
    history = visible(page.split('data-testid="tier-history"')[1].split("</table>")[0])
    assert re.search(r"4类 → 3类 实名认证通过 · 手机银行 App .*4类 开户 · 手机银行 App", history)
    assert 'data-testid="wallet-tier">3类<' in page and 'data-testid="wallet-status">正常<' in page


def test_an_operator_downgrades_a_wallet_with_a_reason(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    submit(db, settings, holder, *LI_MING)
    operator = staff_client("operator")
    response = post(operator, f"/ops/wallets/{holder.wallet_id}/downgrade", to_tier="4", reason="证件存疑，待核实")
    assert response.status_code == 303
    assert response.headers["location"] == f"/ops/wallets/{holder.wallet_id}?done=downgraded"
    assert wallet_state(db, holder.wallet_id)[::2] == (4, 10_000_00)
    [entry] = audit_entries(db, "wallet.tier.downgrade", "success")
    assert (entry.actor_id, entry.details["reason"]) == (str(operator.staff.id), "证件存疑，待核实")
    page = operator.get(f"/ops/wallets/{holder.wallet_id}?done=downgraded", headers=HTML).text
    assert "钱包已降级" in page
    history = visible(page.split('data-testid="tier-history"')[1].split("</table>")[0])
    assert history.split(" 3类 → 4类 ")[1].startswith(f"运营降级 · 运营后台 {operator.staff.member.name}")
    assert "证件存疑，待核实" in history


def test_a_downgrade_needs_a_reason_and_a_lower_tier(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    submit(db, settings, holder, *LI_MING)
    operator = staff_client("operator")
    no_reason = post(operator, f"/ops/wallets/{holder.wallet_id}/downgrade", to_tier="4", reason="")
    assert no_reason.status_code == 422 and 'data-code="REASON_REQUIRED"' in no_reason.text
    upward = post(operator, f"/ops/wallets/{holder.wallet_id}/downgrade", to_tier="2", reason="试试")
    assert upward.status_code == 422 and 'data-code="TIER_NOT_DOWNGRADE"' in upward.text
    assert 'value="试试"' in upward.text
    assert wallet_state(db, holder.wallet_id)[0] == 3
    assert [e.details["code"] for e in audit_entries(db, "wallet.tier.downgrade", "refused")] == [
        "REASON_REQUIRED", "TIER_NOT_DOWNGRADE"]


def test_a_tier_4_wallet_offers_no_downgrade(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    page = staff_client("operator").get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
    assert "已是最低等级" in page and 'name="to_tier"' not in page


def test_an_operator_freezes_and_unfreezes_a_wallet_with_a_reason(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    operator = staff_client("operator")
    assert post(operator, f"/ops/wallets/{holder.wallet_id}/freeze", reason="").status_code == 422
    response = post(operator, f"/ops/wallets/{holder.wallet_id}/freeze", reason="涉嫌电信诈骗，公安协查")
    assert response.headers["location"] == f"/ops/wallets/{holder.wallet_id}?done=frozen"
    assert wallet_state(db, holder.wallet_id)[1::2] == ("frozen_ops", True)
    page = operator.get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
    assert 'data-testid="wallet-status">运营冻结<' in page and "涉嫌电信诈骗，公安协查" in page
    assert 'data-testid="unfreeze-form"' in page and 'data-testid="freeze-form"' not in page

    response = post(operator, f"/ops/wallets/{holder.wallet_id}/unfreeze", reason="协查结束")
    assert response.headers["location"] == f"/ops/wallets/{holder.wallet_id}?done=unfrozen"
    assert wallet_state(db, holder.wallet_id)[1::2] == ("active", False)
    events = visible(operator.get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
                     .split('data-testid="wallet-events">')[1].split("</ul>")[0])
    assert events.startswith("解冻") and "协查结束" in events and "涉嫌电信诈骗，公安协查" in events
    assert [e.details["code"] for e in audit_entries(db, "wallet.freeze.ops", "refused")] == ["REASON_REQUIRED"]


def test_a_loss_freeze_is_lifted_at_a_counter_not_in_the_console(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    with db.transaction() as session:
        wallets.report_loss(session, holder.wallet_id, customer_id=holder.customer_id)
    operator = staff_client("operator")
    page = operator.get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
    assert "挂失冻结" in page and 'data-testid="unfreeze-form"' not in page
    response = post(operator, f"/ops/wallets/{holder.wallet_id}/unfreeze", reason="客户来电")
    assert response.status_code == 409 and 'data-code="WALLET_UNFREEZE_AT_COUNTER"' in response.text
    assert wallet_state(db, holder.wallet_id)[1] == "frozen_lost"


def test_an_auditor_sees_no_action_forms_and_every_action_is_refused(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    submit(db, settings, holder, *LI_MING)
    auditor = staff_client("auditor")
    page = auditor.get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).text
    assert 'data-testid="read-only"' in page and "<form" not in page.split('class="console-main"')[1]
    for action, data in (("downgrade", {"to_tier": "4"}), ("freeze", {}), ("unfreeze", {})):
        response = post(auditor, f"/ops/wallets/{holder.wallet_id}/{action}", reason="审计", **data)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert wallet_state(db, holder.wallet_id)[:2] == (3, "active")


def test_a_teller_is_refused_the_wallet_pages(db, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    holder = register(db, settings)
    teller = staff_client("teller")
    assert teller.get("/ops/wallets", headers=HTML).status_code == 403
    assert teller.get(f"/ops/wallets/{holder.wallet_id}", headers=HTML).status_code == 403
    assert post(teller, f"/ops/wallets/{holder.wallet_id}/freeze", reason="柜员").status_code == 403
    assert wallet_state(db, holder.wallet_id)[1] == "active"


def test_an_unknown_wallet_is_not_found(staff_client) -> None:  # type: ignore[no-untyped-def]
    operator = staff_client("operator")
    assert operator.get("/ops/wallets/424242", headers=HTML).status_code == 404
    assert post(operator, "/ops/wallets/424242/freeze", reason="测试").status_code == 404
