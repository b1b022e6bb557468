#!/usr/bin/env bash
# bench/ofrep.sh: the reproducible OFREP load test.
#
# Runs, one after the other in one private network namespace, each server
# pinned to CPU 0 with GOMAXPROCS=1 and wrk pinned to CPU 1:
#   bare       bench/bare, net/http reading the body and writing a fixed
#              answer: the ceiling
#   valueloop  ./cmd/valueloop serve with bench/flags.json (50 flags) as
#              production
#   baseline   only when BASELINE is the path of another valueloop binary
#              (one built from an earlier commit), served the same way
#   flagd      only when FLAGD is the path of a flagd binary you built, run
#              with OTEL_TRACES_EXPORTER=none: tracing off, its fastest
#              setting and the fair baseline
# and prints one table: req/s, p50, p99 per server and scenario, with ratios
# against bare and flagd for the same scenario and round, the server's CPU
# time per request and how busy its core was (below ~95%: it waited on
# something); with ROUNDS > 1, the range of each over the rounds; and for
# valueloop the exposures it answered, recorded, found redundant and dropped.
#
# Usage (from anywhere, as root or with CAP_SYS_ADMIN for unshare -n):
#   bench/ofrep.sh
#   FLAGD=/path/to/flagd bench/ofrep.sh
#   NEW_USERS=1 SCENARIOS="static bulk" ROUNDS=3 FLAGD=/path/to/flagd bench/ofrep.sh
# Environment:
#   FLAGD      flagd binary; adds flagd to the run
#   BASELINE   a valueloop binary to compare with; adds baseline to the run
#   SERVERS    servers to run, default "bare valueloop" (+ baseline, flagd)
#   SCENARIOS  default "static targeting"; also: fractional semver ref, and
#              bulk (OFREP bulk evaluation of all 50 flags)
#   ROUNDS     rounds, default 1; each runs every server, in reverse order
#              every other round, so that slow drift of the machine's load
#              falls on all of them alike
#   DURATION   wrk -d per measurement, default 10s
#   WARMUP     unrecorded wrk run before each measurement, default 2s
#   USERS      distinct targeting keys per wrk thread, default 1 (user-123)
#   NEW_USERS  1: every request carries a targeting key never sent before,
#              so every single-flag evaluation records a first exposure
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
	servers=${SERVERS:-bare valueloop${BASELINE:+ baseline}${FLAGD:+ flagd}}
	if [[ " $servers " == *" flagd "* && ! -x "${FLAGD:-}" ]]; then
		echo "ofrep.sh: flagd requested but FLAGD='${FLAGD:-}' is not an executable" >&2
		exit 1
	fi
	if [[ " $servers " == *" baseline "* && ! -x "${BASELINE:-}" ]]; then
		echo "ofrep.sh: baseline requested but BASELINE='${BASELINE:-}' is not an executable" >&2
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

rounds=${ROUNDS:-1}
runs=0
declare -A flag_key=([static]=static-bool [targeting]=email-rule [fractional]=fractional-split [semver]=semver-rule [ref]=ref-rule [bulk]=)
# Context members added to the request body of a scenario; static and
# targeting send exactly {"targetingKey":"user-123","email":"a@example.com"}.
declare -A context_extra=([semver]=',"version":"2.3.0"')
# The variant each scenario must answer for that context (fractional depends
# on the server's hash, so any variant will do).
declare -A want_variant=([static]=on [targeting]=on [fractional]='[a-z]+' [semver]=new [ref]=on [bulk]=on)

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
	valueloop | baseline)
		port=8082
		local bin=$tmp/valueloop
		[[ $server == baseline ]] && bin=$BASELINE
		# A new data directory each time: every round starts from no
		# users, and the exposure counters are this run's.
		rm -rf "$tmp/data"
		mkdir -p "$tmp/data"
		VALUELOOP_ADMIN_TOKEN=admin-secret-ofrep-bench GOMAXPROCS=1 taskset -c 0 "$bin" serve \
			--addr "127.0.0.1:$port" --data "$tmp/data" \
			--flags-file "production=$root/bench/flags.json" >>"$tmp/$server.log" 2>&1 &
		pid=$!
		wait_http "http://127.0.0.1:$port/"
		token=$(VALUELOOP_SERVER="http://127.0.0.1:$port" VALUELOOP_TOKEN=admin-secret-ofrep-bench \
			"$bin" token create --env production --scope evaluate 2>>"$tmp/$server.log")
		;;
	flagd)
		port=8016
		OTEL_TRACES_EXPORTER=none GOMAXPROCS=1 taskset -c 0 "$FLAGD" start --port 8013 --ofrep-port "$port" \
			--management-port 8014 --sync-port 8015 \
			--uri "file:$root/bench/flags.json" >>"$tmp/$server.log" 2>&1 &
		pid=$!
		wait_http "http://127.0.0.1:$port/"
		;;
	*)
		echo "ofrep.sh: unknown server $server (want bare, valueloop or flagd)" >&2
		exit 1
		;;
	esac
}

# exposures: valueloop's exposure counters, "recorded redundant dropped",
# once what was answered has been flushed (every 100 ms).
exposures() {
	sleep 0.5
	curl -s "http://127.0.0.1:$port/metrics" | awk '
		/^valueloop_exposures_recorded_total / { r = $2 }
		/^valueloop_exposures_redundant_total / { d = $2 }
		/^valueloop_exposures_dropped_total / { x = $2 }
		END { printf "%d %d %d\n", r, d, x }'
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
	url=${url%/} # bulk: the set
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
	local bulk=0
	[[ $1 == bulk ]] && bulk=1
	runs=$((runs + 1)) # names the run's new users: never the same twice
	FLAG_KEY=${flag_key[$1]} CONTEXT_EXTRA=${context_extra[$1]:-} TOKEN=$token USERS=${USERS:-1} \
		NEW_USERS=${NEW_USERS:-0} BULK=$bulk RUN="$server$runs" taskset -c 1 \
		wrk -t2 -c50 -d"$2" --latency -s "$root/bench/ofrep.lua" "http://127.0.0.1:$port" >"$3"
}

# answered OUTFILE: the 2xx answers of a wrk run.
answered() {
	local n errs non2xx
	read -r _ n _ _ _ errs non2xx < <(grep '^RESULT ' "$1")
	echo $((n - non2xx))
}

: >"$tmp/results.txt"
# Other processes on either CPU distort the figures: record the load around the run.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$tmp/exposures.txt"
for scenario in $scenarios; do
	[[ -v flag_key[$scenario] ]] || { echo "ofrep.sh: unknown scenario $scenario" >&2; exit 1; }
done
for round in $(seq "$rounds"); do
	order=("${servers[@]}")
	if ((round % 2 == 0)); then
		order=()
		for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[i]}"); done
	fi
	for server in "${order[@]}"; do
		start "$server"
		# single-flag evaluations answered: each a first exposure under NEW_USERS
		single=0
		for scenario in $scenarios; do
			check "$scenario"
			load "$scenario" "$warmup" "$tmp/warmup.txt"
			out="$tmp/wrk-$server-$scenario-$round.txt"
			cpu0=$(cpu_ticks)
			load "$scenario" "$duration" "$out"
			cpu1=$(cpu_ticks)
			# RESULT requests duration_us p50_us p99_us socket_errors non2xx
			read -r _ n us p50 p99 errs non2xx < <(grep '^RESULT ' "$out")
			echo "$server $scenario $n $us $p50 $p99 $errs $non2xx $((cpu1 - cpu0)) $round" >>"$tmp/results.txt"
			if [[ $scenario != bulk ]]; then
				single=$((single + 1 + $(answered "$tmp/warmup.txt") + $(answered "$out")))
			fi
		done
		if [[ $server == valueloop || $server == baseline ]]; then
			echo "$server $round $single $(exposures)" >>"$tmp/exposures.txt"
		fi
		stop
	done
done

if [[ -n ${RAW:-} ]]; then
	mkdir -p "$RAW"
	cp "$tmp"/wrk-*.txt "$tmp"/*.log "$tmp/answers.txt" "$tmp/results.txt" "$RAW"/
fi

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(go env GOVERSION)"
echo "# load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (before well above 0.5: other work shared the CPUs; after includes this run, about 2-3)"
echo "# servers: taskset -c 0, GOMAXPROCS=1; load: taskset -c 1 wrk -t2 -c50 -d$duration --latency (after a $warmup warm-up), USERS=${USERS:-1} NEW_USERS=${NEW_USERS:-0}, $rounds round(s)"
awk -v hz="$(getconf CLK_TCK)" '
	{ server[NR]=$1; scen[NR]=$2; rps[NR]=$3/($4/1e6); p50[NR]=$5/1000; p99[NR]=$6/1000; bad[NR]=$7+$8
	  cpu[NR]=$9/hz*1e6/$3; busy[NR]=100*($9/hz)/($4/1e6); round[NR]=$10
	  if ($1 == "bare") bare[$2, $10]=rps[NR]; if ($1 == "flagd") flagd[$2, $10]=rps[NR] }
	function span(k, name, v) {
		if (!((k, name) in lo) || v < lo[k, name]) lo[k, name] = v
		if (!((k, name) in hi) || v > hi[k, name]) hi[k, name] = v
	}
	function show(k, name, fmt) {
		if (!((k, name) in lo)) return "-"
		a = sprintf(fmt, lo[k, name]); b = sprintf(fmt, hi[k, name])
		return a == b ? a : a "-" b
	}
	END {
		printf "%-10s %-10s %5s %10s %9s %9s %8s %9s %10s %6s %s\n", "server", "scenario", "round", "req/s", "p50 ms", "p99 ms", "vs bare", "vs flagd", "cpu us/req", "cpu %", "errors"
		for (i = 1; i <= NR; i++) {
			vb = ((scen[i], round[i]) in bare) ? sprintf("%.2f", rps[i]/bare[scen[i], round[i]]) : "-"
			vf = ((scen[i], round[i]) in flagd) ? sprintf("%.2f", rps[i]/flagd[scen[i], round[i]]) : "-"
			printf "%-10s %-10s %5d %10.0f %9.2f %9.2f %8s %9s %10.1f %6.0f %d\n", server[i], scen[i], round[i], rps[i], p50[i], p99[i], vb, vf, cpu[i], busy[i], bad[i]
			k = server[i] SUBSEP scen[i]
			if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
			span(k, "rps", rps[i]); span(k, "p99", p99[i]); span(k, "cpu", cpu[i])
			if (vb != "-") span(k, "vb", vb + 0)
			if (vf != "-") span(k, "vf", vf + 0)
		}
		if (round[NR] < 2) exit
		printf "\nranges over %d rounds:\n", round[NR]
		printf "%-10s %-10s %14s %12s %12s %12s %10s\n", "server", "scenario", "req/s", "p99 ms", "vs bare", "vs flagd", "cpu us/req"
		for (j = 1; j <= nk; j++) {
			split(keys[j], kk, SUBSEP)
			printf "%-10s %-10s %14s %12s %12s %12s %10s\n", kk[1], kk[2], show(keys[j], "rps", "%.0f"), show(keys[j], "p99", "%.1f"), show(keys[j], "vb", "%.2f"), show(keys[j], "vf", "%.1f"), show(keys[j], "cpu", "%.0f")
		}
	}' "$tmp/results.txt"
if [[ -s $tmp/exposures.txt ]]; then
	echo
	echo "exposures (per server and round; with NEW_USERS=1, every single-flag answer is a first exposure):"
	awk '{ printf "%-10s round %d: %d single-flag answers, %d exposures recorded, %d redundant, %d dropped\n", $1, $2, $3, $4, $5, $6 }' "$tmp/exposures.txt"
fi
