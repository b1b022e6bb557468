#!/usr/bin/env bash
# bench/upload-memory.sh: what concurrent large event uploads cost the
# server in memory (docs/security.md, max-event-body).
#
# Builds this checkout's valueloop to a temporary directory (or takes BIN),
# starts `valueloop serve` on a fresh data directory, sends UPLOADS uploads
# at once, each of 3,000 tracking events with 300 attributes (about 17 MB,
# JSON), and prints each answer's status, the server's RSS before, its peak
# RSS (VmHWM) after, its RSS once the uploads are done, and the peak of
# the Go runtime's own memory (go_memstats_sys_bytes, sampled from /metrics
# every 50 ms): the rest of the RSS is outside the Go heap (SQLite's).
#
# Usage:
#   bench/upload-memory.sh            # UPLOADS=6
#   BIN=/tmp/valueloop-old UPLOADS=6 bench/upload-memory.sh
# Extra serve flags go in SERVE_FLAGS (e.g. "--max-body-buffered 1GiB").
# Needs: go, curl, awk; Linux (/proc).
set -euo pipefail

uploads=${UPLOADS:-6}
port=${PORT:-18090}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=${BIN:-}
if [[ -z "$bin" ]]; then
	build_valueloop
	bin=$work/valueloop
fi
for i in $(seq "$uploads"); do
	awk -v u="$i" 'BEGIN {
		printf "["
		for (e = 0; e < 3000; e++) {
			if (e) printf ","
			printf "{\"type\":\"tracking\",\"id\":\"u%d-%d\",\"name\":\"purchase\",\"targetingKey\":\"user-%d\",\"value\":1,\"attributes\":{", u, e, e
			for (a = 0; a < 300; a++) printf "%s\"attr%d\":\"val%d\"", (a ? "," : ""), a, e
			printf "}}"
		}
		printf "]"
	}' >"$work/upload-$i.json"
done

token=bench-upload-admin-token-0123456789
# shellcheck disable=SC2086 # SERVE_FLAGS are words
VALUELOOP_ADMIN_TOKEN=$token "$bin" serve --data "$work/data" --addr "127.0.0.1:$port" ${SERVE_FLAGS:-} >"$work/server.log" 2>&1 &
server=$!
wait_healthy "http://127.0.0.1:$port"
rss() { awk -v k="$1:" '$1 == k { print int($2 / 1024) " MB" }' "/proc/$server/status"; }
echo "upload: $(wc -c <"$work/upload-1.json") bytes; server RSS before: $(rss VmRSS)"
sampler() { while :; do curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "go_memstats_sys_bytes" { print $2 + 0 }'; sleep 0.05; done; }
sampler >"$work/go-sys" 2>/dev/null &
sampling=$!
pids=()
for i in $(seq "$uploads"); do
	curl -s -o /dev/null -w "upload $i: %{http_code}\n" -H "Authorization: Bearer $token" -H "Valueloop-Environment: production" \
		-H "Content-Type: application/json" --data-binary "@$work/upload-$i.json" "http://127.0.0.1:$port/api/v1/events" &
	pids+=($!)
done
wait "${pids[@]}"
echo "server RSS peak: $(rss VmHWM), after: $(rss VmRSS)"
kill "$sampling"
awk '$1 > m { m = $1 } END { print "Go runtime memory peak: " int(m / 1048576) " MiB (go_memstats_sys_bytes)" }' "$work/go-sys"
