"""Where the test suite's time goes, per module, from pytest's JUnit XML. Not a test.

    python -m pytest --junitxml=before.xml ...; python benchmarks/suite_times.py before.xml
    python benchmarks/suite_times.py before.xml after.xml     # before/after and the change

Prints one row per test module (tests, seconds, share of the run), slowest first, and a total.
With two files the rows are the union of both runs' modules, sorted by the slower of the two,
with the change in seconds. A test's JUnit time is its setup, call and teardown together;
tests/conftest.py also records each phase as the properties ``setup_seconds`` and
``teardown_seconds``, so when the XML has them the table shows how much of each module's
time is fixtures (a lab, a kernel, a browser page) rather than the tests' own work.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

FIXTURE_PHASES = ("setup_seconds", "teardown_seconds")


@dataclass
class ModuleTime:
    tests: int = 0
    seconds: float = 0.0
    fixture_seconds: float = 0.0
    has_phases: bool = False
    slowest: list[tuple[float, str]] = field(default_factory=list)


def module_of(classname: str) -> str:
    """``tests.browser.test_x.TestY`` -> ``tests/browser/test_x.py``: the module is the
    dotted path up to its last part that starts with ``test_``."""
    parts = classname.split(".")
    ends = [index for index, part in enumerate(parts) if part.startswith("test_")]
    module = parts[: ends[-1] + 1] if ends else parts
    return "/".join(module) + ".py"


def read_junit(path: Path) -> tuple[dict[str, ModuleTime], float | None]:
    """Per-module times from one JUnit file, and the run's wall time when it records one."""
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    modules: dict[str, ModuleTime] = {}
    wall = sum(float(suite.get("time", 0)) for suite in suites) or None
    for case in root.iter("testcase"):
        module = modules.setdefault(module_of(case.get("classname", "")), ModuleTime())
        seconds = float(case.get("time", 0))
        module.tests += 1
        module.seconds += seconds
        module.slowest.append((seconds, case.get("name", "")))
        for prop in case.iter("property"):
            if prop.get("name") in FIXTURE_PHASES:
                module.fixture_seconds += float(prop.get("value", 0))
                module.has_phases = True
    return modules, wall


def fixture_share(module: ModuleTime) -> str:
    if not module.has_phases or module.seconds == 0:
        return ""
    return f"{100 * module.fixture_seconds / module.seconds:5.0f}%"


def one_run(modules: dict[str, ModuleTime], wall: float | None, top: int) -> list[str]:
    total = sum(m.seconds for m in modules.values()) or 1.0
    phases = any(m.has_phases for m in modules.values())
    width = max([len(name) for name in modules] + [len("module")])
    header = f"{'module':<{width}} {'tests':>6} {'seconds':>9} {'share':>6}"
    lines = [header + (f" {'fixtures':>9}" if phases else ""), "-" * (len(header) + 10)]
    for name, module in sorted(modules.items(), key=lambda item: -item[1].seconds):
        row = f"{name:<{width}} {module.tests:>6} {module.seconds:>9.1f} "
        row += f"{100 * module.seconds / total:>5.1f}%"
        lines.append(row + (f" {fixture_share(module):>9}" if phases else ""))
    fixtures = sum(m.fixture_seconds for m in modules.values())
    row = f"{'total':<{width}} {sum(m.tests for m in modules.values()):>6} {total:>9.1f} 100.0%"
    lines.append(row + (f" {100 * fixtures / total:>8.0f}%" if phases else ""))
    if wall is not None:
        lines.append(f"wall time of the run: {wall:.1f} s")
    if top:
        lines += ["", f"slowest {top} tests:"]
        cases = [(s, f"{n}::{t}") for n, m in modules.items() for s, t in m.slowest]
        lines += [f"  {s:8.2f} s  {name}" for s, name in sorted(cases, reverse=True)[:top]]
    return lines


def two_runs(
    before: dict[str, ModuleTime],
    after: dict[str, ModuleTime],
    walls: tuple[float | None, float | None],
) -> list[str]:
    names = set(before) | set(after)
    empty = ModuleTime()
    total_before = sum(m.seconds for m in before.values()) or 1.0
    total_after = sum(m.seconds for m in after.values()) or 1.0
    width = max([len(name) for name in names] + [len("module")])
    header = (
        f"{'module':<{width}} {'tests':>11} {'before s':>9} {'share':>6}"
        f" {'after s':>9} {'share':>6} {'change s':>9}"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, b: ModuleTime, a: ModuleTime, tb: float, ta: float) -> str:
        tests = f"{b.tests}->{a.tests}" if b.tests != a.tests else str(a.tests)
        return (
            f"{name:<{width}} {tests:>11} {b.seconds:>9.1f} {100 * b.seconds / tb:>5.1f}%"
            f" {a.seconds:>9.1f} {100 * a.seconds / ta:>5.1f}% {a.seconds - b.seconds:>+9.1f}"
        )

    order = sorted(
        names, key=lambda n: -max(before.get(n, empty).seconds, after.get(n, empty).seconds)
    )
    for name in order:
        lines.append(
            row(name, before.get(name, empty), after.get(name, empty), total_before, total_after)
        )
    totals = (
        ModuleTime(sum(m.tests for m in before.values()), total_before),
        ModuleTime(sum(m.tests for m in after.values()), total_after),
    )
    lines.append(row("total", *totals, total_before, total_after))
    if None not in walls:
        lines.append(f"wall time of the runs: {walls[0]:.1f} s -> {walls[1]:.1f} s")
    for label, modules in (("before", before), ("after", after)):
        if any(m.has_phases for m in modules.values()):
            fixtures = sum(m.fixture_seconds for m in modules.values())
            total = sum(m.seconds for m in modules.values()) or 1.0
            lines.append(
                f"fixtures (setup + teardown) {label}: {fixtures:.1f} s, "
                f"{100 * fixtures / total:.0f}% of the tests' time"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit", nargs="+", type=Path, help="one or two JUnit XML files")
    parser.add_argument("--top", type=int, default=0, help="also list the N slowest tests")
    args = parser.parse_args(argv)
    if len(args.junit) > 2:
        parser.error("give one JUnit file, or two to compare (before after)")
    runs = [read_junit(path) for path in args.junit]
    if len(runs) == 1:
        lines = one_run(*runs[0], args.top)
    else:
        lines = two_runs(runs[0][0], runs[1][0], (runs[0][1], runs[1][1]))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
