"""The benchmark suite (bench/suite): every workload declared as data in
WORKLOADS (its approaches, each with setup SQL, pgbench script and verify
SQL; capacity, pools, clients, route, peers, goal), each approach measured
in its own fresh database after a CHECKPOINT with pgbench -T, verified from
the rows, reported in one table per section with ratios to the best peer
and to W0, then the goals (informational) and the verdict.

Adding a workload is adding an entry to WORKLOADS (and its name to
BENCH_SUITE_WORKLOADS' default, which is every entry)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .core import Goal, Pgbench, Verdict, beside, fmt, from_pairs, markdown_table, not_measured, pct, ratio, text_table
from .host import Bouncer, Host, children_cpu, log, machine_cpu, pgbouncer_path, pgbouncer_version, show_log
from .sections import (SEATS_SIDES, Churn, SeatsRun, generated_line, pgbench_problems, seats_ratio, verify_db,
                       write_report)

W1_CAPACITY = 100_000_000
W2_POOLS = 10_000
W2_CAPACITY = 10_000_000
W5_SPREAD = 1_000  # W5's spread pools, beside its one hot pool
PROXY_NODES = 2  # node databases behind the PL/Proxy database
MAX_CLIENTS = 290  # max_connections is 300
# The direct runs the PgBouncer runs are compared with: how busy the
# machine was, beside the share PgBouncer's own process takes there.
BUSY_SHOWN = ("w1", "w1-extended")
PGBOUNCER_PREPARED = (1, 21)  # the first PgBouncer to keep prepared statements in transaction mode

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Approach:
    """One side of a workload, files under bench/suite."""

    name: str
    script: str  # pgbench script
    setup: Optional[str] = None  # None: an empty database
    verify: Optional[str] = None  # "key value" lines; None: nothing to verify (W0)
    extension: bool = False  # its runs decide the exit status
    max_tries: int = 0  # pgbench --max-tries (retries after serialization failures)
    note: str = ""  # said in every row of it
    # What an extension's setup prints after "first last count" (W5: the
    # show and its first seat), passed on as pgbench -D and verify -v.
    setup_vars: tuple[str, ...] = ()


FLOOR = Approach("floor", "floor.sql")
BOOKING = Approach("booking", "booking.sql", "booking-setup.sql", "booking-verify.sql", extension=True)


def peers(for_update_script: str, for_update_note: str) -> tuple[Approach, ...]:
    """The plain-SQL peers, on :events event rows and an orders table."""
    s, v = "peers-setup.sql", "peers-verify.sql"
    return (Approach("conditional-update", "conditional-update.sql", s, v),
            Approach("for-update", for_update_script, s, v, note=for_update_note),
            Approach("serializable", "serializable.sql", s, v, max_tries=10),
            Approach("optimistic", "optimistic.sql", s, v))


# W5: one reserve_order per checkout against the best plain SQL of one transaction.
CHECKOUT = (Approach("booking", "checkout-booking.sql", "checkout-booking-setup.sql", "checkout-booking-verify.sql",
                     extension=True, note="reserve_order, hold_for NULL", setup_vars=("show", "first_seat")),
            Approach("conditional-update", "checkout-conditional-update.sql", "checkout-peer-setup.sql",
                     "checkout-peer-verify.sql", note="5 statements, rolled back on a miss"))


@dataclass(frozen=True)
class Beside:
    """A workload reported beside another one's booking row and compared to its tps."""

    workload: str
    label: str  # that row's label here; {clients}: BENCH_SUITE_CLIENTS
    row_label: str  # this workload's booking row
    note: str  # the ratio's name in this row's notes


@dataclass(frozen=True)
class GoalSpec:
    """What a goal compares: best-peer (booking's purchases/s over the best
    peer's), w0 (tps over W0's), beside (tps over the Beside workload's) or
    seats (W3: booking's tps over the seed's). shown may use {r}, {pct},
    {best} and {clients}."""

    against: str
    minimum: float
    goal: str
    shown: str
    zero_oversold: bool = False  # 0 oversold is part of the goal
    zero_partial: bool = False  # 0 partial orders (booking's and the best peer's) is part of the goal


@dataclass(frozen=True)
class Workload:
    key: str  # its name in BENCH_SUITE_WORKLOADS
    label: str
    approaches: tuple[Approach, ...] = ()
    capacity: int = 0  # of each pool or event row
    pools: int = 1  # pools (extension) or event rows (peers), picked at random
    sharded: bool = False  # the extension's pools get BENCH_SHARDS shards
    clients: Optional[int] = None  # None: BENCH_SUITE_CLIENTS
    seconds: Optional[int] = None  # pgbench -T; None: BENCH_SUITE_SECONDS
    route: str = "direct"  # direct, proxy (PL/Proxy in front of nodes) or bouncer (PgBouncer)
    mode: str = "prepared"  # pgbench -M of a direct run (through PgBouncer: what it allows)
    section: str = ""  # heading when not the label; consecutive workloads with one heading share a table
    beside: Optional[Beside] = None
    reuse: str = ""  # seats or churn: that section's runs, not measured here
    goal: Optional[GoalSpec] = None
    orders: bool = False  # purchases are orders of several items: partial orders are counted (and fail booking)


def bouncer_workload(clients: int) -> Workload:
    """W1's pool and buyers, clients through PgBouncer (issue 18)."""
    return Workload(
        f"w1-bouncer-{clients}", f"W1 via PgBouncer, {clients} clients", (BOOKING,), W1_CAPACITY, sharded=True,
        clients=clients, route="bouncer", section="W1 via PgBouncer",
        beside=Beside("w1", "booking, {clients} clients direct", f"booking via PgBouncer, {clients} clients",
                      "vs {clients} clients direct"),
        goal=GoalSpec("beside", 0.9, ">= 90% of W1 at {clients} clients, 0 oversold",
                      "{pct} of the tps of W1 at {clients} clients direct, oversold {oversold}", zero_oversold=True))


# In run order and report order (W3 and W4 come from earlier sections).
WORKLOADS = (
    Workload("w0", "W0 floor", (FLOOR,)),
    Workload("w1", "W1 one hot pool", (BOOKING, *peers("for-update-count.sql", "count of orders")), W1_CAPACITY,
             sharded=True, goal=GoalSpec("best-peer", 5, ">= 5x", "booking {r}x the best peer ({best})")),
    Workload("w1-soldout", "W1 after sell-out", (BOOKING,), 0, sharded=True,
             goal=GoalSpec("w0", 0.5, ">= 50%", "booking at {pct} of W0")),
    Workload("w2", f"W2 {W2_POOLS} spread pools", (BOOKING, *peers("for-update.sql", "sold counter")), W2_CAPACITY,
             W2_POOLS, goal=GoalSpec("best-peer", 1.2, ">= 1.2x", "booking {r}x the best peer ({best})")),
    Workload("w2-proxy", f"W2 through PL/Proxy, {PROXY_NODES} nodes", (BOOKING,), W2_CAPACITY, W2_POOLS,
             route="proxy", beside=Beside("w2", "booking, one node", f"booking via PL/Proxy, {PROXY_NODES} nodes",
                                          "vs one node")),
    # The floor and the best plain SQL at 256 clients too: what the machine
    # itself loses with 256 backends on its cores, beside what booking loses.
    Workload("w1-256", "W1 at 256 clients", (BOOKING, FLOOR, peers("for-update-count.sql", "count of orders")[0]),
             W1_CAPACITY, sharded=True, clients=256,
             beside=Beside("w1", "booking, {clients} clients", "booking, 256 clients", "vs {clients} clients"),
             goal=GoalSpec("beside", 0.7, ">= 70%", "{pct} of the tps at {clients} clients")),
    # W1 direct as PgBouncer before 1.21 has its clients send it (-M extended:
    # every call parsed and planned again): how much of W1 via PgBouncer
    # that costs, apart from PgBouncer's own share of the cores.
    Workload("w1-extended", "W1 with -M extended", (BOOKING,), W1_CAPACITY, sharded=True, mode="extended",
             section="W1 via PgBouncer",
             beside=Beside("w1", "booking, {clients} clients direct", "booking, -M extended, direct", "vs -M prepared")),
    bouncer_workload(256),
    bouncer_workload(1000),
    Workload("w5", "W5 checkout", CHECKOUT, W1_CAPACITY, 1 + W5_SPREAD, sharded=True, orders=True,
             goal=GoalSpec("best-peer", 1.5, ">= 1.5x, 0 partial orders",
                           "booking {r}x the best peer ({best}) in completed checkouts/s, partial orders {partial}",
                           zero_oversold=True, zero_partial=True)),
    Workload("w3", "W3 seat holds", reuse="seats",
             goal=GoalSpec("seats", 1.2, ">= 1.2x", "booking {r}x the seed's conditional UPDATE")),
    Workload("w4", "W4 waitlist churn", reuse="churn"),
)
WORKLOAD_KEYS = [w.key for w in WORKLOADS]
BY_KEY = {w.key: w for w in WORKLOADS}

# ---------------------------------------------------------------- results


@dataclass
class SuiteVerify:
    sold: Optional[int] = None
    purchases: Optional[int] = None
    oversold: Optional[int] = None
    counter_oversold: Optional[int] = None
    counter_off: Optional[int] = None
    capacity: Optional[int] = None
    shards: Optional[str] = None
    check_problems: Optional[int] = None
    partial: Optional[int] = None  # orders not whole (W5)

    def add(self, node: SuiteVerify) -> SuiteVerify:
        """Two nodes' counts added up (a count missing on either stays missing)."""
        def plus(name):
            a, b = getattr(self, name), getattr(node, name)
            return None if a is None or b is None else a + b

        summed = ("sold", "purchases", "oversold", "counter_oversold", "capacity", "check_problems", "partial")
        return SuiteVerify(**{name: plus(name) for name in summed}, counter_off=node.counter_off, shards=node.shards)


@dataclass
class SuiteRun:
    workload: Workload
    approach: Approach
    clients: int
    mode: str = "prepared"  # pgbench -M
    pgbench: Optional[Pgbench] = None
    verify: SuiteVerify = field(default_factory=SuiteVerify)
    first_pool: int = 1
    last_pool: int = 1
    shards: Optional[int] = None
    setup_vars: dict[str, int] = field(default_factory=dict)  # Approach.setup_vars' values
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_us: Optional[float] = None  # the server's CPU per transaction (direct and proxy runs)

    @property
    def measured(self) -> bool:
        run = self.pgbench
        return run is not None and run.tps is not None and run.processed is not None

    @property
    def tps(self) -> Optional[float]:
        return self.pgbench.tps if self.measured else None

    @property
    def purchases_s(self) -> Optional[float]:
        """Purchases over pgbench's own measuring time (processed / tps), as tps is."""
        p, run = self.verify.purchases, self.pgbench
        if not self.measured or p is None:
            return None
        return p * run.tps / run.processed if run.processed else 0.0

    @property
    def missed(self) -> Optional[int]:
        p = self.verify.purchases
        return None if not self.measured or p is None else max(0, self.pgbench.processed - p)


HEADER = ["approach", "tps", "purchases/s", "p50 ms", "p99 ms", "failed tx", "missed", "vs best peer", "vs W0",
          "oversold", "notes"]
CHART_APPROACHES = ["floor", "booking", "conditional-update", "for-update", "serializable", "optimistic"]


class Suite:
    def __init__(self, host: Host, s, seats: Optional[dict[str, SeatsRun]], churn: Optional[Churn]):
        self.host, self.s = host, s
        self.seats, self.churn = seats, churn
        self.runs: dict[tuple[str, str], SuiteRun] = {}
        self.notes: list[str] = []  # printed under the tables (shard fallbacks and the like)
        self.selected = [w for w in WORKLOADS if w.key in s.workloads]
        self.pgbouncer = pgbouncer_path()
        self.pgbouncer_version = pgbouncer_version(self.pgbouncer) if self.pgbouncer else ()

    # ---- running

    def run_all(self) -> None:
        for w in self.selected:
            if w.reuse:
                continue
            clients = w.clients or self.s.suite_clients
            # Each proxy backend opens one connection per node, all on this cluster.
            if w.route == "proxy" and clients * (1 + PROXY_NODES) > MAX_CLIENTS:
                clients = MAX_CLIENTS // (1 + PROXY_NODES)
                self.notes.append(f"{w.label}: {clients} clients (max_connections is 300)")
            for a in w.approaches:
                self.runs[w.key, a.name] = self.run_one(w, a, clients)

    def run_one(self, w: Workload, a: Approach, clients: int) -> SuiteRun:
        """Fresh database, setup, CHECKPOINT, pgbench -T, verify."""
        r = SuiteRun(w, a, clients, mode=w.mode)
        tag, db = f"suite-{w.key}-{a.name}", f"suite_{w.key}_{a.name}".replace("-", "_")
        seconds = w.seconds or self.s.suite_seconds
        log(f"suite, {w.label}, {a.name}: {clients} clients for {seconds} s")
        setup_log = self.host.work / f"{tag}.setup.log"
        if not self.setup(r, db, setup_log):
            print(setup_log.read_text(errors="replace"), end="")
            r.problems.append("setup failed")
            return r
        self.host.checkpoint(db)

        args = ["--no-vacuum", "-c", str(clients), "-j", str(self.s.threads), "-T", str(seconds)]
        if a.extension:
            args += ["-D", f"first_pool={r.first_pool}", "-D", f"last_pool={r.last_pool}"]
            args += [x for k, v in r.setup_vars.items() for x in ("-D", f"{k}={v}")]
        elif a.setup:
            args += ["-D", f"events={w.pools}"]
        if a.max_tries:
            args.append(f"--max-tries={a.max_tries}")
        args += ["-f", f"suite/{a.script}"]
        if w.route == "bouncer":
            self.through_bouncer(r, db, tag, args)
            if r.pgbench is None:
                return r
        else:
            if r.mode != "prepared":
                r.notes.append(f"-M {r.mode}")
            shown = a.extension and w.key in BUSY_SHOWN
            start = (machine_cpu(), children_cpu(), time.monotonic()) if shown else None
            server = self.host.settled_server_cpu()
            r.pgbench = self.host.pgbench(tag, db, ["-M", r.mode, *args])
            if start:
                r.notes += cpu_notes(*cpu_since(start), None, r.pgbench.processed)
            r.server_us = self.host.server_us(server, r.pgbench.processed)
            if a.extension and r.server_us is not None:
                r.notes.append(f"server {r.server_us:.0f} us CPU per transaction")
        r.problems += pgbench_problems(r.pgbench, failed_too=False)
        if r.pgbench.tps is None or r.pgbench.processed is None:
            r.problems.append("no pgbench result")
            return r
        if r.pgbench.aborted:
            r.problems.append(f"{r.pgbench.aborted} clients aborted")
        if a.verify:
            self.verify(r, db, tag)
        return r

    def setup(self, r: SuiteRun, db: str, setup_log: Path) -> bool:
        w, a, host = r.workload, r.approach, self.host
        out = []

        def psql(db_: str, *args: str) -> Optional[str]:
            """The last line of psql -At's output; None on error (all output logged)."""
            res = host.psql(db_, "-At", "-F", " ", *args)
            out.append(res.stdout + res.stderr)
            lines = res.stdout.strip().splitlines()
            return (lines[-1] if lines else "") if res.returncode == 0 else None

        try:
            made = host.createdb(db)
            out.append(made.stdout + made.stderr)
            if made.returncode != 0:
                return False
            if not a.setup:
                return True
            sizes = ["-v", f"capacity={w.capacity}", "-v", f"pools={w.pools}", "-v", f"events={w.pools}"]
            if not a.extension:
                return psql(db, *sizes, "-f", f"suite/{a.setup}") is not None
            if w.route == "proxy":
                line = self.setup_proxy(db, w, psql)
                r.shards = 1
            else:
                # Spread pools are not hot rows: one row each. Shards are for W1.
                r.shards = self.s.shards if w.sharded else 1
                line = psql(db, *sizes, "-v", f"shards={r.shards}", "-f", f"suite/{a.setup}")
                if line is None and r.shards != 1:
                    m = re.search(r"^.*ERROR.*$", "".join(out), re.M)
                    why = re.sub(r" +", " ", re.sub(r"^psql:[^ ]*: ", "", m.group(0))) if m else "create_pool failed"
                    self.notes.append(f"{w.label}: create_pool(shards => {r.shards}) failed ({why}); "
                                      "fell back to shards => 1")
                    print(f"note: create_pool(shards => {r.shards}) failed ({why}); falling back to shards => 1")
                    r.shards = 1
                    line = psql(db, *sizes, "-v", "shards=1", "-f", f"suite/{a.setup}")
            ids = [int(i) for i in (line or "").split() if i.isdigit()]
            if len(ids) != 3 + len(a.setup_vars) or ids[2] != w.pools or ids[1] - ids[0] + 1 != w.pools:
                out.append(f"create_pool gave pool ids '{line}', expected {w.pools} consecutive ids"
                           f"{''.join(' and ' + v for v in a.setup_vars)}\n")
                return False
            r.first_pool, r.last_pool = int(ids[0]), int(ids[1])
            r.setup_vars = dict(zip(a.setup_vars, ids[3:]))
            return True
        finally:
            setup_log.write_text("".join(out))

    def setup_proxy(self, db: str, w: Workload, psql) -> Optional[str]:
        """W2 through PL/Proxy: fresh node databases (booking, set_node(k, N))
        and the proxy database (booking_proxy, SERVER booking listing the
        nodes); the pools are created through the proxy."""
        options = []
        for k, node in enumerate(self.proxy_nodes(db)):
            made = self.host.createdb(node)
            set_node = f"SELECT booking.set_node({k}, {PROXY_NODES})"
            if made.returncode != 0 or psql(node, "-c", "CREATE EXTENSION booking", "-c", set_node) is None:
                return None
            options.append(f"p{k} 'host={os.environ['PGHOST']} port={os.environ['PGPORT']} dbname={node}'")
        return psql(db, "-v", f"capacity={w.capacity}", "-v", f"pools={w.pools}", "-v", f"options={', '.join(options)}",
                    "-f", "suite/proxy-setup.sql")

    @staticmethod
    def proxy_nodes(db: str) -> list[str]:
        return [f"{db}_node{k}" for k in range(PROXY_NODES)]

    def bouncer_mode(self) -> str:
        """pgbench -M through PgBouncer: prepared only where PgBouncer keeps
        prepared statements in transaction mode."""
        return "prepared" if self.pgbouncer_version >= PGBOUNCER_PREPARED else "extended"

    def through_bouncer(self, r: SuiteRun, db: str, tag: str, args: list[str]) -> None:
        """pgbench against PgBouncer (transaction pooling, a pool of
        BENCH_BOUNCER_POOL server connections) in front of db."""
        if not self.pgbouncer:
            r.problems.append("pgbouncer is not installed (Debian package pgbouncer)")
            return
        r.mode = self.bouncer_mode()
        bouncer = Bouncer(self.host, tag, db, self.s.bouncer_pool, r.clients, r.mode == "prepared")
        try:
            why = bouncer.start(self.pgbouncer)
            if why:
                r.problems.append(why)
                return
            bouncer0, start = bouncer.cpu_seconds(), (machine_cpu(), children_cpu(), time.monotonic())
            r.pgbench = self.host.pgbench(tag, db, [*bouncer.conninfo(), "-M", r.mode, *args], nofile=True)
            bouncer1 = bouncer.cpu_seconds()
            used = None if bouncer0 is None or bouncer1 is None else bouncer1 - bouncer0
            r.notes += cpu_notes(*cpu_since(start), used, r.pgbench.processed)
            # The server connections PgBouncer opened (it keeps them open after the run).
            servers = self.host.psql("postgres", "-At", "-c", "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                     f"'{db}' AND backend_type = 'client backend'").stdout.strip() or "?"
            r.notes += [f"-M {r.mode}", f"{servers} server connections"]
            if not servers.isdigit() or int(servers) > self.s.bouncer_pool:
                r.problems.append(f"{servers} server connections for a pool of {self.s.bouncer_pool}")
        finally:
            bouncer.stop()

    def verify(self, r: SuiteRun, db: str, tag: str) -> None:
        """The verify script's "key value" lines; through PL/Proxy on every
        node database, counts added up."""
        a = r.approach
        args = ["-f", f"suite/{a.verify}"]
        if a.extension:
            args = ["-v", f"first_pool={r.first_pool}", "-v", f"last_pool={r.last_pool}",
                    *[x for k, v in r.setup_vars.items() for x in ("-v", f"{k}={v}")], *args]
        total, errors = None, ""
        for d in self.proxy_nodes(db) if r.workload.route == "proxy" else [db]:
            pairs, err = verify_db(self.host, d, tag, *args)
            errors += err
            v = from_pairs(SuiteVerify, pairs)
            total = v if total is None else total.add(v)
        (self.host.work / f"{tag}.verify.log").write_text(errors)
        r.verify = total
        if errors:
            print(errors, end="")
            r.problems.append("verify failed")

    # ---- ratios

    def run(self, key: str, approach: str = "booking") -> Optional[SuiteRun]:
        return self.runs.get((key, approach))

    def tps(self, key: str, approach: str = "booking") -> Optional[float]:
        r = self.run(key, approach)
        return r.tps if r else None

    def best_peer(self, w: Workload) -> Optional[SuiteRun]:
        """The peer with the most purchases per second."""
        runs = [self.run(w.key, a.name) for a in w.approaches if not a.extension]
        return max((r for r in runs if r and r.purchases_s is not None), key=lambda r: r.purchases_s, default=None)

    def vs_best(self, r: SuiteRun) -> Optional[float]:
        best = self.best_peer(r.workload)
        return ratio(r.purchases_s, best.purchases_s) if best else None

    def beside_ratio(self, w: Workload) -> Optional[float]:
        return ratio(self.tps(w.key), self.tps(w.beside.workload))

    def seats_ratio(self) -> Optional[float]:
        return seats_ratio(self.seats) if self.seats else None

    # ---- tables

    def row(self, r: SuiteRun, label: Optional[str] = None) -> list[str]:
        w, a, label = r.workload, r.approach, label or r.approach.name
        if not r.measured:
            return not_measured(label, len(HEADER), "; ".join(r.problems) or "?")
        v, run, notes = r.verify, r.pgbench, []
        vs_best = None
        if a.name != "floor":
            notes.append(f"sold {fmt(v.sold, missing='?')} of {fmt(v.capacity, missing='?')}")
            if v.counter_oversold != 0:
                notes.append(f"counter oversold {fmt(v.counter_oversold, missing='?')}")
            if w.orders:
                notes.append(f"partial orders {fmt(v.partial, missing='?')}")
        if a.extension:
            notes += [f"shards {fmt(v.shards, missing='?')}", f"check() {fmt(v.check_problems, missing='?')}"]
            if any(not p.extension for p in w.approaches):
                vs_best = self.vs_best(r)
            if w.beside:
                note = w.beside.note.format(clients=self.s.suite_clients)
                notes.append(f"{note} {fmt(self.beside_ratio(w), '.2f')}")
        elif a.name != "floor":
            vs_best = self.vs_best(r)
            if w.beside:
                same = self.tps(w.beside.workload, a.name)
                notes.append(f"vs {self.s.suite_clients} clients {fmt(ratio(run.tps, same), '.2f')}")
        if a.max_tries:
            notes.append(f"retried {fmt(run.retried, missing='0')}")
        if a.note:
            notes.append(a.note)
        if not a.extension and v.counter_off:
            notes.append(f"counter off on {v.counter_off} events")
        notes += r.notes
        if r.problems:
            notes.append(f"problem: {'; '.join(r.problems)}")
        floor = a.name == "floor"
        return [label, f"{run.tps:.0f}", "-" if floor else fmt(r.purchases_s, ".0f"), fmt(run.p50_ms, ".2f"),
                fmt(run.p99_ms, ".2f"), str(run.failed or 0), "-" if floor else fmt(r.missed), fmt(vs_best, ".2f"),
                fmt(ratio(run.tps, self.tps("w0", "floor")), ".2f"), "-" if floor else fmt(v.oversold, missing="?"),
                ", ".join(notes)]

    def reused_rows(self, w: Workload) -> list[list[str]]:
        """W3 and W4: the seat-holds and churn sections' runs."""
        w0, q = self.tps("w0", "floor"), (lambda x: fmt(x, missing="?"))
        if w.reuse == "churn":
            c = self.churn
            if c is None or not c.measured:
                why = "; ".join(c.problems) if c and c.problems else "waitlist churn skipped (BENCH_SKIP_CHURN=1)"
                return [not_measured("booking", len(HEADER), why)]
            run, v = c.pgbench, c.verify
            notes = (f"no plain-SQL peer, promoted {q(v.promoted)}, FIFO violations {q(v.fifo_violations)}, "
                     f"{c.clients} clients, {c.seconds} s")
            return [["booking", f"{c.tps:.0f}", "-", fmt(run.p50_ms, ".2f"), fmt(run.p99_ms, ".2f"), q(run.failed),
                     "-", "-", fmt(ratio(c.tps, w0), ".2f"), "-", notes]]
        rows = []
        for side in SEATS_SIDES:
            r = (self.seats or {}).get(side.name)
            if r is None or not r.measured:
                why = "; ".join(r.problems) if r and r.problems else "seat holds skipped (BENCH_SKIP_SEATS=1)"
                rows.append(not_measured(side.label, len(HEADER), why))
                continue
            run, v = r.pgbench, r.verify
            vs_seed = self.seats_ratio() if side.extension else 1.0
            notes = (f"holds {q(v.holds)}, seats in two {q(v.seats_in_two)}, {self.s.seats_clients} clients, "
                     f"{self.s.seats_seconds} s")
            rows.append([side.label, f"{r.tps:.0f}", "-", fmt(run.p50_ms, ".2f", "?"), fmt(run.p99_ms, ".2f", "?"),
                         q(run.failed), "-", fmt(vs_seed, ".2f"), fmt(ratio(r.tps, w0), ".2f"), "-", notes])
        return rows

    def sections(self) -> list[tuple[str, list[Workload]]]:
        """Headings and their workloads, in report order."""
        out: list[tuple[str, list[Workload]]] = []
        for w in self.selected:
            heading = w.section or w.label
            if out and out[-1][0] == heading:
                out[-1][1].append(w)
            else:
                out.append((heading, [w]))
        return out

    def rows(self, workloads: list[Workload]) -> list[list[str]]:
        rows, shown = [HEADER], set()
        for w in workloads:
            if w.reuse:
                rows += self.reused_rows(w)
                continue
            b = w.beside
            if b and b.workload not in shown and (base := self.run(b.workload)) and base.measured:
                rows.append(self.row(base, b.label.format(clients=self.s.suite_clients)))
                shown.add(b.workload)
            for a in w.approaches:
                r = self.runs.get((w.key, a.name)) or SuiteRun(w, a, 0, problems=["not run"])
                rows.append(self.row(r, b.row_label if b and a.extension else None))
        return rows

    # ---- goals and verdict

    def goals(self) -> list[Goal]:
        goals = []
        for w in self.selected:
            g = w.goal
            if g is None:
                continue
            r, best, also, oversold, partial = self.run(w.key), self.best_peer(w), True, None, None
            if g.against == "best-peer":
                value = self.vs_best(r) if r else None
            elif g.against == "w0":
                value = ratio(self.tps(w.key), self.tps("w0", "floor"))
            elif g.against == "beside":
                value = self.beside_ratio(w)
            else:
                value = self.seats_ratio()
            if g.zero_oversold:
                oversold = r.verify.oversold if r else None
                also = oversold == 0 and r.verify.counter_oversold == 0
            if g.zero_partial:
                partial = r.verify.partial if r else None
                also = also and partial == 0 and best is not None and best.verify.partial == 0
            clients = self.s.suite_clients
            shown = g.shown.format(r=fmt(value, ".2f"), pct=pct(value), best=best.approach.name if best else "",
                                   clients=clients, oversold=fmt(oversold, missing="?"),
                                   partial=fmt(partial, missing="?"))
            goals.append(Goal(w.label, shown, g.goal.format(clients=clients), value, g.minimum, also))
        return goals

    def peer_lines(self) -> list[str]:
        """Peers are correct approaches; an oversell there is reported, not failed on."""
        lines, floor = [], []
        for r in self.runs.values():
            a, label = r.approach, r.workload.label
            if a.extension:
                continue
            if a.name == "floor":
                floor += [f"{label}: {'; '.join(r.problems)}"] if r.problems else []
                continue
            if r.verify.oversold:
                lines.append(f"{label}, {a.name}: oversold {r.verify.oversold} (informational)")
            if r.workload.orders and r.verify.partial:
                lines.append(f"{label}, {a.name}: partial orders {r.verify.partial} (informational)")
            if r.problems:
                lines.append(f"{label}, {a.name}: {'; '.join(r.problems)} (informational)")
        return lines + floor

    def verdict(self) -> Verdict:
        """PASS when every extension run measured, sold nothing beyond a
        capacity (rows and counters), left booking.check() empty and had no
        failed transaction. W3 and W4 have their own verdicts."""
        runs = [r for r in self.runs.values() if r.approach.extension]
        measured = [r for r in runs if r.measured]
        v = Verdict("suite", f"{len(measured)} extension runs, 0 oversold (rows and counters), booking.check() = 0, "
                             "0 failed transactions, 0 partial orders")
        for r in runs:
            label = r.workload.label
            if r.problems:
                v.reasons.append(f"{label}: {'; '.join(r.problems)}")
            if not r.measured:
                continue
            checks = [("oversold", r.verify.oversold), ("counter_oversold", r.verify.counter_oversold),
                      ("check_problems", r.verify.check_problems), ("failed", r.pgbench.failed or 0)]
            if r.workload.orders:
                checks.append(("partial", r.verify.partial))
            for name, value in checks:
                if value != 0:
                    v.reasons.append(f"{label}: {name} = {fmt(value, missing='')}")
            if r.workload.capacity == 0 and r.verify.sold != 0:
                v.reasons.append(f"{label}: sold {fmt(r.verify.sold, missing='')} of 0")
        return v

    # ---- report

    def method_notes(self) -> list[str]:
        s, cores = self.s, len(os.sched_getaffinity(0))
        other = "; ".join(f"{w.label}: -c {w.clients}" + (f", -M {self.bouncer_mode()}" if w.route == "bouncer" else "")
                          for w in self.selected if w.clients)
        lines = [
            f"- Each measured run: pgbench -M prepared -c {s.suite_clients}{f' ({other})' if other else ''} -j {s.threads} -T {s.suite_seconds}, in its own fresh database of the flash-sale cluster (durable commits: fsync=on, synchronous_commit=on) after a CHECKPOINT. tps: pgbench's figure without initial connection time (successful transactions). Latencies: percentiles of the per-transaction logs (pgbench -l), successful transactions only.",
            "- The cluster runs with shared_preload_libraries = 'booking' (BENCH_PRELOAD=0 turns it off), as a production server with the expiry worker does: sold-out answers then come from each backend's memory while no commit has changed the pool."
            if s.preload else "- The cluster runs without booking in shared_preload_libraries (BENCH_PRELOAD=0).",
            f"- W0: `SELECT 1;`. W1: one pool of {W1_CAPACITY} tickets, `booking.create_pool(capacity => {W1_CAPACITY}, shards => {s.shards})` (BENCH_SHARDS), buyers take random(1,4) with booking.decrement_ticket; the peers share one `event` row and an `orders` table. W1 after sell-out: one pool of capacity 0, every call answers sold_out. W2: {W2_POOLS} pools (event rows) of {W2_CAPACITY} tickets, unsharded (spread pools are not hot rows), each purchase on a random one.",
        ]
        if "w2-proxy" in s.workloads:
            lines.append(f"- W2 through PL/Proxy: W2's buyers (bench/suite/booking.sql, unchanged) against a database with the booking_proxy extension in front of {PROXY_NODES} node databases of the same cluster (each `booking.set_node(k, {PROXY_NODES})`, listed as partitions of `SERVER booking`: bench/suite/proxy-setup.sql); the {W2_POOLS} pools are created through the proxy, round robin over the nodes, and each proxy backend keeps one connection per node. Oversold, counters and booking.check() are read on every node and added up. The proxy and the nodes share one server, its {cores} cores and its WAL: this is the cost of the extra hop, not a scale-out (docs/cluster.md).")
        if "w5" in s.workloads:
            lines.append(f"- W5 checkout: each transaction one order of 2 ticket types, random(1,2) of the hot pool (the first, {s.shards} shards) and of one of {W5_SPREAD} spread pools, and 2 adjacent seats of a random row of a show of 1,000 rows of 100 seats (bench/suite/checkout-*.sql). booking: one booking.reserve_order call with hold_for => NULL, which confirms every item in that call: a purchase in one transaction, as the peer's (a hold + confirm_order would be two transactions, which the peer does not pay). conditional-update: BEGIN, a conditional UPDATE of the hot event row, then of the spread one (ascending ids: no deadlock), then the order row and the 2 seats WHERE free in one statement, COMMIT, or ROLLBACK at the first part that took nothing (pgbench \\if on counts). purchases/s: completed checkouts (orders with all their items) per second; missed: checkouts that took nothing (a seat was taken). partial orders (from the rows after the run): orders without all their items, and booking's live bookings outside an order; must be 0 for both. Goal (issue 21): booking at least 1.5x the peer's completed checkouts per second, 0 partial orders, 0 oversold.")
        bounced = [w for w in self.selected if w.route == "bouncer"]
        if bounced:
            version = ".".join(map(str, self.pgbouncer_version)) or "?"
            clients = " and ".join(str(w.clients) for w in bounced)
            mode = ("-M prepared: this PgBouncer keeps prepared statements in transaction mode (max_prepared_statements = 100)"
                    if self.pgbouncer_version >= PGBOUNCER_PREPARED else
                    f"-M extended, not prepared: PgBouncer before {'.'.join(map(str, PGBOUNCER_PREPARED))} keeps no prepared statements in transaction mode, so each statement is parsed and planned again, which W1 at {s.suite_clients} clients direct does not pay")
            lines.append(f"- W1 via PgBouncer: W1's pool ({s.shards} shards) and buyers (bench/suite/booking.sql), {clients} pgbench clients (-j {s.threads}, ulimit -n 8192) connected to PgBouncer {version} ({self.pgbouncer or 'not installed'}) on 127.0.0.1 in front of the same cluster, as test/t/011_pgbouncer.pl sets it up: pool_mode = transaction, default_pool_size = max_db_connections = {s.bouncer_pool} (BENCH_BOUNCER_POOL), auth_type = any, no Unix socket. {mode}. server connections: client backends of the run's database after the run. Oversold, counters and booking.check() are read directly from the database. Goal (issue 18): at least 90% of W1's tps at {s.suite_clients} clients direct, with 0 oversold.")
        lines += [
            "- Peers (bench/suite): conditional-update = bench/flashsale's conditional UPDATE of the counter; for-update = row lock, then in W1 the count of all orders (bench/flashsale's statement, kept: the count grows with the orders table while the lock is held, which is this peer's real cost) and in W2 the sold counter read under the lock; serializable = read, decide, write under SERIALIZABLE with pgbench --max-tries=10 (retried: transactions retried after a serialization failure; failed tx: still failing after 10 tries); optimistic = read sold and version, then an UPDATE guarded by the version (two autocommit statements; a miss is a transaction that bought nothing).",
            "- purchases/s: successful purchases (confirmed bookings, rows of orders) over pgbench's measuring time (transactions processed / tps), so it equals tps when every transaction bought. missed: successful transactions that bought nothing (optimistic misses; sold_out answers). vs best peer: purchases/s over the best peer's in W1/W2 (the optimistic peer's tps counts misses), tps over the seed's approach in W3. vs W0: tps over the floor's tps.",
            "- pgbench takes a thread's clock lazily, so transactions shorter than a few tens of microseconds (W0's) may be logged with a latency of 0: W0's percentiles are lower bounds.",
            "- oversold: computed from the rows after the run, per pool or event: sum of max(0, sold - capacity); must be 0 everywhere. notes: sold of capacity, the extension's shard count and booking.check() rows.",
            "- W3 and W4 are the seat-holds and waitlist-churn sections' runs (their clients and durations; see seats.md and waitlist.md). W4 has no plain-SQL peer: none exists that keeps a correct group waitlist (FIFO promotion of groups of 1-3 against capacity, releases racing registrations), so only the extension is measured.",
        ]
        return lines + [f"- {n}" for n in self.notes]

    def chart_bars(self) -> list[tuple[str, list[tuple[str, float]]]]:
        """Per reported workload: its label and (approach, tps) bars."""
        out = []
        for w in self.selected:
            if w.reuse == "seats":
                runs = [(side.label, (self.seats or {}).get(side.name)) for side in SEATS_SIDES]
                bars = [(label, r.tps) for label, r in runs if r and r.measured]
            elif w.reuse == "churn":
                bars = [("booking", self.churn.tps)] if self.churn and self.churn.measured else []
            else:
                bars = [(a.name, self.tps(w.key, a.name)) for a in w.approaches if self.tps(w.key, a.name) is not None]
            out.append((w.label, bars))
        return out

    def write_chart(self, path: Path) -> None:
        """A bar chart of tps (log scale) with gnuplot (a test/lib.sh package)."""
        gnuplot = shutil.which("gnuplot")
        if not gnuplot:
            print("note: gnuplot not found, no chart")
            return
        data, ticks, x = [], [], 0
        for label, bars in self.chart_bars():
            first = x
            for name, tps in bars:
                data.append(f"{x} {tps:.0f} {CHART_APPROACHES.index(name) + 1}")
                x += 1
            if bars:
                ticks.append(f'"{label}" {(first + x - 1) / 2:g}')
                x += 1
        if not data:
            path.unlink(missing_ok=True)
            return
        dat = self.host.work / "suite-chart.dat"
        dat.write_text("\n".join(data) + "\n")
        terms = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True)
        term = "pngcairo" if re.search(r"\bpngcairo\b", terms.stdout + terms.stderr) else "png"
        s = self.s
        script = f"""
set terminal {term} size 1200,640
set output '{path}'
set title "bench/run suite: tps per workload and approach ({s.suite_clients} clients unless the label says, \
{s.suite_seconds} s per run; W3, W4: the seat-holds and churn runs)"
set ylabel 'tps (log scale)'
set logscale y
set yrange [1:*]
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.85
set xtics ({", ".join(ticks)}) scale 0 font ',10' rotate by 20 right
set offsets 0.8, 0.8, 0, 0
set key outside bottom center horizontal
titles = "{" ".join(CHART_APPROACHES)}"
plot for [i=1:words(titles)] '{dat}' using 1:($3 == i ? $2 : 1/0) with boxes title word(titles, i), \\
     '{dat}' using 1:2:(sprintf('%d', $2)) with labels offset 0,0.7 font ',8' notitle
"""
        path.parent.mkdir(parents=True, exist_ok=True)
        glog = self.host.work / "gnuplot.log"
        with glog.open("w") as f:
            rc = subprocess.run([gnuplot], input=script, text=True, stdout=f, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            show_log(glog, 20)
            print("note: gnuplot failed, no chart")
            path.unlink(missing_ok=True)

    def summary(self) -> dict:
        """The extension's figures per workload, for bench/run's table of
        PostgreSQL versions and bench/compare (suite.json beside the report):
        tps, vs best peer (or vs the seed in W3; none in W4), vs W0 and the
        server's CPU per transaction (not for W3 and W4, nor via PgBouncer)."""
        w0 = self.tps("w0", "floor")
        floor = self.run("w0", "floor")
        out: dict = {"server": self.host.server_version(), "w0": w0, "w0_server_us": floor.server_us if floor else None,
                     "workloads": {}}
        for w in self.selected:
            if w.reuse == "seats":
                b = (self.seats or {}).get("booking")
                tps = b.tps if b and b.measured else None
                vs_peer, server_us = self.seats_ratio(), None
            elif w.reuse == "churn":
                c = self.churn
                tps = c.tps if c and c.measured else None
                vs_peer, server_us = None, None
            else:
                r = self.run(w.key)
                if r is None:
                    continue
                tps = r.tps
                vs_peer = self.vs_best(r) if any(not a.extension for a in w.approaches) else None
                server_us = r.server_us
            out["workloads"][w.key] = {"label": w.label, "tps": tps, "vs_peer": vs_peer, "vs_w0": ratio(tps, w0),
                                       "server_us": server_us}
        return out

    def report(self) -> bool:
        """Tables, goals, notes, verdict on stdout and in the Markdown report, and the chart."""
        s = self.s
        tables = [(heading, self.rows(ws)) for heading, ws in self.sections()]
        for heading, rows in tables:
            print(f"\nSuite: {heading}\n{text_table(rows)}")
        goal_lines = [g.line for g in self.goals()]
        print()
        print("\n".join(goal_lines + self.peer_lines() + [f"note: {n}" for n in self.notes]))
        verdict = self.verdict()
        chart = Path(s.suite_chart)
        self.write_chart(chart)
        md = [f"# Benchmark suite: {s.suite_clients} clients, {s.suite_seconds} s per run", "",
              generated_line(self.host)]
        for heading, rows in tables:
            md += ["", f"## {heading}", "", markdown_table(rows)]
        md += ["", "## Goals", ""] + [f"- {l}" for l in goal_lines + self.peer_lines()] + [""] + self.method_notes()
        if chart.exists():
            md += ["", f"![tps per workload and approach]({chart.name})"]
        md += ["", f"**{verdict.line}**"]
        write_report(s.suite_results, md)
        Path(summary_path(s.suite_results)).write_text(json.dumps(self.summary(), indent=1) + "\n")
        print(f"report: {s.suite_results}")
        if chart.exists():
            print(f"chart: {chart}")
        print(verdict.line, flush=True)
        return verdict.ok


def cpu_since(start: tuple[tuple[float, float], float, float]) -> tuple[float, float, float]:
    """(seconds, machine busy fraction, CPU seconds of waited children)
    since start = (machine_cpu(), children_cpu(), time.monotonic())."""
    (busy0, total0), children0, t0 = start
    busy1, total1 = machine_cpu()
    busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return time.monotonic() - t0, busy, children_cpu() - children0


def cpu_notes(seconds: float, busy: float, client: float, bouncer: Optional[float],
              transactions: Optional[int]) -> list[str]:
    """Where the cores went during a run: the machine's busy share, pgbench's
    and PgBouncer's own, and what is left (the server, and anything else on
    the machine) per transaction: that figure is what the extension and
    PostgreSQL cost, whichever route the calls took."""
    cores = len(os.sched_getaffinity(0))
    if seconds <= 0 or busy <= 0:
        return []
    capacity = seconds * cores
    notes = [f"machine busy {busy:.0%}", f"pgbench {client / capacity:.0%}"]
    if bouncer is not None:
        notes.append(f"PgBouncer {bouncer / capacity:.0%}")
    if transactions:
        rest = busy * capacity - client - (bouncer or 0)
        notes.append(f"the rest {rest * 1e6 / transactions:.0f} us CPU per transaction")
    return notes


def summary_path(results: str) -> str:
    """suite.json beside suite.md."""
    return beside(results, ".json")


def suite(host: Host, s, seats: Optional[dict[str, SeatsRun]], churn: Optional[Churn]) -> bool:
    su = Suite(host, s, seats, churn)
    su.run_all()
    return su.report()
