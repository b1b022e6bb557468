#!/usr/bin/env bash
# OFREP throughput of one node and of two nodes sharing one PostgreSQL
# database, with each node's CPU time, on a 2-core machine:
#   one node pinned to CPU 0 (GOMAXPROCS=1), wrk pinned to CPU 1;
#   two nodes pinned to CPU 0 and CPU 1, two wrk (one per node) on both CPUs.
# Usage, from the repository root:
#   VALUELOOP_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' postgres/testdata/ofrep-nodes.sh
# Environment: DURATION (wrk -d, default 8s), CONNS (default 32), FLAG_KEY
# (default email-rule, a targeting rule of bench/flags.json).
# Needs: go, wrk, psql, taskset, curl. Creates and drops database vl_bench.
set -euo pipefail
DUR=${DURATION:-8s}
server=${VALUELOOP_TEST_POSTGRES:?set VALUELOOP_TEST_POSTGRES to the DSN of a PostgreSQL server}
DSN=${server/\/postgres\?//vl_bench?}
tmp=$(mktemp -d)
go build -o "$tmp/valueloop" ./cmd/valueloop
psql -q "$server" -c 'DROP DATABASE IF EXISTS vl_bench WITH (FORCE)' -c 'CREATE DATABASE vl_bench'
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
	psql -q "$server" -c 'DROP DATABASE IF EXISTS vl_bench WITH (FORCE)'
}
trap cleanup EXIT
start() { # port cpu
	VALUELOOP_ADMIN_TOKEN=admin-secret-nodes-bench GOMAXPROCS=1 taskset -c "$2" "$tmp/valueloop" serve --addr "127.0.0.1:$1" \
		--database "$DSN" --flags-file production=bench/flags.json --log-level warn 2>>"$tmp/node$1.log" &
	pids+=($!)
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
	echo "node on port $1 did not start:"; cat "$tmp/node$1.log"; exit 1
}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # utime+stime in 1/100 s
run() { # port cpu-list
	taskset -c "$2" wrk -t1 -c"${CONNS:-32}" -d"$DUR" -s bench/ofrep.lua "http://127.0.0.1:$1" 2>&1 | awk '/Requests\/sec/ {print $2}'
}
start 18081 0
TOKEN=$(VALUELOOP_SERVER=http://127.0.0.1:18081 VALUELOOP_TOKEN=admin-secret-nodes-bench "$tmp/valueloop" token create --env production --scope evaluate 2>/dev/null)
export TOKEN FLAG_KEY=${FLAG_KEY:-email-rule}
run 18081 1 >/dev/null # warm-up
c0=$(cpu "${pids[0]}"); one=$(run 18081 1); c1=$(cpu "${pids[0]}")
echo "one node:  $one req/s; node CPU $(((c1 - c0) * 10)) ms"
start 18082 1
run 18082 0,1 >/dev/null & w=$!; run 18081 0,1 >/dev/null; wait $w # warm-up
a0=$(cpu "${pids[0]}"); b0=$(cpu "${pids[1]}")
run 18081 0,1 >"$tmp/a" & w=$!; run 18082 0,1 >"$tmp/b"; wait $w
a1=$(cpu "${pids[0]}"); b1=$(cpu "${pids[1]}")
ra=$(cat "$tmp/a"); rb=$(cat "$tmp/b")
echo "two nodes: $ra + $rb req/s; node CPU $(((a1 - a0) * 10)) + $(((b1 - b0) * 10)) ms"
awk -v one="$one" -v a="$ra" -v b="$rb" -v d="${DUR%s}" -v c1="$(((c1 - c0) * 10))" -v c2="$(((a1 - a0 + b1 - b0) * 10))" 'BEGIN {
	printf "ratio two/one: %.2f; CPU per request: one node %.1f us, two nodes %.1f us\n", (a+b)/one, c1*1000/(one*d), c2*1000/((a+b)*d) }'
