#!/usr/bin/python3
"""Unit tests of bench/run's and bench/compare's pure parts: pgbench output
and logs, ratios, goals, verdicts (an oversell fails the run), tables,
settings, exit status, before against after.
No cluster, no process.

    /usr/bin/python3 bench/test_run.py          # unittest's report
    /usr/bin/python3 bench/test_run.py --tap    # TAP, for test/run's run_tap_program
"""

import importlib.machinery
import importlib.util
import sys
import unittest
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

sys.dont_write_bytecode = True
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchlib import core  # noqa: E402
from benchlib.core import Goal, Pgbench, add_txlog_stats, markdown_table, parse_pgbench_output, ratio, text_table  # noqa: E402
from benchlib.sections import (  # noqa: E402
    FLASH_APPROACHES, Churn, ChurnVerify, FlashRun, FlashVerify, SeatsRun, SeatsVerify, SEATS_SIDES, churn_verdict,
    flash_summary, flash_verdict, seats_verdict)
from benchlib.suite import BY_KEY, Suite, SuiteRun, SuiteVerify, WORKLOAD_KEYS, cpu_notes  # noqa: E402
from benchlib import compare, host, versions  # noqa: E402


def load_run():
    """bench/run as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("bench_run", str(BENCH / "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


PGBENCH_OUT = """pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: suite/serializable.sql
scaling factor: 1
query mode: prepared
number of clients: 64
number of threads: 2
maximum number of tries: 10
duration: 15 s
number of transactions actually processed: 2925
number of failed transactions: 5574 (65.584%)
number of serialization failures: 5574 (65.584%)
number of deadlock failures: 0 (0.000%)
number of transactions retried: 7968 (93.751%)
total number of retries: 60143
latency average = 112.3 ms
initial connection time = 40.128 ms
tps = 195.000000 (without initial connection time)
pgbench: error: client 3 aborted in command 2 (SQL) of script 0; ERROR:  boom
"""


class PgbenchParsing(unittest.TestCase):
    def test_summary(self):
        r = parse_pgbench_output(PGBENCH_OUT, 2)
        self.assertEqual((r.tps, r.processed, r.failed, r.retried, r.aborted, r.exit_code), (195.0, 2925, 5574, 7968, 1, 2))
        self.assertEqual(r.errors, ["pgbench: error: client 3 aborted in command 2 (SQL) of script 0; ERROR:  boom"])

    def test_no_result(self):
        r = parse_pgbench_output("number of transactions actually processed: 0\n")
        self.assertIsNone(r.tps)
        self.assertEqual(r.processed, 0)
        self.assertEqual(r.aborted, 0)

    def test_txlog_percentiles_and_window(self):
        # client tx latency_us script epoch_s epoch_us; failed ones are left out.
        lines = [f"0 {i} {lat} 0 1000 {i * 1000}" for i, lat in enumerate(range(1000, 101000, 1000))]
        lines += ["1 7 failed 0 1000 500", "garbage"]
        r = add_txlog_stats(Pgbench(), lines)
        self.assertEqual(r.logged, 100)
        self.assertEqual(r.p50_ms, 50.0)  # nearest rank: the 50th of 100
        self.assertEqual(r.p99_ms, 99.0)
        self.assertAlmostEqual(r.start, 1000 - 0.001)  # first end minus its latency
        self.assertAlmostEqual(r.end, 1000.099)
        self.assertEqual(core.percentile_index(0.99, 1), 1)
        self.assertEqual(core.percentile_index(0.5, 3), 2)

    def test_empty_logs(self):
        r = add_txlog_stats(Pgbench(), [])
        self.assertEqual((r.logged, r.p50_ms, r.runtime), (0, None, None))


class Values(unittest.TestCase):
    def test_ratio_and_pct(self):
        self.assertEqual(ratio(6844, 5546), 1.23)
        self.assertIsNone(ratio(None, 1))
        self.assertIsNone(ratio(1, 0))
        self.assertEqual(core.pct(1.23), "123%")
        self.assertEqual(core.pct(None), "-")
        self.assertEqual(core.fmt(None), "-")
        self.assertEqual(core.fmt(3.14159, ".2f"), "3.14")

    def test_pairs(self):
        pairs = core.parse_pairs("sold 12\nevent.sold 13\nlast_sale_epoch 1700000000.5\nshards 256\nweird x\n")
        v = core.from_pairs(FlashVerify, pairs)
        self.assertEqual((v.sold, v.event_sold, v.last_sale_epoch), (12, 13, 1700000000.5))
        self.assertEqual(core.parse_expanded("-[ RECORD 1 ]+--\nheld      | 3\nconfirmed | 4\n"), {"held": "3", "confirmed": "4"})
        s = core.from_pairs(SuiteVerify, {"shards": "256", "sold": "x"})
        self.assertEqual((s.shards, s.sold), ("256", None))

    def test_nodes_add_up(self):
        a = SuiteVerify(sold=5, purchases=2, oversold=0, counter_oversold=0, capacity=10, check_problems=0)
        b = SuiteVerify(sold=7, purchases=3, oversold=1, counter_oversold=0, capacity=10, check_problems=0)
        self.assertEqual(a.add(b).oversold, 1)
        self.assertEqual(a.add(b).sold, 12)
        self.assertIsNone(a.add(SuiteVerify()).oversold)  # a node that said nothing hides nothing


class Goals(unittest.TestCase):
    def test_status(self):
        self.assertEqual(Goal("W1", "x", ">= 5x", 7.49, 5).line, "W1: x (goal >= 5x): MET")
        self.assertEqual(Goal("W2", "x", ">= 1.2x", 0.94, 1.2).status, "NOT MET")
        self.assertEqual(Goal("W3", "x", ">= 1.2x", None, 1.2).line, "W3: - (goal >= 1.2x): not measured")
        self.assertEqual(Goal("B", "x", ">= 90%", 0.95, 0.9, also=False).status, "NOT MET")


class Tables(unittest.TestCase):
    rows = [["approach", "tps", "notes"], ["booking", "5546", "shards 256"], ["floor", "45998", ""]]

    def test_text(self):
        self.assertEqual(text_table(self.rows), "\n".join([
            "approach    tps  notes",
            "--------  -----  ----------",
            "booking    5546  shards 256",
            "floor     45998  "]))

    def test_markdown(self):
        self.assertEqual(markdown_table(self.rows), "\n".join([
            "| approach | tps | notes |",
            "| --- | ---: | --- |",
            "| booking | 5546 | shards 256 |",
            "| floor | 45998 |  |"]))


def flash_run(sold, bookings_sum=None, check=0, name="booking"):
    a = next(a for a in FLASH_APPROACHES if a.name == name)
    return FlashRun(a, 2000, Pgbench(tps=10.0), FlashVerify(sold=sold, bookings_sum=sold if bookings_sum is None else bookings_sum,
                                                           purchases=1, check_problems=check))


class Verdicts(unittest.TestCase):
    def test_flash(self):
        self.assertTrue(flash_verdict(flash_run(2000)).ok)
        v = flash_verdict(flash_run(2003))
        self.assertFalse(v.ok)
        self.assertEqual(v.line, "booking: FAIL - sold 2003, not 2000; oversold 3")
        self.assertIn("booking.check() returned '1' rows", flash_verdict(flash_run(2000, check=1)).line)
        self.assertIn("sum(spots)", flash_verdict(flash_run(2000, bookings_sum=1999)).line)
        self.assertEqual(flash_run(2283, name="check-then-update").oversold, 283)

    def test_churn(self):
        good = ChurnVerify(0, 0, 0, 0, 15, 30, 5, 3)
        self.assertTrue(churn_verdict(Churn(64, 3, Pgbench(tps=1.0, processed=5), good)).ok)
        bad = churn_verdict(Churn(64, 3, Pgbench(), ChurnVerify(0, 0, 0, 2, 15, 30, 0, 3)))
        self.assertEqual(bad.line, "waitlist churn: FAIL - fifo_violations = 2; promoted = 0")

    def test_seats(self):
        ok = SeatsRun(SEATS_SIDES[0], Pgbench(), SeatsVerify(holds=9, seats_in_two_bookings=0, seats_not_owned=0, check_problems=0))
        self.assertTrue(seats_verdict(ok).ok)
        two = SeatsRun(SEATS_SIDES[0], Pgbench(), SeatsVerify(holds=9, seats_in_two_bookings=1, seats_not_owned=0, check_problems=None))
        self.assertEqual(seats_verdict(two).line, "seat holds: FAIL - check_problems = ?; seats_in_two_bookings = 1")


def settings(workloads=("w0", "w1", "w1-256", "w1-bouncer-256", "w1-bouncer-1000")):
    return SimpleNamespace(workloads=list(workloads), suite_clients=64, bouncer_pool=16, suite_seconds=15, shards=256, threads=2,
                           preload=True, seats_clients=64, seats_seconds=20)


def suite_run(key, approach="booking", tps=1000.0, processed=1000, purchases=1000, oversold=0, failed=0, sold=2500, capacity=None):
    w = BY_KEY[key]
    a = next(a for a in w.approaches if a.name == approach)
    return SuiteRun(w, a, w.clients or 64, pgbench=Pgbench(tps=tps, processed=processed, failed=failed, p50_ms=1.0, p99_ms=2.0),
                    verify=SuiteVerify(sold=sold, purchases=purchases, oversold=oversold, counter_oversold=0,
                                       capacity=w.capacity if capacity is None else capacity, shards="256", check_problems=0))


class SuiteReport(unittest.TestCase):
    def make(self, **bouncer):
        s = Suite(None, settings(), None, None)
        for r in (suite_run("w0", "floor", tps=40000.0), suite_run("w1", tps=5000.0, purchases=5000, processed=5000),
                  suite_run("w1", "conditional-update", tps=700.0, processed=700, purchases=700),
                  suite_run("w1", "optimistic", tps=1600.0, processed=1600, purchases=200),
                  suite_run("w1-256", tps=4000.0), suite_run("w1-bouncer-256", tps=4600.0, **bouncer),
                  suite_run("w1-bouncer-1000", tps=4400.0)):
            s.runs[r.workload.key, r.approach.name] = r
        return s

    def test_ratios_and_goals(self):
        s = self.make()
        self.assertEqual(s.best_peer(BY_KEY["w1"]).approach.name, "conditional-update")
        self.assertEqual(s.vs_best(s.run("w1")), 7.14)
        lines = [g.line for g in s.goals()]
        self.assertEqual(lines[0], "W1 one hot pool: booking 7.14x the best peer (conditional-update) (goal >= 5x): MET")
        self.assertEqual(lines[1], "W1 at 256 clients: 80% of the tps at 64 clients (goal >= 70%): MET")
        self.assertEqual(lines[2], "W1 via PgBouncer, 256 clients: 92% of the tps of W1 at 64 clients direct, oversold 0 "
                                   "(goal >= 90% of W1 at 64 clients, 0 oversold): MET")
        self.assertTrue(lines[3].endswith("88% of the tps of W1 at 64 clients direct, oversold 0 (goal >= 90% of W1 at 64 clients, 0 oversold): NOT MET"))
        self.assertTrue(s.verdict().ok)

    def test_summary(self):
        """suite.json: what the table of versions compares."""
        s = self.make()
        s.host = SimpleNamespace(server_version=lambda: "15.20")
        s.run("w1").server_us = 151.0
        sm = s.summary()
        self.assertEqual((sm["server"], sm["w0"]), ("15.20", 40000.0))
        self.assertEqual(sm["workloads"]["w1"], {"label": "W1 one hot pool", "tps": 5000.0, "vs_peer": 7.14, "vs_w0": 0.12,
                                                 "server_us": 151.0})
        self.assertIsNone(sm["workloads"]["w1-256"]["vs_peer"])

    def test_bouncer_section(self):
        s = self.make()
        sections = dict(s.sections())
        self.assertEqual([w.key for w in sections["W1 via PgBouncer"]], ["w1-bouncer-256", "w1-bouncer-1000"])
        rows = s.rows(sections["W1 via PgBouncer"])
        self.assertEqual([r[0] for r in rows], ["approach", "booking, 64 clients direct", "booking via PgBouncer, 256 clients",
                                                "booking via PgBouncer, 1000 clients"])
        self.assertEqual(rows[2][1:10], ["4600", "4600", "1.00", "2.00", "0", "0", "-", "0.12", "0"])
        self.assertIn("vs 64 clients direct 0.92", rows[2][10])

    def test_extended_beside_bouncer(self):
        """w1-extended: W1 direct with -M extended, in the PgBouncer table beside W1."""
        s = Suite(None, settings(("w0", "w1", "w1-extended", "w1-bouncer-256")), None, None)
        w = BY_KEY["w1-extended"]
        self.assertEqual((w.mode, w.route), ("extended", "direct"))
        for r in (suite_run("w0", "floor", tps=40000.0), suite_run("w1", tps=5000.0),
                  suite_run("w1-extended", tps=3600.0), suite_run("w1-bouncer-256", tps=3000.0)):
            s.runs[r.workload.key, r.approach.name] = r
        sections = dict(s.sections())
        self.assertEqual([w.key for w in sections["W1 via PgBouncer"]], ["w1-extended", "w1-bouncer-256"])
        rows = s.rows(sections["W1 via PgBouncer"])
        self.assertEqual([r[0] for r in rows], ["approach", "booking, 64 clients direct", "booking, -M extended, direct",
                                                "booking via PgBouncer, 256 clients"])
        self.assertIn("vs -M prepared 0.72", rows[2][10])
        self.assertNotIn("W1 with -M extended", [g.label for g in s.goals()])

    def test_oversell_fails(self):
        s = self.make(oversold=3)
        v = s.verdict()
        self.assertFalse(v.ok)
        self.assertEqual(v.line, "suite: FAIL - W1 via PgBouncer, 256 clients: oversold = 3")
        self.assertIn("NOT MET", [g.line for g in s.goals()][2])

    def test_peer_oversell_is_informational(self):
        s = self.make()
        s.runs["w1", "conditional-update"].verify.oversold = 4
        self.assertTrue(s.verdict().ok)
        self.assertIn("W1 one hot pool, conditional-update: oversold 4 (informational)", s.peer_lines())

    def test_checkout(self):
        """W5: completed checkouts against the peer's; a partial order fails booking's run and the goal."""
        s = Suite(None, settings(["w5"]), None, None)
        b = suite_run("w5", tps=1500.0, processed=1500, purchases=1400)
        p = suite_run("w5", "conditional-update", tps=900.0, processed=900, purchases=800)
        b.verify.partial = p.verify.partial = 0
        s.runs["w5", "booking"], s.runs["w5", "conditional-update"] = b, p
        self.assertEqual([g.line for g in s.goals()],
                         ["W5 checkout: booking 1.75x the best peer (conditional-update) in completed checkouts/s, "
                          "partial orders 0 (goal >= 1.5x, 0 partial orders): MET"])
        rows = s.rows([BY_KEY["w5"]])
        self.assertEqual([r[2] for r in rows[1:]], ["1400", "800"])
        self.assertIn("partial orders 0", rows[1][10])
        self.assertTrue(s.verdict().ok)
        b.verify.partial = 2
        self.assertEqual(s.verdict().line, "suite: FAIL - W5 checkout: partial = 2")
        self.assertIn("NOT MET", s.goals()[0].line)
        b.verify.partial, p.verify.partial = 0, 1
        self.assertTrue(s.verdict().ok)
        self.assertIn("W5 checkout, conditional-update: partial orders 1 (informational)", s.peer_lines())
        self.assertIn("NOT MET", s.goals()[0].line)

    def test_sold_out_must_sell_nothing(self):
        s = Suite(None, settings(["w1-soldout"]), None, None)
        s.runs["w1-soldout", "booking"] = suite_run("w1-soldout", sold=2, capacity=0)
        self.assertEqual(s.verdict().line, "suite: FAIL - W1 after sell-out: sold 2 of 0")

    def test_unmeasured_extension_run_fails(self):
        s = Suite(None, settings(["w1-bouncer-1000"]), None, None)
        s.runs["w1-bouncer-1000", "booking"] = SuiteRun(BY_KEY["w1-bouncer-1000"], BY_KEY["w1"].approaches[0], 1000, problems=["no pgbench result"])
        self.assertEqual(s.verdict().line, "suite: FAIL - W1 via PgBouncer, 1000 clients: no pgbench result")


class Settings(unittest.TestCase):
    def setUp(self):
        self.run = load_run()

    def test_defaults(self):
        s = self.run.Settings.from_env({})
        self.assertEqual((s.clients, s.capacity, s.tx_per_client, s.suite_clients, s.bouncer_pool), (256, 10000, 20, 64, 16))
        self.assertEqual(s.workloads, WORKLOAD_KEYS)
        self.assertIn("w1-bouncer-1000", s.workloads)
        self.assertEqual(s.suite_chart, "bench/results/suite.png")

    def test_bad(self):
        with self.assertRaisesRegex(self.run.SettingsError, "unknown workload 'w9'"):
            self.run.Settings.from_env({"BENCH_SUITE_WORKLOADS": "W1,w9"})
        with self.assertRaisesRegex(self.run.SettingsError, "BENCH_CLIENTS must be 1..290"):
            self.run.Settings.from_env({"BENCH_CLIENTS": "291"})
        self.assertEqual(self.run.Settings.from_env({"BENCH_SUITE_WORKLOADS": "W1, W1-Bouncer-256"}).workloads, ["w1", "w1-bouncer-256"])

    def test_exit_status(self):
        """A FAIL of any section makes the exit status 1; bad settings 2."""
        with mock.patch.object(self.run, "Host") as host, mock.patch.object(self.run, "shutil"), \
                mock.patch.object(self.run, "flash_sale", return_value=True), \
                mock.patch.object(self.run, "churn", return_value=(True, None)), \
                mock.patch.object(self.run, "seats", return_value=(True, None)), \
                mock.patch.object(self.run, "suite", return_value=False) as suite, \
                mock.patch.dict("os.environ", {"BOOKING_SKIP_INSTALL": "1"}):
            host.return_value.make_workdir.return_value = Path("/nonexistent")
            self.assertEqual(self.run.main(), 1)
            host.return_value.cleanup.assert_called_with(failed=True)
            suite.return_value = True
            self.assertEqual(self.run.main(), 0)
            host.return_value.cleanup.assert_called_with(failed=False)
            with mock.patch.dict("os.environ", {"BENCH_CLIENTS": "x"}), mock.patch("sys.stderr"):
                self.assertEqual(self.run.main(), 2)


class Versions(unittest.TestCase):
    """BENCH_PG: which versions run where, and the table that compares them."""

    def test_parse(self):
        self.assertEqual(versions.versions_from_env({}), ["15"])
        self.assertEqual(versions.versions_from_env({"BENCH_PG": "15, 17,18"}), ["15", "17", "18"])
        with self.assertRaisesRegex(versions.VersionError, "unknown PostgreSQL version '16'"):
            versions.versions_from_env({"BENCH_PG": "15,16"})
        with self.assertRaisesRegex(versions.VersionError, "17 is listed twice"):
            versions.versions_from_env({"BENCH_PG": "17,17"})
        self.assertEqual(versions.here_version("/usr/lib/postgresql/18/bin"), "18")
        self.assertEqual(versions.here_version("/opt/pg/bin"), "15")

    def test_root_env(self):
        """The root's run gets the settings, never the caller's report paths or BENCH_PG."""
        env = versions.root_env("17", {"BENCH_SUITE_SECONDS": "5", "BENCH_SUITE_RESULTS": "/x.md", "BENCH_PG": "15,17",
                                       "PGPORT": "1", "BOOKING_KEEP": "1"})
        self.assertIn("BENCH_SUITE_SECONDS=5", env)
        self.assertIn("BENCH_PG=17", env)
        self.assertIn("BOOKING_PGBIN=/usr/lib/postgresql/17/bin", env)
        self.assertIn("BOOKING_KEEP=1", env)
        self.assertFalse([e for e in env if e.startswith(("BENCH_SUITE_RESULTS", "PGPORT", "BENCH_PG=15"))])

    @staticmethod
    def summary(server, w0, w1_tps, w1_vs_w0):
        return {"server": server, "w0": w0, "workloads": {
            "w1": {"label": "W1 one hot pool", "tps": w1_tps, "vs_peer": 2.0, "vs_w0": w1_vs_w0},
            "w3": {"label": "W3 seat holds", "tps": 100.0, "vs_peer": 1.5, "vs_w0": 0.01}}}

    def test_table_flags_a_slower_version(self):
        rows, flagged = versions.table({"15": self.summary("15.20", 40000, 4000, 0.10),
                                        "17": self.summary("17.12", 50000, 4600, 0.092),
                                        "18": self.summary("18.6", 30000, 2500, 0.083)})
        self.assertEqual(rows[0][:6], ["workload", "PostgreSQL", "tps", "vs best peer", "vs W0", "vs W0 / 15's"])
        w1 = {r[1]: r for r in rows if r[0] == "W1 one hot pool"}
        self.assertEqual((w1["17.12"][5], w1["18.6"][5]), ("0.92", "0.83"))
        self.assertEqual(len(flagged), 1)
        self.assertIn("W1 one hot pool on PostgreSQL 18.6: 0.83", flagged[0])
        self.assertIn("SLOWER", w1["18.6"][6])
        self.assertIn("not in BENCH_SUITE_WORKLOADS", [r for r in rows if r[0] == "w2"][0][6])

    def test_table_missing_version(self):
        rows, flagged = versions.table({"15": self.summary("15.20", 40000, 4000, 0.10), "18": None})
        self.assertIn("not measured", rows[-1][6])
        self.assertEqual(flagged, [])


class Compare(unittest.TestCase):
    """bench/compare: what one run measured, medians, and when a workload is slower."""

    @staticmethod
    def run_figures(w1_tps, w1_peer, w4_tps, w0=40000.0):
        return compare.suite_figures({"w0": w0, "workloads": {
            "w1": {"label": "W1 one hot pool", "tps": w1_tps, "vs_peer": w1_peer, "vs_w0": round(w1_tps / w0, 2)},
            "w4": {"label": "W4 waitlist churn", "tps": w4_tps, "vs_peer": None, "vs_w0": 0.02},
            "w5": {"label": "W5 checkout", "tps": None, "vs_peer": None, "vs_w0": None}}})

    def test_order_alternates(self):
        self.assertEqual(compare.order(3), ["before", "after", "after", "before", "before", "after"])

    def test_figures(self):
        f = self.run_figures(4000.0, 5.0, 800.0)
        self.assertEqual(f["w1"]["norm"], 5.0)
        self.assertEqual(f["w1"]["by"], "vs best peer")
        # Without a peer: against W0, not rounded to two decimals (0.02).
        self.assertAlmostEqual(f["w4"]["norm"], 0.02)
        self.assertEqual(f["w4"]["by"], "vs W0")
        self.assertNotIn("w5", f)
        self.assertEqual(f["w0"]["tps"], 40000.0)

    def test_flash_peer_that_oversold_is_not_the_peer(self):
        f = compare.flash_figures({"approaches": {
            "booking": {"extension": True, "tps": 600.0, "oversold": 0},
            "check-then-update": {"extension": False, "tps": 900.0, "oversold": 501},
            "for-update": {"extension": False, "tps": 300.0, "oversold": 0},
            "conditional-update": {"extension": False, "tps": 400.0, "oversold": 0}}})
        self.assertEqual(f["flash-booking"]["norm"], 1.5)
        self.assertNotIn("flash-booking-sharded", f)

    def test_slower_only_when_both_fell(self):
        before = [self.run_figures(4000.0, 5.0, 800.0), self.run_figures(4200.0, 5.2, 820.0),
                  self.run_figures(9000.0, 9.0, 810.0)]
        # W1: tps down to 0.5 but so was the machine (its peer): not slower.
        # W4: tps down to 0.5 and against W0 as much: slower.
        after = [self.run_figures(2000.0, 5.0, 400.0), self.run_figures(2100.0, 5.1, 410.0),
                 self.run_figures(2200.0, 5.3, 420.0)]
        rows, slower = compare.table(before, after)
        by = {r[0]: r for r in rows[1:]}
        self.assertEqual(by["W1 one hot pool"][1:4], ["4200", "2100", "0.50"])  # medians, not means
        self.assertEqual(by["W1 one hot pool"][-1], "ok")
        self.assertEqual(by["W4 waitlist churn"][-1], "SLOWER")
        self.assertEqual(by["W0 floor (no extension)"][-1], "the machine")
        self.assertEqual(len(slower), 1)
        self.assertIn("W4 waitlist churn: 0.51 of the tps before", slower[0])

    def test_server_cpu_beside(self):
        def run(tps, peer, cpu):
            f = self.run_figures(tps, peer, 800.0)
            f["w1"]["cpu"] = cpu
            return f
        before = [run(4000.0, 5.0, 200.0), run(3000.0, 4.0, 220.0)]
        after = [run(2000.0, 2.5, 300.0), run(1800.0, 2.0, 320.0)]
        rows, slower = compare.table(before, after)
        self.assertEqual(rows[0][8:11], ["server us/tx before", "after", "after/before"])
        w1 = {r[0]: r for r in rows[1:]}["W1 one hot pool"]
        self.assertEqual(w1[8:], ["210", "310", "1.48", "SLOWER"])
        self.assertIn("server CPU per transaction 1.48 of before", slower[0])
        # Not measured (a PgBouncer run, an older report): shown as missing.
        self.assertEqual({r[0]: r for r in rows[1:]}["W4 waitlist churn"][8:11], ["-", "-", "-"])

    def test_server_cpu_read(self):
        s = compare.suite_figures({"w0": 40000.0, "w0_server_us": 20.0, "workloads": {
            "w1": {"label": "W1", "tps": 4000.0, "vs_peer": 5.0, "vs_w0": 0.1, "server_us": 150.0}}})
        self.assertEqual((s["w0"]["cpu"], s["w1"]["cpu"]), (20.0, 150.0))
        f = compare.flash_figures({"approaches": {
            "booking": {"extension": True, "tps": 600.0, "oversold": 0, "server_us": 900.0},
            "for-update": {"extension": False, "tps": 300.0, "oversold": 0, "server_us": 700.0}}})
        self.assertEqual(f["flash-booking"]["cpu"], 900.0)
        # /proc/PID/stat: the reaped children's user and system ticks, a name with spaces and parentheses.
        stat = "4242 (postgres (x) y) S 1 4242 4242 0 -1 4194560 100 200 0 0 7 3 250 150 20 0 1 0"
        with mock.patch("os.sysconf", return_value=100):
            self.assertEqual(host.stat_cpu(stat), 0.1)
            self.assertEqual(host.stat_cpu(stat, reaped=True), 4.0)

    def test_server_us(self):
        h = host.Host(Path("/nonexistent"), "/usr/bin", False)
        # Nothing to divide: no start, no transactions.
        self.assertIsNone(h.server_us(None, 100))
        self.assertIsNone(h.server_us(1.0, 0))
        done = SimpleNamespace(returncode=0, stdout="0\n")
        busy = SimpleNamespace(returncode=0, stdout="3\n")
        with mock.patch("time.sleep"):
            # Read once the clients are gone and the figure stopped moving
            # (the last backends reaped): 4.0 -> 5.5 -> 5.5 s.
            with mock.patch.object(h, "psql", side_effect=[busy, done]), \
                    mock.patch.object(h, "server_cpu", side_effect=[4.0, 5.5, 5.5]):
                self.assertEqual(h.server_us(2.5, 20000), 150.0)
            # Clients never gone: no figure.
            with mock.patch.object(h, "psql", return_value=busy):
                self.assertIsNone(h.settled_server_cpu())
            # Never settles: no figure.
            with mock.patch.object(h, "psql", return_value=done), \
                    mock.patch.object(h, "server_cpu", side_effect=[float(i) for i in range(30)]):
                self.assertIsNone(h.settled_server_cpu())

    def test_not_measured_on_one_side(self):
        before = [{"w5": {"label": "W5 checkout", "tps": None, "norm": None, "by": "vs best peer"}}]
        after = [{"w5": {"label": "W5 checkout", "tps": 300.0, "norm": 2.0, "by": "vs best peer"}}]
        rows, slower = compare.table(before, after)
        self.assertEqual(rows[1][-1], "not measured before")
        self.assertEqual(slower, [])

    def test_flash_summary(self):
        done = flash_run(2000)
        done.verify.last_sale_epoch, done.pgbench.start = 112.5, 100.0
        short = flash_run(1900, name="booking-sharded")
        short.verify.last_sale_epoch, short.pgbench.start = 130.0, 100.0
        done.server_us = 812.0
        s = flash_summary([done, short])["approaches"]
        self.assertEqual(s["booking"], {"extension": True, "tps": 10.0, "oversold": 0, "sold_out_s": 12.5,
                                        "server_us": 812.0})
        self.assertIsNone(s["booking-sharded"]["sold_out_s"])  # never sold out

    def test_cpu_notes(self):
        with mock.patch("os.sched_getaffinity", return_value={0, 1}):
            # 10 s on 2 cores, 90% busy: 18 CPU s; pgbench 4, PgBouncer 5, the rest 9 for 30,000 transactions.
            self.assertEqual(cpu_notes(10.0, 0.9, 4.0, 5.0, 30000),
                             ["machine busy 90%", "pgbench 20%", "PgBouncer 25%", "the rest 300 us CPU per transaction"])
            self.assertEqual(cpu_notes(10.0, 0.9, 4.0, None, 0), ["machine busy 90%", "pgbench 20%"])
            self.assertEqual(cpu_notes(0.0, 0.9, 4.0, None, 10), [])


class TapResult(unittest.TextTestResult):
    """ok / not ok lines, one per test."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n = 0

    def _line(self, test, ok, extra=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}{extra}", flush=True)

    def addSuccess(self, test):
        self._line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, False)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, False)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "))

    def addSkip(self, test, reason):
        self._line(test, True, f" # SKIP {reason}")


if __name__ == "__main__":
    if "--tap" in sys.argv:
        tests = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
        print(f"1..{tests.countTestCases()}")
        with open("/dev/null", "w") as null:
            result = unittest.TextTestRunner(stream=null, resultclass=TapResult).run(tests)
        sys.exit(0 if result.wasSuccessful() else 1)
    unittest.main()
