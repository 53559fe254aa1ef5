"""The ID-card reader at the counter: reads the chip of a second-generation resident ID card (SPEC §3.2).

The teller places the customer's card on the branch's reader (`device_id` names the reader; a teller
console knows its own) and the console reads what the chip holds: the printed fields and the holder's
photo. A reader does not judge the card: an expired card reads like any other, and the opening flow
checks the validity with `qianbao.identity.check_id_card_valid`.

Failures:
    IdCardNoCard      nothing on the reader (IDCARD_NO_CARD): the teller has to place the card
    IdCardReadFailed  the read was garbled or interrupted (IDCARD_READ_FAILED): transient, place the
                      card again and retry
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, Protocol

from qianbao.errors import QianbaoError

if TYPE_CHECKING:
    from qianbao.settings import Settings

LONG_TERM = "长期"


@dataclass(frozen=True)
class IdCardData:
    """What the chip of a resident ID card holds, as printed on the card."""

    name: str
    id_number: str
    gender: Literal["male", "female"]
    ethnicity: str  # 民族 as printed, without the suffix: "汉", "维吾尔"
    birth_date: date
    address: str
    issuing_authority: str  # 签发机关
    valid_from: date
    valid_until: date | None  # None for a long-term (长期) card
    photo_jpeg: bytes  # the chip's portrait, 102 × 126 pixels

    @property
    def long_term(self) -> bool:
        return self.valid_until is None

    @property
    def validity_text(self) -> str:
        """The validity as printed on the back: 2019.03.01-2039.03.01, or 2006.05.10-长期."""
        until = LONG_TERM if self.valid_until is None else self.valid_until.strftime("%Y.%m.%d")
        return f"{self.valid_from.strftime('%Y.%m.%d')}-{until}"


class IdCardNoCard(QianbaoError):
    def __init__(self, device_id: str) -> None:
        super().__init__("IDCARD_NO_CARD")
        self.device_id = device_id


class IdCardReadFailed(QianbaoError):
    """Transient: the same card usually reads on the next try."""

    def __init__(self, device_id: str) -> None:
        super().__init__("IDCARD_READ_FAILED")
        self.device_id = device_id


class IdCardReader(Protocol):
    def read(self, device_id: str) -> IdCardData:
        """The card on reader `device_id`; raise IdCardNoCard or IdCardReadFailed."""
        ...


def reader_from_settings(settings: Settings) -> IdCardReader:
    """A new reader of the kind named by QIANBAO_IDCARD_READER.

    The sandbox keeps the cards placed on it in memory, so create one per process (at application
    start-up) and keep it: the page that places a demo card and the teller's read must use the same one.
    Demo pages reach `place_card` with `isinstance(reader, SandboxIdCardReader)`.
    """
    if settings.idcard_reader == "sandbox":
        from qianbao.adapters.idcard.sandbox import SandboxIdCardReader

        return SandboxIdCardReader(latency_ms=settings.idcard_latency_ms, failure_rate=settings.idcard_failure_rate)
    raise ValueError(f"unknown ID-card reader {settings.idcard_reader!r}")
