"""What a context summary costs: time to summarise and the code points it adds to the
request, for the objects of issue 11, and ``list_variables`` over 1,000 variables.

- 10,000,000 × 20 DataFrame of mixed dtypes (int, float, bool, datetime, category,
  strings): about 1.5 GB in memory, built once before timing.
- a (4096, 4096) float64 array; a dict of 1,000,000 items.
- ``list_variables`` over a namespace of 1,000 variables of assorted kinds.

Each row is the best of ``--repeat`` runs of ``summarize`` (the full path the kernel takes:
the time-limit thread, redaction and the bound). Targets: each summary ≤ 200 ms and
≤ 8,000 code points; ``list_variables`` ≤ 300 ms.
Run: ``python benchmarks/context_bench.py [--repeat 3] [--rows 10000000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from jupyter_deltachat.context import summarize  # noqa: E402
from jupyter_deltachat.context.block import context_block  # noqa: E402
from jupyter_deltachat.context.variables import list_variables  # noqa: E402


def best_ms(function: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """The best wall-clock and CPU milliseconds of ``repeat`` runs, and the last result.

    CPU time (every thread of this process) is what the summary costs; on a loaded machine
    the wall-clock time also holds the waits for a core.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls) * 1000, min(cpus) * 1000, result


def mixed_frame(rows: int) -> pd.DataFrame:
    generator = np.random.default_rng(0)
    columns: dict[str, Any] = {}
    for i in range(4):
        columns[f"int_{i}"] = generator.integers(0, 1_000_000, rows)
        columns[f"float_{i}"] = generator.standard_normal(rows)
    for i in range(3):
        columns[f"bool_{i}"] = generator.integers(0, 2, rows).astype(bool)
        columns[f"category_{i}"] = pd.Categorical.from_codes(
            generator.integers(0, 5, rows), ["north", "south", "east", "west", "centre"]
        )
    columns["when_0"] = pd.date_range("2020-01-01", periods=rows, freq="s")
    columns["when_1"] = pd.to_datetime(generator.integers(0, 2**31, rows), unit="s")
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon"], dtype=object)
    columns["text_0"] = words[generator.integers(0, 5, rows)]
    columns["text_1"] = words[generator.integers(0, 5, rows)]
    return pd.DataFrame(columns)


def namespace(size: int) -> dict[str, Any]:
    frame = pd.DataFrame(np.zeros((100, 5)))
    kinds = [
        lambda i: i,
        lambda i: f"text {i}",
        lambda i: list(range(i % 50)),
        lambda i: {"k": i},
        lambda i: np.zeros((i % 7 + 1, 3)),
        lambda i: frame,
        lambda i: namespace,
        lambda i: float(i),
    ]
    return {f"var_{i}": kinds[i % len(kinds)](i) for i in range(size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    objects = {
        f"DataFrame {args.rows:,} × 20": mixed_frame(args.rows),
        "ndarray float64 (4096, 4096)": np.random.default_rng(1).standard_normal((4096, 4096)),
        "dict of 1,000,000 items": {f"key{i}": i for i in range(1_000_000)},
    }
    print(f"{'object':<32} {'wall ms':>8} {'CPU ms':>7} {'code points':>12} {'block bytes':>12}")
    for name, obj in objects.items():
        wall, cpu, (item, _) = best_ms(
            lambda obj=obj: summarize(obj, "x", time_limit=60), args.repeat
        )
        size = len(context_block([item]).encode())
        print(f"{name:<32} {wall:>8.1f} {cpu:>7.1f} {len(item.text):>12,} {size:>12,}")
    variables = namespace(1000)
    wall, cpu, (listed, _) = best_ms(lambda: list_variables(variables), args.repeat)
    print(f"{'list_variables, 1,000 variables':<32} {wall:>8.1f} {cpu:>7.1f} {'':>12} {'':>12}")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
