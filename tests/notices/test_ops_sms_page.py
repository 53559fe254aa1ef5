"""The ops console's SMS page lists what the dev gateway sent, newest first, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qianbao.adapters.sms.dev import DevSmsGateway


@pytest.fixture
def client(staff_client):
    """The page's reader: a signed-in operator."""
    return staff_client("operator")


def send_three(db, time_machine) -> None:
    gateway = DevSmsGateway(db)
    start = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    for n, phone in enumerate(["13800138000", "13900139000", "13800138000"]):
        time_machine.move_to(start + timedelta(minutes=n), tick=False)
        gateway.send(f"outbox-{n}", phone, f"【钱包】第{n}条短信")


def positions(page: str, *needles: str) -> list[int]:
    return [page.index(needle) for needle in needles]


def test_sms_page_lists_messages_newest_first_in_chinese(client, db, time_machine):
    send_three(db, time_machine)

    response = client.get("/ops/sms", headers={"accept-language": "zh-CN"})

    assert response.status_code == 200
    page = response.text
    assert "短信发件箱" in page and "发送时间" in page
    first, second, third = positions(page, "第2条短信", "第1条短信", "第0条短信")
    assert first < second < third
    assert "2026-11-25 10:02:00" in page  # stored UTC, shown in Asia/Shanghai
    assert "13900139000" in page  # the sandbox page shows full numbers on purpose


def test_sms_page_lists_messages_newest_first_in_english(client, db, time_machine):
    send_three(db, time_machine)

    response = client.get("/ops/sms", headers={"accept-language": "en"})

    assert response.status_code == 200
    page = response.text
    assert "SMS outbox" in page and "Sent at" in page
    first, second, third = positions(page, "第2条短信", "第1条短信", "第0条短信")
    assert first < second < third


def test_sms_page_filters_by_phone_number(client, db, time_machine):
    send_three(db, time_machine)

    page = client.get("/ops/sms", params={"phone": "+86 139 0013 9000"}, headers={"accept-language": "en"}).text

    assert "第1条短信" in page
    assert "第0条短信" not in page and "第2条短信" not in page


def test_sms_page_says_so_when_nothing_was_sent(client):
    page = client.get("/ops/sms", headers={"accept-language": "zh-CN"}).text

    assert "暂无短信" in page
