"""Helpers for the cards, top-up and withdrawal tests: real-name holders opened through the wallets domain,
card numbers from the BIN table, and a stand-in bank for the rules decided before the bank is asked.

The flows with the bank (binding's code, debits, credits, callbacks, the sweep) run against the real sandbox
bank process (see the `bank` fixture of the sandbox bank's own tests, reused here). `DeskBank` answers like the
bank's connector for the binding steps only, and records every call, so a test can show that a refusal of
ours happened before the bank was asked anything.
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from qianbao import ledger, wallets
from qianbao.adapters.bank import bins
from qianbao.adapters.bank.connector import BindingChallenge, CardToken
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.cards import binding as card_binding
from qianbao.cards import cards as card_store
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.keyring import Keyring
from qianbao.pii.masking import mask_phone
from qianbao.settings import Settings
from qianbao.wallets import customers as wallet_customers

PASSWORD = "Lantern-Harbour-42"
PIN = "258036"
YUAN = 100
# Sandbox register people (qianbao.adapters.identity.citizens).
LI_MING = ("李明", "440305199210110058")
WANG_XIUYING = ("王秀英", "11010519491231002X")
LIU_YANG = ("刘洋", "510107200001010099")
VALID_UNTIL = date(2039, 3, 1)


def card(prefix: str = "621799", serial: int = 1, length: int = 19) -> str:
    """A valid card number (Luhn) under a BIN of the table: PSBC debit by default."""
    return bins.card_number(prefix, length=length, serial=serial)


PSBC_DEBIT = "621799"
PSBC_CREDIT = "622810"
ICBC_DEBIT = "622202"


@pytest.fixture(autouse=True)
def _keys(keyring: Keyring) -> Keyring:
    return keyring


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@dataclass
class Holder:
    customer_id: int
    wallet_id: int
    phone: str
    name: str
    id_number: str

    @property
    def account_id(self) -> int:
        return self._account_id

    _account_id: int = 0


@dataclass
class DeskBank:
    """The binding half of the bank connector, answering like the bank: a code texted to the phone, a token for
    the right code. Records every call."""

    otp: str = "246810"
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    refs: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    unbound: list[str] = field(default_factory=list)

    def start_binding(self, card_number: str, holder_name: str, id_number: str, phone: str) -> BindingChallenge:
        self.calls.append(("start_binding", (card_number[-4:], holder_name, phone)))
        info = bins.lookup(card_number)
        assert info is not None
        ref = "BND" + secrets.token_hex(6)
        self.refs[ref] = (info.bank_code, str(info.card_type), int(card_number[-4:]))
        return BindingChallenge(ref=ref, masked_phone=mask_phone(phone),
                                expires_at=datetime.now(UTC) + timedelta(minutes=5))

    def confirm_binding(self, ref: str, otp: str) -> CardToken:
        self.calls.append(("confirm_binding", (ref,)))
        if ref not in self.refs:
            raise QianbaoError("BANK_BINDING_NOT_FOUND")
        if otp != self.otp:
            self.tries[ref] = self.tries.get(ref, 0) + 1
            raise QianbaoError("BANK_OTP_WRONG", tries_left=max(0, 5 - self.tries[ref]))
        bank_code, card_type, last4 = self.refs[ref]
        return CardToken(token="tok_" + ref, bank_code=bank_code, card_type=card_type, last4=f"{last4:04d}")

    def unbind(self, token: str) -> None:
        self.calls.append(("unbind", (token,)))
        self.unbound.append(token)

    def asked(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)


@dataclass
class Cards:
    """Opens holders and binds cards through the domain's own functions, each step its own unit of work."""

    db: Database
    settings: Settings
    bank: Any
    phones: Iterator[int]

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.db.transaction() as session:
            return fn(session, *args, **kwargs)

    def refusal(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> QianbaoError:
        with pytest.raises(QianbaoError) as caught:
            fn(*args, **kwargs)
        return caught.value

    def holder(self, person: tuple[str, str] | None = LI_MING, *, pin: bool = True) -> Holder:
        """A wallet opened in the app; with a person, real-name verified (tier 3); with a PIN by default."""
        phone = str(next(self.phones))
        issued = self.run(wallets.start_registration, phone, "10.0.0.1", "zh-CN", send=False, settings=self.settings)
        customer, wallet = self.run(wallets.complete_registration, phone, issued.code, PASSWORD, True,
                                    settings=self.settings)
        customer_id, wallet_id = customer.id, wallet.id
        if person is not None:
            self.run(wallets.submit_real_name, customer_id, person[0], person[1], VALID_UNTIL, _jpeg(), _jpeg(),
                     verifier=SandboxIdentityVerifier(latency_ms=0), settings=self.settings)
        if pin:
            self.run(wallets.set_payment_pin, customer_id, PIN, settings=self.settings)
        with self.db.read() as session:
            account = wallet_customers.get_wallet(session, wallet_id).ledger_account_id
        holder = Holder(customer_id, wallet_id, phone, person[0] if person else "", person[1] if person else "")
        holder._account_id = account
        return holder

    def start(self, holder: Holder, number: str, *, name: str | None = None, id_number: str | None = None,
              phone: str | None = None) -> card_binding.BindingView:
        return card_binding.start_binding(self.db, self.bank, holder.customer_id, number,
                                          holder.name if name is None else name,
                                          holder.id_number if id_number is None else id_number, phone)

    def confirm(self, holder: Holder, binding_id: str, otp: str) -> card_store.CardView:
        return card_binding.confirm_binding(self.db, self.bank, holder.customer_id, binding_id, otp)

    def bind(self, holder: Holder, number: str, *, otp: str | Callable[[], str] | None = None,
             phone: str | None = None) -> card_store.CardView:
        started = self.start(holder, number, phone=phone)
        code = otp() if callable(otp) else (otp or getattr(self.bank, "otp", None))
        assert code is not None
        return self.confirm(holder, started.id, code)

    def tier(self, holder: Holder) -> int:
        with self.db.read() as session:
            return wallet_customers.get_wallet(session, holder.wallet_id).tier

    def balance(self, holder: Holder) -> ledger.Balance:
        with self.db.read() as session:
            return ledger.balance(session, holder.account_id)

    def cards(self, holder: Holder) -> list[card_store.CardView]:
        with self.db.read() as session:
            return card_store.list_cards(session, holder.customer_id)

    def count(self, model: Any) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 400), "#d8e4f0").save(buffer, format="JPEG")
    return buffer.getvalue()


_PHONES = itertools.count(13700000001)


@pytest.fixture
def desk_bank() -> DeskBank:
    return DeskBank()


@pytest.fixture
def cards(db: Database, settings: Settings, desk_bank: DeskBank) -> Cards:
    return Cards(db, settings, desk_bank, _PHONES)


# ---- the real sandbox bank ------------------------------------------------------------------------------------

_PROCESS: list[Any] = []


def start_bank(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The sandbox bank as its own process for this test run (one, whichever test directories use it): no
    latency, nothing settles by itself (a test settles what it wants, or lets it time out), callbacks pulled by
    the test (`Flow.deliver`). Stopped when the test run ends."""
    if not _PROCESS:
        from qianbao.sandbox_bank.process import SandboxBankProcess

        process = SandboxBankProcess(tmp_path_factory.mktemp("card-bank"), latency_ms=0, auto_process=False,
                                     callback_mode="pull", seed_demo=False).start()
        atexit.register(process.stop)
        _PROCESS.append(process)
    return _PROCESS[0]


@pytest.fixture(scope="session")
def card_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return start_bank(tmp_path_factory)


_SERIALS = itertools.count(1000 + (os.getpid() % 1000) * 10_000)


@dataclass
class Flow(Cards):
    """Cards, top-ups and withdrawals against the real sandbox bank, with the wallet app's callback endpoint."""

    client: Any = None
    bank_client: Any = None

    def bank_card(self, holder: Holder, prefix: str = PSBC_DEBIT, *, balance: int = 1_000_000 * YUAN,
                  card_type: str | None = None, frozen: bool = False) -> str:
        info = bins.lookup(card(prefix))
        assert info is not None
        number = card(prefix, serial=next(_SERIALS))
        self.bank_client.create_card(holder.name, holder.id_number, holder.phone, bank_code=info.bank_code,
                                     card_type=card_type or str(info.card_type), balance=balance, number=number,
                                     frozen=frozen)
        return number

    def bind_at_bank(self, holder: Holder, prefix: str = PSBC_DEBIT, **options: Any) -> card_store.CardView:
        number = self.bank_card(holder, prefix, **options)
        started = self.start(holder, number, phone=holder.phone)
        return self.confirm(holder, started.id, self.bank_client.latest_otp(holder.phone))

    def topup(self, holder: Holder, card_id: str, amount: int, key: str | None = None) -> Any:
        from qianbao.payments import topup as topups

        return topups.start_topup(self.db, self.bank, customer_id=holder.customer_id, card_id=card_id, amount=amount,
                                  key=key or f"test:{secrets.token_hex(6)}")

    def withdraw(self, holder: Holder, card_id: str, amount: int, *, fee: int | None = None,
                 key: str | None = None) -> Any:
        from qianbao.payments import withdrawal as withdrawals

        return withdrawals.start_withdrawal(self.db, self.bank, customer_id=holder.customer_id, card_id=card_id,
                                            amount=amount, fee=fee, key=key or f"test:{secrets.token_hex(6)}",
                                            confirmation="pin")

    def bank_key(self, reference: str) -> str:
        from qianbao.cards.models import CardMovement

        with self.db.read() as session:
            key = session.scalar(select(CardMovement.bank_key).where(CardMovement.reference == reference))
        assert key is not None
        return key

    def settle(self, reference: str, status: str = "succeeded", reason: str | None = None) -> None:
        """The bank finishes the operation (its callback then waits to be pulled)."""
        (operation,) = self.bank_client.operations(self.bank_key(reference))
        self.bank_client.settle(operation["bank_ref"], status=status, reason=reason)

    def deliver(self) -> list[int]:
        """The bank delivers its pending callbacks to the wallet's callback endpoint."""
        return self.bank_client.deliver_to(self.client)

    def movement(self, reference: str) -> Any:
        from qianbao.cards.models import CardMovement

        with self.db.read() as session:
            return session.scalar(select(CardMovement).where(CardMovement.reference == reference))

    def operation(self, reference: str) -> Any:
        from qianbao import payments

        with self.db.read() as session:
            return payments.get_operation(session, reference)

    def card_balance(self, number: str) -> int:
        return int(self.bank_client.card(number)["balance"])

    def fund(self, holder: Holder, card_id: str, amount: int) -> None:
        """A top-up the bank confirms: the wallet holds `amount` more."""
        started = self.topup(holder, card_id, amount)
        self.settle(started.reference)
        self.deliver()
        assert self.movement(started.reference).status == "succeeded"

    def ledger_ok(self) -> None:
        with self.db.read() as session:
            report = ledger.check_invariants(session)
        assert report.ok, report


def bank_client_of(process: Any) -> Iterator[Any]:
    from qianbao.sandbox_bank.client import SandboxBankClient

    client = SandboxBankClient(process.url)
    yield client
    client.close()


def flow_over(db: Database, settings: Settings, app: Any, bank_client: Any) -> Iterator[Flow]:
    """A Flow whose wallet app talks to the sandbox bank through a connector signed as the dev merchant."""
    from fastapi.testclient import TestClient

    connector = bank_client.connector()
    app.state.bank_connector = connector
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Flow(db, settings, connector, _PHONES, client=client, bank_client=bank_client)
    connector.close()


@pytest.fixture
def bank_client(card_bank_process: Any) -> Iterator[Any]:
    yield from bank_client_of(card_bank_process)


@pytest.fixture
def flow(db: Database, settings: Settings, app: Any, bank_client: Any) -> Iterator[Flow]:
    yield from flow_over(db, settings, app, bank_client)


# ---- the customer app and the JSON API, signed in ---------------------------------------------------------------

@dataclass
class Browser:
    """A TestClient with a holder's signed-in session cookie, posting forms with the session's CSRF token."""

    client: Any
    csrf: str
    holder: Holder

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf}, follow_redirects=False,
                                **kwargs)


def web_client(flow: Cards, app: Any, holder: Holder) -> Browser:
    from fastapi.testclient import TestClient

    from qianbao import credentials
    from qianbao.credentials import Principal
    from qianbao.web import auth

    with flow.db.transaction() as session:
        started = credentials.start_session(session, Principal.customer(holder.customer_id), settings=flow.settings)
        token, csrf = started.token, credentials.csrf_token(started.record)
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(auth.customer_cookie(flow.settings).name, token)
    return Browser(client, csrf, holder)


@dataclass
class Api:
    """A TestClient calling the customer JSON API with a holder's bearer token."""

    client: Any
    token: str

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        if key:
            headers["idempotency-key"] = key
        return headers

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self._headers(None), **kwargs)

    def post(self, path: str, body: dict[str, Any] | None = None, *, key: str | None = None) -> Any:
        return self.client.post(path, json=body or {}, headers=self._headers(key))

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self._headers(None))


def api_client(flow: Cards, app: Any, holder: Holder) -> Api:
    from fastapi.testclient import TestClient

    from qianbao import credentials
    from qianbao.credentials import Principal

    with flow.db.transaction() as session:
        token = credentials.start_session(session, Principal.customer(holder.customer_id), settings=flow.settings).token
    return Api(TestClient(app, raise_server_exceptions=False), token)


def location(response: Any) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return str(response.headers["location"])


def hidden(html: str, name: str) -> str:
    import re

    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name}"
    return found.group(1)
