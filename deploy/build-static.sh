#!/bin/sh
# Builds the static valueloop binary of the container image into $1 (default
# ./out). The Dockerfile runs this script, and so does deploy/check in CI,
# so the image's build steps are tested where Docker cannot run.
set -eu
out="${1:-out}"
mkdir -p "$out/data"
# Pure Go (SQLite is modernc.org/sqlite): no cgo, so the binary is static
# and runs on an image with no libc.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/valueloop" ./cmd/valueloop
