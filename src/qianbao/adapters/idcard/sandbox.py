"""The sandbox ID-card reader: devices that "have a card on them", placed there by tests or the demo.

    reader = SandboxIdCardReader()
    reader.place_card("BJ001-R1", card_for_citizen(find_citizen("440305199210110058")))
    reader.read("BJ001-R1")         # the card's data, after `latency_ms`
    reader.fail_next_reads("BJ001-R1", 1)
    reader.read("BJ001-R1")         # IdCardReadFailed, as when the card slips during a read
    reader.remove_card("BJ001-R1")
    reader.read("BJ001-R1")         # IdCardNoCard

Any string names a device; a device nobody placed a card on is an empty reader. Besides the failures
asked for with `fail_next_reads`, a read fails at random with `failure_rate` (drawn from `rng`, after the
wait), as worn readers and badly placed cards do. The card stays on the reader after a read.

`sandbox_card` makes the data of a card for any valid ID number, with the validity period the Resident
Identity Card Law (art. 5) gives at the holder's age on the day of issue: under 16, five years; 16–25,
ten years; 26–45, twenty years; 46 and over, long-term (长期).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import date

from qianbao.adapters.idcard import IdCardData, IdCardNoCard, IdCardReadFailed
from qianbao.adapters.idcard.photo import portrait_jpeg
from qianbao.adapters.identity.citizens import SandboxCitizen
from qianbao.identity.rules import age_on, anniversary, parse_resident_id, today_in_shanghai


def validity_years(age_at_issue: int) -> int | None:
    """Years a card issued at this age is valid for; None for long-term."""
    if age_at_issue < 16:
        return 5
    if age_at_issue <= 25:
        return 10
    if age_at_issue <= 45:
        return 20
    return None


def sandbox_card(
    name: str,
    id_number: str,
    *,
    ethnicity: str = "汉",
    address: str = "",
    issuing_authority: str = "",
    issued_on: date | None = None,
    today: date | None = None,
) -> IdCardData:
    """The data of a card for `id_number` (which must pass `parse_resident_id`).

    Birth date and gender come from the number. Without `issued_on` the card was issued two years before
    `today` (or at birth, for a baby), so it is still valid; pass `issued_on` to make an expired one.
    """
    today = today or today_in_shanghai()
    resident = parse_resident_id(id_number, today=today)
    if issued_on is None:
        issued_on = max(resident.birth_date, anniversary(today, today.year - 2))
    years = validity_years(age_on(resident.birth_date, issued_on))
    return IdCardData(
        name=name,
        id_number=resident.number,
        gender="male" if resident.gender == "male" else "female",
        ethnicity=ethnicity,
        birth_date=resident.birth_date,
        address=address or f"{resident.province}{resident.county}人民路1号",
        issuing_authority=issuing_authority or f"{resident.province}{resident.county}公安局",
        valid_from=issued_on,
        valid_until=None if years is None else anniversary(issued_on, issued_on.year + years),
        photo_jpeg=portrait_jpeg(resident.number),
    )


def card_for_citizen(citizen: SandboxCitizen, *, today: date | None = None) -> IdCardData:
    """The card a person of the sandbox register holds (the same people the sandbox verifier knows)."""
    return sandbox_card(
        citizen.name,
        citizen.id_number,
        ethnicity=citizen.ethnicity,
        address=citizen.address,
        issuing_authority=citizen.issuing_authority,
        issued_on=citizen.issued_on,
        today=today,
    )


class SandboxIdCardReader:
    def __init__(
        self,
        *,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.rng = rng or random.Random()
        self.sleep = sleep
        # Requests run on several threads; the teller's read and a demo page's placement may meet.
        self._lock = threading.Lock()
        self._cards: dict[str, IdCardData] = {}
        self._failures_due: dict[str, int] = {}

    def place_card(self, device_id: str, card: IdCardData) -> None:
        """Put `card` on the reader, replacing any card already there."""
        with self._lock:
            self._cards[device_id] = card

    def remove_card(self, device_id: str) -> None:
        with self._lock:
            self._cards.pop(device_id, None)
            self._failures_due.pop(device_id, None)

    def card_on(self, device_id: str) -> IdCardData | None:
        """The card lying on the reader, without reading it (for demo pages)."""
        with self._lock:
            return self._cards.get(device_id)

    def fail_next_reads(self, device_id: str, times: int = 1) -> None:
        """Make the next `times` reads of this device fail with IdCardReadFailed (a card that slips)."""
        with self._lock:
            self._failures_due[device_id] = times

    def read(self, device_id: str) -> IdCardData:
        if self.latency_ms:
            self.sleep(self.latency_ms / 1000)
        with self._lock:
            card = self._cards.get(device_id)
            if card is None:
                raise IdCardNoCard(device_id)
            due = self._failures_due.get(device_id, 0)
            if due:
                self._failures_due[device_id] = due - 1
                raise IdCardReadFailed(device_id)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise IdCardReadFailed(device_id)
        return card
