"""What ``safe_markdown.neutralize`` costs per call, against markdown-it-py's own parse.

``%chat`` and the ``Chat`` widget neutralise the whole reply on every update (at most 10 a
second), so the per-call cost at a long reply's length is what streaming pays.

- ``parse``: ``MarkdownIt.parse`` of the text (block and inline), the floor.
- ``neutralize``: the full neutraliser (one pass when nothing changes, more when it edits).

Best of ``--repeat`` runs. Run: ``python benchmarks/neutralize_bench.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from payload_corpus import PAYLOADS, payload_markdown  # noqa: E402

from jupyter_deltachat.models.demo import WELCOME  # noqa: E402
from jupyter_deltachat.safe_markdown import _PARSER, neutralize  # noqa: E402


def best_ms(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def texts() -> dict[str, str]:
    prose = "A sentence with `code`, **bold** and a [link](https://example.org/). " * 40
    demo = (WELCOME + "\n\n") * 400
    hostile = "\n\n".join(payload_markdown(entry) for entry in PAYLOADS)
    return {
        "1 KB prose": prose[:1000],
        "15 KB demo reply": demo[:15_000],
        "60 KB demo reply": demo[:60_000],
        f"{len(hostile) // 1000} KB payload corpus": hostile,
        "60 KB of `a` <b": ("`a` <b " * 10_000)[:60_000],
        "60 KB of remote images": ("![a](http://h/x.png) " * 3_000)[:60_000],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'text':<24} {'parse ms':>9} {'neutralize ms':>14}")
    for name, text in texts().items():
        parse = best_ms(lambda text=text: _PARSER.md.parse(text), args.repeat)
        safe = best_ms(lambda text=text: neutralize(text), args.repeat)
        print(f"{name:<24} {parse:>9.1f} {safe:>14.1f}")


if __name__ == "__main__":
    main()
