"""History benchmark: what keeping chats costs (docs/history.md).

Part 1 runs in this process on a temp file: the store's cost per finished message and per
checkpoint of a streaming one, the listener's cost per delta (the only work history adds
to the streaming path), restoring a chat of 1,000 messages, and a database of 10,000 chats
(opening it, restoring one notebook, listing every chat). Part 2 is
``stream_bench.py --history``: its protocol cases through two real kernels, history on and
off, run alternately, medians with their spread.

    python benchmarks/history_bench.py            # about two minutes
    python benchmarks/history_bench.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stream_bench  # noqa: E402

from jupyter_deltachat.history import ChatStore, History, RedactedText  # noqa: E402
from jupyter_deltachat.kernel.chats import ChatService  # noqa: E402
from jupyter_deltachat.models.registry import ModelRegistry  # noqa: E402
from jupyter_deltachat.protocol import Delta  # noqa: E402
from jupyter_deltachat.redact import redact  # noqa: E402
from jupyter_deltachat.types import Message  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog. " * 23  # about 1 KB


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of ``repeats`` calls took."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def row(name: str, times: list[float], unit: float = 1e3, label: str = "ms") -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{name:<52}{statistics.median(times) * unit:>10.3f}{p95 * unit:>10.3f}  {label}"
        f"  (n={len(times)})"
    )


def store_costs(directory: Path, quick: bool) -> None:
    store = ChatStore(directory / "costs.sqlite3")
    count = 200 if quick else 1000

    def finished() -> None:
        with store.write() as writer:
            writer.put("/bench/a.ipynb", "c", Message(role="assistant", content=TEXT))

    row("finished message (1 KB), one transaction", timed(finished, count))
    for size in (4, 40):
        partial = Message(role="assistant", content=(TEXT * size)[: size * 1024])

        def checkpoint(message: Message = partial) -> None:
            with store.write() as writer:
                writer.put("/bench/a.ipynb", "s", message, streaming=True)

        row(f"checkpoint of a streaming reply ({size} KB so far)", timed(checkpoint, count))

    history = History(directory / "listener.sqlite3")
    service = ChatService(ModelRegistry())
    history.attach(service)
    service.use_path("/bench/a.ipynb")
    delta = Delta(chat_id="c", message_id="m", seq=1, text="x")
    listen = history._on_event  # what every delta costs the streaming thread
    calls = 100_000 if not quick else 20_000
    start = time.perf_counter()
    for _ in range(calls):
        listen(delta)
    per_call = (time.perf_counter() - start) / calls
    print(
        f"{'listener per delta frame (nothing: read at checkpoints)':<52}{per_call * 1e6:>10.3f}"
        f"{'':>10}  us"
    )
    history.flush()
    store.close()


def checkpoint_redaction(quick: bool) -> None:
    """What redacting a 1 MB reply (10-character deltas, a Markdown-like text of 80-character
    lines) costs over its checkpoints, one every 100 KB: before, each checkpoint redacted the
    whole text so far; now ``RedactedText`` redacts a few KB at a time as deltas arrive and
    only the rest at a checkpoint. Total: all redaction work of the reply; longest: the
    longest single call, how long the writer thread holds the GIL in one go."""
    size = 200_000 if quick else 1_000_000
    line = "A line of a streamed reply, with `code`, words and numbers 12345 6789.\n"
    text = (line * (size // len(line) + 1))[:size]
    deltas = [text[i : i + 10] for i in range(0, size, 10)]
    every = len(deltas) // 10

    def full() -> list[float]:
        times, parts = [], []
        for index, delta in enumerate(deltas, 1):
            parts.append(delta)
            if index % every == 0:
                start = time.perf_counter()
                redact("".join(parts))
                times.append(time.perf_counter() - start)
        return times

    def incremental() -> list[float]:
        """Every call, appends included: they settle (redact) a few KB at a time."""
        times, streamed = [], RedactedText()
        for index, delta in enumerate(deltas, 1):
            start = time.perf_counter()
            streamed.append(delta)
            if index % every == 0:
                streamed.redacted()
            times.append(time.perf_counter() - start)
        return times

    for name, run in (("before: whole text", full), ("now: incremental", incremental)):
        times = run()
        print(
            f"{f'redaction of a {size // 1000} KB reply, {name}':<52}"
            f"{sum(times) * 1e3:>10.3f}{max(times) * 1e3:>10.3f}  ms total / longest call"
        )


def restore_costs(directory: Path, quick: bool) -> None:
    path = directory / "restore.sqlite3"
    store = ChatStore(path)
    with store.write() as writer:
        for n in range(500):
            writer.put("/bench/long.ipynb", "long", Message(role="user", content=f"{n} {TEXT}"))
            writer.put("/bench/long.ipynb", "long", Message(role="assistant", content=TEXT))

    def restore_long() -> None:
        service = ChatService(ModelRegistry())
        History(path).attach(service)
        service.use_path("/bench/long.ipynb")
        assert len(service.history("long")) == 1000

    row(
        "restore a notebook with one chat of 1,000 messages",
        timed(restore_long, 5 if quick else 10),
    )

    chats = 2_000 if quick else 10_000
    notebooks = chats // 10
    for first in range(0, chats, 1000):
        with store.write() as writer:
            for n in range(first, first + 1000):
                notebook = f"/bench/nb{n % notebooks}.ipynb"
                for turn in range(2):
                    writer.put(notebook, f"chat-{n}", Message(role="user", content=f"q{turn} {n}"))
                    writer.put(notebook, f"chat-{n}", Message(role="assistant", content=TEXT))
    store.close()
    size = sum(p.stat().st_size for p in directory.glob("restore.sqlite3*")) / 1e6
    print(
        f"database: {chats:,} chats of 4 messages in {notebooks:,} notebooks, "
        f"{size:.1f} MB (with WAL)"
    )

    def open_and_restore() -> None:
        service = ChatService(ModelRegistry())
        History(path).attach(service)
        service.use_path("/bench/nb7.ipynb")
        assert len(service.infos()) == 10

    row(
        f"open it and restore a notebook of 10 chats ({chats:,} chats)", timed(open_and_restore, 10)
    )
    service = ChatService(ModelRegistry())
    History(path).attach(service)
    service.use_path("/bench/nb7.ipynb")
    row(
        f"list_chats all ({chats:,} chats)",
        timed(lambda: service.chat_list("all"), 5 if quick else 10),
    )
    row(
        "list_chats notebook: a read (what a reply pushed before)",
        timed(lambda: service.chat_list("notebook"), 100),
    )
    row(
        "the chats list a reply pushes, from memory (notebook_list)",
        timed(service.notebook_list, 100),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--store-only", action="store_true", help="part 1 only (no kernels)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        print(stream_bench.load())
        print(f"{'store (in process)':<52}{'median':>10}{'p95':>10}")
        store_costs(directory, args.quick)
        checkpoint_redaction(args.quick)
        restore_costs(directory, args.quick)
        if not args.store_only:
            print()
            stream_bench.compare_history(args.quick)


if __name__ == "__main__":
    main()
