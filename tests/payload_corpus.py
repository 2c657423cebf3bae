"""The reply payload corpus (tests/security/payloads.json), shared by the kernel and browser
security tests: each entry's Markdown with the beacon placeholders filled in, and
``unsafe_parts``, the check of a Markdown output that does not use the neutraliser: a
permissive CommonMark renderer (raw HTML on, every URL accepted, like JupyterLab's trusted
Markdown) renders it, and Python's HTML parser lists every element and attribute."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

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


ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "a", "img", "ul", "ol", "li", "blockquote", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "s", "del",
}  # fmt: skip
LINK_SCHEMES = {"", "http", "https", "mailto"}
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp)[;,]")
LANGUAGE_CLASS = re.compile(r"^language-[^\s\"'<>&]+$")
ALIGNMENTS = ("left", "center", "right")
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
ALIGN = re.compile(r"^text-align:(left|center|right)$")


def permissive_renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


RENDERER = permissive_renderer()


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_decl(self, decl: str) -> None:
        self.comments.append(decl)

    def handle_pi(self, data: str) -> None:
        self.comments.append(data)


def scheme(url: str) -> str:
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(0x21))))
    return urlsplit(cleaned).scheme.lower() if ":" in cleaned.split("/")[0] else ""


def unsafe_parts(markdown: str) -> list[str]:
    """Every element, attribute or URL in the rendered ``markdown`` that a reply must not get."""
    return unsafe_html_parts(RENDERER.render(markdown))


def unsafe_html_parts(html: str) -> list[str]:
    """Every element, attribute or URL in ``html`` that a rendered reply must not hold."""
    parser = Elements()
    parser.feed(html)
    problems = [f"markup {text!r}" for text in parser.comments]
    for tag, attrs in parser.found:
        if tag not in ALLOWED_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            allowed = (
                (tag == "a" and name in ("href", "title"))
                or (tag == "img" and name in ("src", "alt", "title"))
                or (tag == "code" and name == "class" and LANGUAGE_CLASS.match(value))
                or (tag in ("th", "td") and name == "style" and ALIGN.match(value))
                or (tag == "ol" and name == "start")
                or (tag in ("th", "td") and name == "align" and value in ALIGNMENTS)
                or (tag in HEADINGS and name == "id")
            )
            if not allowed:
                problems.append(f"<{tag} {name}={value!r}>")
        if tag == "a" and scheme(attrs.get("href", "")) not in LINK_SCHEMES:
            problems.append(f"<a href={attrs.get('href', '')!r}>")
        if tag == "img" and not DATA_IMAGE.match(attrs.get("src", "")):
            problems.append(f"<img src={attrs.get('src', '')!r}>")
    return problems
