"""Helpers of the teller-console counter tests (pages and PIN pad): people, photos, form posts, page scraping."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

# Sandbox register people (qianbao.adapters.identity.citizens); their cards and verifier answers are known.
LI_MING = ("李明", "440305199210110058")  # verifier match; card valid until 2039
WANG_XIUYING = ("王秀英", "11010519491231002X")  # match; long-term card
ZHOU_JIANGUO = ("周建国", "320102196510019132")  # sequence 913: the verifier is unsure → supervisor
ZHAO_XIAOYU = ("赵小雨", "330106201006010084")  # a minor until 2028-06-01
LIU_YANG = ("刘洋", "510107200001010099")  # match; card valid until 2028
BAD_CHECKSUM = "440305199210110059"  # 李明's number with the last digit changed
VALID_UNTIL = "2039-03-01"
PASSWORD = "Lantern-Harbour-42"
PIN = "258036"


def jpeg(size: tuple[int, int] = (480, 480), color: str = "#c8d8c8") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def application_form(person: tuple[str, str], phone: str, **overrides: Any) -> dict[str, str]:
    form = {
        "mode": "open", "name": person[0], "id_number": person[1], "phone": phone, "valid_until": VALID_UNTIL,
        "card_checked": "1", "card_source": "manual", "customer_lang": "zh-CN",
    }
    form.update({key: value for key, value in overrides.items() if value is not None})
    for key in [key for key, value in overrides.items() if value is None]:
        form.pop(key, None)
    return form


def submit(client: Any, person: tuple[str, str], phone: str, *, photo: bytes | None = None, **overrides: Any) -> Any:
    """POST the application form as the teller's browser would (multipart with the photo)."""
    data = application_form(person, phone, **overrides)
    data["csrf_token"] = client.csrf_token
    files = {"photo": ("photo.jpg", jpeg() if photo is None else photo, "image/jpeg")}
    return client.post("/teller/open", data=data, files=files, follow_redirects=False)


def application_id(response: Any) -> int:
    assert response.status_code == 303, response.text[:2000]
    match = re.fullmatch(r"/teller/open/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def error_code(response: Any) -> str | None:
    match = re.search(r'data-testid="form-error" data-code="([A-Z_]+)"', response.text)
    if match:
        return match.group(1)
    match = re.search(r'data-code="([A-Z_]+)"', response.text)
    return match.group(1) if match else None


def pairing_code(response: Any) -> str:
    match = re.search(r'data-testid="pairing-code"[^>]*>(\d{3})<span class="gap"></span>(\d{3})<', response.text)
    assert match, response.text[:3000]
    return match.group(1) + match.group(2)


def state(response: Any) -> str:
    match = re.search(r'data-testid="app-state">([^<]+)<', response.text)
    assert match, response.text[:3000]
    return match.group(1).strip()
