"""QR images of merchant codes (segno): a decoder reads back exactly the payload, Chinese included."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import zxingcpp
from PIL import Image

from qianbao.payments import emvqr

PAYLOAD = emvqr.qianbao_code(merchant_no="M20260001", name="Lao Wang Noodles", city="Beijing", mcc="5812",
                             name_zh="老王面馆", city_zh="北京", amount=2372, order_ref="QB7Y3K2M9")


def test_png_decodes_to_the_payload():
    image = Image.open(io.BytesIO(emvqr.png(PAYLOAD)))
    assert image.format == "PNG"
    found = zxingcpp.read_barcodes(image)
    assert [r.text for r in found] == [PAYLOAD]
    assert emvqr.parse(found[0].text).language.name == "老王面馆"  # type: ignore[union-attr]


def test_svg_is_a_standalone_svg_document_with_a_title():
    svg = emvqr.svg(PAYLOAD, title="老王面馆")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "老王面馆" in svg and "<script" not in svg


def test_png_uses_medium_error_correction():
    # Level M survives some damage: blank a corner strip of the code's data area and it still reads.
    image = Image.open(io.BytesIO(emvqr.png(PAYLOAD, scale=6))).convert("L")
    w, h = image.size
    for x in range(w // 2, w // 2 + w // 14):
        for y in range(h // 2, h // 2 + h // 14):
            image.putpixel((x, y), 255)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [PAYLOAD]
