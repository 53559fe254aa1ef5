"""Binding a bank card (SPEC §5): the rules we decide, the bank's code, what is stored, default and unbind.

The bank here is `DeskBank` (the binding half of the connector, recording its calls): every refusal of ours
must come before the bank is asked anything. The flows with the real sandbox bank are in test_cards_bank_flows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from card_helpers import ICBC_DEBIT, LI_MING, LIU_YANG, PSBC_CREDIT, PSBC_DEBIT, WANG_XIUYING, Cards, DeskBank, card
from sqlalchemy import select, text

from qianbao.audit.models import AuditEntry
from qianbao.cards import binding as card_binding
from qianbao.cards import cards as card_store
from qianbao.cards.models import BankCard, CardBinding
from qianbao.db import Database
from qianbao.pii.hashing import lookup_hash


def test_a_real_name_holder_binds_a_debit_card_confirmed_by_the_banks_code(cards: Cards, desk_bank: DeskBank,
                                                                           db: Database) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=7)
    started = cards.start(holder, number)
    assert (started.bank_code, started.card_type, started.last4, started.status) == ("PSBC", "debit", number[-4:],
                                                                                       "pending")
    bound = cards.confirm(holder, started.id, desk_bank.otp)
    assert (bound.bank_code, bound.card_type, bound.last4, bound.is_default) == ("PSBC", "debit", number[-4:], True)
    assert desk_bank.asked("start_binding") == 1 and desk_bank.asked("confirm_binding") == 1
    with db.read() as session:
        row = session.scalar(select(BankCard))
        assert row is not None
        assert (row.bin, row.last4, row.number) == (number[:6], number[-4:], number)
        assert row.token == "tok_" + next(iter(desk_bank.refs))
        assert row.number_hash == lookup_hash("card", number)


def test_binding_a_debit_card_in_the_holders_name_lifts_the_wallet_to_tier2(cards: Cards) -> None:
    holder = cards.holder(LI_MING)
    assert cards.tier(holder) == 3
    cards.bind(holder, card(PSBC_DEBIT))
    assert cards.tier(holder) == 2


def test_a_credit_card_binds_but_does_not_lift_the_tier(cards: Cards) -> None:
    holder = cards.holder(LI_MING)
    bound = cards.bind(holder, card(PSBC_CREDIT))
    assert bound.card_type == "credit"
    assert cards.tier(holder) == 3


def test_a_wallet_without_a_verified_real_name_is_refused_before_the_bank(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(None)
    error = cards.refusal(cards.start, holder, card(PSBC_DEBIT), name=LI_MING[0], id_number=LI_MING[1])
    assert error.code == "REAL_NAME_REQUIRED"
    assert desk_bank.calls == [] and cards.count(CardBinding) == 0 and cards.tier(holder) == 4


@pytest.mark.parametrize("number", [
    "luhn",  # a known BIN, the check digit wrong
    "62179912345",  # too short
    "62179912345678901234",  # too long
    "6217 9912 3456 789O 123",  # a letter O for a zero
    "",
])
def test_a_card_number_that_is_not_valid_is_refused(cards: Cards, desk_bank: DeskBank, number: str) -> None:
    holder = cards.holder(LI_MING)
    if number == "luhn":
        valid = card(PSBC_DEBIT, serial=8)
        number = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert cards.refusal(cards.start, holder, number).code == "CARD_NUMBER_INVALID"
    assert desk_bank.calls == [] and cards.count(CardBinding) == 0


def test_a_card_number_typed_with_spaces_and_full_width_digits_is_read(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=3)
    typed = " ".join(number[i:i + 4] for i in range(0, len(number), 4)).translate(
        str.maketrans("0123456789", "０１２３４５６７８９"))
    assert cards.start(holder, typed).last4 == number[-4:]


def test_a_card_of_an_unknown_bank_is_refused(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    unknown = card("999999", serial=1)  # Luhn valid, no such BIN
    error = cards.refusal(cards.start, holder, unknown)
    assert (error.code, error.params) == ("CARD_UNKNOWN_BANK", {"bin": "999999"})
    assert desk_bank.calls == []


@pytest.mark.parametrize(("name", "id_number"), [
    ("李敏", LI_MING[1]),  # another name
    (LI_MING[0], WANG_XIUYING[1]),  # another ID number
    (WANG_XIUYING[0], WANG_XIUYING[1]),  # another person altogether
])
def test_a_card_holder_who_is_not_the_wallets_real_name_is_refused(cards: Cards, desk_bank: DeskBank, name: str,
                                                                   id_number: str) -> None:
    holder = cards.holder(LI_MING)
    error = cards.refusal(cards.start, holder, card(PSBC_DEBIT), name=name, id_number=id_number)
    assert error.code == "CARD_HOLDER_MISMATCH"
    assert desk_bank.calls == [] and cards.tier(holder) == 3


def test_the_holder_id_number_matches_whatever_the_case_of_its_check_character(cards: Cards) -> None:
    holder = cards.holder(WANG_XIUYING)
    started = cards.start(holder, card(PSBC_DEBIT), id_number=WANG_XIUYING[1].lower())
    assert started.status == "pending"


def test_a_card_already_bound_is_refused(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=11)
    cards.bind(holder, number)
    calls = len(desk_bank.calls)
    error = cards.refusal(cards.start, holder, number)
    assert (error.code, error.params) == ("CARD_ALREADY_BOUND", {"last4": number[-4:]})
    assert len(desk_bank.calls) == calls and len(cards.cards(holder)) == 1


def test_a_binding_confirmed_twice_binds_the_card_once(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    started = cards.start(holder, card(PSBC_DEBIT))
    first = cards.confirm(holder, started.id, desk_bank.otp)
    error = cards.refusal(cards.confirm, holder, started.id, desk_bank.otp)
    assert error.code == "CARD_BINDING_CLOSED"
    assert [c.id for c in cards.cards(holder)] == [first.id]


def test_a_wrong_bank_code_counts_and_the_fifth_ends_the_binding(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    started = cards.start(holder, card(PSBC_DEBIT))
    for left in (4, 3, 2, 1):
        error = cards.refusal(cards.confirm, holder, started.id, "000000")
        assert (error.code, error.params) == ("CARD_OTP_WRONG", {"tries_left": left})
    assert cards.refusal(cards.confirm, holder, started.id, "000000").code == "CARD_BINDING_TOO_MANY_TRIES"
    assert cards.refusal(cards.confirm, holder, started.id, desk_bank.otp).code == "CARD_BINDING_CLOSED"
    assert cards.cards(holder) == [] and cards.tier(holder) == 3


def test_a_code_that_is_not_digits_is_refused_without_asking_the_bank(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    started = cards.start(holder, card(PSBC_DEBIT))
    assert cards.refusal(cards.confirm, holder, started.id, "12ab56").code == "CARD_OTP_INVALID"
    assert desk_bank.asked("confirm_binding") == 0


def test_a_binding_not_confirmed_before_the_banks_code_expires_is_refused(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    started = cards.start(holder, card(PSBC_DEBIT))
    with time_machine.travel(started.expires_at + timedelta(seconds=1)):
        assert cards.refusal(cards.confirm, holder, started.id, desk_bank.otp).code == "CARD_BINDING_EXPIRED"
    assert desk_bank.asked("confirm_binding") == 0 and cards.cards(holder) == []


def test_another_customers_binding_is_not_found(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    other = cards.holder(WANG_XIUYING)
    started = cards.start(holder, card(PSBC_DEBIT))
    assert cards.refusal(cards.confirm, other, started.id, desk_bank.otp).code == "NOT_FOUND"
    assert cards.cards(holder) == [] and cards.cards(other) == []


def test_several_cards_the_first_is_the_default_and_the_default_can_change(cards: Cards) -> None:
    holder = cards.holder(LI_MING)
    first = cards.bind(holder, card(PSBC_DEBIT, serial=1))
    second = cards.bind(holder, card(ICBC_DEBIT, serial=2))
    third = cards.bind(holder, card(PSBC_CREDIT, serial=3))
    assert [(c.id, c.is_default) for c in cards.cards(holder)] == [(first.id, True), (second.id, False),
                                                                   (third.id, False)]
    cards.run(card_store.set_default, holder.customer_id, third.id)
    assert [(c.id, c.is_default) for c in cards.cards(holder)] == [(third.id, True), (first.id, False),
                                                                   (second.id, False)]


def test_unbinding_the_default_card_makes_the_oldest_other_the_default(cards: Cards, desk_bank: DeskBank) -> None:
    holder = cards.holder(LI_MING)
    first = cards.bind(holder, card(PSBC_DEBIT, serial=1))
    second = cards.bind(holder, card(ICBC_DEBIT, serial=2))
    card_binding.unbind_card(cards.db, desk_bank, holder.customer_id, first.id)
    assert [(c.id, c.is_default) for c in cards.cards(holder)] == [(second.id, True)]
    assert desk_bank.unbound == ["tok_" + next(iter(desk_bank.refs))]  # the bank retired the first card's token


def test_an_unbound_card_can_be_bound_again(cards: Cards) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=5)
    bound = cards.bind(holder, number)
    card_binding.unbind_card(cards.db, cards.bank, holder.customer_id, bound.id)
    again = cards.bind(holder, number)
    assert again.id != bound.id and [c.id for c in cards.cards(holder)] == [again.id]


def test_another_customers_card_is_not_found(cards: Cards) -> None:
    holder = cards.holder(LI_MING)
    other = cards.holder(LIU_YANG)
    bound = cards.bind(holder, card(PSBC_DEBIT))
    assert cards.refusal(cards.run, card_store.set_default, other.customer_id, bound.id).code == "NOT_FOUND"
    assert cards.refusal(card_binding.unbind_card, cards.db, cards.bank, other.customer_id, bound.id).code == \
        "NOT_FOUND"
    assert [c.id for c in cards.cards(holder)] == [bound.id]


def test_the_full_number_is_stored_only_encrypted_and_no_cvv_column_exists(cards: Cards, db: Database) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=9)
    cards.bind(holder, number)
    with db.read() as session:
        for table in ("bank_card", "card_binding"):
            rows = session.execute(text(f"SELECT * FROM {table}")).mappings().all()
            assert rows
            for row in rows:
                assert not any(number in str(value) for value in row.values()), table
                assert not any("cvv" in column.lower() or "cvc" in column.lower() for column in row)


def test_binding_and_unbinding_are_audited_with_the_last_four_only(cards: Cards, db: Database) -> None:
    holder = cards.holder(LI_MING)
    number = card(PSBC_DEBIT, serial=4)
    bound = cards.bind(holder, number)
    card_binding.unbind_card(db, cards.bank, holder.customer_id, bound.id)
    with db.read() as session:
        entries = {e.action: e.details for e in session.scalars(select(AuditEntry)
                                                                  .where(AuditEntry.action.like("card.%")))}
    assert entries["card.bind"]["last4"] == number[-4:] and entries["card.unbind"]["last4"] == number[-4:]
    assert number not in str(entries)
