"""Identity: who a customer is. Resident ID numbers, age, mobile numbers and legal names (`rules`, `names`).

Every channel that takes an ID number, a phone number or a name checks it through these functions, so
the same input is accepted or refused the same way in the app, at the counter and in the ops console.
See docs/identity.md for the rules and for the identity-verifier and ID-card-reader adapters.
"""

from qianbao.identity.names import parse_legal_name
from qianbao.identity.rules import (
    DEFAULT_MINIMUM_AGE,
    Gender,
    ResidentId,
    age_on,
    check_id_card_valid,
    check_minimum_age,
    parse_mobile,
    parse_resident_id,
    resident_id_lookup_hash,
    today_in_shanghai,
)

__all__ = [
    "DEFAULT_MINIMUM_AGE",
    "Gender",
    "ResidentId",
    "age_on",
    "check_id_card_valid",
    "check_minimum_age",
    "parse_legal_name",
    "parse_mobile",
    "parse_resident_id",
    "resident_id_lookup_hash",
    "today_in_shanghai",
]
