"""An ID card is good until the end of its last valid day; a long-term (长期) card never expires."""

from __future__ import annotations

from datetime import date

import pytest

from qianbao.errors import QianbaoError
from qianbao.identity import check_id_card_valid


def test_card_is_valid_on_its_last_day() -> None:
    check_id_card_valid(date(2026, 5, 1), date(2026, 5, 1))


def test_card_is_expired_the_day_after() -> None:
    with pytest.raises(QianbaoError) as caught:
        check_id_card_valid(date(2026, 5, 1), date(2026, 5, 2))
    assert caught.value.code == "ID_CARD_EXPIRED"
    assert caught.value.params == {"valid_until": "2026-05-01"}


def test_long_term_card_never_expires() -> None:
    check_id_card_valid(None, date(2099, 12, 31))
