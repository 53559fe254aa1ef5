"""Legal names as printed on a mainland resident ID card.

A name is 2 to 20 characters, each a Chinese character (CJK ideograph, the rare ones of the extension
blocks included, since 生僻字 occur in real names), except for the middle dot (间隔号 ·, U+00B7) that
separates the parts of many ethnic-minority names (阿卜杜·热合曼). A dot stands between two parts:
never first, never last, never two in a row. The dot counts towards the 20 characters.

People type the dot in many look-alike ways, so these all become U+00B7: • (bullet), ‧ (hyphenation
point), ・ (katakana middle dot, full and half width), ∙ ⋅ (math operators), . and ． (full stops).
White space anywhere is dropped: no name on a resident ID card contains a space.

Latin-script names (foreigners, 外国人永久居留身份证 holders) are not accepted: this rule is for the
mainland resident ID only; another kind of document would need its own rule.
"""

from __future__ import annotations

import unicodedata

from qianbao.errors import QianbaoError

MIDDLE_DOT = "\u00b7"
_DOT_LOOKALIKES = "\u2022\u2027\u30fb\uff65\u2219\u22c5.\uff0e\u0387"
MIN_NAME_CHARS = 2
MAX_NAME_CHARS = 20


def _is_cjk_ideograph(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def parse_legal_name(text: str) -> str:
    """The name normalised (NFC, no spaces, dots as U+00B7), or NAME_INVALID."""
    name = "".join(unicodedata.normalize("NFC", text or "").split())
    name = "".join(MIDDLE_DOT if char in _DOT_LOOKALIKES else char for char in name)
    if not MIN_NAME_CHARS <= len(name) <= MAX_NAME_CHARS:
        raise QianbaoError("NAME_INVALID")
    parts = name.split(MIDDLE_DOT)
    if any(not part or not all(_is_cjk_ideograph(char) for char in part) for part in parts):
        raise QianbaoError("NAME_INVALID")
    return name
