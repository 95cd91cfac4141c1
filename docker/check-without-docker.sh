#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine (none runs in CI): the build
# stage (docker/build.sh), the runtime stage's user (a system user `tessera`,
# uid 10001, when run as root) and its HEALTHCHECK, then bootstrap and a token
# through the staged binary, on the PostgreSQL named by TESSERA_TEST_POSTGRES_URL
# as compose.yaml wires it.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TESSERA_TEST_POSTGRES_URL:?needs a PostgreSQL (scripts/test-postgres start DIR)}"

stage=$(mktemp -d /tmp/tessera-image.XXXXXX)
home=$(mktemp -d /tmp/tessera-home.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$stage" "$home"' EXIT

echo "-- the build stage copies every folder Package.swift names (SwiftPM refuses a missing one)"
for dir in Sources Tests $(grep -o 'path: "[^"/]*' Package.swift | sed 's/path: "//' | sort -u); do
    grep -q "^COPY $dir \./$dir\$" docker/Dockerfile || { echo "docker/Dockerfile does not COPY $dir, which Package.swift uses"; exit 1; }
done

echo "-- build stage"
docker/build.sh "$stage"
[ "$(ls "$stage")" = tessera ] || { echo "the image would hold more than the binary: $(ls "$stage")"; exit 1; }

echo "-- runtime stage"
run=()
if [ "$(id -u)" = 0 ]; then
    id tessera >/dev/null 2>&1 || useradd --system --uid 10001 --home-dir "$home" tessera
    chown tessera "$home"
    chmod 755 "$stage"
    run=(runuser -u tessera --)
fi
database="tessera_image_$RANDOM$RANDOM"
psql "$TESSERA_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TESSERA_DATABASE_URL="${TESSERA_TEST_POSTGRES_URL%%/tessera\?*}/$database?sslmode=disable"
export TESSERA_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export TESSERA_ISSUER="http://localhost:$port" TESSERA_AUTH_ADDRESS_FAILURE_LIMIT=0 TESSERA_HOST=127.0.0.1 TESSERA_PORT=$port
(cd "$home" && exec "${run[@]}" "$stage/tessera" serve) >"$home/serve.log" 2>&1 &
pid=$!

echo "-- HEALTHCHECK"
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$home/serve.log"; exit 1; }
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health/ready"
echo
if [ ${#run[@]} -gt 0 ]; then
    [ "$(ps -o user= -p "$(pgrep -P "$pid" -f 'tessera serve' || echo "$pid")" | tr -d ' ')" = tessera ] || { echo "not running as tessera"; exit 1; }
fi

echo "-- bootstrap and a token"
admin=$(cd "$home" && "${run[@]}" "$stage/tessera" bootstrap --tenant acme --json)
curl -fsS -u "$(jq -r .client_id <<<"$admin"):$(jq -r .client_secret <<<"$admin")" -d grant_type=client_credentials \
    "http://127.0.0.1:$port/oauth2/token" | jq -e '.token_type == "Bearer"' >/dev/null
echo "image steps: ok"
