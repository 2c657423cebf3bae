"""The neutraliser parses with markdown-it; JupyterLab renders with marked. Where the two
parsers could disagree (containers, code spans, tables, lazy lines, fences), a payload
must still come out inert: every corpus payload, in many Markdown contexts, neutralised,
then rendered by the marked that JupyterLab ships (labextension/node_modules, configured
like @jupyterlab/markedparser-extension) in node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from payload_corpus import PAYLOADS, payload_markdown, unsafe_html_parts

from jupyter_deltachat.safe_markdown import neutralize

NODE_MODULES = Path(__file__).resolve().parent.parent / "labextension" / "node_modules"
RENDER = """
import { readFileSync } from 'node:fs';
const base = process.argv[1];
const { marked } = await import(base + '/marked/lib/marked.esm.js');
const { gfmHeadingId } = await import(base + '/marked-gfm-heading-id/src/index.js');
const { mangle } = await import(base + '/marked-mangle/src/index.js');
marked.use(gfmHeadingId(), mangle());
const out = [];
for (const doc of JSON.parse(readFileSync(0, 'utf8'))) {
  out.push(await marked.parse(doc, { async: true, gfm: true }));
}
process.stdout.write(JSON.stringify(out));
"""
CONTEXTS = [
    "{p}",
    "> {p}",
    "> quote\n{p}",
    "- {p}",
    "- a\n\n  {p}",
    "1. a\n   {p}",
    "- a\n\n      {p}",
    "  {p}",
    "para\n    {p}",
    "# {p}",
    "{p}\n===",
    "| {p} | x |\n|---|---|\n| y | {p} |",
    "| a | b |\n|---|---|\n| `x|` {p} | `y` |",
    "**{p}**",
    "[{p}](https://example.org/)",
    "`a` {p} `b`",
    "`` {p} ``",
    "` {p}",
    "{p} `",
    "\\`{p}`",
    "<div>\n{p}\n</div>",
    "<div>\n\n{p}\n\n</div>",
    "<!--\n{p}\n-->",
    "~~~\n{p}\n~~~",
    "> ```\n> {p}\n\n{p}",
    "- ```\n  x\n{p}\n  ```",
    "{p}\n\n[r]: javascript:alert(1)\n\n[a][r]",
    "$x$ {p} $y$",
    "$$\n{p}\n$$",
]


def render_with_marked(documents: list[str]) -> list[str]:
    result = subprocess.run(
        ["node", "--input-type=module", "-e", RENDER, str(NODE_MODULES)],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, str]]:
    if shutil.which("node") is None or not (NODE_MODULES / "marked").is_dir():
        pytest.skip("needs node and labextension/node_modules (pip install -e . builds them)")
    cases = [
        (f"{entry['id']} in {context!r}", context.replace("{p}", payload_markdown(entry)))
        for entry in PAYLOADS
        for context in CONTEXTS
    ]
    return cases


def test_marked_renders_no_payload_after_neutralizing(documents: list[tuple[str, str]]) -> None:
    rendered = render_with_marked([neutralize(markdown) for _, markdown in documents])
    failures = {
        name: problems
        for (name, _), html in zip(documents, rendered, strict=True)
        if (problems := unsafe_html_parts(html))
    }
    assert failures == {}


def test_marked_does_render_the_raw_payloads(documents: list[tuple[str, str]]) -> None:
    """The check is live: without neutralizing, marked renders the payloads as markup."""
    rendered = render_with_marked([markdown for _, markdown in documents])
    flagged = sum(1 for html in rendered if unsafe_html_parts(html))
    assert flagged > len(documents) // 2
