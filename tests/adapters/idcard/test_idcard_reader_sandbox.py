"""The sandbox ID-card reader: cards placed on devices, read with latency, failing like real readers."""

from __future__ import annotations

import io
import random
from datetime import date

import pytest
from PIL import Image

from qianbao.adapters.idcard import IdCardData, IdCardNoCard, IdCardReadFailed, reader_from_settings
from qianbao.adapters.idcard.sandbox import SandboxIdCardReader, card_for_citizen, sandbox_card
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.errors import QianbaoError
from qianbao.identity import check_id_card_valid
from qianbao.settings import Settings

TODAY = date(2026, 6, 1)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def citizen_card(id_number: str) -> IdCardData:
    citizen = find_citizen(id_number)
    assert citizen is not None
    return card_for_citizen(citizen, today=TODAY)


@pytest.fixture
def reader() -> SandboxIdCardReader:
    return SandboxIdCardReader(sleep=Sleeps())


def test_empty_reader_says_there_is_no_card(reader: SandboxIdCardReader) -> None:
    with pytest.raises(IdCardNoCard) as caught:
        reader.read("BJ001-R1")
    assert (caught.value.code, caught.value.status) == ("IDCARD_NO_CARD", 409)
    assert "读卡器" in caught.value.message("zh-CN")


def test_card_is_read_from_the_device_it_was_placed_on_only(reader: SandboxIdCardReader) -> None:
    card = citizen_card("440305199210110058")
    reader.place_card("BJ001-R1", card)
    assert reader.read("BJ001-R1") == card
    with pytest.raises(IdCardNoCard):
        reader.read("BJ001-R2")


def test_card_stays_on_the_reader_after_a_read(reader: SandboxIdCardReader) -> None:
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    assert reader.read("BJ001-R1").name == reader.read("BJ001-R1").name == "李明"


def test_placing_another_card_replaces_the_first(reader: SandboxIdCardReader) -> None:
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    reader.place_card("BJ001-R1", citizen_card("11010519491231002X"))
    assert reader.read("BJ001-R1").name == "王秀英"


def test_removed_card_is_no_longer_read(reader: SandboxIdCardReader) -> None:
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    reader.remove_card("BJ001-R1")
    with pytest.raises(IdCardNoCard):
        reader.read("BJ001-R1")


def test_read_error_is_transient_and_the_next_read_succeeds(reader: SandboxIdCardReader) -> None:
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    reader.fail_next_reads("BJ001-R1", 2)
    for _ in range(2):
        with pytest.raises(IdCardReadFailed) as caught:
            reader.read("BJ001-R1")
        assert (caught.value.code, caught.value.status) == ("IDCARD_READ_FAILED", 503)
    assert reader.read("BJ001-R1").name == "李明"


def test_failure_rate_makes_some_reads_fail() -> None:
    reader = SandboxIdCardReader(failure_rate=0.3, rng=random.Random(5), sleep=Sleeps())
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    failures = 0
    for _ in range(300):
        try:
            reader.read("BJ001-R1")
        except IdCardReadFailed:
            failures += 1
    assert 50 <= failures <= 130


def test_latency_is_waited_before_the_read() -> None:
    sleeps = Sleeps()
    reader = SandboxIdCardReader(latency_ms=300, sleep=sleeps)
    reader.place_card("BJ001-R1", citizen_card("440305199210110058"))
    reader.read("BJ001-R1")
    assert sleeps == [0.3]


def test_card_data_follows_from_the_id_number() -> None:
    card = sandbox_card("张三", "110105200803150029", issued_on=date(2024, 4, 1), today=TODAY)
    assert (card.birth_date, card.gender) == (date(2008, 3, 15), "female")
    assert card.address.startswith("北京市朝阳区")
    assert card.issuing_authority


@pytest.mark.parametrize(
    ("issued_on", "valid_until"),
    [
        (date(1960, 1, 1), date(1965, 1, 1)),  # aged 10: five years
        (date(1965, 12, 31), date(1975, 12, 31)),  # aged 16: ten years
        (date(1975, 12, 31), date(1995, 12, 31)),  # aged 26: twenty years
        (date(1995, 12, 30), date(2015, 12, 30)),  # aged 45: twenty years
        (date(1995, 12, 31), None),  # aged 46: long-term
    ],
)
def test_validity_period_follows_the_age_on_the_day_of_issue(issued_on: date, valid_until: date | None) -> None:
    card = sandbox_card("王秀英", "11010519491231002X", issued_on=issued_on, today=TODAY)  # born 1949-12-31
    assert (card.valid_from, card.valid_until) == (issued_on, valid_until)


def test_long_term_card_reads_as_changqi() -> None:
    card = citizen_card("11010519491231002X")
    assert card.long_term
    assert card.validity_text == "2006.05.10-长期"


def test_expired_card_is_read_and_then_refused_by_the_identity_rule(reader: SandboxIdCardReader) -> None:
    reader.place_card("SH002-R1", citizen_card("310115199506180023"))
    card = reader.read("SH002-R1")
    assert card.valid_until == date(2025, 5, 1)
    with pytest.raises(QianbaoError) as caught:
        check_id_card_valid(card.valid_until, TODAY)
    assert caught.value.code == "ID_CARD_EXPIRED"


def test_photo_is_a_real_jpeg_of_the_chip_portrait_size() -> None:
    photo = citizen_card("440305199210110058").photo_jpeg
    with Image.open(io.BytesIO(photo)) as image:
        image.verify()
    with Image.open(io.BytesIO(photo)) as image:
        assert (image.format, image.size) == ("JPEG", (102, 126))


def test_card_read_at_the_counter_verifies_as_a_match(reader: SandboxIdCardReader) -> None:
    reader.place_card("BJ001-R1", citizen_card("650102198503150031"))
    card = reader.read("BJ001-R1")
    assert SandboxIdentityVerifier(sleep=Sleeps()).verify(card.name, card.id_number).decision == "match"


def test_settings_choose_the_sandbox_reader_and_its_latency_and_failure_rate() -> None:
    reader = reader_from_settings(Settings(idcard_latency_ms=25, idcard_failure_rate=0.2))
    assert isinstance(reader, SandboxIdCardReader)
    assert (reader.latency_ms, reader.failure_rate) == (25, 0.2)
