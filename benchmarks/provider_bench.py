"""Each real provider SDK against its local fake: 10k deltas, three ways.

- ``sdk``: the SDK's own stream iterated bare (HTTP read + SSE/event-stream parse + its
  typed objects): the floor.
- ``model``: our provider model (the shared streaming loop + ``read_chunk``).
- ``engine``: the model driven by the delta engine (accumulation, coalesced frames).

The overhead columns are per delta, on top of the SDK alone. Best of ``--repeat`` runs.
Run: ``python benchmarks/provider_bench.py [--deltas 10000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
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
from fakes.script import Script  # noqa: E402
from fakes.server import FakeServer, Plan  # noqa: E402

from jupyter_deltachat.credentials import ENV_PATH, CredentialStore  # noqa: E402
from jupyter_deltachat.engine import DeltaFrame, Reply  # noqa: E402
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


def _warm(fake: FakeServer, plan: Plan, model: Any) -> Any:
    """One untimed run first: imports, client creation and connection setup."""
    fake.plan(plan)
    return model


if __name__ == "__main__":
    main()
