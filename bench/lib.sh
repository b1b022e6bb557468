# bench/lib.sh: what upload-memory.sh, ui.sh and events.sh share. Sourced,
# not run: it sets root (this checkout) and work (a temporary directory),
# and on exit kills the server whose pid is in server, if any, and removes
# work.
# shellcheck shell=bash

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
server=
cleanup() {
	if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# build_valueloop builds this checkout's valueloop to $work/valueloop.
build_valueloop() {
	(cd "$root" && go build -o "$work/valueloop" ./cmd/valueloop)
}

# wait_healthy URL: waits up to 10 s for the server at URL to answer /healthz
# (the script's next request says so if it never does).
wait_healthy() {
	for _ in $(seq 100); do curl -fs -o /dev/null "$1/healthz" && break; sleep 0.1; done
}
