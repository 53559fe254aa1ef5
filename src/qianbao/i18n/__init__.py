"""Message catalogues (zh-CN default, English) and language negotiation.

Catalogues are gettext `.po` files read with babel, one per language, keyed by symbolic ids such as
`error.NOT_FOUND` or `nav.home`; placeholders use `{name}`. Reading the `.po` files directly (instead
of shipping compiled `.mo` files) keeps a single source that translators and tests both read.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.messages.pofile import read_po

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_LOCALE_DIRS = {"zh-CN": "zh_CN", "en": "en"}
LOCALES_PATH = Path(__file__).parent / "locales"


def po_path(lang: str) -> Path:
    return LOCALES_PATH / _LOCALE_DIRS[lang] / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(lang: str) -> dict[str, str]:
    with po_path(lang).open("rb") as fh:
        po = read_po(fh, locale=_LOCALE_DIRS[lang])
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


def normalize(lang: str | None) -> str | None:
    """Map 'zh', 'zh_CN', 'zh-Hans-CN', 'en-US'... onto a supported language, or None."""
    if not lang:
        return None
    tag = lang.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Pick the best supported language from an Accept-Language header."""
    if not accept_language:
        return default
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((q, tag))
    ranked.sort(key=lambda item: -item[0])
    preferred = [tag.replace("-", "_") for _, tag in ranked]
    chosen = negotiate_locale(preferred, ["zh_CN", "zh", "en"], sep="_")
    return normalize(chosen) or normalize(ranked[0][1] if ranked else None) or default


def translate(key: str, lang: str | None = None, /, **params: Any) -> str:
    lang = normalize(lang) or DEFAULT_LANGUAGE
    text = catalogue(lang).get(key)
    if text is None:
        # A missing key is a bug that tests catch; at run time show the other language, then the key.
        other = "en" if lang == "zh-CN" else "zh-CN"
        text = catalogue(other).get(key, key)
    if params:
        # A coded parameter may have its own wording: "error.LIMIT_EXCEEDED.limit.daily" names the limit.
        table = catalogue(lang)
        params = {
            name: table.get(f"{key}.{name}.{value}", value) if isinstance(value, str) else value
            for name, value in params.items()
        }
        try:
            return text.format_map(_Defaulting(params))
        except (ValueError, IndexError):
            return text
    return text


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def babel_locale(lang: str) -> Locale:
    return Locale.parse(_LOCALE_DIRS.get(normalize(lang) or DEFAULT_LANGUAGE, "zh_CN"))
