"""A full card number never appears in a log, a page, an API answer, the outbox, the audit log — or anywhere in the
database in clear (SPEC §5): binding through the pages and the API, a top-up, a withdrawal and a refusal are run
against the real sandbox bank, and everything they left behind is searched for both numbers.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from card_helpers import LI_MING, PIN, YUAN, Flow, api_client, hidden, location, web_client
from sqlalchemy import select, text

from qianbao.cards.models import BankCard, CardBinding
from qianbao.db import Base
from qianbao.logging import configure_logging
from qianbao.models import metadata
from qianbao.notices.delivery import deliver_due


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Every structlog line at DEBUG as JSON into a buffer, and the standard library's records (httpx...)."""
    buffer = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=buffer)
    caplog.set_level(logging.DEBUG)
    yield buffer
    configure_logging(json=False, level="WARNING")


# The encrypted card number of a bound card and of a binding: decrypted, these hold the number by design.
ALLOWED = {("bank_card", "number"), ("card_binding", "number")}


def _spellings(number: str) -> list[str]:
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return [number, grouped, number.replace("", " ").strip()]


def test_no_full_card_number_anywhere(flow: Flow, app: Any, logs: io.StringIO, caplog: pytest.LogCaptureFixture,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    holder = flow.holder(LI_MING)
    seen: list[str] = []

    # A refused binding through the page (the number is typed, the holder's name is wrong), then a good one.
    browser = web_client(flow, app, holder)
    page_number = flow.bank_card(holder)
    form = {"card_number": page_number, "holder_name": holder.name, "id_number": holder.id_number,
            "phone": holder.phone}
    seen.append(browser.post("/app/cards/new", {**form, "holder_name": "李敏"}).text)
    page = browser.post("/app/cards/new", form)
    seen.append(page.text)
    action = re.search(r'action="(/app/cards/bindings/[^"]+)"', page.text)
    assert action is not None
    seen.append(browser.post(action.group(1), {"otp": "000000"}).text)  # a wrong code first
    bound = browser.post(action.group(1), {"otp": flow.bank_client.latest_otp(holder.phone)})
    seen.append(browser.get(location(bound)).text)

    # A second card over the API.
    api = api_client(flow, app, holder)
    api_number = flow.bank_card(holder, "622202")
    started = api.post("/api/v1/cards", {"card_number": api_number, "holder_name": holder.name,
                                         "id_number": holder.id_number, "phone": holder.phone})
    seen.append(started.text)
    confirmed = api.post(f"/api/v1/cards/bindings/{started.json()['binding_id']}/confirm",
                         {"otp": flow.bank_client.latest_otp(holder.phone)})
    seen.append(confirmed.text)
    seen.append(api.get("/api/v1/cards").text)
    card_id = flow.cards(holder)[0].id

    # A top-up through the pages, confirmed by the bank's callback.
    topup_form = browser.get("/app/topup").text
    seen.append(topup_form)
    status_path = location(browser.post("/app/topup", {"card_id": card_id, "amount": "2500",
                                                        "client_key": hidden(topup_form, "client_key")}))
    seen.append(browser.get(status_path).text)
    flow.settle(status_path.rsplit("/", 1)[1])
    flow.deliver()
    seen.append(browser.get(status_path + "/status").text)

    # A withdrawal over the API, paid out by the bank.
    made = api.post("/api/v1/withdrawals", {"card_id": card_id, "amount": "1500.00", "pin": PIN}, key="wd-scan")
    seen.append(made.text)
    flow.settle(made.json()["reference"])
    flow.deliver()
    seen.append(api.get(f"/api/v1/withdrawals/{made.json()['reference']}").text)
    for path in ("/app/cards", f"/app/cards/{card_id}", "/app/withdraw", "/app/notices"):
        seen.append(browser.get(path).text)
    assert flow.balance(holder).posted == 1_000 * YUAN - 50  # 0.1% of the 500 above the free 1,000

    deliver_due(flow.db, flow.settings)  # the notices and texts go out: the SMS gateway's outbox is written

    with flow.db.read() as session:
        # Every table as stored (encrypted columns as ciphertext)...
        tables = {table.name: [str(dict(row)) for row in session.execute(text(f'SELECT * FROM "{table.name}"'))
                               .mappings()] for table in metadata.sorted_tables}
        # ...and every row decrypted through its model (the outbox, the inbox, the texts sent are encrypted),
        # except the one place the number belongs: the encrypted card number of the card and of its binding.
        decrypted = {f"{mapper.class_.__tablename__} (decrypted)": [
            str({column.key: getattr(row, column.key) for column in mapper.column_attrs
                 if (mapper.class_.__tablename__, column.key) not in ALLOWED})
            for row in session.scalars(select(mapper.class_))] for mapper in Base.registry.mappers}
        stored = {row.number for row in session.scalars(select(BankCard))}
        left_in_bindings = list(session.scalars(select(CardBinding.number)))
    assert stored == {page_number, api_number}, "the numbers are kept, encrypted"
    assert left_in_bindings == [None, None], "a binding forgets the number once it ends"
    assert any("notice.card.bound" in row for row in decrypted["outbox_message (decrypted)"]), "outbox searched"
    assert any("card.bind" in row for row in tables["audit_entry"]), "the audit log was searched"
    tables.update(decrypted)

    captured = capsys.readouterr()
    haystacks = {"pages and API answers": "\n".join(seen), "structlog": logs.getvalue(), "logging": caplog.text,
                 "stdout/stderr": captured.out + captured.err,
                 **{f"table {name}": "\n".join(rows) for name, rows in tables.items()}}
    assert logs.getvalue(), "the logs were captured"
    for number in (page_number, api_number):
        for spelling in _spellings(number):
            leaked = [where for where, hay in haystacks.items() if spelling in hay]
            assert leaked == [], f"the card ending {number[-4:]} appears in {leaked}"
