"""What a tool step adds to a reply, in the engine alone (no provider, no comm).

A custom model yields ``CallTool`` to a tool with approval ``never`` that returns at once;
the reply runs ``--steps`` tool steps. Reported: per step, the time from the model's
``CallTool`` (its step ending) to the model being called again with the result, as the
``tool`` events and the next call see it; and the whole reply beside the same model making
no calls. The ``python`` tool's own cost (parse, compile, run, capture) is a second row.
Run: ``python benchmarks/tool_step_bench.py [--steps 50] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from jupyter_deltachat.engine import ReplyDone  # noqa: E402
from jupyter_deltachat.kernel.chats import ChatService  # noqa: E402
from jupyter_deltachat.models.registry import ModelRegistry  # noqa: E402
from jupyter_deltachat.tools import ToolRegistry, make_tool  # noqa: E402
from jupyter_deltachat.tools.builtin import python  # noqa: E402
from jupyter_deltachat.types import CallTool, ChatConfig, Message  # noqa: E402


def echo(n: int) -> int:
    """Return n.

    Args:
        n: any integer.
    """
    return n


def run_reply(steps: int, with_tools: bool) -> tuple[float, list[float]]:
    """Wall seconds of one reply, and the gaps between a call and the model's next call."""
    called: list[float] = []

    def model(messages: list[Message], config: ChatConfig) -> Any:
        called.append(time.perf_counter())
        yield "x"
        if with_tools and len(called) < steps:
            yield CallTool("echo", {"n": len(called)})

    tools = ToolRegistry()
    tools.add(make_tool(echo, approval="never"))
    service = ChatService(ModelRegistry(), tools=tools)
    finished = threading.Event()
    service.subscribe(lambda event: finished.set() if event.type == "done" else None)
    started = time.perf_counter()
    reply = service.send(
        "bench",
        "go",
        model=model,
        tools=["echo"] if with_tools else None,
        config=ChatConfig(max_steps=steps + 1),
    )
    finished.wait(60)
    elapsed = time.perf_counter() - started
    assert isinstance(reply.outcome, ReplyDone) and reply.outcome.finish_reason == "stop"
    return elapsed, [b - a for a, b in zip(called, called[1:], strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    gaps: list[float] = []
    with_tools, without = [], []
    for _ in range(args.repeat):
        elapsed, step_gaps = run_reply(args.steps, True)
        with_tools.append(elapsed)
        gaps.extend(step_gaps)
        without.append(run_reply(args.steps, False)[0])
    python_ms = []
    for index in range(200):
        started = time.perf_counter()
        python(f"value = {index} * 2\nprint(value)\nvalue + 1")
        python_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"tool step, call to next model call: median {statistics.median(gaps) * 1000:.2f} ms, "
        f"p95 {sorted(gaps)[int(len(gaps) * 0.95)] * 1000:.2f} ms ({len(gaps)} steps)"
    )
    print(
        f"reply of {args.steps} steps: best {min(with_tools) * 1000:.1f} ms; "
        f"the same model without calls: best {min(without) * 1000:.1f} ms"
    )
    print(f"python tool (3 lines, print and value): median {statistics.median(python_ms):.2f} ms")


if __name__ == "__main__":
    main()
