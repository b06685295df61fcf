#!/usr/bin/env bash
# Browser test of the seat map example, as TAP on stdout.
#
# Installs Debian's chromium when it is missing (as root; otherwise, or when
# apt-get fails, the test is skipped: "1..0 # SKIP <why>"), runs `npm ci`
# when node_modules is missing, starts a throwaway cluster with
# test/lib.sh, sets it up for browser calls and creates a show
# and its add-on pool (create-show.js), starts the server as role seatmap,
# and runs test.mjs
# (Playwright via playwright-core driving /usr/bin/chromium, headless).
# Exit status 0 when every test passed or the test was skipped.
#
# Environment: CHROMIUM (default /usr/bin/chromium), SEATMAP_SCREENSHOTS
# (default examples/seatmap/screenshots), BOOKING_KEEP=1 keeps the work dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../test/lib.sh
source "$root/test/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

skip() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}
bail() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}
# A log's last lines as TAP comments.
diag_log() {
	[[ -f $1 ]] || return 0
	printf '# ----- last %s lines of %s\n' "${2:-30}" "$(basename "$1")"
	tail -n "${2:-30}" "$1" | sed 's/^/#   /'
}

booking_workdir seatmap-test
logs=$BOOKING_WORK

# ------------------------------------------------------------ prerequisites

apt_install() {
	((EUID == 0)) && command -v apt-get >/dev/null 2>&1 || return 1
	{
		timeout 300 apt-get update &&
			DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y "$@"
	} >>"$logs/apt.log" 2>&1
}

if [[ ! -x $CHROMIUM ]]; then
	if ((EUID != 0)); then
		skip "$CHROMIUM is missing (run as root to install Debian's chromium, or apt-get install chromium)"
	fi
	printf '# installing chromium with apt-get\n'
	if ! apt_install chromium fonts-liberation || [[ ! -x $CHROMIUM ]]; then
		diag_log "$logs/apt.log" 10
		skip "chromium could not be installed with apt-get"
	fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm || true
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		skip "node and npm are missing (apt-get install nodejs npm)"
	fi
fi

if [[ ! -d $here/node_modules/playwright-core || ! -d $here/node_modules/pg ]]; then
	printf '# npm ci (pg, playwright-core)\n'
	if ! (cd "$here" && timeout 300 npm ci --no-audit --no-fund) >"$logs/npm.log" 2>&1; then
		diag_log "$logs/npm.log" 10
		bail "npm ci failed (is the npm registry reachable?)"
	fi
fi

ext_dir=$("$BOOKING_PG_CONFIG" --sharedir 2>/dev/null)/extension
[[ -f $ext_dir/booking.control ]] || bail "the booking extension is not installed ($ext_dir); run make install"

# ------------------------------------------------------------ cluster, show, server

now() { date +%s%N; }
since() { printf '%d.%d' $((($(now) - $1) / 1000000000)) $((($(now) - $1) / 100000000 % 10)); }
t_start=$(now)
# shellcheck disable=SC2119 # no extra postgresql.conf lines
booking_start_cluster >"$logs/cluster.log" 2>&1 || {
	diag_log "$logs/cluster.log"
	bail "could not start a cluster"
}

t_cluster=$(since "$t_start")

cd "$here"
t0=$(now)
ids=$(timeout 60 node create-show.js --name 'Hamlet' --presold 0.2 --addon 'Parking pass' 2>"$logs/create-show.log") || {
	diag_log "$logs/create-show.log"
	bail "could not create the show"
}
read -r show_id addon_id <<<"$ids"

t_show=$(since "$t0")

server_pid=
stop_server() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$server_pid" 2>/dev/null || true
	fi
	server_pid=
}
booking_on_exit stop_server

t0=$(now)
port=$(booking_free_port)
# The server logs in as the role the setup made (not the owner, not a
# superuser); its calls run as authenticated or anon.
PGUSER=seatmap SHOW_ID=$show_id ADDON_POOL_ID=$addon_id ADDON_NAME='Parking pass' PORT=$port SHOW_TITLE='Hamlet' SHOW_SUBTITLE='Saturday 12 December 2026 · 7:30pm' \
	node server.js >"$logs/seatmap-server.log" 2>&1 &
server_pid=$!

url=http://127.0.0.1:$port
ready=0
for _ in $(seq 100); do
	if node -e "fetch('$url/healthz').then(r => r.json()).then(j => process.exit(j.listening ? 0 : 1), () => process.exit(1))" 2>/dev/null; then
		ready=1
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.2
done
if ((ready == 0)); then
	diag_log "$logs/seatmap-server.log"
	bail "the seat map server did not start"
fi

printf '# cluster started in %s s, show %s created in %s s, server up in %s s\n' \
	"$t_cluster" "$show_id" "$t_show" "$(since "$t0")"

# ------------------------------------------------------------ the browser test

rc=0
SEATMAP_URL=$url SHOW_ID=$show_id ADDON_POOL_ID=$addon_id timeout 100 node test.mjs || rc=$?
if ((rc == 124)); then
	printf 'not ok - test.mjs timed out after 100 s\n'
fi
if ((rc != 0)); then
	diag_log "$logs/seatmap-server.log" 40
fi
stop_server
exit "$rc"
