"""Every label the ops wallet pages build from a domain value (a status, a cause, a verifier's answer, a
policy field...) is worded in both languages, for every value the domain can hold."""

from __future__ import annotations

import pytest

from qianbao.adapters.identity import Reason
from qianbao.i18n import LANGUAGES, catalogue
from qianbao.wallets.models import (
    CHANNELS,
    KYC_STATUSES,
    REAL_NAME_STATUSES,
    TIER_CAUSES,
    VERIFIER_DECISIONS,
    WALLET_STATUSES,
)
from qianbao.wallets.policy import AMOUNT_POLICY_FIELDS, TIER_FIELDS
from qianbao.web import ops_kyc, ops_tiers, ops_wallets


def built_keys() -> set[str]:
    keys = {f"ops.kyc.verifier.{value}" for value in VERIFIER_DECISIONS}
    keys |= {f"ops.kyc.reason.{reason.value}" for reason in Reason}
    keys |= {f"ops.kyc.status.{value}" for value in KYC_STATUSES}
    keys |= {f"ops.kyc.sla.{state}" for state in ("due_soon", "overdue")}
    keys |= {f"ops.kyc.done.{done}" for done in ops_kyc.DONE_NOTICES}
    keys |= {f"ops.kyc.photo.{side}" for side in ops_kyc.PHOTO_SIDES}
    keys |= {f"ops.real_name.{value}" for value in REAL_NAME_STATUSES}
    keys |= {f"ops.tiers.field.{name}" for name in (*TIER_FIELDS, *ops_tiers.WIDE_FIELDS)}
    keys |= {"ops.tiers.done.tier", "ops.tiers.done.wallet"}
    keys |= {f"ops.wallet.status.{value}" for value in WALLET_STATUSES}
    keys |= {f"ops.wallet.cause.{value}" for value in TIER_CAUSES}
    keys |= {f"ops.wallet.event.{action}" for action in ops_wallets.WALLET_EVENTS}
    keys |= {f"ops.wallet.done.{done}" for done in ops_wallets.DONE_NOTICES}
    keys |= {f"ops.wallets.match.{match}" for match in ("wallet", "phone", "id_number", "submission")}
    # Wallets open in the app or at the counter; tier changes are also made in the ops console.
    keys |= {f"ops.channel.{channel}" for channel in (*CHANNELS, "ops")}
    keys |= {f"ops.wallet.can_pay.{v}" for v in ("yes", "no")} | {f"ops.wallet.can_receive.{v}" for v in ("yes", "no")}
    keys |= {f"ops.age.{unit}" for unit in ("minutes", "hours", "days")}
    assert set(AMOUNT_POLICY_FIELDS) <= set(ops_tiers.WIDE_FIELDS)
    return keys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_label_built_from_a_domain_value_is_in_the_catalogue(lang: str) -> None:
    assert sorted(built_keys() - catalogue(lang).keys()) == []
