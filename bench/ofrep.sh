#!/usr/bin/env bash
# bench/ofrep.sh: the reproducible OFREP load test.
#
# Runs, one after the other in one private network namespace, each server
# pinned to CPU 0 with GOMAXPROCS=1 and wrk pinned to CPU 1:
#   bare       bench/bare, net/http reading the body and writing a fixed
#              answer: the ceiling
#   valueloop  ./cmd/valueloop serve with bench/flags.json as production
#   flagd      only when FLAGD is the path of a flagd binary you built
# and prints one table: req/s, p50, p99 per server and scenario, with ratios
# against bare and flagd for the same scenario, the server's CPU time per
# request and how busy its core was (below ~95%: it waited on something).
#
# Usage (from anywhere, as root or with CAP_SYS_ADMIN for unshare -n):
#   bench/ofrep.sh
#   FLAGD=/path/to/flagd bench/ofrep.sh
# Environment:
#   FLAGD      flagd binary; adds flagd to the run
#   SERVERS    servers to run, default "bare valueloop" (+ flagd with FLAGD)
#   SCENARIOS  default "static targeting"; also: fractional semver ref
#   DURATION   wrk -d per measurement, default 10s
#   WARMUP     unrecorded wrk run before each measurement, default 2s
#   USERS      distinct targeting keys per wrk thread, default 1 (user-123)
#   RAW        directory to keep every wrk output and server log in
# Needs: go, wrk, curl, taskset, unshare, ip, and at least 2 CPUs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ "${1:-}" != "--inside" ]]; then
	for tool in go wrk curl taskset unshare ip; do
		command -v "$tool" >/dev/null || { echo "ofrep.sh: $tool not found (wrk: apt-get install wrk)" >&2; exit 1; }
	done
	if (($(nproc) < 2)); then
		echo "ofrep.sh: needs 2 CPUs (server on CPU 0, wrk on CPU 1), have $(nproc)" >&2
		exit 1
	fi
	servers=${SERVERS:-bare valueloop${FLAGD:+ flagd}}
	if [[ " $servers " == *" flagd "* && ! -x "${FLAGD:-}" ]]; then
		echo "ofrep.sh: flagd requested but FLAGD='${FLAGD:-}' is not an executable" >&2
		exit 1
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(
		cd "$root"
		go build -o "$tmp/bare" ./bench/bare
		if [[ " $servers " == *" valueloop "* ]]; then
			go build -o "$tmp/valueloop" ./cmd/valueloop
		fi
	)
	SERVERS=$servers unshare -n -- bash "${BASH_SOURCE[0]}" --inside "$tmp"
	exit
fi

# Inside the private network namespace: nothing here is reachable from outside,
# and the fixed ports below cannot collide with anything on the host.
tmp=$2
ip link set lo up
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
scenarios=${SCENARIOS:-static targeting}
read -r -a servers <<<"$SERVERS"

declare -A flag_key=([static]=static-bool [targeting]=email-rule [fractional]=fractional-split [semver]=semver-rule [ref]=ref-rule)
# Context members added to the request body of a scenario; static and
# targeting send exactly {"targetingKey":"user-123","email":"a@example.com"}.
declare -A context_extra=([semver]=',"version":"2.3.0"')
# The variant each scenario must answer for that context (fractional depends
# on the server's hash, so any variant will do).
declare -A want_variant=([static]=on [targeting]=on [fractional]='[a-z]+' [semver]=new [ref]=on)

pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# wait_http URL: waits up to 20 s for anything to answer HTTP at URL.
wait_http() {
	for _ in $(seq 200); do
		if curl -s -o /dev/null "$1"; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	echo "ofrep.sh: $server did not start; its log:" >&2
	cat "$tmp/$server.log" >&2
	exit 1
}

start() {
	server=$1
	token=none
	case $server in
	bare)
		port=8081
		GOMAXPROCS=1 taskset -c 0 "$tmp/bare" -addr "127.0.0.1:$port" >"$tmp/$server.log" 2>&1 &
		pid=$!
		wait_http "http://127.0.0.1:$port/"
		;;
	valueloop)
		port=8082
		mkdir -p "$tmp/data"
		VALUELOOP_ADMIN_TOKEN=admin-secret-ofrep-bench GOMAXPROCS=1 taskset -c 0 "$tmp/valueloop" serve \
			--addr "127.0.0.1:$port" --data "$tmp/data" \
			--flags-file "production=$root/bench/flags.json" >"$tmp/$server.log" 2>&1 &
		pid=$!
		wait_http "http://127.0.0.1:$port/"
		token=$(VALUELOOP_SERVER="http://127.0.0.1:$port" VALUELOOP_TOKEN=admin-secret-ofrep-bench \
			"$tmp/valueloop" token create --env production --scope evaluate 2>>"$tmp/$server.log")
		;;
	flagd)
		port=8016
		GOMAXPROCS=1 taskset -c 0 "$FLAGD" start --port 8013 --ofrep-port "$port" \
			--management-port 8014 --sync-port 8015 \
			--uri "file:$root/bench/flags.json" >"$tmp/$server.log" 2>&1 &
		pid=$!
		wait_http "http://127.0.0.1:$port/"
		;;
	*)
		echo "ofrep.sh: unknown server $server (want bare, valueloop or flagd)" >&2
		exit 1
		;;
	esac
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# check SCENARIO: one request with curl; the answer must be 200 with the
# expected variant, so that a fast error page is never measured as a result.
check() {
	local url="http://127.0.0.1:$port/ofrep/v1/evaluate/flags/${flag_key[$1]}" body code
	body=$(curl -s -w '\n%{http_code}' -X POST "$url" \
		-H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
		-d '{"context":{"targetingKey":"user-123","email":"a@example.com"'"${context_extra[$1]:-}"'}}')
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	echo "$server $1: HTTP $code $body" >>"$tmp/answers.txt"
	if [[ $server != bare && ($code != 200 || ! $body =~ \"variant\"\ *:\ *\"${want_variant[$1]}\") ]]; then
		echo "ofrep.sh: $server answered $1 with HTTP $code $body" >&2
		exit 1
	fi
}

# cpu_ticks: user+system CPU time the server has used, in clock ticks. CPU
# time per request is steadier than req/s when other work shares the machine.
cpu_ticks() {
	local stat
	stat=$(<"/proc/$pid/stat")
	stat=${stat##*) } # fields after the command name, from field 3 (state)
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12])) # utime (field 14) + stime (field 15)
}

load() { # load SCENARIO DURATION OUTFILE
	FLAG_KEY=${flag_key[$1]} CONTEXT_EXTRA=${context_extra[$1]:-} TOKEN=$token USERS=${USERS:-1} taskset -c 1 \
		wrk -t2 -c50 -d"$2" --latency -s "$root/bench/ofrep.lua" "http://127.0.0.1:$port" >"$3"
}

: >"$tmp/results.txt"
# Other processes on either CPU distort the figures: record the load around the run.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for server in "${servers[@]}"; do
	start "$server"
	for scenario in $scenarios; do
		[[ -n ${flag_key[$scenario]:-} ]] || { echo "ofrep.sh: unknown scenario $scenario" >&2; exit 1; }
		check "$scenario"
		load "$scenario" "$warmup" /dev/null
		out="$tmp/wrk-$server-$scenario.txt"
		cpu0=$(cpu_ticks)
		load "$scenario" "$duration" "$out"
		cpu1=$(cpu_ticks)
		# RESULT requests duration_us p50_us p99_us socket_errors non2xx
		read -r _ n us p50 p99 errs non2xx < <(grep '^RESULT ' "$out")
		echo "$server $scenario $n $us $p50 $p99 $errs $non2xx $((cpu1 - cpu0))" >>"$tmp/results.txt"
	done
	stop
done

if [[ -n ${RAW:-} ]]; then
	mkdir -p "$RAW"
	cp "$tmp"/wrk-*.txt "$tmp"/*.log "$tmp/answers.txt" "$tmp/results.txt" "$RAW"/
fi

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(go env GOVERSION)"
echo "# load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (before well above 0.5: other work shared the CPUs; after includes this run, about 2-3)"
echo "# servers: taskset -c 0, GOMAXPROCS=1; load: taskset -c 1 wrk -t2 -c50 -d$duration --latency (after a $warmup warm-up), USERS=${USERS:-1}"
awk -v hz="$(getconf CLK_TCK)" '
	{ server[NR]=$1; scen[NR]=$2; rps[NR]=$3/($4/1e6); p50[NR]=$5/1000; p99[NR]=$6/1000; bad[NR]=$7+$8
	  cpu[NR]=$9/hz*1e6/$3; busy[NR]=100*($9/hz)/($4/1e6)
	  if ($1 == "bare") bare[$2]=rps[NR]; if ($1 == "flagd") flagd[$2]=rps[NR] }
	END {
		printf "%-10s %-10s %10s %9s %9s %8s %9s %10s %6s %s\n", "server", "scenario", "req/s", "p50 ms", "p99 ms", "vs bare", "vs flagd", "cpu us/req", "cpu %", "errors"
		for (i = 1; i <= NR; i++) {
			vb = (scen[i] in bare) ? sprintf("%.2f", rps[i]/bare[scen[i]]) : "-"
			vf = (scen[i] in flagd) ? sprintf("%.2f", rps[i]/flagd[scen[i]]) : "-"
			printf "%-10s %-10s %10.0f %9.2f %9.2f %8s %9s %10.1f %6.0f %d\n", server[i], scen[i], rps[i], p50[i], p99[i], vb, vf, cpu[i], busy[i], bad[i]
		}
	}' "$tmp/results.txt"
