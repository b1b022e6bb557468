#!/usr/bin/env bash
# Times the dashboard's pages against an experiment of many users:
# bench/ui.sh [EVENTS] [USERS] (default 2,000,000 events of 1,000,000 users,
# in production, flag "checkout", five metrics as in events.sh, beside the demo). Prints the
# time of each page over loopback and the server's own (Server-Timing), three
# runs each, signed in with a session. The Go benchmark BenchmarkDashboardExperiment
# (cmd/valueloop) times the same pages in process.
set -euo pipefail

events=${1:-2000000}
users=${2:-1000000}
port=${PORT:-18090}
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_valueloop
export VALUELOOP_ADMIN_TOKEN=bench-ui-admin-token-0123456789
export VALUELOOP_SERVER=http://127.0.0.1:$port VALUELOOP_TOKEN=$VALUELOOP_ADMIN_TOKEN
bin=$work/valueloop
"$bin" serve --demo --data "$work/data" --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
wait_healthy "$VALUELOOP_SERVER"
for m in "b-converted --kind conversion --event purchase --window 1h" "b-orders --kind count --event purchase" \
	"b-revenue --kind sum --event purchase" "b-load-time --kind mean --event page --direction lower" \
	"b-revenue-per-order --kind ratio --event purchase --denominator-event purchase"; do
	# shellcheck disable=SC2086 # the words are the flags
	"$bin" metrics create --env production --key $m >/dev/null
done
"$bin" events load --env production --events "$events" --users "$users" --concurrency 4 | grep -E '^(sent)' || true

jar=$work/cookies
csrf=$(curl -fs -c "$jar" -b "$jar" "$VALUELOOP_SERVER/signin" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "token=$VALUELOOP_ADMIN_TOKEN" "$VALUELOOP_SERVER/signin"
echo "$events events, $users users, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for page in / /experiments /experiments/production/checkout /flags/production /flags/production/checkout-flow \
	/rollouts/production/checkout-flow /delivery; do
	for _ in 1 2 3; do
		# The total over loopback, and the server's own time (Server-Timing).
		curl -fs -o /dev/null -D "$work/headers" -b "$jar" -w "$page %{http_code} %{time_total} s" "$VALUELOOP_SERVER$page"
		echo " (server $(sed -n 's/^Server-Timing: page;dur=\([0-9.]*\).*/\1/ip' "$work/headers" | tr -d '\r') ms)"
	done
done
