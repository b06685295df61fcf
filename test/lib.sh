# shellcheck shell=bash
# Shared helpers for test/run, bench/run and other scripts of the booking
# extension. Source it; it defines functions and a few variables only and
# is safe under `set -euo pipefail`.
#
# Functions that can fail in an expected way (build, cluster start) return
# non-zero instead of exiting, so a caller can count the failure and go on.
# Remember that bash ignores `set -e` inside a function called from an
# `if`/`||` context, so every step below checks its own status.

BOOKING_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BOOKING_PGBIN=${BOOKING_PGBIN:-/usr/lib/postgresql/15/bin}
BOOKING_PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
# Artefacts of the last run that a developer (or CI log reader) may want:
# build logs, regression.diffs, server logs. Gitignored.
BOOKING_RESULTS_DIR=${BOOKING_RESULTS_DIR:-$BOOKING_ROOT/test/results-last}

BOOKING_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	build-essential g++ cmake libgtest-dev googletest
	libipc-run-perl gnuplot-nox postgresql-15-plproxy pgbouncer
)

_BOOKING_EXIT_HOOKS=()
_BOOKING_TRAP_SET=0
_BOOKING_APT_UPDATED=0

# Each step with the minutes:seconds since the script started, so that a
# run's output shows where its time went.
booking_log() { printf '==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
booking_warn() { printf 'warning: %s\n' "$*" >&2; }

# Print the tail of a log file, framed, for a step that failed.
booking_show_log() {
	local file=$1 lines=${2:-80}
	printf -- '----- last %s lines of %s -----\n' "$lines" "$file"
	tail -n "$lines" "$file" 2>/dev/null || true
	printf -- '----- end of %s -----\n' "$file"
}

# Paths into the PGXS tree; computed on demand because pg_config may only
# exist after booking_ensure_packages.
booking_pgxs_dir() { printf '%s/pgxs\n' "$("$BOOKING_PG_CONFIG" --pkglibdir)"; }
booking_pg_regress() { printf '%s/src/test/regress/pg_regress\n' "$(booking_pgxs_dir)"; }
booking_pg_isolation_regress() { printf '%s/src/test/isolation/pg_isolation_regress\n' "$(booking_pgxs_dir)"; }
booking_tap_perl_dir() { printf '%s/src/test/perl\n' "$(booking_pgxs_dir)"; }

# ---------------------------------------------------------------- packages

_booking_pkg_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

booking_ensure_packages() {
	local missing=() pkg
	for pkg in "${BOOKING_PACKAGES[@]}"; do
		_booking_pkg_installed "$pkg" || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0

	if ((EUID != 0)); then
		printf 'missing Debian packages: %s\n' "${missing[*]}" >&2
		printf 'install them as root: apt-get install -y %s\n' "${missing[*]}" >&2
		exit 1
	fi

	mkdir -p "$BOOKING_RESULTS_DIR"
	local log=$BOOKING_RESULTS_DIR/apt.log
	booking_log "installing Debian packages: ${missing[*]}"
	if ((_BOOKING_APT_UPDATED == 0)); then
		apt-get update >>"$log" 2>&1 || { booking_show_log "$log"; return 1; }
		_BOOKING_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >>"$log" 2>&1 ||
		{ booking_show_log "$log"; return 1; }
}

# ---------------------------------------------------------------- building

# Run "$@" in the repo root with output appended to a log; show the log
# only when the command fails.
_booking_logged() {
	local log=$1
	shift
	printf '$ %s\n' "$*" >>"$log"
	if ! (cd "$BOOKING_ROOT" && "$@") >>"$log" 2>&1; then
		printf 'FAILED: %s\n' "$*"
		booking_show_log "$log" 100
		return 1
	fi
}

# make + make install of the PGXS extension. BOOKING_WERROR=-Werror (as
# test/run sets it) makes every warning an error.
booking_build_extension() {
	mkdir -p "$BOOKING_RESULTS_DIR"
	local log=$BOOKING_RESULTS_DIR/build-extension.log
	: >"$log"
	booking_log "building the extension (log: ${log#"$BOOKING_ROOT"/})"
	_booking_logged "$log" make -j2 PG_CONFIG="$BOOKING_PG_CONFIG" BOOKING_WERROR="${BOOKING_WERROR:-}" || return 1
	if ((EUID == 0)); then
		_booking_logged "$log" make install PG_CONFIG="$BOOKING_PG_CONFIG" || return 1
	else
		_booking_logged "$log" sudo -n make install PG_CONFIG="$BOOKING_PG_CONFIG" || return 1
	fi
}

# CMake build of the unit tests into build/. Returns 2 when there is no
# CMakeLists.txt (nothing to build), 1 on failure.
booking_build_unit() {
	[[ -f $BOOKING_ROOT/CMakeLists.txt ]] || return 2
	mkdir -p "$BOOKING_RESULTS_DIR"
	local log=$BOOKING_RESULTS_DIR/build-unit.log
	: >"$log"
	booking_log "building the unit tests (log: ${log#"$BOOKING_ROOT"/})"
	_booking_logged "$log" cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
	_booking_logged "$log" cmake --build build -j2 || return 1
}

booking_build_install() {
	booking_build_extension || return 1
	local rc=0
	booking_build_unit || rc=$?
	((rc == 0 || rc == 2))
}

# ---------------------------------------------------------------- test user

# The server refuses to run as root, so as root everything that touches a
# cluster runs as an unprivileged user.
_booking_ensure_user() {
	[[ -n ${BOOKING_OS_USER:-} ]] && return 0
	if ((EUID == 0)); then
		BOOKING_OS_USER=booking_test
		if ! id -u "$BOOKING_OS_USER" >/dev/null 2>&1; then
			useradd --system --create-home --shell /bin/bash "$BOOKING_OS_USER"
		fi
	else
		BOOKING_OS_USER=$(id -un)
	fi
	export BOOKING_OS_USER
}

# Run a command as the test user. Leading VAR=value words are passed to
# env(1), so `booking_as_user PERL5LIB=x prove ...` works. PG* and BOOKING_*
# variables of the caller are passed through; PATH starts with the
# PostgreSQL 15 binaries.
booking_as_user() {
	_booking_ensure_user
	local -a envs=()
	local name
	while IFS= read -r name; do
		case $name in
		PG* | BOOKING_*) envs+=("$name=${!name}") ;;
		esac
	done < <(compgen -e)
	if ((EUID == 0)); then
		local home
		home=$(getent passwd "$BOOKING_OS_USER" | cut -d: -f6)
		# runuser resets PATH (login.defs), so set it explicitly.
		runuser -u "$BOOKING_OS_USER" -- env \
			"PATH=$BOOKING_PGBIN:/usr/local/bin:/usr/bin:/bin" "HOME=$home" \
			"LANG=C.UTF-8" "${envs[@]}" "$@"
	else
		env "PATH=$BOOKING_PGBIN:$PATH" "${envs[@]}" "$@"
	fi
}

# Same, in a given directory (the test user may not be able to enter the
# caller's working directory).
booking_as_user_in() {
	local dir=$1
	shift
	(cd "$dir" && booking_as_user "$@")
}

# ---------------------------------------------------------------- workdir, cleanup

# Register a command (a string, eval'd) to run at exit, after the cluster
# is stopped and the workdir removed. Cleanup itself prints nothing, so a
# hook may still print the last line of the output.
booking_on_exit() {
	_BOOKING_EXIT_HOOKS+=("$*")
	_booking_install_trap
}

_booking_install_trap() {
	((_BOOKING_TRAP_SET == 1)) && return 0
	trap _booking_on_exit_handler EXIT
	# Turn signals into a normal exit so the EXIT trap cleans up.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_BOOKING_TRAP_SET=1
}

_booking_on_exit_handler() {
	local rc=$? hook
	set +e
	booking_stop_cluster >/dev/null 2>&1
	if ((rc != 0)); then
		booking_save_failure_logs >/dev/null 2>&1
	fi
	if [[ -n ${BOOKING_WORK:-} && -d $BOOKING_WORK && ${BOOKING_KEEP:-0} != 1 ]]; then
		rm -rf "$BOOKING_WORK"
	fi
	for hook in "${_BOOKING_EXIT_HOOKS[@]}"; do
		eval "$hook"
	done
	exit "$rc"
}

# Create a scratch dir owned by the test user; export BOOKING_WORK.
booking_workdir() {
	local purpose=${1:-work}
	_booking_ensure_user
	BOOKING_WORK=$(mktemp -d "/tmp/booking-$purpose.XXXX")
	chmod 755 "$BOOKING_WORK"
	if ((EUID == 0)); then
		chown "$BOOKING_OS_USER": "$BOOKING_WORK"
	fi
	export BOOKING_WORK
	_booking_install_trap
	if [[ ${BOOKING_KEEP:-0} == 1 ]]; then
		booking_log "BOOKING_KEEP=1: $BOOKING_WORK will be kept"
	fi
}

# Copy files (paths relative to BOOKING_WORK, directories allowed) into
# test/results-last/, keeping their relative paths.
booking_save_results() {
	[[ -n ${BOOKING_WORK:-} && -d $BOOKING_WORK ]] || return 0
	mkdir -p "$BOOKING_RESULTS_DIR"
	local rel
	for rel in "$@"; do
		[[ -e $BOOKING_WORK/$rel ]] || continue
		(cd "$BOOKING_WORK" && cp -r --parents "$rel" "$BOOKING_RESULTS_DIR/")
	done
}

# Called at a failing exit: keep whatever explains the failure.
booking_save_failure_logs() {
	[[ -n ${BOOKING_WORK:-} && -d $BOOKING_WORK ]] || return 0
	local -a found=()
	mapfile -t found < <(cd "$BOOKING_WORK" && find . \( -path ./data -o -path ./src \) -prune -o -type f \
		\( -name regression.diffs -o -name regression.out -o -name '*.log' \) -print)
	booking_save_results "${found[@]}"
}

# ---------------------------------------------------------------- cluster

_booking_port_free() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		[[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]] || return 1
	fi
	# Nothing must answer on it either (also covers machines without ss).
	! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# The source tree, without what a build or a run leaves, copied into
# directory $1 (a Debian root's /tmp for another PostgreSQL version).
booking_copy_tree() {
	tar -C "$BOOKING_ROOT" --exclude-vcs --exclude='*.o' --exclude='*.d' --exclude='*.so' \
		--exclude='*.bc' --exclude=./build --exclude=./test/results-last --exclude=./bench/results \
		--exclude=./examples --exclude=./results --exclude=./tmp_check -cf - . | tar -C "$1" -xf -
}

booking_free_port() {
	local start=$((RANDOM % 20000)) i port
	for ((i = 0; i < 500; i++)); do
		port=$((20000 + (start + i) % 20000))
		if _booking_port_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	echo "no free TCP port found in 20000-40000" >&2
	return 1
}

# initdb + start a throwaway cluster as the test user in $BOOKING_WORK/data.
# Extra arguments are appended to postgresql.conf as lines.
booking_start_cluster() {
	[[ -n ${BOOKING_WORK:-} ]] || booking_workdir cluster
	local data=$BOOKING_WORK/data log=$BOOKING_WORK/initdb.log
	rm -rf "$data"
	if ! booking_as_user "$BOOKING_PGBIN/initdb" -D "$data" -A trust --no-sync \
		-U postgres -E UTF8 --locale=C >"$log" 2>&1; then
		booking_show_log "$log"
		return 1
	fi

	local line
	{
		echo "# added by test/lib.sh"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$BOOKING_WORK'"
		echo "max_connections = 300"
		echo "shared_buffers = 256MB"
		# Durable commits: benchmark numbers must be honest.
		echo "fsync = on"
		echo "synchronous_commit = on"
		echo "max_locks_per_transaction = 128"
		echo "log_min_messages = warning"
		echo "logging_collector = off"
		for line in "$@"; do echo "$line"; done
	} >>"$data/postgresql.conf"

	# Another process may grab the port between the check and the start,
	# so retry with a new port a few times.
	local attempt port
	for attempt in 1 2 3 4 5; do
		port=$(booking_free_port) || return 1
		echo "port = $port" >>"$data/postgresql.conf"
		if booking_as_user "$BOOKING_PGBIN/pg_ctl" -D "$data" -w -t 120 \
			-l "$BOOKING_WORK/server.log" start >"$BOOKING_WORK/pg_ctl.log" 2>&1; then
			export PGHOST=$BOOKING_WORK PGPORT=$port PGUSER=postgres PGDATABASE=postgres
			return 0
		fi
		grep -q 'could not bind\|could not create any TCP/IP sockets' \
			"$BOOKING_WORK/server.log" 2>/dev/null || break
		booking_warn "port $port was taken (attempt $attempt), retrying"
	done
	echo "could not start the cluster" >&2
	booking_show_log "$BOOKING_WORK/server.log"
	return 1
}

booking_stop_cluster() {
	[[ -n ${BOOKING_WORK:-} && -f $BOOKING_WORK/data/postmaster.pid ]] || return 0
	booking_as_user "$BOOKING_PGBIN/pg_ctl" -D "$BOOKING_WORK/data" -m fast -w -t 60 \
		stop >>"$BOOKING_WORK/pg_ctl.log" 2>&1 ||
		booking_as_user "$BOOKING_PGBIN/pg_ctl" -D "$BOOKING_WORK/data" -m immediate \
			-w stop >>"$BOOKING_WORK/pg_ctl.log" 2>&1
}
