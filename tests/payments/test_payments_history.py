"""Transaction history (SPEC §8): every movement, filters, cursor pages, detail, CSV for Excel/WPS, API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from payments_helpers import YUAN, Pay, W
from test_payments_transfers import HTML, bearer, signed_in

from qianbao import payments
from qianbao.errors import QianbaoError
from qianbao.payments import Order, Party, history


def records(pay: Pay, w: W, limit: int = 20, cursor: str | None = None, **filters: str) -> history.RecordsPage:
    flt = history.RecordFilter.parse(**filters)
    with pay.db.read() as session:
        return history.records(session, w.wallet_id, flt, limit=limit, cursor=cursor)


def shop(pay: Pay, name: str = "便利店") -> Party:
    return Party.account(pay.run(payments.system_account, "bank_clearing:SHOP"), name)


def buy(pay: Pay, w: W, fen: int, name: str = "便利店") -> payments.Operation:
    return pay.execute(Order(key=pay.key(), kind="merchant_payment", payer=Party.wallet(w.wallet_id),
                             payee=shop(pay, name), amount=fen, counterparty_label=name))


def test_every_movement_is_listed_newest_first_with_type_counterparty_amount_fee_status(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(), pay.open()
    pay.fund(a, 100 * YUAN)
    clock.shift(timedelta(minutes=1))
    pay.execute(pay.order(a, b, 10 * YUAN, fee=5))
    clock.shift(timedelta(minutes=1))
    buy(pay, a, 3 * YUAN)
    items = records(pay, a).items
    assert [(r.kind, r.direction, r.amount, r.fee, r.status) for r in items] == [
        ("merchant_payment", "out", 3 * YUAN, 0, "succeeded"),
        ("transfer", "out", 10 * YUAN, 5, "succeeded"),
        ("topup", "in", 100 * YUAN, 0, "succeeded"),
    ]
    assert items[0].counterparty == "便利店" and items[2].counterparty == "测试银行 储蓄卡 1234"
    assert items[1].signed_total == -(10 * YUAN + 5)
    assert [r.kind for r in records(pay, b).items] == ["transfer"]


def test_a_pending_operation_shows_as_processing_then_its_outcome(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    op = pay.execute(Order(key=pay.key(), kind="withdrawal", payer=Party.wallet(a.wallet_id),
                           payee=Party.account(pay.clearing(), "银行"), amount=10 * YUAN, pending=True))
    assert records(pay, a).items[0].status == "processing"
    pay.run(payments.fail, op.id, key="x", reason="bank")
    assert records(pay, a).items[0].status == "failed"


def test_records_are_filtered_by_shanghai_period(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    clock.move_to(datetime(2026, 11, 24, 15, 59, tzinfo=UTC))  # 23:59 on the 24th in Shanghai
    pay.fund(a, 1 * YUAN)
    clock.move_to(datetime(2026, 11, 24, 16, 1, tzinfo=UTC))  # 00:01 on the 25th
    pay.fund(a, 2 * YUAN)
    assert [r.amount for r in records(pay, a, start="2026-11-25").items] == [2 * YUAN]
    assert [r.amount for r in records(pay, a, end="2026-11-24").items] == [1 * YUAN]
    assert len(records(pay, a, start="2026-11-24", end="2026-11-25").items) == 2


def test_records_are_filtered_by_type_and_direction(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 100 * YUAN)
    pay.execute(pay.order(a, b, 10 * YUAN))
    buy(pay, a, 1 * YUAN)
    assert [r.kind for r in records(pay, a, kind="transfer").items] == ["transfer"]
    assert [r.kind for r in records(pay, a, kind="in").items] == ["topup"]
    assert len(records(pay, a, kind="out").items) == 2


def test_records_are_filtered_by_amount_range_in_yuan(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    for fen in (100, 999, 1000, 2001):
        buy(pay, a, fen)
    found = records(pay, a, min_amount="9.99", max_amount="20", kind="out").items
    assert sorted(r.amount for r in found) == [999, 1000]


def test_records_are_filtered_by_counterparty(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100 * YUAN)
    buy(pay, a, 100, "星巴克咖啡")
    buy(pay, a, 200, "全家便利店")
    buy(pay, a, 300, "100%_shop")
    assert [r.counterparty for r in records(pay, a, counterparty="咖啡").items] == ["星巴克咖啡"]
    assert [r.counterparty for r in records(pay, a, counterparty="%_").items] == ["100%_shop"]


@pytest.mark.parametrize(("filters", "field"), [
    ({"start": "2026-13-01"}, "from"), ({"kind": "gift"}, "type"), ({"min_amount": "abc"}, "min"),
    ({"start": "2026-11-25", "end": "2026-11-01"}, "to"), ({"min_amount": "5", "max_amount": "1"}, "max"),
])
def test_a_bad_filter_is_refused_naming_it(filters: dict[str, str], field: str) -> None:
    with pytest.raises(QianbaoError) as caught:
        history.RecordFilter.parse(**filters)
    assert caught.value.code == "RECORDS_FILTER_INVALID" and caught.value.params == {"field": field}


def test_cursor_pages_neither_skip_nor_repeat_while_new_rows_arrive(pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a = pay.open()
    for n in range(1, 8):
        clock.shift(timedelta(seconds=1))
        pay.fund(a, n)
    first = records(pay, a, limit=3)
    assert [r.amount for r in first.items] == [7, 6, 5] and first.next_cursor
    pay.fund(a, 100)  # a new movement meanwhile
    second = records(pay, a, limit=3, cursor=first.next_cursor)
    third = records(pay, a, limit=3, cursor=second.next_cursor)
    assert [r.amount for r in second.items] == [4, 3, 2] and [r.amount for r in third.items] == [1]
    assert third.next_cursor is None


def test_rows_at_the_same_instant_page_by_id(pay: Pay) -> None:
    a = pay.open()
    for n in range(1, 5):
        pay.fund(a, n)  # the clock does not move: one instant
    first = records(pay, a, limit=2)
    second = records(pay, a, limit=2, cursor=first.next_cursor)
    assert sorted(r.amount for r in first.items + second.items) == [1, 2, 3, 4]


def test_a_forged_cursor_is_refused(pay: Pay) -> None:
    a = pay.open()
    with pytest.raises(QianbaoError) as caught:
        records(pay, a, cursor="not-a-cursor!")
    assert caught.value.code == "RECORDS_CURSOR_INVALID"


def test_the_detail_of_another_wallets_movement_is_not_found(pay: Pay) -> None:
    a, b, c = pay.open(), pay.open(), pay.open()
    pay.fund(a, 10 * YUAN)
    op = pay.execute(pay.order(a, b, 1 * YUAN, note="午饭"))
    with pay.db.read() as session:
        detail = history.record_detail(session, b.wallet_id, op.reference)
        assert detail.record.direction == "in" and detail.record.note == "午饭"
        with pytest.raises(QianbaoError) as caught:
            history.record_detail(session, c.wallet_id, op.reference)
    assert caught.value.code == "NOT_FOUND"


# ------------------------------------------------------------------------------------------------ CSV


def exported(pay: Pay, w: W, lang: str = "zh-CN", **filters: str) -> bytes:
    with pay.db.read() as session:
        return history.export_csv(session, w.wallet_id, history.RecordFilter.parse(**filters), lang)


def test_the_csv_starts_with_a_bom_and_uses_crlf_for_excel_and_wps(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 1234)
    body = exported(pay, a)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body[3:].decode("utf-8")
    assert text.count("\r\n") == 2 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "交易时间" and rows[1][1] == "充值" and rows[1][2] == "收入"


def test_the_csv_has_yuan_with_two_decimals_and_shanghai_times(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 200_000)
    pay.execute(pay.order(a, b, 123_450, fee=10))
    rows = list(csv.reader(io.StringIO(exported(pay, a, kind="transfer").decode("utf-8-sig"))))
    assert rows[1][4:6] == ["1234.50", "0.10"]
    assert rows[1][0] == "2026-11-25 10:00:00"  # 02:00 UTC


def test_the_csv_neutralises_formulas_in_notes_and_names(pay: Pay) -> None:
    a, b = pay.open(), pay.open()
    pay.fund(a, 100)
    pay.execute(pay.order(a, b, 1, note="=HYPERLINK(\"http://x\")"))
    rows = list(csv.reader(io.StringIO(exported(pay, a, kind="transfer").decode("utf-8-sig"))))
    assert rows[1][8].startswith("'=")


def test_the_csv_follows_the_language(pay: Pay) -> None:
    a = pay.open()
    pay.fund(a, 100)
    rows = list(csv.reader(io.StringIO(exported(pay, a, "en").decode("utf-8-sig"))))
    assert rows[0][0] == "Time" and rows[1][1] == "Top-up"


# ------------------------------------------------------------------------------------------ pages, API


def test_the_records_page_lists_filters_and_pages(client, pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    for n in range(25):
        clock.shift(timedelta(seconds=1))
        pay.fund(a, 100 + n)
    pay.execute(pay.order(a, b, 50))
    signed_in(client, pay, a)
    page = client.get("/app/records", headers=HTML)
    assert page.status_code == 200 and page.text.count('data-testid="record"') == 20
    assert 'data-testid="records-more"' in page.text
    only = client.get("/app/records", params={"type": "transfer"}, headers=HTML)
    assert only.text.count('data-testid="record"') == 1 and f"{b.phone[3:6]}****{b.phone[-4:]}" in only.text
    bad = client.get("/app/records", params={"from": "yesterday"}, headers=HTML)
    assert bad.status_code == 422 and 'data-testid="form-error"' in bad.text


def test_the_records_page_follows_the_more_link(client, pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    import re

    a = pay.open(pin=True)
    for n in range(23):
        clock.shift(timedelta(seconds=1))
        pay.fund(a, 100 + n)
    signed_in(client, pay, a)
    page = client.get("/app/records", headers=HTML)
    more = re.search(r'href="([^"]+)" data-testid="records-more"', page.text)
    assert more
    rest = client.get(more.group(1).replace("&amp;", "&"), headers=HTML)
    assert rest.text.count('data-testid="record"') == 3 and 'data-testid="records-more"' not in rest.text


def test_the_record_detail_page_and_the_csv_download(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    pay.fund(a, 100 * YUAN)
    op = pay.execute(pay.order(a, b, 12_34, note="电影票"))
    signed_in(client, pay, a)
    detail = client.get(f"/app/records/{op.reference}", headers=HTML)
    assert detail.status_code == 200 and "电影票" in detail.text and op.reference in detail.text
    download = client.get("/app/records/export.csv", params={"type": "transfer"})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf") and b"12.34" in download.content


def test_another_customers_record_page_is_not_found(client, pay: Pay) -> None:  # type: ignore[no-untyped-def]
    a, b, c = pay.open(), pay.open(), pay.open(pin=True)
    pay.fund(a, 100)
    op = pay.execute(pay.order(a, b, 50))
    signed_in(client, pay, c)
    assert client.get(f"/app/records/{op.reference}", headers=HTML).status_code == 404


def test_the_records_api_lists_filters_pages_and_shows_one(client, pay: Pay, clock) -> None:  # type: ignore[no-untyped-def]
    a, b = pay.open(pin=True), pay.open()
    for n in range(3):
        clock.shift(timedelta(seconds=1))
        pay.fund(a, 1000 + n)
    op = pay.execute(pay.order(a, b, 500, fee=1))
    headers = bearer(pay, a)
    first = client.get("/api/v1/records", params={"limit": 2}, headers=headers).json()
    assert [r["type"] for r in first["records"]] == ["transfer", "topup"]
    assert first["records"][0]["amount"] == {"fen": 500, "yuan": "5.00"} and first["records"][0]["fee"]["fen"] == 1
    rest = client.get("/api/v1/records", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    assert len(rest["records"]) == 2 and rest["next_cursor"] is None
    filtered = client.get("/api/v1/records", params={"type": "in", "min_amount": "10.01"}, headers=headers).json()
    assert [r["amount"]["fen"] for r in filtered["records"]] == [1002, 1001]
    one = client.get(f"/api/v1/records/{op.reference}", headers=headers)
    assert one.status_code == 200 and one.json()["direction"] == "out"
    bad = client.get("/api/v1/records", params={"type": "gift"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "RECORDS_FILTER_INVALID"
    assert client.get(f"/api/v1/records/{op.reference}", headers=bearer(pay, b)).json()["direction"] == "in"
    c = pay.open()
    assert client.get(f"/api/v1/records/{op.reference}", headers=bearer(pay, c)).status_code == 404


