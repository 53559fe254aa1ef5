"""A customer photo for receipt tests: a plain JPEG, as the counter camera would give."""

from __future__ import annotations

import io

from PIL import Image


def customer_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (480, 480), "#c8d8c8").save(buffer, format="JPEG")
    return buffer.getvalue()
