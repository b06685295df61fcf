"""The pure parts of bench/run, unit-tested by bench/test_run.py: pgbench's
output and per-transaction logs, the verify scripts' output, ratios, goals,
verdicts and the text and Markdown tables. Nothing here runs a process."""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

# ---------------------------------------------------------------- pgbench


@dataclass
class Pgbench:
    """One pgbench run: its summary lines, its exit status and the
    percentiles of its per-transaction logs."""

    exit_code: int = 0
    tps: Optional[float] = None  # without initial connection time
    processed: Optional[int] = None
    failed: Optional[int] = None
    retried: Optional[int] = None
    aborted: int = 0  # clients that gave up (an error in a script)
    logged: int = 0  # successful transactions in the logs
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    start: Optional[float] = None  # epoch of the first transaction's start
    end: Optional[float] = None  # epoch of the last transaction's end
    errors: list[str] = field(default_factory=list)  # first lines naming an error

    @property
    def runtime(self) -> Optional[float]:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def _first_int(pattern: str, text: str) -> Optional[int]:
    m = re.search(pattern, text, re.M)
    return int(m.group(1)) if m else None


def parse_pgbench_output(text: str, exit_code: int = 0) -> Pgbench:
    """pgbench's (PostgreSQL 15) summary: tps, transactions processed,
    failed and retried, and the clients that aborted."""
    m = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)$", text, re.M)
    lines = text.splitlines()
    return Pgbench(
        exit_code=exit_code,
        tps=float(m.group(1)) if m else None,
        processed=_first_int(r"^number of transactions actually processed: ([0-9]+)", text),
        failed=_first_int(r"^number of failed transactions: ([0-9]+)", text),
        retried=_first_int(r"^number of transactions retried: ([0-9]+)", text),
        aborted=sum(1 for l in lines if "aborted in command" in l or re.search(r"client [0-9]* aborted", l)),
        errors=[l for l in lines if re.search(r"error|abort", l, re.I)][:5],
    )


def percentile_index(p: float, n: int) -> int:
    """1-based rank of the p-th percentile of n sorted values (nearest rank)."""
    return max(1, math.ceil(p * n))


def add_txlog_stats(run: Pgbench, lines: Iterable[str]) -> Pgbench:
    """Latency percentiles and the run's window from pgbench's -l logs.
    Columns (PG15): client_id transaction_no latency_us script_no epoch_s
    epoch_us; the timestamp is the transaction's end. Failed and skipped
    transactions (a word instead of a latency) are left out."""
    latencies: list[int] = []
    start = end = None
    for line in lines:
        f = line.split()
        if len(f) < 6 or not f[2].isdigit():
            continue
        lat = int(f[2])
        t_end = int(f[4]) + int(f[5]) / 1e6
        t_start = t_end - lat / 1e6
        latencies.append(lat)
        start = t_start if start is None or t_start < start else start
        end = t_end if end is None or t_end > end else end
    latencies.sort()
    n = len(latencies)
    run.logged = n
    if n:
        run.p50_ms = latencies[percentile_index(0.50, n) - 1] / 1000
        run.p99_ms = latencies[percentile_index(0.99, n) - 1] / 1000
        run.start, run.end = start, end
    return run


# ---------------------------------------------------------------- verify output


def parse_pairs(text: str) -> dict[str, str]:
    """ "key value" lines (psql -At -F ' ') as printed by the verify scripts."""
    pairs = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            pairs[key] = value.strip()
    return pairs


def parse_expanded(text: str) -> dict[str, str]:
    """ "name | value" lines of psql -x output with integer values."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^([a-z_]+) *\| *([0-9]+)$", text, re.M)}


T = typing.TypeVar("T")


def from_pairs(cls: type[T], pairs: dict[str, str]) -> T:
    """A dataclass of Optional[int|float|str] fields filled from verify
    output; a key's dots become underscores (event.sold -> event_sold). A
    value that does not parse as the field's type stays None."""
    hints = typing.get_type_hints(cls)
    values = {}
    for key, raw in pairs.items():
        name = key.replace(".", "_")
        if name not in hints:
            continue
        kind = next((t for t in (int, float, str) if t in typing.get_args(hints[name]) or t is hints[name]), str)
        try:
            values[name] = kind(raw)
        except ValueError:
            pass
    return cls(**values)


# ---------------------------------------------------------------- ratios, goals, verdicts


def beside(report: str, suffix: str) -> str:
    """A file next to a Markdown report: suite.md -> suite.json, suite.png."""
    return (report[:-3] if report.endswith(".md") else report) + suffix


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """a / b rounded to two decimals as shown; None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def fmt(value, spec: str = "", missing: str = "-") -> str:
    """A value for a table cell: missing values as `missing`."""
    if value is None:
        return missing
    return format(value, spec)


def pct(r: Optional[float]) -> str:
    return "-" if r is None else f"{r * 100:.0f}%"


@dataclass(frozen=True)
class Goal:
    """An informational goal of the issue: a ratio and its minimum."""

    label: str
    shown: str  # what was measured, in words
    goal: str  # the goal, in words
    value: Optional[float]
    minimum: float
    also: bool = True  # a second condition (e.g. 0 oversold) that must hold as well

    @property
    def status(self) -> str:
        if self.value is None:
            return "not measured"
        return "MET" if self.value >= self.minimum and self.also else "NOT MET"

    @property
    def line(self) -> str:
        shown = "-" if self.value is None else self.shown
        return f"{self.label}: {shown} (goal {self.goal}): {self.status}"


@dataclass
class Verdict:
    """PASS or FAIL of one section; a FAIL makes bench/run's exit status non-zero."""

    name: str
    passed: str  # what a PASS states
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def line(self) -> str:
        if self.ok:
            return f"{self.name}: PASS - {self.passed}"
        return f"{self.name}: FAIL - {'; '.join(self.reasons)}"


def expect_zero(reasons: list[str], label: str, value) -> None:
    """Add `label = value` to reasons unless value is 0 (None is a reason too)."""
    if value != 0:
        reasons.append(f"{label} = {fmt(value, missing='?')}")


# ---------------------------------------------------------------- tables


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned text, header first: the first and last (text) columns left,
    the numbers right, a line of dashes under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        out.append("  ".join(cells))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, header first: numbers right-aligned, the first and
    last columns left."""
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    n = len(rows[0])
    lines.insert(1, "| --- |" + " ---: |" * (n - 2) + " --- |")
    return "\n".join(lines)


def not_measured(label: str, columns: int, why: str) -> list[str]:
    """A row of dashes whose last cell says why the run is missing."""
    return [label] + ["-"] * (columns - 2) + [f"not measured: {why}"]
