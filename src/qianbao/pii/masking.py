"""One masking function per kind of personal value, for pages, logs, API responses and audit details.

Rules (each function accepts None or "" and returns ""):

name
    Chinese (any Han character in it): keep the first and the last character, one `*` for each one
    between: 张三明 → 张*明, 欧阳娜娜 → 欧**娜. Two characters keep the first: 张三 → 张*; one character
    becomes `*`. Compound surnames get no table of their own: the first-and-last rule never shows more
    than two characters, whatever the surname. Names of Uyghur and other transliterated names keep their
    separating dots (·, ・, •, ‧, .), and the rule counts only the characters between them:
    阿卜杜·热合曼 → 阿**·**曼.
    Latin script: every word keeps its first letter, the rest become `*`: John Smith → J*** S****,
    O'Neil → O*****; hyphens and apostrophes are masked like letters.
resident ID (居民身份证号)
    first four (the region: province and city) and last four, the middle masked one `*` per
    character: 110101199003071234 → 1101**********1234 (also the 15-digit form). Any other length
    (passport, permit) keeps only its last four, or fewer when short (never more than a third).
phone
    spaces, dashes and a +86 / 0086 country code are dropped; 11 digits or more keep the first three
    and the last four: 13812345678 → 138****5678; 7–10 digits keep the last four; fewer are all masked.
card
    only the last four digits, after four stars whatever the length: 6222021234567890123 → ****0123.
"""

from __future__ import annotations

import re
import unicodedata

from qianbao.pii.hashing import normalise_phone

_NAME_DOTS = "·・•‧."
_NAME_SPLIT = re.compile(f"([{re.escape(_NAME_DOTS)}])")
_NON_DIGITS = re.compile(r"\D")


def _is_han(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CJK ")


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if any(_is_han(char) for char in name):
        return _mask_han_name(name)
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split(" "))


def _mask_han_name(name: str) -> str:
    pieces = _NAME_SPLIT.split(name.replace(" ", ""))
    # (piece, offset) of every character that is not a separating dot, in reading order.
    positions = [(i, j) for i, piece in enumerate(pieces) if piece not in _NAME_DOTS for j in range(len(piece))]
    keep = set(positions[:1]) if len(positions) == 2 else {positions[0], positions[-1]} if len(positions) > 2 else set()
    return "".join(
        piece if piece in _NAME_DOTS else "".join(ch if (i, j) in keep else "*" for j, ch in enumerate(piece))
        for i, piece in enumerate(pieces)
    )


def mask_id_number(id_number: str | None) -> str:
    if not id_number:
        return ""
    value = "".join(unicodedata.normalize("NFKC", id_number).split()).upper()
    n = len(value)
    if n in (15, 18):
        return value[:4] + "*" * (n - 8) + value[-4:]
    shown = min(4, n // 3)
    return "*" * (n - shown) + (value[-shown:] if shown else "")


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = normalise_phone(phone)
    n = len(digits)
    if n >= 11:
        return digits[:3] + "*" * (n - 7) + digits[-4:]
    if n >= 7:
        return "*" * (n - 4) + digits[-4:]
    return "*" * n


def mask_card(card_number: str | None) -> str:
    if not card_number:
        return ""
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", card_number))
    if len(digits) < 8:
        # Too short to be a card number: showing four of it would show most of it.
        return "****"
    return "****" + digits[-4:]
