"""bench/run on several PostgreSQL versions (BENCH_PG). The version this
machine serves runs here; every other one runs inside its Debian root
(test/pgroot, made and cached as test/run makes it) with the same settings,
its reports copied back to bench/results/pg-VERSION/. Each version's
extension is compared with the same peers on the same server in the same
run; the table of versions then puts the ratios side by side, and flags a
version whose workload lost more than 10% of 15's rate relative to its own
W0 floor (issue 20). The machine is the same for all: only ratios travel."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from .core import beside, fmt, markdown_table, ratio, text_table

KNOWN = ("15", "17", "18")  # test/pgroot knows the roots of 17 and 18
COMPARED = ("w1", "w1-soldout", "w2", "w3")  # the rows of the table (issue 20)
BASELINE = "15"
SLOWER = 0.90  # vs W0 below 90% of the baseline's is called out
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Reports are written relative to the tree, so a root's run keeps them in its copy.
OWN_PATHS = ("BENCH_PG", "BENCH_RESULTS", "BENCH_CHURN_RESULTS", "BENCH_SEATS_RESULTS", "BENCH_SUITE_RESULTS")


class VersionError(Exception):
    pass


def versions_from_env(env) -> list[str]:
    """BENCH_PG: a comma list of major versions, default 15."""
    raw = (env.get("BENCH_PG", "") or BASELINE).replace(" ", "")
    out = []
    for v in raw.split(","):
        if v not in KNOWN:
            raise VersionError(f"BENCH_PG: unknown PostgreSQL version '{v}' (known: {','.join(KNOWN)})")
        if v in out:
            raise VersionError(f"BENCH_PG: {v} is listed twice")
        out.append(v)
    return out


def here_version(pgbin: str) -> str:
    """The major version of the server this machine runs (Debian's layout)."""
    m = re.search(r"/postgresql/(\d+)/bin/?$", pgbin)
    return m.group(1) if m else BASELINE


def root_env(v: str, env) -> list[str]:
    """What bench/run inside the root of v gets: the caller's BENCH_*
    settings but its paths, that version's server, nothing installed."""
    pgbin = f"/usr/lib/postgresql/{v}/bin"
    passed = [f"{k}={val}" for k, val in sorted(env.items())
              if k.startswith("BENCH_") and k not in OWN_PATHS]
    if env.get("BOOKING_KEEP") == "1":
        passed.append("BOOKING_KEEP=1")
    return [f"PATH={INSIDE_PATH}", "HOME=/root", "LANG=C.UTF-8", f"BENCH_PG={v}", "BOOKING_SKIP_INSTALL=1",
            f"PG_CONFIG={pgbin}/pg_config", f"BOOKING_PGBIN={pgbin}", *passed]


def run_in_root(tree: Path, v: str) -> int:
    """bench/run of a copy of tree inside v's root; its reports to
    bench/results/pg-v/. The exit status of that run (1 when the root could
    not be made)."""
    print(f"==> PostgreSQL {v}: bench/run in a Debian root (test/pgroot)", flush=True)
    if os.geteuid() != 0:
        print(f"error: PostgreSQL {v} runs in a chroot: run bench/run as root, or BENCH_PG=15")
        return 1
    made = subprocess.run(["test/pgroot", "ensure", v], cwd=tree, stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        print(f"error: could not make the PostgreSQL {v} root (see above)")
        return 1
    root = Path(made.stdout.strip().splitlines()[-1])
    copy = Path(tempfile.mkdtemp(prefix="booking-bench-src.", dir=root / "tmp"))
    copy.chmod(0o755)
    try:
        subprocess.run(["bash", "-c", 'set -euo pipefail; source test/lib.sh; booking_copy_tree "$1"', "bench/run",
                        str(copy)], cwd=tree, check=True)
        inside = "/" + str(copy.relative_to(root))
        rc = subprocess.run(["test/pgroot", "run", v, "/usr/bin/env", "-i", *root_env(v, os.environ),
                             "/usr/bin/python3", f"{inside}/bench/run"], cwd=tree).returncode
        results = tree / "bench" / "results" / f"pg-{v}"
        shutil.rmtree(results, ignore_errors=True)
        if (copy / "bench" / "results").is_dir():
            shutil.copytree(copy / "bench" / "results", results)
            print(f"reports of PostgreSQL {v}: {results.relative_to(tree)}/")
        return rc
    finally:
        if os.environ.get("BOOKING_KEEP") == "1":
            print(f"BOOKING_KEEP=1: the tree run on {v} is kept in {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)


def summary_of(tree: Path, v: str, here: str, suite_results: str) -> Optional[dict]:
    """The suite summary (suite.json) a version's run wrote, or None."""
    if v == here:
        path = Path(beside(suite_results, ".json"))
        path = path if path.is_absolute() else tree / path
    else:
        path = tree / "bench" / "results" / f"pg-{v}" / "suite.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def table(summaries: dict[str, Optional[dict]]) -> tuple[list[list[str]], list[str]]:
    """Rows (header first) of workload x version, and the lines that call out
    a version more than 10% below the baseline relative to its W0."""
    rows = [["workload", "PostgreSQL", "tps", "vs best peer", "vs W0", "vs W0 / 15's", "notes"]]
    flagged = []
    base = summaries.get(BASELINE) or {}
    for key in ("w0",) + COMPARED:
        for v, sm in summaries.items():
            if sm is None:
                rows.append([key, v, "-", "-", "-", "-", "not measured (see that version's run above)"])
                continue
            if key == "w0":
                rows.append(["W0 floor", sm.get("server", v), fmt(sm.get("w0"), ".0f"), "-", "1.00", "-", ""])
                continue
            w = sm.get("workloads", {}).get(key)
            if w is None:
                rows.append([key, sm.get("server", v), "-", "-", "-", "-", "not in BENCH_SUITE_WORKLOADS"])
                continue
            b = base.get("workloads", {}).get(key, {})
            rel = ratio(w.get("vs_w0"), b.get("vs_w0")) if v != BASELINE else None
            note = "W3: vs the seed's plain SQL" if key == "w3" else ""
            if rel is not None and rel < SLOWER:
                flagged.append(f"{w['label']} on PostgreSQL {sm.get('server', v)}: {rel:.2f} of 15's rate relative "
                               f"to W0 (more than {100 - SLOWER * 100:.0f}% slower)")
                note = (note + "; " if note else "") + "SLOWER than 15"
            rows.append([w["label"], sm.get("server", v), fmt(w.get("tps"), ".0f"), fmt(w.get("vs_peer"), ".2f"),
                         fmt(w.get("vs_w0"), ".2f"), fmt(rel, ".2f"), note])
    return rows, flagged


def report(tree: Path, versions: list[str], here: str, suite_results: str, out: Path) -> bool:
    """Print and write the table of versions; False when a version is
    missing or more than 10% slower (informational: the exit status is the
    runs' own)."""
    summaries = {v: summary_of(tree, v, here, suite_results) for v in versions}
    rows, flagged = table(summaries)
    print(f"\nPostgreSQL versions (the extension; ratios against its peers on the same server)\n{text_table(rows)}")
    verdict = flagged or [f"no version more than {100 - SLOWER * 100:.0f}% slower than 15 relative to its W0: MET"]
    print("\n".join(verdict))
    md = ["# Benchmark suite per PostgreSQL version", "",
          f"`BENCH_PG={','.join(versions)} bench/run`: each version's suite in its own cluster, one after the "
          "other on this machine, the extension against the same peers on the same server. Compare ratios, not "
          "tps, across versions. Each version's full report: bench/results/suite.md (15) and "
          "bench/results/pg-VERSION/.", "", markdown_table(rows), ""] + [f"- {line}" for line in verdict]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(md) + "\n")
    print(f"report: {out}")
    return not flagged and all(summaries.values())
