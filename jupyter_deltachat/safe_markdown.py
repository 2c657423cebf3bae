"""Reply Markdown made safe to render anywhere, and the code blocks a reply really holds.

A reply is attacker-influenced (a prompt injection in what the model read can shape it),
and the cell that ran ``%chat`` is trusted, so JupyterLab, Notebook 7, VS Code and nbconvert
render its ``text/markdown`` without a sanitizer. The neutralising therefore happens in the
Markdown source itself (docs/security.md): raw HTML becomes text, images that would load
something become links that load nothing until clicked, and links whose URL would run
script lose the URL. Code spans, code blocks and math keep their exact text.

Positions come from markdown-it's own parse (block maps, and inline rules wrapped to record
where code spans, autolinks, links and images start and end), never from regexes over the
raw text. Each pass only escapes or removes, and passes repeat until nothing changes, so a
construct uncovered by one pass (an image inside what was an HTML block) is handled by the
next; a last check refuses any output in which markdown-it still finds raw HTML.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkLabel
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

MAX_DATA_IMAGE_CHARS = 256 * 1024
DATA_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
MAX_PASSES = 8

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_URL_NOISE = re.compile(r"[\t\n\r]")
_CONTROLS_AND_SPACE = "".join(map(chr, range(0x21)))
_MATH = re.compile(
    r"\$\$.{1,500}?\$\$|\$[^$\n]{1,500}?\$|\\\\\(.{1,500}?\\\\\)|\\\\\[.{1,500}?\\\\\]"
    r"|\\begin\{([A-Za-z]*\*?)\}.{0,500}?\\end\{\1\}",
    re.DOTALL,
)
_DESTINATION_SPECIAL = re.compile(r"([()<>\\&])")
_DESTINATION_BREAKS = re.compile(r"[\x00-\x20\x7f]")

_UNSAFE_INFO = re.compile(r"[<>\"'&\\`]")
_LANGUAGE = re.compile(r"[\w+#.-]*")
_FENCE_WITH_ODD_INFO = re.compile(r"(?:```|~~~)[^\n]*[<>\"'&\\]")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>!&$~|])")


@dataclass
class _Inline:
    """What the wrapped inline rules saw in one inline content string."""

    code: list[tuple[int, int]] = field(default_factory=list)
    autolinks: list[tuple[int, int, str]] = field(default_factory=list)
    links: list[tuple[int, int, int, str]] = field(default_factory=list)
    images: list[tuple[int, int, str, str]] = field(default_factory=list)
    html: bool = False


Edit = tuple[int, int, str]


class _Parser:
    """A markdown-it (CommonMark + GFM tables and strikethrough) that reports positions."""

    def __init__(self) -> None:
        md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
        md.validateLink = lambda url: True  # type: ignore[method-assign]
        md.normalizeLink = lambda url: url  # type: ignore[method-assign]
        md.normalizeLinkText = lambda url: url  # type: ignore[method-assign]
        self.md = md
        self._local = threading.local()
        self._wrap("backticks", self._record_code)
        self._wrap("autolink", self._record_autolink)
        self._wrap("link", self._record_link)
        self._wrap("image", self._record_image)
        self._wrap("html_inline", self._record_html)

    @property
    def seen(self) -> _Inline | None:
        """What this thread's current ``inline`` call records into (None outside one)."""
        return getattr(self._local, "seen", None)

    def _wrap(self, name: str, record: Callable[[StateInline, int, int], None]) -> None:
        ruler = self.md.inline.ruler
        original = ruler.__rules__[ruler.__find__(name)].fn

        def rule(state: StateInline, silent: bool) -> bool:
            start, count = state.pos, len(state.tokens)
            matched = original(state, silent)
            if matched and not silent and self.seen is not None:
                record(state, start, count)
            return matched

        ruler.at(name, rule)

    def _record_html(self, state: StateInline, start: int, count: int) -> None:
        assert self.seen is not None
        self.seen.html = True

    def _record_code(self, state: StateInline, start: int, count: int) -> None:
        assert self.seen is not None
        self.seen.code.append((start, state.pos))

    def _record_autolink(self, state: StateInline, start: int, count: int) -> None:
        assert self.seen is not None
        href = _pushed(state, count, "link_open").attrGet("href")
        self.seen.autolinks.append((start, state.pos, str(href or "")))

    def _record_link(self, state: StateInline, start: int, count: int) -> None:
        assert self.seen is not None
        end = state.pos
        state.pos = start
        label_end = parseLinkLabel(state, start, True)
        state.pos = end
        href = _pushed(state, count, "link_open").attrGet("href")
        self.seen.links.append((start, label_end, end, str(href or "")))

    def _record_image(self, state: StateInline, start: int, count: int) -> None:
        assert self.seen is not None
        image = _pushed(state, count, "image")
        src = str(image.attrGet("src") or "")
        self.seen.images.append((start, state.pos, src, _plain_text(image.children or [])))

    def blocks(self, source: str) -> tuple[list[Token], dict[str, Any]]:
        env: dict[str, Any] = {}
        tokens: list[Token] = []
        self.md.block.parse(source, self.md, env, tokens)
        return tokens, env

    def inline(self, content: str, env: dict[str, Any]) -> _Inline:
        seen = self._local.seen = _Inline()
        try:
            self.md.inline.parse(content, self.md, env, [])
            return seen
        finally:
            self._local.seen = None


def _pushed(state: StateInline, count: int, kind: str) -> Token:
    """The first ``kind`` token a rule pushed (pending text may be pushed before it)."""
    return next(token for token in state.tokens[count:] if token.type == kind)


_PARSER = _Parser()


def neutralize(markdown: str) -> str:
    """``markdown`` with raw HTML shown as text, remote images as links, unsafe links unlinked.

    The result holds no raw HTML for a CommonMark parser; code spans, fenced and indented
    code and math keep their text (a ``<`` that could open a tag inside math is written
    ``\\lt``, which renders the same).
    """
    text = markdown.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    if "<" not in text and "]" not in text and not _FENCE_WITH_ODD_INFO.search(text):
        return text
    for _ in range(MAX_PASSES):
        changed, raw_html = _pass(text)
        if changed == text:
            return _as_code_block(markdown) if raw_html else text
        text = changed
    return _as_code_block(markdown)


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced or indented code block, in order.

    Only blocks a Markdown parser renders as code count: a fence inside an HTML comment or
    an HTML block is not one.
    """
    blocks = []
    for token in _PARSER.md.parse(markdown):
        if token.type == "fence":
            blocks.append((token.info.strip().split(" ")[0].lower(), token.content))
        elif token.type == "code_block":
            blocks.append(("", token.content))
    return blocks


def _pass(source: str) -> tuple[str, bool]:
    """``source`` made safer by one round of edits, and whether markdown-it found raw HTML
    in ``source`` (a pass that changes nothing must find none)."""
    tokens, env = _PARSER.blocks(source)
    raw_html = any(token.type == "html_block" for token in tokens)
    lines = source.split("\n")
    starts = _line_starts(lines)
    code_lines: set[int] = set()
    mapped_lines: set[int] = set()
    unmapped_lines: set[int] = set()
    edits: list[Edit] = []
    cursor: dict[int, int] = {}
    for token, numbers, whole_lines in _content_tokens(tokens):
        if token.type in ("fence", "code_block"):
            code_lines.update(numbers)
            edits += _fence_info_edits(token, lines, starts)
            continue
        offsets = _locate(token.content, numbers, lines, whole_lines, cursor)
        if offsets is None:
            unmapped_lines.update(numbers)
            continue
        mapped_lines.update(numbers)
        bases = [starts[number] + offset for number, offset in zip(numbers, offsets, strict=True)]
        inline_edits, inline_html = _inline_edits(token.content, env, bases)
        edits += inline_edits
        raw_html = raw_html or inline_html
    for number, line in enumerate(lines):
        if number in code_lines or (number in mapped_lines and number not in unmapped_lines):
            continue
        edits += _escape_line(line, starts[number], brackets=number in unmapped_lines)
    return _apply(source, edits), raw_html


def _content_tokens(tokens: list[Token]) -> Iterator[tuple[Token, list[int], bool]]:
    """Each code block and each inline token, with the source lines its content comes from
    and whether it runs to the end of each of them (paragraphs, setext headings) rather
    than being a part of one line (ATX headings, table cells)."""
    row: list[int] = []
    for index, token in enumerate(tokens):
        if token.type == "tr_open" and token.map:
            row = [token.map[0]]
        if token.type in ("fence", "code_block") and token.map:
            yield token, list(range(*token.map)), True
        if token.type != "inline":
            continue
        opener = tokens[index - 1]
        if opener.type in ("th_open", "td_open") or token.map is None:
            yield token, row, False
            continue
        atx_heading = opener.type == "heading_open" and opener.markup.startswith("#")
        yield token, list(range(*token.map)), not atx_heading


def _fence_info_edits(token: Token, lines: list[str], starts: list[int]) -> list[Edit]:
    """A fence's info string cut to its language name when it holds quotes, brackets or
    ampersands: JupyterLab puts the info string unescaped into a highlighted block's
    ``class`` attribute, where a ``"`` would end it."""
    if token.type != "fence" or not _UNSAFE_INFO.search(token.info):
        return []
    number = token.map[0] if token.map else 0
    line = lines[number]
    info_start = line.find(token.markup) + len(token.markup)
    language = _LANGUAGE.match(token.info.strip())
    safe = language.group() if language else ""
    return [(starts[number] + info_start, starts[number] + len(line), safe)]


def _locate(
    content: str,
    numbers: list[int],
    lines: list[str],
    whole_lines: bool,
    cursor: dict[int, int],
) -> list[int] | None:
    """Where each line of ``content`` starts in its source line, or None when unsure.

    A paragraph's lines are suffixes of their source lines (container markers and
    indentation stripped; the last one also loses trailing spaces). A heading's or table
    cell's text is found left to right in its line, after the cells before it (``cursor``).
    """
    parts = content.split("\n")
    if not numbers or len(parts) != len(numbers):
        return None
    offsets = []
    for part, number in zip(parts, numbers, strict=True):
        line = lines[number]
        trimmed = line.rstrip(" \t")
        if whole_lines and line.endswith(part):
            offsets.append(len(line) - len(part))
        elif whole_lines and trimmed.endswith(part):
            offsets.append(len(trimmed) - len(part))
        elif whole_lines:
            return None
        else:
            found = line.find(part, cursor.get(number, 0))
            if found < 0:
                return None
            cursor[number] = found + len(part)
            offsets.append(found)
    return offsets


def _inline_edits(content: str, env: dict[str, Any], bases: list[int]) -> tuple[list[Edit], bool]:
    """Edits (in source positions) that make one inline content string safe, and whether
    it holds raw HTML."""
    seen = _PARSER.inline(content, env)
    line_starts = _line_starts(content.split("\n"))

    def source_at(position: int) -> int:
        line = bisect_right(line_starts, position) - 1
        return bases[line] + position - line_starts[line]

    protected = list(seen.code)
    protected += [(start, end) for start, end, url in seen.autolinks if _link_allowed(url)]
    replaced: list[tuple[int, int]] = []
    edits: list[Edit] = []
    for start, end, src, alt in seen.images:
        if not _data_image_allowed(src):
            replaced.append((start, end))
            edits.append((start, end, _image_placeholder(alt, src)))
    for start, label_end, end, href in seen.links:
        if not _link_allowed(href):
            edits += [(start, start + 1, ""), (label_end, end, "")]
    math = _Spans(_math_spans(content, protected))
    untouchable = _Spans(protected + replaced)
    for match in _TAG_START.finditer(content):
        position = match.start()
        escaped_already = _backslashes_before(content, position) % 2 == 1
        if not escaped_already and position not in untouchable:
            escaped = "\\lt " if position in math else "&lt;"
            edits.append((position, position + 1, escaped))
    return [(source_at(start), source_at(end), text) for start, end, text in edits], seen.html


def _escape_line(line: str, start: int, brackets: bool) -> list[Edit]:
    """Edits that leave no tag (and, for text whose structure is unknown, no link) in a line."""
    edits = [(start + m.start(), start + m.start() + 1, "&lt;") for m in _TAG_START.finditer(line)]
    if brackets:
        edits += [(start + i, start + i + 1, "\\[") for i, char in enumerate(line) if char == "["]
    return edits


def _apply(source: str, edits: list[Edit]) -> str:
    """``source`` with the edits made; an edit inside an earlier, wider one is dropped."""
    parts = []
    position = 0
    for start, end, text in sorted(edits, key=lambda edit: (edit[0], -edit[1])):
        if start < position:
            continue
        parts += [source[position:start], text]
        position = end
    parts.append(source[position:])
    return "".join(parts)


def _line_starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    return starts


def _backslashes_before(text: str, position: int) -> int:
    count = 0
    while position > count and text[position - count - 1] == "\\":
        count += 1
    return count


class _Spans:
    """Positions covered by any of some (possibly nested) spans; a lookup is a bisection."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in sorted(spans):
            if self.ends and start <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def __contains__(self, position: int) -> bool:
        index = bisect_right(self.starts, position) - 1
        return index >= 0 and position < self.ends[index]


def _math_spans(content: str, code: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where JupyterLab would typeset math (``$…$``, ``$$…$$``, ``\\\\(…\\\\)``, environments).

    Only the spelling of an escaped ``<`` depends on it, never whether it is escaped.
    """
    masked = list(content)
    for start, end in code:
        masked[start:end] = "x" * (end - start)
    return [match.span() for match in _MATH.finditer("".join(masked))]


def _plain_text(tokens: list[Token]) -> str:
    parts = []
    for token in tokens:
        if token.type in ("text", "code_inline", "html_inline"):
            parts.append(token.content)
        elif token.children:
            parts.append(_plain_text(token.children))
    return "".join(parts)


def _clean_url(url: str) -> str:
    """The URL as a browser reads it: tabs and newlines dropped, controls and spaces trimmed."""
    return _URL_NOISE.sub("", url).strip(_CONTROLS_AND_SPACE)


def _link_allowed(url: str) -> bool:
    """http, https and mailto links, and links without a scheme (relative, #fragment)."""
    scheme = _SCHEME.match(_clean_url(url))
    return scheme is None or scheme.group(1).lower() in LINK_SCHEMES


def _data_image_allowed(url: str) -> bool:
    """A ``data:`` PNG, JPEG, GIF or WebP image of at most ``MAX_DATA_IMAGE_CHARS``."""
    url = _clean_url(url)
    if url[:5].lower() != "data:" or len(url) > MAX_DATA_IMAGE_CHARS:
        return False
    media_type = re.split(r"[;,]", url[5:], maxsplit=1)[0].strip().lower()
    return media_type in DATA_IMAGE_TYPES and "," in url


def _image_placeholder(alt: str, src: str) -> str:
    """``[image: alt (host)](src)``: a link that loads nothing until it is clicked."""
    url = _clean_url(src)
    label = f"image: {alt}".strip() if alt else "image"
    host = _host(url)
    if host:
        label += f" ({host})"
    label = _MARKDOWN_PUNCTUATION.sub(r"\\\1", label.replace("\n", " "))
    if not url or not _link_allowed(url):
        return label
    destination = _DESTINATION_SPECIAL.sub(r"\\\1", url)
    destination = _DESTINATION_BREAKS.sub(lambda m: f"%{ord(m.group()):02X}", destination)
    return f"[{label}]({destination})"


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if host and parts.port else host
    except ValueError:
        return ""


def fenced(text: str, language: str) -> str:
    """``text`` as a fenced code block that no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _as_code_block(markdown: str) -> str:
    """The whole reply as one fenced code block: the last resort, which no parser runs."""
    return fenced(markdown, "text")
