"""Several replicas on one PostgreSQL (issue #6): coherence across replicas within a
second, one signing key, a refused foreign master key, and a database restart
under traffic. `.ci/run` starts the PostgreSQL (scripts/test-postgres) and names
it in TESSERA_TEST_POSTGRES_URL and TESSERA_TEST_POSTGRES_DIR."""

import base64
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse

import jwt
import pytest
import requests

from conftest import BIN, Server, start_server, stop_server

POSTGRES_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")
POSTGRES_DIR = os.environ.get("TESSERA_TEST_POSTGRES_DIR")
SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "scripts")

if not POSTGRES_URL:
    # In CI the database is always there: a missing one is a broken run, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError("TESSERA_TEST_POSTGRES_URL is not set")
    pytest.skip("no PostgreSQL (set TESSERA_TEST_POSTGRES_URL, as .ci/run does)", allow_module_level=True)


def fresh_database() -> str:
    """A new database on the test server; its URL."""
    name = "tessera_replicas_" + secrets.token_hex(6)
    subprocess.run(["psql", POSTGRES_URL, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def replicas():
    """Two `tessera serve` processes on one database and master key, under one issuer URL."""
    environment = {
        "TESSERA_DATABASE_URL": fresh_database(),
        "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    first = start_server("ES256", "--jwks-max-age", "0", environment=environment, issuer="http://issuer.test")
    second = start_server("ES256", "--jwks-max-age", "0", environment=environment, issuer="http://issuer.test")
    yield first, second, environment
    stop_server(first)
    stop_server(second)


def bearer(server: Server, credentials: dict) -> dict:
    return {"Authorization": "Bearer " + server.token(credentials["client_id"], credentials["client_secret"])["access_token"]}


def token_status(server: Server, client_id: str, secret: str) -> int:
    return requests.post(
        server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    ).status_code


def test_a_change_on_one_replica_takes_effect_on_the_other_within_a_second(replicas):
    a, b, _ = replicas
    admin = a.bootstrap()

    # Create on A → token on B.
    created = requests.post(f"{a.issuer}/v1/tenants/acme/service-accounts", json={"name": "worker"}, headers=bearer(a, admin), timeout=10)
    assert created.status_code == 201, created.text
    account = created.json()
    assert token_status(b, account["client_id"], account["client_secret"]) == 200

    # Disable on B → refused on A within 1 s (A had the client cached).
    assert token_status(a, account["client_id"], account["client_secret"]) == 200
    patched = requests.patch(
        f"{b.issuer}/v1/tenants/acme/service-accounts/{account['id']}", json={"status": "disabled"}, headers=bearer(b, admin), timeout=10,
    )
    assert patched.status_code == 200, patched.text
    disabled_at = time.monotonic()
    while token_status(a, account["client_id"], account["client_secret"]) != 401:
        assert time.monotonic() - disabled_at < 1.0, "A still issues tokens for a disabled account"
        time.sleep(0.05)

    # Revoke on A → introspection inactive on B.
    token = a.token(admin["client_id"], admin["client_secret"])["access_token"]
    introspect = lambda server: requests.post(  # noqa: E731
        server.issuer + "/oauth2/introspect", data={"token": token}, auth=(admin["client_id"], admin["client_secret"]), timeout=10
    ).json()
    assert introspect(b)["active"] is True
    revoked = requests.post(a.issuer + "/oauth2/revoke", data={"token": token}, auth=(admin["client_id"], admin["client_secret"]), timeout=10)
    assert revoked.status_code == 200
    assert introspect(b) == {"active": False}

    # A role changed on A reaches B's cached clients too.
    role = requests.post(
        f"{a.issuer}/v1/tenants/acme/roles", json={"name": "billing", "scopes": ["invoices:read"]}, headers=bearer(a, admin), timeout=10
    )
    assert role.status_code == 201, role.text
    billing = requests.post(
        f"{a.issuer}/v1/tenants/acme/service-accounts", json={"name": "billing", "roles": ["billing"]}, headers=bearer(a, admin), timeout=10,
    ).json()
    assert b.token(billing["client_id"], billing["client_secret"])["scope"] == "invoices:read"
    changed = requests.put(
        f"{a.issuer}/v1/tenants/acme/roles/billing", json={"scopes": ["invoices:read", "invoices:write"]}, headers=bearer(a, admin), timeout=10
    )
    assert changed.status_code == 200, changed.text
    changed_at = time.monotonic()
    while b.token(billing["client_id"], billing["client_secret"])["scope"] != "invoices:read invoices:write":
        assert time.monotonic() - changed_at < 1.0, "B still grants the role's old scopes"
        time.sleep(0.05)

    # A secret deleted on B stops working on A at once.
    secrets_listed = requests.get(f"{b.issuer}/v1/tenants/acme/service-accounts/{billing['id']}/secrets", headers=bearer(b, admin), timeout=10)
    secret_id = secrets_listed.json()["items"][0]["id"]
    deleted = requests.delete(
        f"{b.issuer}/v1/tenants/acme/service-accounts/{billing['id']}/secrets/{secret_id}", headers=bearer(b, admin), timeout=10
    )
    assert deleted.status_code == 204
    deleted_at = time.monotonic()
    while token_status(a, billing["client_id"], billing["client_secret"]) != 401:
        assert time.monotonic() - deleted_at < 1.0, "A still accepts a deleted secret"
        time.sleep(0.05)


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_replicas_sign_with_one_key_and_follow_a_rotation(replicas):
    a, b, _ = replicas
    admin = a.bootstrap()
    first = kid_of(a.token(admin["client_id"], admin["client_secret"])["access_token"])
    assert kid_of(b.token(admin["client_id"], admin["client_secret"])["access_token"]) == first
    jwks = lambda server: requests.get(server.issuer + "/.well-known/jwks.json", timeout=10).json()  # noqa: E731
    assert jwks(a) == jwks(b)

    # Rotate through A's store: the next key is published by both at once...
    rotated = json.loads(a.tessera("keys", "rotate", "--jwks-max-age", "0").stdout)
    assert rotated["result"] == "scheduled"
    deadline = time.monotonic() + 1.0
    while rotated["kid"] not in [key["kid"] for key in jwks(b)["keys"]]:
        assert time.monotonic() < deadline, "B does not publish the next key"
        time.sleep(0.05)
    # ...and once due (0 s max-age + 10 s), one replica promotes it and B signs with it.
    deadline = time.monotonic() + 30
    while kid_of(b.token(admin["client_id"], admin["client_secret"])["access_token"]) != rotated["kid"]:
        assert time.monotonic() < deadline, "B never signs with the rotated key"
        time.sleep(0.2)
    assert kid_of(a.token(admin["client_id"], admin["client_secret"])["access_token"]) == rotated["kid"]
    listed = json.loads(a.tessera("keys", "list").stdout)
    assert sorted(key["state"] for key in listed) == ["active", "retired"]


def test_a_replica_with_another_master_key_refuses_to_start(replicas):
    a, _, environment = replicas
    a.bootstrap()
    other = dict(environment, TESSERA_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | other
    result = subprocess.run([BIN, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot be decrypted with this master key" in result.stderr


def test_migrate_command_and_no_migrate():
    url = fresh_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | {"TESSERA_DATABASE_URL": url}
    refused = subprocess.run([BIN, "serve", "--no-migrate", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "run `tessera migrate` first" in refused.stderr
    first = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert first.stdout.strip() == "applied v1"
    again = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout.startswith("already up to date")


def postgres(command: str) -> None:
    subprocess.run([os.path.join(SCRIPTS, "test-postgres"), command, POSTGRES_DIR], check=True, timeout=60)


def test_a_database_restart_under_traffic_loses_nothing_and_recovers(replicas):
    assert POSTGRES_DIR, "TESSERA_TEST_POSTGRES_DIR must name the test server's folder"
    a, b, _ = replicas
    admin = a.bootstrap()
    headers = bearer(a, admin)
    stop = threading.Event()
    acknowledged: list[str] = []
    statuses: dict[int, int] = {}
    without_retry_after: list[str] = []
    lock = threading.Lock()

    def traffic(server: Server, index: int):
        while not stop.is_set():
            name = f"load-{index}-{secrets.token_hex(4)}"
            try:
                created = requests.post(f"{server.issuer}/v1/tenants/acme/service-accounts", json={"name": name}, headers=headers, timeout=15)
                issued = requests.post(
                    server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                    auth=(admin["client_id"], admin["client_secret"]), timeout=15,
                )
            except requests.RequestException:
                continue
            with lock:
                for response in (created, issued):
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 503 and not response.headers.get("Retry-After"):
                        without_retry_after.append(response.text)
                if created.status_code == 201:
                    acknowledged.append(name)
            time.sleep(0.02)

    threads = [threading.Thread(target=traffic, args=(server, i)) for i, server in enumerate((a, b, a, b))]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    postgres("stop")
    try:
        time.sleep(1)
        # While it is down: not ready, tokens for known clients still issued, writes refused with 503.
        assert requests.get(a.issuer + "/health/ready", timeout=15).status_code == 503
        assert a.token(admin["client_id"], admin["client_secret"])["token_type"] == "Bearer"
        refused = requests.post(f"{b.issuer}/v1/tenants/acme/service-accounts", json={"name": "while-down"}, headers=headers, timeout=15)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        time.sleep(2)
    finally:
        postgres("restart")
    # Both recover without a restart of Tessera.
    deadline = time.monotonic() + 30
    for server in (a, b):
        while requests.get(server.issuer + "/health/ready", timeout=15).status_code != 200:
            assert time.monotonic() < deadline, "a replica did not become ready again"
            time.sleep(0.2)
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not [status for status in statuses if status >= 500 and status != 503], statuses
    assert not without_retry_after
    assert statuses.get(503, 0) > 0, statuses
    assert statuses.get(201, 0) > 0 and statuses.get(200, 0) > 0, statuses
    # Every acknowledged write is there; the refused one is not.
    names = set()
    cursor = None
    while True:
        url = f"{a.issuer}/v1/tenants/acme/service-accounts?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = requests.get(url, headers=bearer(a, admin), timeout=15).json()
        names.update(item["name"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(acknowledged) <= names
    assert "while-down" not in names
    created = requests.post(f"{b.issuer}/v1/tenants/acme/service-accounts", json={"name": "after"}, headers=bearer(b, admin), timeout=15)
    assert created.status_code == 201, created.text
