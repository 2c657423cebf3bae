"""Render cost of the chat panel in headless Chromium (issue 5 §7). Not a test.

Streams a ~200 KB Markdown reply (headings, lists, 50 code blocks, formulas) from a model
registered in a real kernel into the real panel, at 100 deltas/s and at full speed, with
each renderer in the same run: `incremental` (the current design), `previous` (the
session-4 design) and `naive` (the whole message re-rendered per frame); `eager` on request.
The cases run interleaved (every mode once, then again: ABCABC…, `--repeat` rounds), since
a shared machine's load drifts and the first case of a run pays for warming up; each figure
is printed as the median [min–max] of the rounds. Per case: the main thread's busy share
while the reply streams (Chrome's TaskDuration), how long after the stream's end the reply
was rendered (`data-rendered`) and all its math typeset (no `data-math-pending`), the busy
seconds after the end, long tasks (> 50 ms) and frames per second (both from the send until
all math is typeset); `uptime` before and after, since the machine may be shared.

    python benchmarks/render_bench.py [--repeat 3] [--delta-chars 40] [--paced-seconds 0]
        [--modes ...] [--rates 100 0]

The default (3 rounds of 3 modes at 100 deltas/s and at full speed) takes about 13 minutes.

``--paced-seconds N`` stops the paced stream after N seconds (0: the whole 200 KB).
``--profile DIR`` also records, per case, a Chromium CPU profile and a performance trace into
DIR and prints the top self-time functions and the main thread's style/layout/paint share
(profiling slows the page: its figures are not comparable with a run without it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from lab_helpers import new_notebook, open_lab, panel, run_cell, send  # noqa: E402
from lab_server import CHROMIUM, CHROMIUM_ARGS, start_lab, stop_lab  # noqa: E402

TARGET_BYTES = 200_000
CODE_BLOCKS = 50
MODEL = """
import time, jupyter_deltachat as dc
_doc = open({path!r}).read()
@dc.register("bench")
def bench(messages, config):
    rate, size, limit = (float(x) for x in messages[-1].content.split())
    step = 1.0 / rate if rate else 0.0
    start = time.perf_counter()
    for i in range(0, len(_doc), int(size)):
        if limit and i / size * step >= limit:
            return
        if step:
            delay = start + (i / size) * step - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        yield _doc[i:i + int(size)]
"""
REPLY = "[data-role='assistant']"
STREAM_ENDED = f"{REPLY}:not([data-streaming])[data-finish-reason]"
FINISHED = f"{STREAM_ENDED}[data-rendered='true']"
SETTLED = f"{FINISHED} .jp-DeltaChat-markdown:not([data-math-pending])"
MODES = ("incremental", "previous", "eager", "naive")
DEFAULT_MODES = ("incremental", "previous", "naive")
PROBE = """() => {
  window.__bench = { longTasks: [], frames: 0, running: true, at: {} };
  const at = window.__bench.at;
  const note = () => {
    const reply = document.querySelector("[data-role='assistant']");
    if (!reply) return;
    const markdown = reply.querySelector('.jp-DeltaChat-markdown');
    const now = performance.now();
    if (!at.streamEnd && !reply.dataset.streaming && reply.dataset.finishReason) at.streamEnd = now;
    if (!at.rendered && at.streamEnd && reply.dataset.rendered === 'true') at.rendered = now;
    if (!at.settled && at.rendered && markdown && markdown.dataset.mathPending === undefined) {
      at.settled = now;
    }
  };
  new MutationObserver(note).observe(document.body, {
    subtree: true, attributes: true,
    attributeFilter: ['data-streaming', 'data-rendered', 'data-math-pending']
  });
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration);
  }).observe({ type: 'longtask' });
  const tick = () => {
    if (window.__bench.running) { window.__bench.frames++; requestAnimationFrame(tick); }
  };
  requestAnimationFrame(tick);
}"""


def markdown_document() -> str:
    """About 200 KB: sections with lists, a formula and a code block each."""
    parts: list[str] = []
    size = 0
    section = 0
    while size < TARGET_BYTES:
        section += 1
        code = section <= CODE_BLOCKS
        text = (
            f"## Section {section}: streaming *Markdown* at speed\n\n"
            f"Paragraph {section} explains the **incremental** renderer with `inline code`, "
            "a [link](https://jupyter.org) and inline math $a^2 + b^2 = c^2$. "
            * 3
            + "\n\n"
            + "".join(f"- item {k} of section {section}, with *emphasis*\n" for k in range(8))
            + "\n"
            + (f"$$\\sum_{{i=1}}^{{{section}}} i = \\frac{{n(n+1)}}{{2}}$$\n\n" if code else "")
            + (
                "```python\n"
                + "".join(
                    f"def step_{section}_{k}(x):\n    return x * {k} + {section}\n"
                    for k in range(6)
                )
                + "```\n\n"
                if code
                else ""
            )
        )
        parts.append(text)
        size += len(text.encode())
    return "".join(parts)


def wait_for(page, selector: str) -> None:
    """Poll 4 times a second: playwright's own wait_for polls on every animation frame and
    would add its selector queries to the main-thread time being measured."""
    page.wait_for_function(
        f"() => !!document.querySelector({selector!r})", polling=250, timeout=600_000
    )


TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "blink"]
#: Trace events of the renderer's main thread, by the share of the page's work they stand for.
TRACE_PHASES = {
    "task": ("RunTask", "ThreadControllerImpl::RunTask"),
    "script": (
        "FunctionCall",
        "EvaluateScript",
        "TimerFire",
        "FireAnimationFrame",
        "RunMicrotasks",
    ),
    "style": ("UpdateLayoutTree", "RecalculateStyles", "ScheduleStyleRecalculation"),
    "layout": ("Layout",),
    "paint": ("Paint", "PrePaint", "Layerize", "Commit", "UpdateLayer", "PaintImage"),
    "parse HTML": ("ParseHTML", "ParseFragment"),
}


def profile_summary(profile: dict, top: int = 15) -> list[tuple[str, float]]:
    """Self time (ms) per function of a CDP CPU profile, largest first."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    self_ms: dict[str, float] = {}
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        where = frame["url"].rsplit("/", 1)[-1].split("?")[0]
        key = f"{name} {where}:{frame['lineNumber'] + 1}" if where else name
        self_ms[key] = self_ms.get(key, 0.0) + delta / 1000
    return sorted(self_ms.items(), key=lambda item: -item[1])[:top]


def trace_summary(path: Path) -> dict[str, float]:
    """Milliseconds per phase on the busiest renderer main thread of a trace (nested events
    count in each phase they belong to, so the phases overlap `script`)."""
    events = json.loads(path.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    main_threads = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e["args"].get("name") == "CrRendererMain"
    }
    totals: dict[tuple[int, int], dict[str, float]] = {}
    for event in events:
        thread = (event.get("pid"), event.get("tid"))
        if event.get("ph") != "X" or thread not in main_threads:
            continue
        for phase, names in TRACE_PHASES.items():
            if event["name"] in names:
                per = totals.setdefault(thread, dict.fromkeys(TRACE_PHASES, 0.0))
                per[phase] += event.get("dur", 0) / 1000
    return max(totals.values(), key=lambda per: per["task"], default={})


def cdp_task_seconds(cdp) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def run_case(
    browser,
    server,
    mode: str,
    rate: float,
    delta_chars: int,
    limit: float,
    profile_dir: Path | None = None,
) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(f"localStorage.setItem('jupyter-deltachat:render-mode', '{mode}')")
    page = context.new_page()
    try:
        open_lab(page, server)
        new_notebook(page)
        run_cell(page, MODEL.format(path=str(server.root / "bench.md")))
        panel(page).locator("select[aria-label='Model'] option[value='bench']").wait_for(
            state="attached"
        )
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.evaluate(PROBE)
        name = f"{mode}-{'full' if not rate else f'{rate:g}'}"
        if profile_dir:
            browser.start_tracing(
                page=page,
                path=str(profile_dir / f"{name}.trace.json"),
                categories=TRACE_CATEGORIES,
            )
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
        busy0, wall0 = cdp_task_seconds(cdp), time.perf_counter()
        send(page, f"{rate} {delta_chars} {limit}", model="bench")
        wait_for(page, STREAM_ENDED)
        busy1, wall1 = cdp_task_seconds(cdp), time.perf_counter()
        wait_for(page, SETTLED)
        busy2, wall2 = cdp_task_seconds(cdp), time.perf_counter()
        if profile_dir:
            cpu = cdp.send("Profiler.stop")["profile"]
            browser.stop_tracing()
            (profile_dir / f"{name}.cpuprofile").write_text(json.dumps(cpu))
            print_profile(name, cpu, profile_dir / f"{name}.trace.json", busy2 - busy0)
        result = page.evaluate("() => { window.__bench.running = false; return window.__bench; }")
        length = page.evaluate(
            "() => document.querySelector('[data-role=assistant] .jp-DeltaChat-markdown')"
            ".textContent.length"
        )
    finally:
        context.close()
    wall = wall1 - wall0
    long_tasks = result["longTasks"]
    at = result["at"]
    return {
        "mode": mode,
        "rate": "full speed" if not rate else f"{rate:g} deltas/s",
        "wall_s": wall,
        "busy_pct": 100 * (busy1 - busy0) / wall,
        "rendered_s": (at["rendered"] - at["streamEnd"]) / 1000,
        "settled_s": (at["settled"] - at["streamEnd"]) / 1000,
        "busy_after_s": busy2 - busy1,
        "long_tasks": len(long_tasks),
        "longest_ms": max(long_tasks, default=0.0),
        "frames": result["frames"],
        "fps": result["frames"] / (wall2 - wall0),
        "text_chars": length,
    }


def print_profile(name: str, cpu: dict, trace: Path, busy_s: float) -> None:
    phases = trace_summary(trace)
    task = phases.get("task") or 1.0
    print(f"\n### {name}: busy {busy_s:.2f} s; main thread ms (share of tasks):", file=sys.stderr)
    print(
        "  " + ", ".join(f"{k} {v:.0f} ({100 * v / task:.0f}%)" for k, v in phases.items()),
        file=sys.stderr,
    )
    for key, ms in profile_summary(cpu):
        print(f"  {ms:8.1f} ms  {key}", file=sys.stderr)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


#: Printed per case: column header, width, the row's key, format of one value.
COLUMNS = (
    ("busy streaming %", 17, "busy_pct", "{:.1f}"),
    ("end→rendered s", 17, "rendered_s", "{:.2f}"),
    ("end→all math s", 17, "settled_s", "{:.2f}"),
    ("busy after s", 17, "busy_after_s", "{:.2f}"),
    ("long tasks >50ms", 17, "long_tasks", "{:.0f}"),
    ("longest ms", 17, "longest_ms", "{:.0f}"),
    ("fps", 17, "fps", "{:.1f}"),
)


def spread(values: list[float], fmt: str) -> str:
    """Median [min–max]: one round's figure alone says little on a shared machine."""
    if len(values) == 1:
        return fmt.format(values[0])
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return f"{fmt.format(statistics.median(values))} [{low}–{high}]"


def print_table(rows: list[dict]) -> None:
    cases: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        cases.setdefault((row["rate"], row["mode"]), []).append(row)
    header = f"| {'renderer':<11} | {'rate':<13} | n | " + " | ".join(
        f"{title:>{width}}" for title, width, _, _ in COLUMNS
    )
    print(header + " |")
    print("|" + "|".join("-" * len(cell) for cell in (header + " |").split("|")[1:-1]) + "|")
    for (rate, mode), runs in cases.items():
        cells = " | ".join(
            f"{spread([run[key] for run in runs], fmt):>{width}}" for _, width, key, fmt in COLUMNS
        )
        print(f"| {mode:<11} | {rate:<13} | {len(runs)} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every case")
    parser.add_argument("--delta-chars", type=int, default=40)
    parser.add_argument("--paced-seconds", type=float, default=0.0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(DEFAULT_MODES))
    parser.add_argument("--rates", nargs="+", type=float, default=[100.0, 0.0])
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    doc = markdown_document()
    load_before = uptime()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as base:
        server = start_lab(Path(base))
        (server.root / "bench.md").write_text(doc)
        rows = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                for round_ in range(args.repeat):
                    for rate in args.rates:
                        limit = args.paced_seconds if rate else 0.0
                        for mode in args.modes:
                            rows.append(
                                run_case(
                                    browser,
                                    server,
                                    mode,
                                    rate,
                                    args.delta_chars,
                                    limit,
                                    args.profile,
                                )
                            )
                            row = rows[-1]
                            print(
                                f"  round {round_ + 1}: {mode} at {row['rate']}: busy "
                                f"{row['busy_pct']:.1f}%, rendered {row['rendered_s']:.2f} s, "
                                f"math {row['settled_s']:.2f} s, {row['long_tasks']} long "
                                f"(longest {row['longest_ms']:.0f} ms)",
                                file=sys.stderr,
                            )
                browser.close()
        finally:
            stop_lab(server)
    print(
        f"\n{len(doc.encode()) / 1000:.0f} KB Markdown, {CODE_BLOCKS} code blocks, "
        f"{args.delta_chars}-char deltas ({len(doc) // args.delta_chars} deltas); "
        f"{args.repeat} interleaved rounds in {time.perf_counter() - started:.0f} s\n"
        f"before: {load_before}\nafter:  {uptime()}\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
