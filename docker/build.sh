#!/usr/bin/env bash
# The Dockerfile's build stage, as a script so CI runs the very same commands
# without a Docker engine: a release build of `tessera`, staged into DEST with
# nothing else (no keys, no database, no sources).
set -euo pipefail
dest=${1:?usage: docker/build.sh DEST}
cd "$(dirname "$0")/.."
swift build -c release --product tessera
mkdir -p "$dest"
install -m 0755 "$(swift build -c release --show-bin-path)/tessera" "$dest/tessera"
