"""Identity photos: checked as real JPEG or PNG images with Pillow, stored encrypted in `kyc_photo`.

Checks, in this order (each refusal names the photo's `side` in its params for the form):
    PHOTO_TOO_LARGE   more than 5 MB (counted before anything is decoded)
    PHOTO_NOT_IMAGE   Pillow cannot read it as an image, its structure is broken (`verify`), its pixel
                      data is truncated (a full `load`), or it is a decompression bomb
    PHOTO_FORMAT      an image, but not JPEG or PNG (GIF, WebP, BMP, TIFF...)

The declared file name or content type is not trusted: the format is what Pillow reads from the bytes.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageFile, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.wallets.models import KycPhoto

MAX_BYTES = 5 * 1024 * 1024
MAX_MB = 5
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
# A photo of an ID card needs nowhere near this; more is a decompression bomb, not a photo.
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class CheckedPhoto:
    side: str
    data: bytes
    content_type: str
    width: int
    height: int


def check_photo(data: bytes | None, side: str) -> CheckedPhoto:
    """The photo if it is a real JPEG or PNG image of at most 5 MB; else the refusal naming `side`."""
    raw = bytes(data or b"")
    if len(raw) > MAX_BYTES:
        raise QianbaoError("PHOTO_TOO_LARGE", side=side, max_mb=MAX_MB)
    if not raw:
        raise QianbaoError("PHOTO_NOT_IMAGE", side=side)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as image:
                image_format = image.format or ""
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise QianbaoError("PHOTO_NOT_IMAGE", side=side)
                if image_format in FORMATS:
                    image.verify()
            if image_format in FORMATS:
                # verify() checks the structure only; decoding every pixel catches a truncated file.
                _load_strictly(raw)
    except QianbaoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise QianbaoError("PHOTO_NOT_IMAGE", side=side) from None
    if image_format not in FORMATS:
        raise QianbaoError("PHOTO_FORMAT", side=side, format=image_format or "?")
    return CheckedPhoto(side=side, data=raw, content_type=FORMATS[image_format], width=width, height=height)


_STRICT_LOAD = threading.Lock()


def _load_strictly(raw: bytes) -> None:
    """Decode every pixel with Pillow's truncated-image tolerance off.

    WeasyPrint (counter receipts) switches `ImageFile.LOAD_TRUNCATED_IMAGES` on for the whole process
    when it is imported, which would let half a JPEG through here; the lock keeps two checks from
    restoring each other's value.
    """
    with _STRICT_LOAD:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def store_photo(
    session: Session, photo: CheckedPhoto, *, submission_id: int | None = None, application_id: int | None = None
) -> KycPhoto:
    row = KycPhoto(
        submission_id=submission_id, application_id=application_id, side=photo.side,
        content_type=photo.content_type, data=photo.data, byte_size=len(photo.data), width=photo.width,
        height=photo.height, created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def photo_of(
    session: Session, side: str, *, submission_id: int | None = None, application_id: int | None = None
) -> KycPhoto:
    """A stored photo (decrypted on load) for a reviewer's or supervisor's page; NOT_FOUND if absent."""
    stmt = select(KycPhoto).where(KycPhoto.side == side)
    if submission_id is not None:
        stmt = stmt.where(KycPhoto.submission_id == submission_id)
    elif application_id is not None:
        stmt = stmt.where(KycPhoto.application_id == application_id)
    else:
        raise ValueError("give submission_id or application_id")
    row = session.scalar(stmt)
    if row is None:
        raise QianbaoError("NOT_FOUND")
    return row
