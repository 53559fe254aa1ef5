"""EMVCo merchant-presented QR codes (EMV QRCPS-MPM v1.1): encode, parse, check, draw.

A payload is a run of data objects, each `ID` (2 digits) `length` (2 digits, 01–99, counted in
characters) `value`; a template's value is itself such a run. The last object is the CRC (ID 63,
length 04): CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR) over
the UTF-8 bytes of everything before its value, ID and length "6304" included, as 4 upper-case hex
digits.

    00  payload format indicator "01" (first)        58  country code ("CN")
    01  point of initiation: 11 static, 12 dynamic   59  merchant name (≤ 25)
    02–51 merchant account information (≥ 1);        60  merchant city (≤ 15)
        26–51 templates: 00 globally unique id, …    61  postal code (≤ 10)
    52  merchant category code (4 digits)            62  additional data template: 01 bill number,
    53  transaction currency (ISO 4217 numeric)          05 reference label, 07 terminal label, …
    54  transaction amount ("23.72", ≤ 13)           63  CRC (last)
    55–57 tip or convenience fee                     64  language template: 00 language, 01 name,
    65–79 reserved for EMVCo; 80–99 unreserved           02 city (the only free-text in any script)

Qianbao's own account template (ID 26): 00 = `QIANBAO_GUID`, 01 = the merchant number. A dynamic
code (12) carries the amount (54) and the order's public reference (62-05) and the merchant's own
order number (62-01); a static code (11) carries neither, and the payer types the amount.

`parse` refuses, with nothing else done:
    QR_INVALID           empty, too long (> 512), not a run of data objects, not starting with 00,
                         no CRC at the end
    QR_CRC_MISMATCH      the checksum does not match (a misread, or an edited code)
    QR_LENGTH_INVALID    a data object's length is 00 or runs past its template (tag named)
    QR_FIELD_DUPLICATE   an ID given twice in one template
    QR_FIELD_MISSING     a mandatory object is absent (00, 52, 53, 58, 59, 60, an account)
    QR_FIELD_INVALID     a value of the wrong form (MCC not 4 digits, amount "1,00", …)
`qianbao_target` then says what Qianbao can pay: QR_NOT_QIANBAO (a valid code of another scheme),
QR_CURRENCY_UNSUPPORTED (not CNY), QR_AMOUNT_INVALID (zero, or more than two decimals).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import segno

from qianbao.errors import QianbaoError

MAX_PAYLOAD = 512
PAYLOAD_FORMAT = "01"
STATIC = "11"
DYNAMIC = "12"
CURRENCY_CNY = "156"
COUNTRY_CN = "CN"
QIANBAO_TAG = "26"
QIANBAO_GUID = "CN.QIANBAO"
MERCHANT_NO_RE = re.compile(r"[A-Z0-9]{4,32}")
ORDER_REF_RE = re.compile(r"[A-Za-z0-9_\-]{1,25}")

# Additional data field template (62) sub-IDs.
BILL_NUMBER = "01"
MOBILE_NUMBER = "02"
STORE_LABEL = "03"
LOYALTY_NUMBER = "04"
REFERENCE_LABEL = "05"
CUSTOMER_LABEL = "06"
TERMINAL_LABEL = "07"
PURPOSE = "08"

_NUMERIC = re.compile(r"[0-9]+")
_AMOUNT = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_COUNTRY = re.compile(r"[A-Z]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_MANDATORY = ("00", "52", "53", "58", "59", "60")
# Maximum lengths of the primitive root objects (EMV QRCPS-MPM table 3.4).
_MAX_LEN = {"00": 2, "01": 2, "52": 4, "53": 3, "54": 13, "55": 2, "56": 13, "57": 5, "58": 2, "59": 25,
            "60": 15, "61": 10}


# ---- CRC and the TLV layer --------------------------------------------------------------------------

def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no final XOR (check "123456789" = 0x29B1)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_hex(text: str) -> str:
    return f"{crc16(text.encode('utf-8')):04X}"


def _objects(text: str, parent: str = "") -> Iterator[tuple[str, str]]:
    """Walk a run of data objects: (ID, value) pairs. `parent` names the template in errors ("62")."""
    pos = 0
    while pos < len(text):
        head = text[pos:pos + 4]
        if len(head) < 4 or not head.isascii() or not head.isdigit():
            if parent:
                raise QianbaoError("QR_FIELD_INVALID", tag=parent)
            raise QianbaoError("QR_INVALID")
        tag, length = head[:2], int(head[2:])
        name = f"{parent}-{tag}" if parent else tag
        if length == 0 or pos + 4 + length > len(text):
            raise QianbaoError("QR_LENGTH_INVALID", tag=name)
        yield tag, text[pos + 4:pos + 4 + length]
        pos += 4 + length


def _collect(text: str, parent: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for tag, value in _objects(text, parent):
        if tag in found:
            raise QianbaoError("QR_FIELD_DUPLICATE", tag=f"{parent}-{tag}" if parent else tag)
        found[tag] = value
    return found


def tlv(tag: str, value: str) -> str:
    """One data object. Refuses (ValueError: a programming error, not input) what cannot be encoded."""
    if len(tag) != 2 or not tag.isdigit():
        raise ValueError(f"bad tag {tag!r}")
    if not 1 <= len(value) <= 99:
        raise ValueError(f"tag {tag}: length {len(value)} outside 1..99")
    return f"{tag}{len(value):02d}{value}"


def template(items: Iterable[tuple[str, str | None]]) -> str:
    return "".join(tlv(tag, value) for tag, value in sorted(items) if value)


def _printable(value: str, tag: str) -> None:
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in value):
        raise QianbaoError("QR_FIELD_INVALID", tag=tag)


# ---- the model --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MerchantAccount:
    """A merchant account information template (IDs 26–51): its globally unique id and sub-objects."""

    tag: str
    guid: str
    fields: tuple[tuple[str, str], ...] = ()

    def get(self, sub: str) -> str | None:
        return dict(self.fields).get(sub)


@dataclass(frozen=True)
class Language:
    """The merchant information language template (ID 64): e.g. "ZH", 最佳运输, 北京."""

    preference: str
    name: str
    city: str | None = None


@dataclass(frozen=True)
class MerchantQR:
    """A merchant-presented code, as parsed or to be encoded (amounts as their text, e.g. "23.72")."""

    merchant_name: str
    merchant_city: str
    mcc: str
    currency: str = CURRENCY_CNY
    country: str = COUNTRY_CN
    initiation: str | None = STATIC
    amount: str | None = None
    accounts: tuple[MerchantAccount, ...] = ()
    # Primitive account IDs 02–25 (card schemes' own formats), kept as they are.
    network_accounts: tuple[tuple[str, str], ...] = ()
    postal_code: str | None = None
    tip_indicator: str | None = None
    fixed_fee: str | None = None
    percentage_fee: str | None = None
    additional: tuple[tuple[str, str], ...] = ()
    language: Language | None = None
    # 65–79 (EMVCo reserved) and 80–99 (unreserved templates), kept as raw values.
    other: tuple[tuple[str, str], ...] = field(default=())

    @property
    def dynamic(self) -> bool:
        return self.initiation == DYNAMIC

    def extra(self, sub: str) -> str | None:
        return dict(self.additional).get(sub)

    @property
    def bill_number(self) -> str | None:
        return self.extra(BILL_NUMBER)

    @property
    def reference_label(self) -> str | None:
        return self.extra(REFERENCE_LABEL)

    def account(self, guid: str) -> MerchantAccount | None:
        for account in self.accounts:
            if account.guid.upper() == guid.upper():
                return account
        return None


# ---- encode -----------------------------------------------------------------------------------------

def encode(qr: MerchantQR) -> str:
    """The payload for `qr`, objects in ID order, with its CRC. ValueError for a value that cannot be
    encoded (too long, empty) — the inputs come from our own merchants' records, checked before."""
    objects: list[tuple[str, str]] = [("00", PAYLOAD_FORMAT)]
    if qr.initiation:
        objects.append(("01", qr.initiation))
    objects += list(qr.network_accounts)
    for account in qr.accounts:
        objects.append((account.tag, template([("00", account.guid), *account.fields])))
    objects += [("52", qr.mcc), ("53", qr.currency)]
    for tag, value in (("54", qr.amount), ("55", qr.tip_indicator), ("56", qr.fixed_fee),
                       ("57", qr.percentage_fee), ("61", qr.postal_code)):
        if value:
            objects.append((tag, value))
    objects += [("58", qr.country), ("59", qr.merchant_name), ("60", qr.merchant_city)]
    if qr.additional:
        objects.append(("62", template(qr.additional)))
    if qr.language:
        objects.append(("64", template([("00", qr.language.preference), ("01", qr.language.name),
                                        ("02", qr.language.city)])))
    objects += list(qr.other)
    for tag, value in objects:
        limit = _MAX_LEN.get(tag)
        if limit is not None and len(value) > limit:
            raise ValueError(f"tag {tag}: {value!r} longer than {limit}")
    body = "".join(tlv(tag, value) for tag, value in sorted(objects, key=lambda item: item[0])) + "6304"
    payload = body + crc_hex(body)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} characters, more than {MAX_PAYLOAD}")
    return payload


# ---- parse ------------------------------------------------------------------------------------------

def parse(payload: str) -> MerchantQR:
    """Check and read a payload (see the module docstring for the refusals)."""
    text = payload.strip() if isinstance(payload, str) else ""
    if not text or len(text) > MAX_PAYLOAD or not text.startswith("000201"):
        raise QianbaoError("QR_INVALID")
    if len(text) < 8 or text[-8:-4] != "6304" or not _HEX4.fullmatch(text[-4:]):
        raise QianbaoError("QR_INVALID")
    if crc_hex(text[:-4]) != text[-4:].upper():
        raise QianbaoError("QR_CRC_MISMATCH")
    root = _collect(text)
    # The walk must end on the CRC exactly: a CRC object elsewhere would have been consumed as a value.
    if list(root)[-1] != "63":
        raise QianbaoError("QR_INVALID")
    for tag in _MANDATORY:
        if tag not in root:
            raise QianbaoError("QR_FIELD_MISSING", tag=tag)
    for tag, value in root.items():
        limit = _MAX_LEN.get(tag)
        if limit is not None and len(value) > limit:
            raise QianbaoError("QR_LENGTH_INVALID", tag=tag)
        if tag != "64":
            _printable(value, tag)
    if root["00"] != PAYLOAD_FORMAT:
        raise QianbaoError("QR_FIELD_INVALID", tag="00")
    initiation = root.get("01")
    if initiation is not None and initiation not in (STATIC, DYNAMIC):
        raise QianbaoError("QR_FIELD_INVALID", tag="01")
    if not (_NUMERIC.fullmatch(root["52"]) and len(root["52"]) == 4):
        raise QianbaoError("QR_FIELD_INVALID", tag="52")
    if not (_NUMERIC.fullmatch(root["53"]) and len(root["53"]) == 3):
        raise QianbaoError("QR_FIELD_INVALID", tag="53")
    amount = root.get("54")
    if amount is not None and not _AMOUNT.fullmatch(amount):
        raise QianbaoError("QR_FIELD_INVALID", tag="54")
    tip = root.get("55")
    if tip is not None:
        if tip not in ("01", "02", "03"):
            raise QianbaoError("QR_FIELD_INVALID", tag="55")
        needed = {"02": "56", "03": "57"}.get(tip)
        if needed and needed not in root:
            raise QianbaoError("QR_FIELD_MISSING", tag=needed)
    for tag in ("56", "57"):
        if tag in root and not _AMOUNT.fullmatch(root[tag]):
            raise QianbaoError("QR_FIELD_INVALID", tag=tag)
    if not _COUNTRY.fullmatch(root["58"]):
        raise QianbaoError("QR_FIELD_INVALID", tag="58")

    network: list[tuple[str, str]] = []
    accounts: list[MerchantAccount] = []
    other: list[tuple[str, str]] = []
    for tag, value in root.items():
        number = int(tag)
        if 2 <= number <= 25:
            network.append((tag, value))
        elif 26 <= number <= 51:
            subs = _collect(value, tag)
            guid = subs.pop("00", None)
            if not guid or len(guid) > 32:
                raise QianbaoError("QR_FIELD_INVALID", tag=tag)
            accounts.append(MerchantAccount(tag, guid, tuple(sorted(subs.items()))))
        elif 65 <= number <= 99:
            other.append((tag, value))
    if not network and not accounts:
        raise QianbaoError("QR_FIELD_MISSING", tag="02-51")

    additional: tuple[tuple[str, str], ...] = ()
    if "62" in root:
        subs = _collect(root["62"], "62")
        for sub, value in subs.items():
            if sub == "09" and (len(value) > 3 or set(value) - set("AME")):
                raise QianbaoError("QR_FIELD_INVALID", tag="62-09")
            if 1 <= int(sub) <= 8 and len(value) > 25:
                raise QianbaoError("QR_LENGTH_INVALID", tag=f"62-{sub}")
        additional = tuple(sorted(subs.items()))

    language: Language | None = None
    if "64" in root:
        subs = _collect(root["64"], "64")
        preference, name, city = subs.get("00"), subs.get("01"), subs.get("02")
        if preference is None or name is None:
            raise QianbaoError("QR_FIELD_MISSING", tag="64-00" if preference is None else "64-01")
        if len(preference) != 2 or not preference.isascii() or not preference.isalpha():
            raise QianbaoError("QR_FIELD_INVALID", tag="64-00")
        if len(name) > 25 or (city is not None and len(city) > 15):
            raise QianbaoError("QR_LENGTH_INVALID", tag="64-01" if len(name) > 25 else "64-02")
        for sub, value in subs.items():
            _printable(value, f"64-{sub}")
        language = Language(preference, name, city)

    return MerchantQR(
        merchant_name=root["59"], merchant_city=root["60"], mcc=root["52"], currency=root["53"],
        country=root["58"], initiation=initiation, amount=amount, accounts=tuple(accounts),
        network_accounts=tuple(network), postal_code=root.get("61"), tip_indicator=tip,
        fixed_fee=root.get("56"), percentage_fee=root.get("57"), additional=additional, language=language,
        other=tuple(other),
    )


# ---- Qianbao's codes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class QianbaoTarget:
    """What a Qianbao merchant code asks the payer to do."""

    merchant_no: str
    dynamic: bool
    amount: int | None          # fen; None on a static code: the payer types it
    order_ref: str | None       # the order's public reference (dynamic codes)
    bill_number: str | None     # the merchant's own order number, shown to the payer
    terminal: str | None
    name: str                   # as printed in the code: for display only, never trusted
    name_zh: str | None


def amount_fen(text: str) -> int:
    """A tag-54 amount of a CNY code in fen: at most two decimals, more than zero (QR_AMOUNT_INVALID)."""
    whole, _, decimals = text.partition(".")
    if len(decimals) > 2:
        raise QianbaoError("QR_AMOUNT_INVALID")
    fen = int(whole or "0") * 100 + int((decimals + "00")[:2])
    if fen <= 0:
        raise QianbaoError("QR_AMOUNT_INVALID")
    return fen


def format_amount(fen: int) -> str:
    if fen <= 0:
        raise ValueError("an amount in a code is more than zero")
    return f"{fen // 100}.{fen % 100:02d}"


def qianbao_target(qr: MerchantQR) -> QianbaoTarget:
    account = qr.account(QIANBAO_GUID)
    if account is None:
        raise QianbaoError("QR_NOT_QIANBAO")
    merchant_no = account.get("01")
    if merchant_no is None or not MERCHANT_NO_RE.fullmatch(merchant_no):
        raise QianbaoError("QR_FIELD_INVALID", tag=f"{account.tag}-01")
    if qr.currency != CURRENCY_CNY:
        raise QianbaoError("QR_CURRENCY_UNSUPPORTED", currency=qr.currency)
    if qr.tip_indicator is not None:
        # Qianbao's merchants never print a tip prompt; a code asking for one was not made by us.
        raise QianbaoError("QR_FIELD_INVALID", tag="55")
    amount = amount_fen(qr.amount) if qr.amount is not None else None
    order_ref = qr.reference_label
    if qr.dynamic:
        if amount is None:
            raise QianbaoError("QR_FIELD_MISSING", tag="54")
        if order_ref is None:
            raise QianbaoError("QR_FIELD_MISSING", tag="62-05")
        if not ORDER_REF_RE.fullmatch(order_ref):
            raise QianbaoError("QR_FIELD_INVALID", tag="62-05")
    else:
        order_ref = None
    return QianbaoTarget(
        merchant_no=merchant_no, dynamic=qr.dynamic, amount=amount, order_ref=order_ref,
        bill_number=qr.bill_number, terminal=qr.extra(TERMINAL_LABEL), name=qr.merchant_name,
        name_zh=qr.language.name if qr.language else None,
    )


def _fit(text: str, limit: int) -> str:
    return text.strip()[:limit].strip() or "-"


def qianbao_code(*, merchant_no: str, name: str, city: str, mcc: str, name_zh: str | None = None,
                 city_zh: str | None = None, amount: int | None = None, order_ref: str | None = None,
                 bill_number: str | None = None, terminal: str | None = None) -> str:
    """A Qianbao merchant code: static without `amount`, dynamic (amount + order reference) with it.

    `name` and `city` are the Latin-script forms (59/60 hold the common character set); the Chinese
    ones go in the language template (64, "ZH"). Too-long names are cut to the field's size.
    """
    if not MERCHANT_NO_RE.fullmatch(merchant_no):
        raise ValueError(f"bad merchant number {merchant_no!r}")
    dynamic = amount is not None
    if dynamic and not (order_ref and ORDER_REF_RE.fullmatch(order_ref)):
        raise ValueError("a dynamic code names its order (reference of 1–25 letters, digits, - or _)")
    additional = [(BILL_NUMBER, _fit(bill_number, 25) if bill_number else None),
                  (REFERENCE_LABEL, order_ref if dynamic else None),
                  (TERMINAL_LABEL, _fit(terminal, 25) if terminal else None)]
    qr = MerchantQR(
        merchant_name=_fit(_ascii(name), 25), merchant_city=_fit(_ascii(city), 15), mcc=mcc,
        initiation=DYNAMIC if dynamic else STATIC,
        amount=format_amount(amount) if amount is not None else None,
        accounts=(MerchantAccount(QIANBAO_TAG, QIANBAO_GUID, (("01", merchant_no),)),),
        additional=tuple((tag, value) for tag, value in additional if value),
        language=Language("ZH", _fit(name_zh, 25), _fit(city_zh, 15) if city_zh else None) if name_zh else None,
    )
    return encode(qr)


def _ascii(text: str) -> str:
    """Latin script for 59/60: drop what is outside printable ASCII (the Chinese name goes in 64)."""
    return "".join(ch for ch in text if " " <= ch <= "~")


# ---- images -----------------------------------------------------------------------------------------

def _symbol(payload: str) -> segno.QRCode:
    # Error correction M (15%): a printed counter code survives a scuff; byte mode in UTF-8.
    return segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False)


def png(payload: str, *, scale: int = 8, border: int = 4) -> bytes:
    out = io.BytesIO()
    _symbol(payload).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def svg(payload: str, *, scale: int = 6, border: int = 4, title: str | None = None, omitsize: bool = False) -> str:
    """An SVG document; `omitsize` leaves out width/height (a viewBox only), so CSS sizes it."""
    out = io.BytesIO()
    _symbol(payload).save(out, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True,
                          title=title, nl=False, omitsize=omitsize)
    return out.getvalue().decode("utf-8")
