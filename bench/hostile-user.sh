#!/usr/bin/env bash
# bench/hostile-user.sh: what one user exposed to ever more flags costs the
# single writer (docs/security.md, max-flags-per-user).
#
# Builds this checkout's valueloop to a temporary directory (or takes BIN),
# starts `valueloop serve` on a fresh data directory with one count metric,
# and sends ROUNDS rounds, one after another, each of: an upload of 10,000
# exposures of user "victim" to flags never seen before (the hostile one),
# 100 tracking events of "victim", and 10,000 events of 5,000 other users
# (a fifth exposures of flag checkout, the rest tracking events). Prints
# each request's status and time and the server's RSS after each round,
# then the counts of stored and unanalysed exposures. Compare two builds by
# running it with BIN set to each, alternately.
#
# Usage:
#   bench/hostile-user.sh                    # ROUNDS=6
#   BIN=/tmp/valueloop-old ROUNDS=6 bench/hostile-user.sh
# Needs: go, curl, awk; Linux (/proc).
set -euo pipefail

rounds=${ROUNDS:-6}
port=${PORT:-18091}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=${BIN:-}
if [[ -z "$bin" ]]; then
	build_valueloop
	bin=$work/valueloop
fi
for k in $(seq 0 $((rounds - 1))); do
	awk -v k="$k" 'BEGIN {
		for (i = 0; i < 10000; i++)
			printf "{\"type\":\"exposure\",\"flag\":\"x%d\",\"variant\":\"on\",\"targetingKey\":\"victim\"}\n", k * 10000 + i
	}' >"$work/hostile-$k.ndjson"
	awk -v k="$k" 'BEGIN {
		for (i = 0; i < 10000; i++) {
			u = (k * 10000 + i) % 5000
			if (i % 5 == 0)
				printf "{\"type\":\"exposure\",\"flag\":\"checkout\",\"variant\":\"%s\",\"targetingKey\":\"u%d\"}\n", (i % 2 ? "off" : "on"), u
			else
				printf "{\"type\":\"tracking\",\"name\":\"purchase\",\"targetingKey\":\"u%d\",\"value\":1.5}\n", u
		}
	}' >"$work/normal-$k.ndjson"
done
awk 'BEGIN { for (i = 0; i < 100; i++) printf "{\"type\":\"tracking\",\"name\":\"purchase\",\"targetingKey\":\"victim\",\"value\":1}\n" }' >"$work/victim.ndjson"

token=bench-hostile-admin-token-0123456789
VALUELOOP_ADMIN_TOKEN=$token "$bin" serve --data "$work/data" --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
wait_healthy "http://127.0.0.1:$port"
VALUELOOP_SERVER="http://127.0.0.1:$port" VALUELOOP_TOKEN=$token "$bin" metrics create --env production --key purchases --kind count --event purchase >/dev/null
post() {
	curl -s -o /dev/null -w '%{http_code} %{time_total}s' -H "Authorization: Bearer $token" -H "Valueloop-Environment: production" \
		-H "Content-Type: application/x-ndjson" --data-binary "@$1" "http://127.0.0.1:$port/api/v1/events"
}
for k in $(seq 0 $((rounds - 1))); do
	h=$(post "$work/hostile-$k.ndjson")
	v=$(post "$work/victim.ndjson")
	n=$(post "$work/normal-$k.ndjson")
	rss=$(awk '$1 == "VmRSS:" { print int($2 / 1024) " MiB" }' "/proc/$server/status")
	echo "round $k: hostile (10,000 new flags) $h; victim's 100 tracking events $v; normal (10,000) $n; RSS $rss"
done
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" | grep -E '^valueloop_(exposures_unanalysed|events_stored)_total' || true
