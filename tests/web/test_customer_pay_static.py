"""The vendored QR decoder (zxing-wasm) is the recorded version byte for byte, with its licence, served from our
own origin with the right media types, and points at its WebAssembly beside it rather than a CDN."""

from __future__ import annotations

import hashlib
import re

from qianbao.web.render import STATIC_PATH

VENDOR = STATIC_PATH / "vendor" / "zxing-wasm"
VENDORED = (STATIC_PATH / "VENDORED.md").read_text(encoding="utf-8")


def recorded(name: str) -> str:
    found = re.search(rf"sha256 of `vendor/zxing-wasm/{re.escape(name)}`: `([0-9a-f]{{64}})`", VENDORED)
    assert found, name
    return found.group(1)


def test_vendored_decoder_files_match_the_recorded_hashes() -> None:
    for name in ("zxing-reader.js", "zxing_reader.wasm"):
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == recorded(name)


def test_the_script_names_the_webassembly_it_was_built_with() -> None:
    script = (VENDOR / "zxing-reader.js").read_text(encoding="utf-8")
    wasm_hash = hashlib.sha256((VENDOR / "zxing_reader.wasm").read_bytes()).hexdigest()
    assert f"ZXING_WASM_SHA256=`{wasm_hash}`" in script
    version = re.search(r"\| `zxing-wasm` \(npm\) \| ([0-9.]+) \|", VENDORED)
    assert version and f"`{version.group(1)}`" in script


def test_licence_is_kept_beside_it() -> None:
    assert (VENDOR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_our_script_points_the_decoder_at_our_own_copy_of_the_webassembly() -> None:
    pay = (STATIC_PATH / "pay.js").read_text(encoding="utf-8")
    assert 'var VENDOR = "/static/vendor/zxing-wasm/";' in pay and "locateFile" in pay
    assert "http://" not in pay and "https://" not in pay


def test_decoder_files_are_served_with_their_media_types(client) -> None:  # type: ignore[no-untyped-def]
    wasm = client.get("/static/vendor/zxing-wasm/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    script = client.get("/static/vendor/zxing-wasm/zxing-reader.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "javascript" in client.get("/static/pay.js").headers["content-type"]
