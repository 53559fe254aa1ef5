"""Demo customers for `qianbao serve --demo`: one holder at each interesting stage, opened through the domain.

    tier 4   13800000004  phone + password only (self-service registration)
    tier 3   13800000003  李明, real name verified in the app (sandbox verifier: match), PIN set
    pending  13800000005  周建国, real name waiting in the operators' KYC queue (the verifier is unsure)
    tier 1   13800000001  王秀英, opened at the counter by the demo teller T0101 (reader card, PIN pad)

Idempotent: a holder whose phone is already registered is left as it is. The people come from the
sandbox identity register, so the verifier and the ID-card reader know them. The demo always uses the
sandbox verifier without latency, whatever the settings say, so seeding is quick and deterministic.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from qianbao.adapters.idcard.sandbox import card_for_citizen
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.settings import Settings
from qianbao.wallets.counter_opening import (
    complete_counter_opening,
    counter_application,
    pair_pinpad,
    pinpad_pairing_code,
)
from qianbao.wallets.customers import customer_by_phone, wallet_of_customer
from qianbao.wallets.kyc import submit_real_name
from qianbao.wallets.numbers import format_wallet_number
from qianbao.wallets.opening import complete_registration, set_payment_pin, start_registration

DEMO_PIN = "258036"


@dataclass(frozen=True)
class DemoCustomer:
    phone: str
    password: str
    label: str
    person: tuple[str, str] | None = None  # (name, resident ID number) from the sandbox register


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer("13800000004", "Demo-Wallet-Four4", "tier 4 (四类)"),
    DemoCustomer("13800000003", "Demo-Wallet-Three3", "tier 3 (三类)", ("李明", "440305199210110058")),
    DemoCustomer("13800000005", "Demo-Wallet-Five5", "KYC pending (实名审核中)", ("周建国", "320102196510019132")),
    DemoCustomer("13800000001", "Demo-Wallet-One1", "tier 1 (一类, counter)", ("王秀英", "11010519491231002X")),
)


# Debian's fonts-noto-cjk (installed for the PDF receipts): Pillow's own default font has no Chinese.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def id_photo(label: str, *, fmt: str = "JPEG") -> bytes:
    """A plain card-sized picture standing in for a photographed ID card side (the ops KYC page shows it)."""
    image = Image.new("RGB", (856, 540), "#e8eef5")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 836, 520), outline="#5a7da8", width=6)
    font = ImageFont.truetype(str(CJK_FONT), 40) if CJK_FONT.exists() else ImageFont.load_default(size=40)
    draw.text((60, 60), label, fill="#1f3a5f", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns: a Chinese character takes two, so str.ljust misaligns it."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(0, width - columns)


def _demo_teller(session: Session) -> tuple[int, int] | None:
    """(staff id, branch id) of the demo teller T0101, when the staff package has seeded it."""
    try:
        from qianbao.staff import staff_by_number
    except ImportError:  # pragma: no cover - the staff package is part of every build now
        return None
    member = staff_by_number(session, "T0101")
    if member is None or member.branch_id is None:
        return None
    return member.id, member.branch_id


def seed_demo_customers(
    session: Session, settings: Settings, *, teller: tuple[int, int] | None = None
) -> list[str]:
    """Create the demo holders that are missing; return the lines telling how to sign in as each.

    `teller` is the (staff id, branch id) that opens the counter customer; by default the demo teller
    T0101. Without a teller the counter customer is skipped.
    """
    verifier = SandboxIdentityVerifier(latency_ms=0)
    teller = teller or _demo_teller(session)
    lines = [f"客户登录 Customer sign-in: {settings.base_url}/app (支付密码 payment PIN {DEMO_PIN}; "
             f"四类 13800000004 先在 /app/pin 设置 sets one first)"]
    for demo in DEMO_CUSTOMERS:
        customer = customer_by_phone(session, "+86" + demo.phone)
        if customer is None:
            if demo.label.startswith("tier 1"):
                if teller is None:
                    continue
                _open_at_counter(session, settings, demo, teller, verifier)
            else:
                _open_in_app(session, settings, demo, verifier)
            customer = customer_by_phone(session, "+86" + demo.phone)
        assert customer is not None
        wallet = wallet_of_customer(session, customer.id)
        number = format_wallet_number(wallet.number) if wallet else "-"
        lines.append(f"  {_pad(demo.label, 24)} {demo.phone}  {demo.password:<20} {number}")
    return lines


def _open_in_app(session: Session, settings: Settings, demo: DemoCustomer, verifier: SandboxIdentityVerifier) -> None:
    issued = start_registration(session, demo.phone, None, "zh-CN", send=False, settings=settings)
    customer, _wallet = complete_registration(session, demo.phone, issued.code, demo.password, True,
                                              settings=settings)
    if demo.person is None:
        return
    citizen = find_citizen(demo.person[1])
    assert citizen is not None
    card = card_for_citizen(citizen)
    submission = submit_real_name(
        session, customer.id, demo.person[0], demo.person[1], card.valid_until,
        id_photo("ID card front / 身份证人像面"), id_photo("ID card back / 身份证国徽面", fmt="PNG"),
        verifier=verifier, settings=settings,
    )
    if submission.status == "approved":
        set_payment_pin(session, customer.id, DEMO_PIN, settings=settings)


def _open_at_counter(
    session: Session, settings: Settings, demo: DemoCustomer, teller: tuple[int, int],
    verifier: SandboxIdentityVerifier,
) -> None:
    assert demo.person is not None
    citizen = find_citizen(demo.person[1])
    assert citizen is not None
    card = card_for_citizen(citizen)
    staff_id, branch_id = teller
    application = counter_application(
        session, staff_id, branch_id, demo.person[0], demo.person[1], demo.phone, card, card.photo_jpeg,
        reader_device_id="DEMO-READER", verifier=verifier, settings=settings,
    )
    code = pinpad_pairing_code(session, application.id)
    pairing = pair_pinpad(session, code.code, ip="demo")
    complete_counter_opening(session, pairing.token, demo.password, DEMO_PIN, settings=settings)
