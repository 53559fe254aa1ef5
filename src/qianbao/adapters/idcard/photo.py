"""Placeholder portraits for sandbox ID cards: a plain head-and-shoulders figure on a white ground.

The chip of a second-generation card holds a 102 × 126 pixel portrait; the sandbox makes one of that
size so pages and receipts lay it out as they would a real one. The colours follow from a seed (the ID
number) so each sandbox person keeps the same picture.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw

PHOTO_SIZE = (102, 126)

_SKIN = ((241, 204, 170), (226, 185, 143), (198, 150, 110), (233, 196, 160))
_HAIR = ((30, 26, 24), (52, 40, 32), (70, 60, 55), (25, 25, 30))
_CLOTHES = ((40, 48, 70), (60, 60, 62), (25, 35, 50), (90, 40, 40), (35, 70, 60))


@lru_cache(maxsize=256)
def portrait_jpeg(seed: str) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    skin, hair, clothes = _SKIN[digest[0] % 4], _HAIR[digest[1] % 4], _CLOTHES[digest[2] % 5]
    width, height = PHOTO_SIZE
    image = Image.new("RGB", PHOTO_SIZE, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    # Shoulders first, so the neck and head are drawn over them.
    draw.ellipse((6, 92, width - 6, height + 50), fill=clothes)
    draw.rectangle((42, 74, 60, 98), fill=skin)
    draw.ellipse((26, 14, 76, 84), fill=hair)
    draw.ellipse((29, 24, 73, 84), fill=skin)
    draw.chord((29, 18, 73, 52), 180, 360, fill=hair)
    eye = (40, 40, 40)
    draw.ellipse((40, 50, 45, 54), fill=eye)
    draw.ellipse((57, 50, 62, 54), fill=eye)
    draw.arc((44, 62, 58, 72), 20, 160, fill=(150, 80, 70), width=2)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
