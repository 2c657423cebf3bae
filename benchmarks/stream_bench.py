"""Stream benchmark: delta frames (protocol v1) against the accumulated-frame baseline.

Runs a real kernel. A custom model yields N deltas of k characters as fast as it can
(N = 1k, 10k, 100k; and 5,000 x 40, a 200 KB reply) and paced ones (50 deltas/s of 10
characters, 100 deltas/s of 40, 5 s each). Each goes through the protocol twice, with the
adaptive frame pacing (``adaptive``: 30 frames/s at most, fewer while frames would carry
less than 800 characters) and with protocol 1.0's fixed 30 frames/s (``fixed``), and once
through the baseline, the seed's design: one comm frame per delta carrying the whole text
so far. Bytes are whole Jupyter messages as the browser's WebSocket gets them (header,
parent header, metadata, channel and content), not only the comm data. Prints one table.

    python benchmarks/stream_bench.py            # the full run (about two minutes)
    python benchmarks/stream_bench.py --quick    # smaller N, for a smoke run
    python benchmarks/stream_bench.py --history  # adaptive only: history on vs off

``--history`` runs two kernels side by side, one writing chat history to a temp file and
one with ``JUPYTER_DELTACHAT_HISTORY=off``, and alternates them run by run, so both see
the same load; it prints each figure's median and spread (min-max) over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kernel_client import CommClient, KernelHarness  # noqa: E402

KERNEL_SETUP = r"""
import threading, time
from comm import get_comm_manager
import jupyter_deltachat as dc

BENCH = {}

def _bench_model(messages, config=None):
    spec = messages[-1].content.split()
    n, k, rate = int(spec[0]), int(spec[1]), float(spec[2])
    delta = "x" * k
    BENCH["first"] = time.time()
    if rate:
        for i in range(n):
            yield delta
            time.sleep(1 / rate)
    else:
        for i in range(n - 1):
            yield delta
    BENCH["last"] = time.time()
    if not rate:
        yield delta

dc.register("bench", _bench_model)

def _baseline_open(comm, open_msg):
    def run(content):
        text, seq = "", 0
        for delta in _bench_model([dc.Message(role="user", content=content)]):
            text += delta
            seq += 1
            comm.send({"type": "delta", "seq": seq, "text": text})
        comm.send({"type": "done", "seq": seq, "length": len(text)})
    def on_msg(msg):
        threading.Thread(target=run, args=(msg["content"]["data"]["content"],)).start()
    comm.on_msg(on_msg)

get_comm_manager().register_target("bench_baseline", _baseline_open)
"""

PACINGS = {"adaptive": "ADAPTIVE_PACING", "fixed": "FIXED_PACING"}
USE_PACING = "import jupyter_deltachat.engine as _e, jupyter_deltachat.kernel as _k\n"
USE_PACING += "_k.SERVICE.pacing = _e.{}; del _e, _k"


# Larger baselines overflow the kernel's IOPub high-water mark: ZMQ drops frames, and the
# run never sees its done. The table prints their quadratic size instead.
BASELINE_LIMIT_BYTES = 60e6
QUIET_SECONDS = 5.0


@dataclass
class Row:
    case: str
    design: str
    content_bytes: int
    wire_bytes: int
    frames: int
    seconds: float
    first_ms: float
    done_ms: float
    deltas: int
    lost: int = 0

    frame_span: float = 0.0  # seconds from the first delta frame to the last

    @property
    def frames_per_s(self) -> float | None:
        """The steady frame rate; None for streams too short to have one."""
        if self.frame_span < 1.0:
            return None
        return (self.frames - 1) / self.frame_span

    @property
    def deltas_per_s(self) -> float:
        return self.deltas / self.seconds if self.seconds else float("inf")


def wire_size(event: dict[str, Any]) -> int:
    """The bytes of the whole Jupyter message carrying ``event``, as jupyter_server's JSON
    WebSocket frame holds it (its binary protocol is the same parts with offsets)."""
    msg = event["_received_envelope"]
    data = {k: v for k, v in event.items() if not k.startswith("_received")}
    frame = {
        "header": msg["header"],
        "msg_id": msg["header"]["msg_id"],
        "msg_type": msg["msg_type"],
        "parent_header": msg["parent_header"],
        "metadata": msg["metadata"],
        "content": {**msg["content"], "data": data},
        "buffers": [],
        "channel": "iopub",
    }
    return len(json.dumps(frame, ensure_ascii=False).encode())


def run_protocol(
    harness: KernelHarness, comm: CommClient, n: int, k: int, rate: float, pacing: str
) -> Row:
    comm.send(
        {
            "type": "send",
            "request_id": uuid.uuid4().hex,
            "chat_id": uuid.uuid4().hex,
            "content": f"{n} {k} {rate}",
            "model": "bench",
        }
    )
    comm.next("message")
    stream = comm.stream(timeout=600)
    assert stream.text() == "x" * (n * k), "the protocol lost or repeated text"
    events = [stream.start, *stream.deltas, stream.done]
    return measure(harness, pacing, n, k, rate, events, stream.deltas, stream.done)


def run_baseline(harness: KernelHarness, comm: CommClient, n: int, k: int, rate: float) -> Row:
    """The seed's design. At full speed it overflows the IOPub high-water mark and ZMQ drops
    frames silently; a run whose frames stop for QUIET_SECONDS is counted with its losses."""
    comm.send({"content": f"{n} {k} {rate}"})
    deltas: list[dict[str, Any]] = []
    done: dict[str, Any] | None = None
    while done is None:
        try:
            event = comm.next(timeout=QUIET_SECONDS)
        except queue.Empty:
            break
        if event["type"] == "done":
            done = event
        else:
            deltas.append(event)
    last = done or deltas[-1]
    row = measure(harness, "seed", n, k, rate, [*deltas, *([done] if done else [])], deltas, last)
    row.lost = n - len(deltas) + (0 if done else 1)
    return row


def measure(
    harness: KernelHarness,
    design: str,
    n: int,
    k: int,
    rate: float,
    events: list[dict[str, Any]],
    deltas: list[dict[str, Any]],
    done: dict[str, Any],
) -> Row:
    first_yield = float(harness.evaluate("BENCH['first']"))
    last_yield = float(harness.evaluate("BENCH['last']"))
    first_seen = deltas[0]["_received_wall"] if deltas else done["_received_wall"]
    case = f"{n:,} x {k} ch" + (f" @ {rate:g}/s" if rate else "")
    return Row(
        case=case,
        design=design,
        content_bytes=n * k,
        wire_bytes=sum(wire_size(e) for e in events),
        frames=len(deltas),
        seconds=done["_received_wall"] - first_yield,
        first_ms=(first_seen - first_yield) * 1000,
        done_ms=(done["_received_wall"] - last_yield) * 1000,
        deltas=n,
        frame_span=(deltas[-1]["_received_wall"] - deltas[0]["_received_wall"]) if deltas else 0,
    )


def median_row(rows: list[Row]) -> Row:
    """One row whose timings are the medians of repeated runs (sizes are identical)."""
    pick = rows[0]
    return Row(
        pick.case,
        pick.design,
        pick.content_bytes,
        pick.wire_bytes,
        round(statistics.median(r.frames for r in rows)),
        statistics.median(r.seconds for r in rows),
        statistics.median(r.first_ms for r in rows),
        statistics.median(r.done_ms for r in rows),
        pick.deltas,
        max(r.lost for r in rows),
        statistics.median(r.frame_span for r in rows),
    )


Group = tuple[Row, Row, Row | None]  # adaptive, fixed, seed baseline (None: not run)


def print_table(groups: list[Group]) -> None:
    header = (
        f"{'case':<24}{'design':<10}{'content B':>12}{'wire B':>15}{'x content':>10}"
        f"{'frames':>9}{'frames/s':>10}{'deltas/s':>12}{'first ms':>10}{'done ms':>9}{'lost':>7}"
    )
    print(header)
    print("-" * len(header))
    for adaptive, fixed, baseline in groups:
        for row in (adaptive, fixed, baseline):
            if row is None:
                print(
                    f"{adaptive.case:<24}{'seed':<10}  not run: one frame per delta carrying "
                    f"the text so far would be ~{baseline_bytes(adaptive) / 1e6:,.0f} MB"
                )
                continue
            print(
                f"{row.case:<24}{row.design:<10}{row.content_bytes:>12,}{row.wire_bytes:>15,}"
                f"{row.wire_bytes / row.content_bytes:>9.2f}x"
                f"{row.frames:>9,}{fps(row):>10}{row.deltas_per_s:>12,.0f}"
                f"{row.first_ms:>10.2f}{row.done_ms:>9.2f}{row.lost:>7,}"
            )
    print()
    for adaptive, _, _ in groups:
        rate = adaptive.frames_per_s
        steady = rate <= 30 if rate is not None else adaptive.frames <= 2 + adaptive.seconds * 30
        ratio = adaptive.wire_bytes / adaptive.content_bytes
        checks = [
            ("<= 30 frames/s", steady),
            ("first delta <= 5 ms", adaptive.first_ms <= 5),
            ("done <= 40 ms", adaptive.done_ms <= 40),
        ]
        if adaptive.case.endswith("40 ch @ 100/s"):
            checks.append(("wire <= 2x content", ratio <= 2))
        if "@" not in adaptive.case and adaptive.content_bytes >= 100_000:
            checks.append(("wire <= 1.2x content", ratio <= 1.2))
        if adaptive.content_bytes == adaptive.deltas and "@" not in adaptive.case:
            checks.append((">= 200k deltas/s", adaptive.deltas_per_s >= 200_000))
        verdict = ", ".join(f"{name}: {'ok' if ok else 'MISS'}" for name, ok in checks)
        print(f"{adaptive.case:<24}{verdict}")


def fps(row: Row) -> str:
    rate = row.frames_per_s
    return "-" if rate is None else f"{rate:.1f}"


def baseline_bytes(row: Row) -> float:
    k = row.content_bytes // row.deltas
    return k * row.deltas * (row.deltas + 1) / 2


def load() -> str:
    """The load average, printed beside every table (figures are relative to one run)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


Case = tuple[int, int, float]  # deltas, characters each, rate (0: as fast as possible)


def stream_cases(quick: bool) -> list[Case]:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    cases: list[Case] = [(n, k, 0.0) for n in sizes for k in (1, 10)]
    cases.append((5_000, 40, 0.0))
    cases.append((50 if quick else 250, 10, 50.0))
    cases.append((100 if quick else 500, 40, 100.0))
    return cases


HISTORY_PERSISTED = "__import__('jupyter_deltachat').kernel.SERVICE.persisted"


def compare_history(quick: bool, repeats: int = 5) -> None:
    """Every case with history on and off, in two kernels run alternately (the order
    swaps each round), adaptive pacing; medians with their spread, and the load."""
    print(f"history on vs off, {repeats} runs each, alternating; {load()}")
    with tempfile.TemporaryDirectory() as temp:
        settings = {
            "on": {
                "JPY_SESSION_NAME": "/bench/stream.ipynb",
                "JUPYTER_DELTACHAT_HISTORY": str(Path(temp) / "chats.sqlite3"),
            },
            "off": {"JUPYTER_DELTACHAT_HISTORY": "off"},
        }
        kernels: dict[str, tuple[KernelHarness, CommClient]] = {}
        try:
            for mode, env in settings.items():
                harness = KernelHarness(env)
                kernels[mode] = (harness, CommClient(harness))
                harness.execute(KERNEL_SETUP)
                persisted = harness.evaluate(HISTORY_PERSISTED) == "True"
                assert persisted == (mode == "on"), f"history {mode}: persisted is {persisted}"
                kernels[mode][1].open()
            runs: dict[tuple[Case, str], list[Row]] = {}
            for case in stream_cases(quick):
                print(f"history on/off: {case}", file=sys.stderr, flush=True)
                for round_ in range(repeats):
                    order = ["on", "off"] if round_ % 2 == 0 else ["off", "on"]
                    for mode in order:
                        harness, comm = kernels[mode]
                        row = run_protocol(harness, comm, *case, "adaptive")
                        runs.setdefault((case, mode), []).append(row)
        finally:
            for harness, _ in kernels.values():
                harness.shutdown()
    print_history_table(runs)
    print(f"after the run: {load()}")


def spread(values: list[float], digits: int = 2) -> str:
    """``median [min-max]``."""
    return (
        f"{statistics.median(values):,.{digits}f} "
        f"[{min(values):,.{digits}f}-{max(values):,.{digits}f}]"
    )


def print_history_table(runs: dict[tuple[Case, str], list[Row]]) -> None:
    header = (
        f"{'case':<24}{'history':<8}{'first ms':>26}{'done ms':>26}{'frames':>22}"
        f"{'wire B (median)':>17}{'deltas/s':>11}"
    )
    print(header)
    print("-" * len(header))
    for (_, mode), rows in runs.items():
        print(
            f"{rows[0].case:<24}{mode:<8}{spread([r.first_ms for r in rows]):>26}"
            f"{spread([r.done_ms for r in rows]):>26}"
            f"{spread([float(r.frames) for r in rows], 0):>22}"
            f"{statistics.median(r.wire_bytes for r in rows):>17,.0f}"
            f"{statistics.median(r.deltas_per_s for r in rows):>11,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N and no 100k run")
    parser.add_argument(
        "--history", action="store_true", help="adaptive pacing with chat history on vs off"
    )
    args = parser.parse_args()
    if args.history:
        compare_history(args.quick)
        return
    print(load())
    harness = KernelHarness()
    try:
        harness.execute(KERNEL_SETUP)
        comm = CommClient(harness)
        comm.open()
        baseline = CommClient(harness)
        baseline.open({}, target="bench_baseline")
        groups: list[Group] = []
        for n, k, rate in stream_cases(args.quick):
            print(f"running {n} x {k} @ {rate}", file=sys.stderr, flush=True)
            repeats = 5 if n <= 1_000 else 3
            rows = {}
            for design, pacing in PACINGS.items():
                harness.execute(USE_PACING.format(pacing))
                rows[design] = median_row(
                    [run_protocol(harness, comm, n, k, rate, design) for _ in range(repeats)]
                )
            base = None
            if k * n * n / 2 <= BASELINE_LIMIT_BYTES:
                base = median_row(
                    [run_baseline(harness, baseline, n, k, rate) for _ in range(min(repeats, 2))]
                )
            groups.append((rows["adaptive"], rows["fixed"], base))
        print_table(groups)
        print(f"after the run: {load()}")
    finally:
        harness.shutdown()


if __name__ == "__main__":
    main()
