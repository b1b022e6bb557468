#!/usr/bin/env bash
# bench/events.sh: the reproducible event ingestion and recomputation test.
#
# For each binary (this checkout's, built here, and BASELINE when given),
# one after the other: start `valueloop serve` on a fresh data directory,
# define the five metrics of docs/events.md, send EVENTS events of USERS
# users over HTTP with `valueloop events load` (generator pinned to CPU 0 with
# GOMAXPROCS=1; it measures the decode rate of the same bytes first and
# prints the ratio), recompute with `valueloop events rebuild`, time three
# reads of one flag's aggregates and three of its experiment results, stop
# the server. Runs alternate between the
# binaries ROUNDS times, so that both see the same machine.
#
# Usage:
#   bench/events.sh [EVENTS [USERS]]           # default 2000000 100000
#   BASELINE=/path/to/old/valueloop bench/events.sh 10000000 1000000
# Environment:
#   BASELINE   another valueloop binary to run side by side
#   ROUNDS     alternations, default 1
#   PORT       default 18080
# Needs: go, curl, taskset, and at least 2 CPUs.
set -euo pipefail

events=${1:-2000000}
users=${2:-100000}
port=${PORT:-18080}
for tool in go curl taskset; do
	command -v "$tool" >/dev/null || { echo "events.sh: $tool not found" >&2; exit 1; }
done

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_valueloop
bins=("$work/valueloop")
if [[ -n "${BASELINE:-}" ]]; then
	[[ -x "$BASELINE" ]] || { echo "events.sh: BASELINE='$BASELINE' is not an executable" >&2; exit 1; }
	bins+=("$BASELINE")
fi

export VALUELOOP_ADMIN_TOKEN=bench-events-admin-token-0123456789
export VALUELOOP_SERVER=http://127.0.0.1:$port VALUELOOP_TOKEN=$VALUELOOP_ADMIN_TOKEN

run() {
	local bin=$1 data=$work/data
	rm -rf "$data"
	"$bin" serve --data "$data" --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
	server=$!
	wait_healthy "$VALUELOOP_SERVER"
	for m in "converted --kind conversion --event purchase --window 1h" "orders --kind count --event purchase" \
		"revenue --kind sum --event purchase" "load-time --kind mean --event page --direction lower" \
		"revenue-per-order --kind ratio --event purchase --denominator-event purchase"; do
		# shellcheck disable=SC2086 # the words are the flags
		out=$("$bin" metrics create --env production --key $m 2>&1) || { echo "$out" >&2; exit 1; }
	done
	GOMAXPROCS=1 taskset -c 0 "$bin" events load --env production --events "$events" --users "$users" --concurrency 4 |
		grep -E '^(baseline|sent|CPU)'
	"$bin" events rebuild --env production
	for _ in 1 2 3; do
		curl -fs -o /dev/null -w 'read one flag'"'"'s aggregates: %{time_total} s\n' -H "Authorization: Bearer $VALUELOOP_TOKEN" \
			"$VALUELOOP_SERVER/api/v1/environments/production/aggregates?flag=checkout"
	done
	for _ in 1 2 3; do
		curl -fs -o /dev/null -w 'read its experiment results (5 metrics analysed): %{time_total} s\n' -H "Authorization: Bearer $VALUELOOP_TOKEN" \
			"$VALUELOOP_SERVER/api/v1/environments/production/flags/checkout/results"
	done
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
}

echo "$events events, $users users, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "${ROUNDS:-1}"); do
	for bin in "${bins[@]}"; do
		label=this
		[[ "$bin" == "$work/valueloop" ]] || label="baseline $bin"
		echo "== round $round: $label"
		run "$bin"
	done
done
