"""Bank identification numbers (BIN, 发卡行识别码) of the major mainland Chinese banks: issuer and card type.

    lookup("6217991234567890123") -> BinInfo(prefix="621799", bank_code="PSBC", card_type=CardType.DEBIT)
    bank("PSBC") -> Bank(code="PSBC", name_zh="中国邮政储蓄银行", name_en="Postal Savings Bank of China")
    luhn_valid(number), luhn_check_digit(body), card_number(prefix, length=19, serial=1)

The prefixes are the issuers' published BINs as they appear in the UnionPay BIN lists that banks and payment
companies republish (the 62xxxx UnionPay ranges, the issuers' Visa 4xxxxx / Mastercard 5xxxxx / JCB 35xxxx /
American Express 37xxxx co-branded ranges, and the old 95xxx/9558 domestic prefixes). It is not the full
list of every issuer's every range: a card whose BIN is not here is refused as an unknown bank
(CARD_UNKNOWN_BANK) — the same answer a real wallet gives for an issuer it has no agreement with.

The look-up takes the longest matching prefix (4 to 8 digits), so a longer, more specific range wins.
Card numbers are 16 to 19 digits and end in a Luhn check digit (ISO/IEC 7812).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CardType(StrEnum):
    DEBIT = "debit"  # 借记卡 / 储蓄卡
    CREDIT = "credit"  # 信用卡 (including quasi-credit 准贷记卡)


@dataclass(frozen=True)
class Bank:
    code: str
    name_zh: str
    name_en: str
    short_zh: str

    def name(self, lang: str) -> str:
        return self.name_zh if lang.lower().startswith("zh") else self.name_en


@dataclass(frozen=True)
class BinInfo:
    prefix: str
    bank_code: str
    card_type: CardType

    @property
    def bank(self) -> Bank:
        return BANKS[self.bank_code]


BANKS: dict[str, Bank] = {b.code: b for b in (
    Bank("PSBC", "中国邮政储蓄银行", "Postal Savings Bank of China", "邮储银行"),
    Bank("ICBC", "中国工商银行", "Industrial and Commercial Bank of China", "工商银行"),
    Bank("ABC", "中国农业银行", "Agricultural Bank of China", "农业银行"),
    Bank("BOC", "中国银行", "Bank of China", "中国银行"),
    Bank("CCB", "中国建设银行", "China Construction Bank", "建设银行"),
    Bank("BOCOM", "交通银行", "Bank of Communications", "交通银行"),
    Bank("CMB", "招商银行", "China Merchants Bank", "招商银行"),
    Bank("CITIC", "中信银行", "China CITIC Bank", "中信银行"),
    Bank("CIB", "兴业银行", "Industrial Bank", "兴业银行"),
    Bank("SPDB", "上海浦东发展银行", "Shanghai Pudong Development Bank", "浦发银行"),
    Bank("CMBC", "中国民生银行", "China Minsheng Bank", "民生银行"),
    Bank("CEB", "中国光大银行", "China Everbright Bank", "光大银行"),
    Bank("PAB", "平安银行", "Ping An Bank", "平安银行"),
    Bank("CGB", "广发银行", "China Guangfa Bank", "广发银行"),
)}

D, C = CardType.DEBIT, CardType.CREDIT

# bank code -> {card type: prefixes}
_RANGES: dict[str, dict[CardType, tuple[str, ...]]] = {
    "PSBC": {
        D: ("621799", "621798", "621797", "622188", "621098", "621096", "621095", "622150", "622151", "622181",
            "622199", "955100", "620062", "621285", "621622", "623218", "623219", "621674", "621599"),
        C: ("622810", "622811", "622812", "628310", "625919", "625367", "625368"),
    },
    "ICBC": {
        D: ("622202", "622203", "622208", "622200", "621225", "621226", "621227", "621281", "621288", "621558",
            "621559", "621618", "621670", "621721", "621722", "621723", "620058", "620086", "623062", "9558"),
        C: ("622210", "622211", "622212", "622213", "622214", "622215", "622220", "622223", "622225", "622229",
            "622230", "622231", "622232", "622233", "622234", "622235", "622237", "622238", "622239", "622240",
            "622245", "622246", "625330", "625331", "625332", "625708", "625709", "625865", "625866", "625899",
            "625929", "628286", "628288", "427010", "427018", "427019", "427020", "427029", "427030", "427039",
            "370246", "370247", "370248", "370249", "438125", "438126", "451804", "451810", "451811", "458071",
            "489734", "489735", "489736", "524091", "530970", "530990", "558360", "524047", "525498"),
    },
    "ABC": {
        D: ("622848", "622849", "622845", "622846", "622847", "622840", "622841", "622843", "622844", "622821",
            "622822", "622823", "622824", "622825", "622826", "622827", "622828", "621282", "621336", "621619",
            "623018", "95595", "95596", "95597", "95598", "95599"),
        C: ("622836", "622837", "625996", "625997", "625998", "628268", "403361", "404117", "404118", "404119",
            "404120", "404121", "463758", "514027", "519412", "519413", "520082", "520083", "558730", "625826",
            "625827", "548478", "544243", "622820", "622830", "622838"),
    },
    "BOC": {
        D: ("621660", "621661", "621662", "621663", "621665", "621666", "621667", "621668", "621669", "621256",
            "621212", "621283", "621725", "621756", "621757", "621758", "621759", "621785", "621786", "621787",
            "621788", "621789", "621790", "623208", "456351", "601382"),
        C: ("625905", "625906", "625907", "625908", "625909", "625910", "625333", "628312", "628313", "622760",
            "622761", "622762", "622763", "518378", "518379", "518474", "518475", "518476", "524865", "525745",
            "525746", "409665", "409666", "409667", "409668", "409669", "409670", "409671", "409672"),
    },
    "CCB": {
        D: ("621700", "622700", "621080", "621081", "621466", "621467", "621488", "621499", "621598", "621621",
            "621284", "623094", "623211", "622280", "436742"),
        C: ("622166", "622168", "622708", "625964", "625965", "625966", "628266", "628366", "436718", "436728",
            "436738", "436745", "489592", "531693", "532450", "532458", "544887", "552801", "557080", "558895",
            "559051", "622725", "622728", "625362", "625363", "628316", "628317"),
    },
    "BOCOM": {
        D: ("622260", "622262", "622258", "622259", "622261", "621069", "621436", "621335", "620013", "405512",
            "601428"),
        C: ("622250", "622251", "622252", "622253", "622254", "622255", "622256", "622257", "622656", "628216",
            "628218", "521899", "520169", "458123", "458124", "434910", "625028", "625029"),
    },
    "CMB": {
        D: ("621286", "621483", "621485", "621486", "622580", "622588", "622598", "622609", "621299", "690755",
            "410062", "468203", "512425", "524011", "95555"),
        C: ("622575", "622576", "622577", "622578", "622579", "622581", "622582", "545619", "545620", "545621",
            "545623", "545947", "545948", "552534", "552587", "518710", "518718", "439188", "439225", "439226",
            "439227", "479228", "479229", "521302", "356885", "356886", "356887", "356888", "356889", "356890",
            "370285", "370286", "370287", "370289", "625802", "625803", "628262", "628362"),
    },
    "CITIC": {
        D: ("622690", "622691", "622692", "622696", "622698", "622998", "622999", "433670", "433680", "442729",
            "442730", "620082", "621767", "621768", "621770", "621771", "621772", "621773"),
        C: ("622916", "622918", "622919", "625336", "628208", "628209", "376966", "376968", "376969", "400360",
            "403391", "403392", "404157", "404158", "404173", "404174", "433667", "433668", "433669", "514906",
            "518212", "520108", "556617", "558916"),
    },
    "CIB": {
        D: ("622909", "622908", "438588", "966666", "90592"),
        C: ("622901", "622922", "625081", "625082", "625083", "625084", "628212", "451289", "523036", "486493",
            "486494", "486861", "528057", "548738", "549633", "552398"),
    },
    "SPDB": {
        D: ("622516", "622517", "622518", "622521", "622522", "622523", "621351", "621352", "621390", "621791",
            "621792", "621793", "621795", "621796", "84301", "84336"),
        C: ("622276", "622277", "622228", "625957", "625958", "625993", "628222", "456418", "498451", "515672",
            "517650", "525998"),
    },
    "CMBC": {
        D: ("622615", "622617", "622619", "622622", "415599", "421393", "421865", "427570", "427571", "472067",
            "472068", "621691"),
        C: ("622600", "622601", "622602", "622603", "625911", "628258", "356856", "356857", "356858", "356859",
            "407405", "421869", "421870", "421871", "512466", "517636", "528948", "552288"),
    },
    "CEB": {
        D: ("622660", "622661", "622662", "622663", "622664", "622665", "622666", "622667", "622668", "622669",
            "621489", "621490", "620518", "90030"),
        C: ("406252", "406254", "425862", "481699", "524090", "543159", "625976", "625977", "628201", "628202"),
    },
    "PAB": {
        D: ("622155", "622156", "622157", "622986", "622989", "622298", "623058", "621626", "602907", "412962",
            "412963", "415752", "415753", "998800"),
        C: ("622525", "622526", "435744", "435745", "483536", "526855", "528020"),
    },
    "CGB": {
        D: ("622568", "621462", "620037", "685800"),
        C: ("622555", "622556", "622557", "622558", "622559", "622560", "625071", "625072", "628259", "628260",
            "528931", "558894", "406365", "406366", "487013", "491032", "491034", "491035", "491036", "491037",
            "491038", "518364", "520152", "520382", "548844", "552794"),
    },
}

TABLE: dict[str, BinInfo] = {}
for _code, _by_type in _RANGES.items():
    for _type, _prefixes in _by_type.items():
        for _prefix in _prefixes:
            if _prefix in TABLE:  # pragma: no cover - a data error, caught by the tests
                raise ValueError(f"BIN {_prefix} listed twice")
            TABLE[_prefix] = BinInfo(_prefix, _code, _type)

MIN_LENGTH, MAX_LENGTH = 16, 19
_PREFIX_LENGTHS = tuple(sorted({len(prefix) for prefix in TABLE}, reverse=True))


def lookup(number: str) -> BinInfo | None:
    """The issuer and card type of a card number (or of its first digits), by the longest known prefix."""
    digits = "".join(number.split())
    if not digits.isdigit():
        return None
    for length in _PREFIX_LENGTHS:
        found = TABLE.get(digits[:length]) if len(digits) >= length else None
        if found is not None:
            return found
    return None


def bank(code: str) -> Bank | None:
    return BANKS.get(code)


def luhn_check_digit(body: str) -> str:
    """The Luhn check digit to append to `body` (digits only)."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # these digits are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = "".join(number.split())
    return digits.isdigit() and len(digits) >= 2 and luhn_check_digit(digits[:-1]) == digits[-1]


def valid_card_number(number: str) -> bool:
    """16 to 19 digits ending in a right Luhn check digit (the shape of a card number, not a known bank)."""
    digits = "".join(number.split())
    return digits.isdigit() and MIN_LENGTH <= len(digits) <= MAX_LENGTH and luhn_valid(digits)


def card_number(prefix: str, length: int = 19, serial: int = 1) -> str:
    """A well-formed card number in a BIN range: the prefix, the serial zero-padded, the Luhn digit.
    For the sandbox bank and tests; `serial` tells numbers of the same range apart."""
    middle = length - len(prefix) - 1
    if middle < 1 or not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError("a card number is 16 to 19 digits")
    body = prefix + str(serial).zfill(middle)[-middle:]
    return body + luhn_check_digit(body)


def prefixes(bank_code: str, card_type: CardType | str) -> tuple[str, ...]:
    return _RANGES.get(bank_code, {}).get(CardType(card_type), ())


__all__ = ["BANKS", "TABLE", "Bank", "BinInfo", "CardType", "bank", "card_number", "lookup", "luhn_check_digit",
           "luhn_valid", "prefixes", "valid_card_number"]
