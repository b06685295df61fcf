"""The machine side of bench/run. The set-up steps are test/lib.sh's own
functions, called through bash so test/run and bench/run share them:
booking_ensure_packages, booking_build_extension, booking_start_cluster
(initdb, the durable-commit settings, a free port) and booking_stop_cluster.
Everything that touches the cluster (psql, pgbench) runs as the
unprivileged user that test/lib.sh creates (booking_test when run as root),
never as root, in a scratch directory under /tmp."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from .core import Pgbench, add_txlog_stats, parse_pgbench_output


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
        """Stop the cluster; on failure keep the logs in
        test/results-last/ (booking_save_failure_logs); remove the workdir
        unless BOOKING_KEEP=1."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup short
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

    def pgbench(self, tag: str, db: str, args: Sequence[str]) -> Pgbench:
        """pgbench -l args db (connection options in args go first), output
        in TAG.pgbench.log, logs txlog-TAG.*; the summary and percentiles."""
        out = self.work / f"{tag}.pgbench.log"
        argv = ["pgbench", "-l", f"--log-prefix={self.work}/txlog-{tag}", *args, db]
        with out.open("w") as f:
            rc = self.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode
        result = parse_pgbench_output(out.read_text(errors="replace"), rc)
        # One log per thread.
        logs = sorted(self.work.glob(f"txlog-{tag}.*"))
        return add_txlog_stats(result, (line for txlog in logs for line in txlog.read_text().splitlines()))
