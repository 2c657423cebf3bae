"""The reply payload corpus (tests/security/payloads.json), shared by the kernel and browser
security tests: each entry's Markdown with the beacon placeholders filled in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS_PATH = Path(__file__).resolve().parent / "security" / "payloads.json"
PAYLOADS: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))["payloads"]
PAYLOAD_IDS = [entry["id"] for entry in PAYLOADS]
UNREACHABLE_BEACON = "http://127.0.0.1:9"


def payload_markdown(entry: dict[str, Any], beacon: str = UNREACHABLE_BEACON) -> str:
    """The entry's Markdown with ``{{BEACON}}`` (an origin) and ``{{BEACON_HOST}}`` filled in."""
    host = beacon.split("://", 1)[1]
    return entry["markdown"].replace("{{BEACON_HOST}}", host).replace("{{BEACON}}", beacon)


def payload(entry_id: str) -> dict[str, Any]:
    return next(entry for entry in PAYLOADS if entry["id"] == entry_id)
