"""The identity rules every opening channel applies: resident ID numbers, age, mobile numbers, ID-card expiry.

Pure functions, no database and no web: the app's self-service flow, the counter and the ops console all
call these, so an ID number or a phone number is accepted or refused the same way wherever it is typed.
A refusal is a `QianbaoError` whose code names the one condition that failed (SPEC §3, §13):

    ID_NUMBER_FORMAT       not 17 digits followed by a digit or X
    ID_NUMBER_CHECKSUM     the GB 11643 check character does not match the first 17 digits
    ID_NUMBER_BIRTH_DATE   the birth-date digits are not a real date, are in the future, or before 1900
    ID_NUMBER_REGION       the first six digits are not an administrative-division code in use since the
                           birth year
    UNDER_AGE              younger than the minimum age on the opening day (Asia/Shanghai)
    PHONE_INVALID          not a mainland China mobile number
    ID_CARD_EXPIRED        the ID card's validity ended before today

The checks are made in that order, so a number with two faults reports the first: a mistyped digit
usually breaks the check character, and saying so is the most useful answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import phonenumbers
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from qianbao.errors import QianbaoError

# Days of the business run in Shanghai whatever the server's clock zone (SPEC §14).
SHANGHAI = ZoneInfo("Asia/Shanghai")

# The default of the configurable minimum age (SPEC §3); callers pass the configured value.
DEFAULT_MINIMUM_AGE = 18

# Nobody alive holds a number with an earlier birth date: the resident ID system dates from 1984, and a
# birth year like 1800 is a typo that happens to form a valid date.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

_ID_SHAPE = re.compile(r"\d{17}[\dX]")


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True)
class ResidentId:
    """A checked mainland resident ID number and what it says about its holder."""

    number: str  # 18 characters, a final check character x written as X
    birth_date: date
    region_code: str  # the first six digits: the household-registration area when the number was assigned
    gender: Gender
    # Names of the area from python-stdnum's division table, for display; "" where the table has none.
    province: str = ""
    county: str = ""

    @property
    def sequence(self) -> str:
        """Digits 15–17 (顺序码): tells apart people of one area born on one day; odd for men."""
        return self.number[14:17]

    def __str__(self) -> str:
        return self.number


def today_in_shanghai(now: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai at the instant `now` (default: the current UTC time)."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware; stored times are UTC")
    return now.astimezone(SHANGHAI).date()


def parse_resident_id(text: str, *, today: date | None = None) -> ResidentId:
    """Check an 18-character resident ID number (GB 11643) and read its birth date, region and gender.

    Accepts the spellings people type: surrounding or inner spaces, full-width digits, a lower-case x.
    `today` (default: today in Shanghai) bounds the birth date; tests pass it to pin the day.
    """
    number = "".join(unicodedata.normalize("NFKC", text or "").split()).upper()
    if not _ID_SHAPE.fullmatch(number):
        raise QianbaoError("ID_NUMBER_FORMAT")
    try:
        ric.validate(number)
    except (InvalidLength, InvalidFormat):
        raise QianbaoError("ID_NUMBER_FORMAT") from None
    except InvalidChecksum:
        raise QianbaoError("ID_NUMBER_CHECKSUM") from None
    except InvalidComponent:
        # stdnum raises the same exception for an impossible date and for an unknown region: ask it again
        # about the date alone to tell which, then judge the region by our own rule below.
        pass
    except ValidationError:
        raise QianbaoError("ID_NUMBER_FORMAT") from None

    birth_digits = number[6:14]
    try:
        birth_date = ric.get_birth_date(number)
    except InvalidComponent:
        raise QianbaoError("ID_NUMBER_BIRTH_DATE", birth_digits=birth_digits) from None
    if birth_date < EARLIEST_BIRTH_DATE or birth_date > (today or today_in_shanghai()):
        raise QianbaoError("ID_NUMBER_BIRTH_DATE", birth_digits=birth_digits)

    region_code = number[:6]
    province, county = _region_names(region_code, birth_date.year)
    return ResidentId(
        number=number,
        birth_date=birth_date,
        region_code=region_code,
        gender=Gender.MALE if int(number[16]) % 2 else Gender.FEMALE,
        province=province,
        county=county,
    )


def _region_names(region_code: str, birth_year: int) -> tuple[str, str]:
    """(province, county) of a division code still in use in or after the birth year, else ID_NUMBER_REGION.

    python-stdnum's own check wants the code to exist in the birth year itself. That refuses real
    numbers: a number is assigned when a person is first registered, often years after birth and after a
    move, so someone born in 1980 and registered in Pudong (310115, created 1992) holds 310115 1980....
    What cannot happen is a code abolished before its holder was born.
    """
    parts = numdb.get("cn/loc").info(region_code)
    info = {key: value for _part, props in parts for key, value in props.items()}
    if "county" not in info:
        raise QianbaoError("ID_NUMBER_REGION", region_code=region_code)
    # The table lists a code once per period it was used, "[start-end]name", comma-separated.
    for entry in info["county"].split(","):
        if not entry.startswith("["):
            return info.get("province", ""), entry
        period, name = entry[1:].split("]", 1)
        _start, _, end = period.partition("-")
        if not end or int(end) >= birth_year:
            return info.get("province", ""), name
    raise QianbaoError("ID_NUMBER_REGION", region_code=region_code)


def anniversary(birth_date: date, year: int) -> date:
    """The birthday in `year`. A 29 February birthday falls on 28 February in a common year.

    Civil Code art. 202: a period counted in years ends on the corresponding day of the last month, or on
    that month's last day when it has no corresponding day.
    """
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age (周岁) on `day`: the age goes up on the birthday itself."""
    if day < birth_date:
        raise ValueError("day is before the birth date")
    years = day.year - birth_date.year
    return years if day >= anniversary(birth_date, day.year) else years - 1


def check_minimum_age(resident_id: ResidentId, today_shanghai: date, minimum: int = DEFAULT_MINIMUM_AGE) -> int:
    """The holder's age on `today_shanghai`; UNDER_AGE (naming the minimum) if it is below `minimum`.

    Pass `today_in_shanghai()`: near midnight the UTC date is still yesterday, and the birthday that makes
    someone old enough is the one in Shanghai.
    """
    age = age_on(resident_id.birth_date, today_shanghai)
    if age < minimum:
        eligible_on = anniversary(resident_id.birth_date, resident_id.birth_date.year + minimum)
        raise QianbaoError("UNDER_AGE", minimum=minimum, eligible_on=eligible_on.isoformat())
    return age


def parse_mobile(text: str) -> str:
    """A mainland China mobile number in E.164 (+8613812345678), from "+86 138 1234 5678", "13812345678", ...

    Refused with PHONE_INVALID: numbers that are not valid, landlines, and numbers of other countries and
    regions (Hong Kong, Macao and Taiwan included: they are not mainland numbers).
    """
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", text or ""), "CN")
    except phonenumbers.NumberParseException:
        raise QianbaoError("PHONE_INVALID") from None
    if (
        phonenumbers.region_code_for_number(number) != "CN"
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise QianbaoError("PHONE_INVALID")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_id_card_valid(valid_until: date | None, today_shanghai: date) -> None:
    """ID_CARD_EXPIRED when the card's validity ended before today; None means a long-term (长期) card.

    The card is still good on its last day of validity.
    """
    if valid_until is not None and valid_until < today_shanghai:
        raise QianbaoError("ID_CARD_EXPIRED", valid_until=valid_until.isoformat())


def resident_id_lookup_hash(resident_id: ResidentId) -> str:
    """The keyed hash that finds a real-name wallet by ID number without decrypting any.

    Store it in a column with a unique constraint: that constraint, not a read before the insert, is what
    keeps two concurrent openings with one ID number from both succeeding (one real-name wallet per ID).
    Taking a `ResidentId` rather than text means only checked, normalised numbers are ever hashed.
    """
    from qianbao.pii.hashing import lookup_hash

    return lookup_hash("id_number", resident_id.number)
