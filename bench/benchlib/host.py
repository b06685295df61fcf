"""The machine side of bench/run. The set-up steps are test/lib.sh's own
functions, called through bash so test/run and bench/run share them:
booking_ensure_packages, booking_build_extension, booking_start_cluster
(initdb, the durable-commit settings, a free port) and booking_stop_cluster.
Everything that touches the cluster (psql, pgbench, PgBouncer) runs as the
unprivileged user that test/lib.sh creates (booking_test when run as root),
never as root, in a scratch directory under /tmp."""

from __future__ import annotations

import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from .core import Pgbench, add_txlog_stats, parse_pgbench_output

# pgbench and PgBouncer with 1,000 clients need more descriptors than the
# usual 1,024 (as test/t/011_pgbouncer.pl starts them).
NOFILE = 'ulimit -n 8192 && exec "$@"'


def log(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def show_log(path: Path, lines: int = 80) -> None:
    print(f"----- last {lines} lines of {path} -----")
    try:
        print("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
    except OSError:
        pass
    print(f"----- end of {path} -----", flush=True)


class Host:
    def __init__(self, root: Path, pgbin: str, keep: bool):
        self.root = root
        self.pgbin = pgbin
        self.keep = keep
        self.user = ""
        self.work: Optional[Path] = None
        self.bouncers: list[Bouncer] = []

    # ---- test/lib.sh

    def lib_sh(self, snippet: str, *args: str, **kw) -> subprocess.CompletedProcess:
        """Run a bash snippet after sourcing test/lib.sh; args are its "$@"."""
        script = "set -euo pipefail; source test/lib.sh; " + snippet
        return subprocess.run(["bash", "-c", script, "bench/run", *args], cwd=self.root, **kw)

    def ensure_packages(self) -> bool:
        return self.lib_sh("booking_ensure_packages").returncode == 0

    def build_extension(self) -> bool:
        return self.lib_sh("booking_build_extension").returncode == 0

    def ensure_user(self) -> None:
        """The unprivileged user (lib.sh creates booking_test as root)."""
        out = self.lib_sh("booking_as_user id -un", capture_output=True, text=True, check=True)
        self.user = out.stdout.strip()
        os.environ["BOOKING_OS_USER"] = self.user

    def make_workdir(self) -> Path:
        self.ensure_user()
        self.work = Path(tempfile.mkdtemp(prefix="booking-bench.", dir="/tmp"))
        self.work.chmod(0o755)
        self.give(self.work)
        os.environ["BOOKING_WORK"] = str(self.work)
        if self.keep:
            log(f"BOOKING_KEEP=1: {self.work} will be kept")
        return self.work

    def give(self, path: Path) -> None:
        """Make path (recursively) the unprivileged user's when running as root."""
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(self.user)
        for p in [path, *path.rglob("*")]:
            os.chown(p, user.pw_uid, user.pw_gid)

    def start_cluster(self, conf: Sequence[str]) -> bool:
        """initdb + start as the user; exports PGHOST/PGPORT/PGUSER/PGDATABASE."""
        port_file = self.work / "port"
        r = self.lib_sh('booking_start_cluster "$@"; printf "%s\\n" "$PGPORT" >"$BOOKING_WORK/port"', *conf)
        if r.returncode != 0 or not port_file.exists():
            return False
        port = port_file.read_text().strip()
        os.environ.update(PGHOST=str(self.work), PGPORT=port, PGUSER="postgres", PGDATABASE="postgres")
        return True

    def cleanup(self, failed: bool) -> None:
        """Stop PgBouncer and the cluster; on failure keep the logs in
        test/results-last/ (booking_save_failure_logs); remove the workdir
        unless BOOKING_KEEP=1."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        for b in list(self.bouncers):
            b.stop()
        if self.work is None:
            return
        # Also after a signal during the start (lib.sh checks postmaster.pid).
        self.lib_sh("booking_stop_cluster", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if failed:
            self.lib_sh("booking_save_failure_logs", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- commands as the unprivileged user

    def as_user(self, argv: Sequence[str]) -> list[str]:
        """argv run as the user (runuser when root), PATH starting with the
        PostgreSQL binaries and the caller's PG* and BOOKING_* variables, as
        lib.sh's booking_as_user does."""
        env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("PG", "BOOKING_"))]
        if os.geteuid() == 0:
            home = pwd.getpwnam(self.user).pw_dir
            # runuser resets PATH (login.defs), so set it explicitly.
            prefix = ["runuser", "-u", self.user, "--", "env", f"PATH={self.pgbin}:/usr/local/bin:/usr/bin:/bin",
                      f"HOME={home}", "LANG=C.UTF-8"]
        else:
            prefix = ["env", f"PATH={self.pgbin}:{os.environ.get('PATH', '')}"]
        return prefix + env + list(argv)

    def run(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
        kw.setdefault("text", True)
        return subprocess.run(self.as_user(argv), cwd=self.work, **kw)

    def psql(self, db: str, *args: str, stop_on_error: bool = True, **kw) -> subprocess.CompletedProcess:
        """psql -X -q [-v ON_ERROR_STOP=1] -d db args, output captured."""
        argv = ["psql", "-X", "-q"] + (["-v", "ON_ERROR_STOP=1"] if stop_on_error else []) + ["-d", db, *args]
        kw.setdefault("capture_output", True)
        return self.run(argv, **kw)

    def createdb(self, db: str) -> subprocess.CompletedProcess:
        return self.run(["createdb", db], capture_output=True)

    def checkpoint(self, db: str) -> None:
        self.psql(db, "-c", "CHECKPOINT", check=True)

    def server_version(self) -> str:
        r = self.psql("postgres", "-At", "-c", "SHOW server_version")
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "15"

    def server_cpu(self) -> Optional[float]:
        """CPU seconds (user + system) of the cluster's processes that have
        ended so far: the postmaster's reaped children, every backend among
        them once its client has gone. None without /proc."""
        try:
            pid = int((self.work / "data" / "postmaster.pid").read_text().split()[0])
            return stat_cpu(Path(f"/proc/{pid}/stat").read_text(), reaped=True)
        except (OSError, ValueError, IndexError, TypeError):
            return None

    def settled_server_cpu(self) -> Optional[float]:
        """server_cpu() once no client backend is left (up to 10 s) and the
        postmaster has reaped them all: the figure unchanged over 0.2 s. A
        run's start and end are read so, so that neither a set-up's psql nor
        the run's last backends fall on the wrong side. None when it cannot
        tell."""
        left = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        for _ in range(100):
            r = self.psql("postgres", "-At", "-c", left)
            if r.returncode == 0 and r.stdout.strip() == "0":
                break
            time.sleep(0.1)
        else:
            return None
        last = self.server_cpu()
        for _ in range(25):
            time.sleep(0.2)
            now = self.server_cpu()
            if now is None or now == last:
                return now
            last = now
        return None

    def server_us(self, start: Optional[float], transactions: Optional[int]) -> Optional[float]:
        """The server's CPU per transaction, in microseconds, since start
        (settled_server_cpu()): what the calls cost the server, whatever
        else the machine ran meanwhile. It counts every server process that
        ended in between (each client's backend from its start, an
        autovacuum worker) and divides by the successful transactions. None
        when it cannot tell."""
        if start is None or not transactions:
            return None
        end = self.settled_server_cpu()
        return None if end is None else (end - start) * 1e6 / transactions

    def pgbench(self, tag: str, db: str, args: Sequence[str], nofile: bool = False) -> Pgbench:
        """pgbench -l args db (connection options in args go first), output
        in TAG.pgbench.log, logs txlog-TAG.*; the summary and percentiles."""
        out = self.work / f"{tag}.pgbench.log"
        argv = ["pgbench", "-l", f"--log-prefix={self.work}/txlog-{tag}", *args, db]
        if nofile:
            argv = ["sh", "-c", NOFILE, "sh", *argv]
        with out.open("w") as f:
            rc = self.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode
        result = parse_pgbench_output(out.read_text(errors="replace"), rc)
        # One log per thread.
        logs = sorted(self.work.glob(f"txlog-{tag}.*"))
        return add_txlog_stats(result, (line for txlog in logs for line in txlog.read_text().splitlines()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far, from /proc/stat: busy is
    everything but idle and iowait; (0, 0) without /proc."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    return float(sum(values) - values[3] - values[4]), float(sum(values))


def stat_cpu(stat: str, reaped: bool = False) -> float:
    """CPU seconds (user + system) in a /proc/PID/stat line: the process's
    own (fields 14 and 15), or its waited-for children's (reaped: 16 and
    17). The name in parentheses may hold spaces."""
    fields = stat.rsplit(")", 1)[1].split()
    first = 13 if reaped else 11
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of the child processes waited for so far (pgbench, run
    through the user switch, among them)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def pgbouncer_path() -> Optional[str]:
    """Debian installs it in /usr/sbin, which a plain user's PATH may lack."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def pgbouncer_version(path: str) -> tuple[int, ...]:
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"PgBouncer (\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g or 0) for g in m.groups()) if m else ()


class Bouncer:
    """PgBouncer in transaction pooling mode on 127.0.0.1 in front of one
    database of the cluster, as test/t/011_pgbouncer.pl sets it up: auth_type
    any, no Unix socket, a pool of pool_size server connections, run as the
    user with ulimit -n raised; stopped when the run ends, however it ends."""

    def __init__(self, host: Host, tag: str, db: str, pool_size: int, clients: int, prepared: bool):
        self.host, self.db = host, db
        self.dir = host.work / f"pgbouncer-{tag}"
        self.port = 0
        self.pool_size, self.clients, self.prepared = pool_size, clients, prepared

    def conninfo(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port)]

    def start(self, path: str) -> Optional[str]:
        """Start it; None when it answers, else why not."""
        self.dir.mkdir()
        self.host.give(self.dir)
        for _ in range(3):  # another process may take the port first
            self.port = free_port()
            ini = self.dir / "pgbouncer.ini"
            ini.write_text(
                f"""[databases]
{self.db} = host=127.0.0.1 port={os.environ['PGPORT']} dbname={self.db} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {self.pool_size}
max_db_connections = {self.pool_size}
max_client_conn = {self.clients + 100}
{"max_prepared_statements = 100" if self.prepared else ""}
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
"""
            )
            self.host.give(ini)
            self.host.bouncers.append(self)
            if self.host.run(["sh", "-c", NOFILE, "sh", path, "-d", str(ini)], capture_output=True).returncode == 0:
                for _ in range(100):
                    r = self.host.psql(self.db, *self.conninfo(), "-At", "-c", "SELECT 1")
                    if r.stdout.strip() == "1":
                        return None
                    time.sleep(0.1)
            self.stop()
        logfile = self.dir / "pgbouncer.log"
        return "pgbouncer did not start: " + (logfile.read_text(errors="replace").strip().splitlines() or [""])[-1]

    def cpu_seconds(self) -> Optional[float]:
        """CPU time (user + system) the PgBouncer process has used so far."""
        try:
            pid = int((self.dir / "pgbouncer.pid").read_text().strip())
            return stat_cpu(Path(f"/proc/{pid}/stat").read_text())
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        pidfile = self.dir / "pgbouncer.pid"
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        if self in self.host.bouncers:
            self.host.bouncers.remove(self)
