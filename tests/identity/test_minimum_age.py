"""Age on the opening day, in Asia/Shanghai, against the configured minimum (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from qianbao.errors import QianbaoError
from qianbao.identity import age_on, check_minimum_age, parse_resident_id, today_in_shanghai

BORN_2008_03_15 = parse_resident_id("110105200803150029", today=date(2026, 1, 1))
BORN_2008_02_29 = parse_resident_id("31011520080229002X", today=date(2026, 1, 1))


def test_age_goes_up_on_the_birthday() -> None:
    born = date(2000, 7, 1)
    assert age_on(born, date(2018, 6, 30)) == 17
    assert age_on(born, date(2018, 7, 1)) == 18


def test_leap_day_birthday_falls_on_28_february_in_common_years() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 27)) == 17
    assert age_on(born, date(2026, 2, 28)) == 18
    assert age_on(born, date(2028, 2, 28)) == 19
    assert age_on(born, date(2028, 2, 29)) == 20


def test_today_is_the_shanghai_date_of_a_utc_instant() -> None:
    assert today_in_shanghai(datetime(2026, 3, 14, 15, 59, tzinfo=UTC)) == date(2026, 3, 14)
    assert today_in_shanghai(datetime(2026, 3, 14, 16, 0, tzinfo=UTC)) == date(2026, 3, 15)


def test_today_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError):
        today_in_shanghai(datetime(2026, 3, 14, 16, 0))


def test_exactly_18_today_in_shanghai_is_old_enough_while_utc_is_still_yesterday() -> None:
    # 00:30 on 15 March in Shanghai is 16:30 on 14 March in UTC: the birthday counts in Shanghai.
    with time_machine.travel(datetime(2026, 3, 14, 16, 30, tzinfo=UTC), tick=False):
        assert datetime.now(UTC).date() == date(2026, 3, 14)
        assert check_minimum_age(BORN_2008_03_15, today_in_shanghai(), 18) == 18


def test_still_17_until_midnight_in_shanghai_is_under_age() -> None:
    with (
        time_machine.travel(datetime(2026, 3, 14, 15, 59, 59, tzinfo=UTC), tick=False),
        pytest.raises(QianbaoError) as caught,
    ):
        check_minimum_age(BORN_2008_03_15, today_in_shanghai(), 18)
    assert caught.value.code == "UNDER_AGE"
    assert caught.value.params == {"minimum": 18, "eligible_on": "2026-03-15"}


def test_under_age_refusal_names_the_minimum_and_the_first_day_allowed() -> None:
    with pytest.raises(QianbaoError) as caught:
        check_minimum_age(BORN_2008_03_15, date(2025, 1, 1), 18)
    assert "18" in caught.value.message("zh-CN") and "2026-03-15" in caught.value.message("zh-CN")
    assert "18" in caught.value.message("en") and "2026-03-15" in caught.value.message("en")


def test_leap_day_born_is_old_enough_from_28_february_in_shanghai() -> None:
    with time_machine.travel(datetime(2026, 2, 27, 15, 59, tzinfo=UTC), tick=False):
        with pytest.raises(QianbaoError) as caught:
            check_minimum_age(BORN_2008_02_29, today_in_shanghai(), 18)
        assert caught.value.params["eligible_on"] == "2026-02-28"
    with time_machine.travel(datetime(2026, 2, 27, 16, 0, tzinfo=UTC), tick=False):
        assert check_minimum_age(BORN_2008_02_29, today_in_shanghai(), 18) == 18


def test_minimum_age_is_a_parameter_not_a_constant() -> None:
    with pytest.raises(QianbaoError) as caught:
        check_minimum_age(BORN_2008_03_15, date(2026, 6, 1), 20)
    assert caught.value.params == {"minimum": 20, "eligible_on": "2028-03-15"}
    assert check_minimum_age(BORN_2008_03_15, date(2026, 6, 1), 16) == 18
