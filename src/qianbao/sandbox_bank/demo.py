"""Demo cards for the demo customers (qianbao.wallets.demo): the same names, ID numbers and phones, so the
demo holders can bind them in the app. Fixed numbers in real BIN ranges; seeding is idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.adapters.bank import bins
from qianbao.sandbox_bank.models import Card
from qianbao.sandbox_bank.service import create_card


@dataclass(frozen=True)
class DemoCard:
    number: str
    bank_code: str
    card_type: str
    holder_name: str
    id_number: str
    phone: str
    balance: int  # fen


# 李明 (tier 3, 13800000003), 王秀英 (tier 1, 13800000001), 周建国 (KYC pending, 13800000005).
DEMO_CARDS: tuple[DemoCard, ...] = (
    DemoCard(bins.card_number("621799", 19, 3001), "PSBC", "debit", "李明", "440305199210110058", "13800000003",
             5_000_000),
    DemoCard(bins.card_number("622202", 19, 3002), "ICBC", "debit", "李明", "440305199210110058", "13800000003",
             1_200_000),
    DemoCard(bins.card_number("622575", 16, 3003), "CMB", "credit", "李明", "440305199210110058", "13800000003",
             3_000_000),
    DemoCard(bins.card_number("622188", 19, 1001), "PSBC", "debit", "王秀英", "11010519491231002X", "13800000001",
             8_000_000),
    DemoCard(bins.card_number("621660", 19, 1002), "BOC", "debit", "王秀英", "11010519491231002X", "13800000001",
             0),
    DemoCard(bins.card_number("621700", 19, 5001), "CCB", "debit", "周建国", "320102196510019132", "13800000005",
             2_000_000),
)


def seed_demo_cards(session: Session) -> int:
    """Create the demo cards that are missing; returns how many were created."""
    created = 0
    for card in DEMO_CARDS:
        if session.scalar(select(Card.id).where(Card.number == card.number)) is None:
            create_card(session, holder_name=card.holder_name, id_number=card.id_number, phone=card.phone,
                        bank_code=card.bank_code, card_type=card.card_type, balance=card.balance, number=card.number)
            created += 1
    return created


def demo_lines() -> list[str]:
    """One line per demo card for the console: bank, type, number in groups of four, holder, the holder's
    (made-up) ID number and phone, which binding asks for, balance."""
    lines = []
    for card in DEMO_CARDS:
        grouped = " ".join(card.number[i:i + 4] for i in range(0, len(card.number), 4))
        bank = bins.BANKS[card.bank_code].short_zh
        kind = "储蓄卡 debit" if card.card_type == "debit" else "信用卡 credit"
        lines.append(f"{bank} {kind:<14} {grouped:<24} {card.holder_name} {card.id_number} {card.phone}"
                     f"  ¥{card.balance / 100:,.2f}")
    return lines
