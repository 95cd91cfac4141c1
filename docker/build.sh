#!/usr/bin/env bash
# The Dockerfile's build stage, as a script so CI runs the very same commands
# without a Docker engine: a release build of `tessera`, staged into DEST with
# nothing else (no keys, no database, no sources).
set -euo pipefail
dest=${1:?usage: docker/build.sh DEST}
cd "$(dirname "$0")/.."
# CI passes the flags of its one build in TESSERA_SWIFT_BUILD_FLAGS (.ci/run), so that
# this finds that build up to date; the Dockerfile passes none.
# shellcheck disable=SC2086 # the flags are words
swift build -c release --product tessera ${TESSERA_SWIFT_BUILD_FLAGS:-}
mkdir -p "$dest"
# shellcheck disable=SC2086
install -m 0755 "$(swift build -c release --show-bin-path ${TESSERA_SWIFT_BUILD_FLAGS:-})/tessera" "$dest/tessera"
