"""The pure parts of bench/compare: what one bench/run measured (its
flashsale.json and suite.json), medians over rounds, and the table of
before against after. Each run is judged by two figures: the extension's
tps, and the same tps against what the machine gave in that very run (its
ratio to the best plain-SQL peer, or to the W0 floor where a workload has
no peer). The machine is shared and noisy, so a workload is called slower
only when both fell by more than 10%, medians of alternated rounds. Beside
them, the medians of the server's CPU per transaction (host.Host.server_us),
which the verdict does not use: it does not see time spent waiting."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Optional

from .core import fmt, ratio

SLOWER = 0.90
FLASH = (("flash-booking", "booking", "Flash sale, booking"),
         ("flash-booking-sharded", "booking-sharded", "Flash sale, booking-sharded"))


def flash_figures(summary: dict) -> dict[str, dict]:
    """The extension's approaches of one flash sale: tps, and tps against the
    best peer that did not oversell (check-then-update oversells by design)."""
    approaches = summary.get("approaches", {})
    peers = [a["tps"] for a in approaches.values()
             if not a.get("extension") and a.get("tps") and a.get("oversold") == 0]
    best = max(peers) if peers else None
    out = {}
    for key, name, label in FLASH:
        a = approaches.get(name)
        if a and a.get("tps") is not None:
            out[key] = {"label": label, "tps": a["tps"], "norm": a["tps"] / best if best else None,
                        "by": "vs best peer", "cpu": a.get("server_us")}
    return out


def suite_figures(summary: dict) -> dict[str, dict]:
    """Every workload of one suite: tps, and vs best peer (vs W0 without a peer)."""
    out = {}
    if summary.get("w0") is not None:
        out["w0"] = {"label": "W0 floor (no extension)", "tps": summary["w0"], "norm": None, "by": "-",
                     "cpu": summary.get("w0_server_us")}
    for key, w in summary.get("workloads", {}).items():
        if w.get("tps") is None:
            continue
        peer, w0 = w.get("vs_peer"), summary.get("w0")
        out[key] = {"label": w["label"], "tps": w["tps"],
                    "norm": peer if peer is not None else (w["tps"] / w0 if w0 else None),
                    "by": "vs best peer" if peer is not None else "vs W0", "cpu": w.get("server_us")}
    return out


def figures_of(directory: Path) -> dict[str, dict]:
    """What the bench/run that wrote its reports into directory measured."""
    out: dict[str, dict] = {}
    for name, read in (("flashsale.json", flash_figures), ("suite.json", suite_figures)):
        try:
            out.update(read(json.loads((directory / name).read_text())))
        except (OSError, ValueError):
            pass
    return out


def median(values: list[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def table(before: list[dict[str, dict]], after: list[dict[str, dict]]) -> tuple[list[list[str]], list[str]]:
    """Rows (header first) of every workload either side measured, medians
    over the rounds, and the lines naming a workload slower after."""
    rows = [["workload", "tps before", "tps after", "after/before", "normalised by", "before", "after",
             "after/before", "server us/tx before", "after", "after/before", "verdict"]]
    slower = []
    keys = list(dict.fromkeys(k for run in before + after for k in run))
    for key in keys:
        label = next(run[key]["label"] for run in before + after if key in run)
        by = next(run[key]["by"] for run in before + after if key in run)
        tb, ta = (median([run.get(key, {}).get("tps") for run in side]) for side in (before, after))
        nb, na = (median([run.get(key, {}).get("norm") for run in side]) for side in (before, after))
        cb, ca = (median([run.get(key, {}).get("cpu") for run in side]) for side in (before, after))
        rt, rn, rc = ratio(ta, tb), ratio(na, nb), ratio(ca, cb)
        if tb is None or ta is None:
            verdict = "not measured " + ("before" if tb is None else "after")
        elif key == "w0":
            verdict = "the machine"  # no extension in it: how much the machine moved
        elif rt < SLOWER and (rn is None or rn < SLOWER):
            verdict = "SLOWER"
            slower.append(f"{label}: {rt:.2f} of the tps before" + (f", {rn:.2f} {by}" if rn is not None else "") +
                          (f"; server CPU per transaction {rc:.2f} of before" if rc is not None else ""))
        else:
            verdict = "ok"
        rows.append([label, fmt(tb, ".0f"), fmt(ta, ".0f"), fmt(rt, ".2f"), by, fmt(nb, ".3g"), fmt(na, ".3g"),
                     fmt(rn, ".2f"), fmt(cb, ".0f"), fmt(ca, ".0f"), fmt(rc, ".2f"), verdict])
    return rows, slower


def order(rounds: int) -> list[str]:
    """before, after; after, before; ...: neither build always goes first."""
    out = []
    for r in range(rounds):
        out += ["before", "after"] if r % 2 == 0 else ["after", "before"]
    return out
