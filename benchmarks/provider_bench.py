"""Each real provider SDK against its local fake: 10k deltas, three ways.

- ``sdk``: the SDK's own stream iterated bare (HTTP read + SSE/event-stream parse + its
  typed objects): the floor.
- ``model``: our provider model (the shared streaming loop + ``read_chunk``).
- ``engine``: the model driven by the delta engine (accumulation, coalesced frames).

The overhead columns are per delta, on top of the SDK alone. Best of ``--repeat`` runs.

Then, per provider with native tool calling, what a tool step adds on top of the provider's
own time: a reply whose model calls a tool (approval ``never``, returning at once) and is
called again with its result — two requests in one reply — against two plain replies of
the same short text, in the same run on the same fake. Medians of ``--tool-runs``.
Run: ``python benchmarks/provider_bench.py [--deltas 10000] [--repeat 3] [--tool-runs 40]
[--only-tools]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.cases import CASES, ProviderCase  # noqa: E402
from fakes.fixtures import SDK_ENV  # noqa: E402
from fakes.native import NATIVE  # noqa: E402
from fakes.script import Script, ScriptCall  # noqa: E402
from fakes.server import FakeServer, Plan  # noqa: E402

from jupyter_deltachat.credentials import ENV_PATH, CredentialStore  # noqa: E402
from jupyter_deltachat.engine import DeltaFrame, Reply, ReplyDone  # noqa: E402
from jupyter_deltachat.tools import make_tool  # noqa: E402
from jupyter_deltachat.types import ChatConfig, Message  # noqa: E402

EVENTS_PER_HTTP_CHUNK = 100
MESSAGES = [Message("user", "Count")]


def plan_for(case: ProviderCase, deltas: int) -> Plan:
    """The case's reply of ``deltas`` one-token deltas, events packed 100 per HTTP chunk so
    the fake's own write calls stay out of the measurement."""
    plan = case.wire.stream(Script(content=["tok "] * deltas))
    chunks = plan.chunks
    plan.chunks = [
        b"".join(chunks[i : i + EVENTS_PER_HTTP_CHUNK])
        for i in range(0, len(chunks), EVENTS_PER_HTTP_CHUNK)
    ]
    return plan


def run_sdk(model: Any) -> int:
    stream = model.open_stream(model.client(), model.build_request(MESSAGES, ChatConfig()))
    count = 0
    for _ in stream:
        count += 1
    return count


def run_model(model: Any) -> int:
    return sum(1 for item in model(MESSAGES, ChatConfig()) if isinstance(item, str))


def run_engine(model: Any) -> int:
    done = threading.Event()
    frames: list[Any] = []
    reply = Reply(
        model,
        MESSAGES,
        ChatConfig(),
        lambda event: frames.append(event) if isinstance(event, DeltaFrame) else done.set(),
    )
    reply.start()
    if not done.wait(120):
        raise TimeoutError("the engine never finished")
    if reply.error is not None:
        raise reply.error
    return len(frames)


def echo(n: int) -> int:
    """Return n.

    Args:
        n: any integer.
    """
    return n


ECHO = make_tool(echo, approval="never")
SHORT = ["The ", "answer ", "is ", "42."]


def run_reply(model: Any, tools: list[Any] | None) -> Reply:
    done = threading.Event()
    reply = Reply(
        model,
        MESSAGES,
        ChatConfig(),
        lambda event: done.set() if isinstance(event, ReplyDone) else None,
        tools=tools,
    )
    reply.start()
    if not done.wait(120):
        raise TimeoutError("the engine never finished")
    if reply.error is not None:
        raise reply.error
    return reply


def tool_step_cost(case: ProviderCase, fake: FakeServer, model: Any, runs: int) -> list[float]:
    """Median seconds of: a reply with one tool step, two plain replies, their difference."""
    call = case.wire.stream(
        Script(content=SHORT, tool_calls=[ScriptCall("echo", '{"n": 42}', id="call_bench")])
    )
    plain = case.wire.stream(Script(content=SHORT))
    with_step: list[float] = []
    two_plain: list[float] = []
    for _ in range(runs + 1):  # the first of each is a warm-up
        fake.plan(call, plain)
        started = time.perf_counter()
        reply = run_reply(model, [ECHO])
        with_step.append(time.perf_counter() - started)
        if [c.status for c in reply.tool_calls] != ["done"]:
            raise AssertionError(f"{case.id}: the tool step failed: {reply.tool_calls}")
        fake.plan(plain, plain)
        started = time.perf_counter()
        run_reply(model, None)
        run_reply(model, None)
        two_plain.append(time.perf_counter() - started)
    step, base = statistics.median(with_step[1:]), statistics.median(two_plain[1:])
    return [step, base, step - base]


def tool_table(store: CredentialStore, runs: int) -> None:
    header = (
        f"{'provider':<12} {'request ms':>11} {'tool reply ms':>14} {'2 plain ms':>11} "
        f"{'tool step +ms':>14}"
    )
    print(f"\na reply with one tool step vs two plain replies, median of {runs}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        if case.id not in NATIVE:
            continue
        fake = FakeServer()
        try:
            store.set(case.store_id, case.stored(fake.url))
            step, base, extra = tool_step_cost(case, fake, case.model(fake.url), runs)
        finally:
            fake.close()
        print(
            f"{case.id:<12} {base / 2 * 1e3:>11.2f} {step * 1e3:>14.2f} {base * 1e3:>11.2f} "
            f"{extra * 1e3:>14.2f}"
        )


def best_of(repeat: int, fake: FakeServer, plan: Plan, run: Any, model: Any) -> tuple[float, int]:
    best, result = float("inf"), 0
    for _ in range(repeat):
        fake.plan(plan)
        started = time.perf_counter()
        result = run(model)
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tool-runs", type=int, default=40)
    parser.add_argument("--only-tools", action="store_true", help="only the tool step table")
    args = parser.parse_args()
    for name in list(os.environ):
        if name in SDK_ENV or name.startswith("AWS_"):
            del os.environ[name]
    store_dir = tempfile.mkdtemp(prefix="deltachat-bench-")
    os.environ[ENV_PATH] = str(Path(store_dir) / "credentials.json")
    store = CredentialStore()
    header = (
        f"{'provider':<12} {'sdk ms':>8} {'sdk deltas/s':>13} {'model ms':>9} {'engine ms':>10} "
        f"{'model +us/delta':>16} {'engine +us/delta':>17} {'frames':>7}"
    )
    if args.only_tools:
        tool_table(store, args.tool_runs)
        return
    print(f"{args.deltas} deltas per reply, best of {args.repeat}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        if case.id == "ollama":
            continue  # the same SDK path as openai_chat
        fake = FakeServer()
        try:
            store.set(case.store_id, case.stored(fake.url))
            model = case.model(fake.url)
            plan = plan_for(case, args.deltas)
            run_model(_warm(fake, plan, model))
            sdk, _ = best_of(args.repeat, fake, plan, run_sdk, model)
            ours, count = best_of(args.repeat, fake, plan, run_model, model)
            engine, frames = best_of(args.repeat, fake, plan, run_engine, model)
            if count != args.deltas:
                raise AssertionError(f"{case.id}: {count} deltas, expected {args.deltas}")
        finally:
            fake.close()
        per_delta = 1e6 / args.deltas
        print(
            f"{case.id:<12} {sdk * 1e3:>8.0f} {args.deltas / sdk:>13,.0f} {ours * 1e3:>9.0f} "
            f"{engine * 1e3:>10.0f} {(ours - sdk) * per_delta:>16.1f} "
            f"{(engine - sdk) * per_delta:>17.1f} {frames:>7}"
        )
    tool_table(store, args.tool_runs)


def _warm(fake: FakeServer, plan: Plan, model: Any) -> Any:
    """One untimed run first: imports, client creation and connection setup."""
    fake.plan(plan)
    return model


if __name__ == "__main__":
    main()
