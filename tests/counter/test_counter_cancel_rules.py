"""Only the teller who asked for a supervisor's approval may withdraw it."""

from __future__ import annotations

import pytest
from counter_helpers import VAULT_FEN, Counter

from qianbao import counter
from qianbao.errors import QianbaoError


def test_another_teller_cannot_withdraw_a_float_still_waiting(desk: Counter) -> None:
    with desk.db.transaction() as session:
        day = counter.open_day(session, desk.staff["teller"].id, 1_000_000)
        float_op = counter.operations_of(session, day.id)[0].id
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.cancel_operation(session, float_op, desk.staff["teller2"].id)
    assert refused.value.code == "APPROVAL_NOT_REQUESTER"
    assert desk.op(float_op).status == "awaiting_approval"
    assert desk.account("BV-0101") == VAULT_FEN
