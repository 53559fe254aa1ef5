"""What a receipt says (`ReceiptDocument`, built per kind) and how it is printed: HTML → PDF with WeasyPrint.

Every receipt shares one frame: the operator's name, the branch, the serial, the time in Asia/Shanghai,
the teller, and "reprint n" from the second print on. A kind's builder fills in the middle: a headline
(the wallet number, say), facts, an optional table and a short guide. Text is in one language, the one
the receipt is printed in; the fonts are Noto Sans CJK (Debian's fonts-noto-cjk) so Chinese prints
without tofu. Values arrive masked: a builder never puts a full name, ID or phone number on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape

from qianbao.i18n import babel_locale, translate

TEMPLATES = Path(__file__).parent / "templates"
SHANGHAI = ZoneInfo("Asia/Shanghai")

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class ReceiptTable:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ReceiptDocument:
    """The kind-specific part of a receipt, already in the receipt's language and masked."""

    title: str
    headline_label: str | None = None
    headline_value: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    table: ReceiptTable | None = None
    guide_title: str | None = None
    guide: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceiptFrame:
    """What every receipt prints around its document."""

    serial: str
    branch_name: str
    branch_address: str
    teller: str  # "王柜员 (T0101)"
    operated_at: datetime  # UTC; printed in Asia/Shanghai
    print_number: int  # 1 for the original
    lang: str


def local_text(moment: datetime, lang: str) -> str:
    return format_datetime(moment.astimezone(SHANGHAI), "yyyy-MM-dd HH:mm:ss", locale=babel_locale(lang))


def render_html(document: ReceiptDocument, frame: ReceiptFrame) -> str:
    lang = frame.lang
    return _env.get_template("receipt.html").render(
        doc=document, frame=frame, lang=lang, html_lang="zh-CN" if lang == "zh-CN" else "en",
        t=lambda key, **params: translate(key, lang, **params),
        operated_at=local_text(frame.operated_at, lang),
    )


def render_pdf(document: ReceiptDocument, frame: ReceiptFrame) -> bytes:
    # Imported here: WeasyPrint loads Pango and fontconfig, which only the printing request needs.
    from weasyprint import HTML

    html = render_html(document, frame)
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf
