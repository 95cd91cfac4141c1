"""Several replicas on one PostgreSQL (docs/operations.md): coherence across replicas, one signing
key, a refused foreign master key, and a database restart under traffic. `.ci/run` starts
the PostgreSQL (scripts/test-postgres) and names it in TESSERA_TEST_POSTGRES_URL and
TESSERA_TEST_POSTGRES_DIR. These tests run whenever TESSERA_TEST_POSTGRES_URL is set;
without it they fail under CI and are skipped elsewhere.

Changes reach the other replica through PostgreSQL's change feed, within a second on an
idle machine; on a busy one the HTTP round trips alone can take that long, so these
tests poll for the final state within a generous budget instead of timing it."""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass

import jwt
import pytest
import requests

from conftest import BIN, ROOT, Server, eventually, service_missing, start_server, stop_server

POSTGRES_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")
POSTGRES_DIR = os.environ.get("TESSERA_TEST_POSTGRES_DIR")
TEST_POSTGRES = os.path.join(ROOT, "scripts", "test-postgres")
# How long a change on one replica may take to show on the other here (docs/operations.md's
# "within a second", plus round trips on a loaded 2-core machine).
PROPAGATION = 5.0


@pytest.fixture(scope="module")
def postgres_url() -> str:
    """The test server's URL; a missing server fails under CI and skips elsewhere."""
    if not POSTGRES_URL:
        service_missing(
            "no PostgreSQL: TESSERA_TEST_POSTGRES_URL is not set "
            "(export TESSERA_TEST_POSTGRES_URL=$(scripts/test-postgres start DIR), as .ci/run does)"
        )
    if shutil.which("psql") is None:
        service_missing("psql is not installed (postgresql-client): it creates the test databases")
    return POSTGRES_URL


def fresh_database(postgres_url: str) -> str:
    """A new database on the test server; its URL."""
    name = "tessera_replicas_" + secrets.token_hex(6)
    created = subprocess.run(["psql", postgres_url, "-qc", f"CREATE DATABASE {name}"], capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, f"psql could not create a database on {postgres_url}: {created.stderr}"
    parts = urllib.parse.urlsplit(postgres_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def replicas(postgres_url):
    """Two `tessera serve` processes on one database and master key, under one issuer URL."""
    environment = {
        "TESSERA_DATABASE_URL": fresh_database(postgres_url),
        "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    first = start_server("ES256", "--jwks-max-age", "0", environment=environment, issuer="http://issuer.test")
    try:
        second = start_server("ES256", "--jwks-max-age", "0", environment=environment, issuer="http://issuer.test")
        try:
            yield first, second, environment
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def bearer(server: Server, credentials: dict) -> dict:
    return {"Authorization": "Bearer " + server.token(credentials["client_id"], credentials["client_secret"])["access_token"]}


def token_answer(server: Server, client_id: str, secret: str) -> tuple[int, dict]:
    response = requests.post(
        server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    )
    return response.status_code, response.json()


def token_status(server: Server, client_id: str, secret: str) -> int:
    return token_answer(server, client_id, secret)[0]


INVALID_CLIENT = (401, {"error": "invalid_client", "error_description": "client authentication failed"})


def test_a_change_on_one_replica_takes_effect_on_the_other(replicas):
    a, b, _ = replicas
    admin = a.bootstrap()

    # Create on A → token on B.
    created = requests.post(f"{a.issuer}/v1/tenants/acme/service-accounts", json={"name": "worker"}, headers=bearer(a, admin), timeout=10)
    assert created.status_code == 201, created.text
    account = created.json()
    assert token_status(b, account["client_id"], account["client_secret"]) == 200

    # Disable on B → refused on A (A had the client cached).
    assert token_status(a, account["client_id"], account["client_secret"]) == 200
    patched = requests.patch(
        f"{b.issuer}/v1/tenants/acme/service-accounts/{account['id']}", json={"status": "disabled"}, headers=bearer(b, admin), timeout=10,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "disabled"
    eventually(
        lambda: token_answer(a, account["client_id"], account["client_secret"]), INVALID_CLIENT,
        "A still issues tokens for an account disabled on B", budget=PROPAGATION,
    )

    # Revoke on A → introspection inactive on B.
    token = a.token(admin["client_id"], admin["client_secret"])["access_token"]
    introspect = lambda server: requests.post(  # noqa: E731
        server.issuer + "/oauth2/introspect", data={"token": token}, auth=(admin["client_id"], admin["client_secret"]), timeout=10
    ).json()
    assert introspect(b)["active"] is True
    revoked = requests.post(a.issuer + "/oauth2/revoke", data={"token": token}, auth=(admin["client_id"], admin["client_secret"]), timeout=10)
    assert revoked.status_code == 200
    # Revocations are read from the database on every check: inactive on B at once.
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
    eventually(
        lambda: b.token(billing["client_id"], billing["client_secret"])["scope"], "invoices:read invoices:write",
        "B still grants the role's old scopes", budget=PROPAGATION,
    )

    # A secret deleted on B stops working on A (which had it cached).
    assert token_status(a, billing["client_id"], billing["client_secret"]) == 200
    secrets_listed = requests.get(f"{b.issuer}/v1/tenants/acme/service-accounts/{billing['id']}/secrets", headers=bearer(b, admin), timeout=10)
    assert secrets_listed.status_code == 200, secrets_listed.text
    assert len(secrets_listed.json()["items"]) == 1, secrets_listed.text
    secret_id = secrets_listed.json()["items"][0]["id"]
    deleted = requests.delete(
        f"{b.issuer}/v1/tenants/acme/service-accounts/{billing['id']}/secrets/{secret_id}", headers=bearer(b, admin), timeout=10
    )
    assert deleted.status_code == 204
    eventually(
        lambda: token_answer(a, billing["client_id"], billing["client_secret"]), INVALID_CLIENT,
        "A still accepts a secret deleted on B", budget=PROPAGATION,
    )


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
    published = lambda server: sorted(key["kid"] for key in jwks(server)["keys"])  # noqa: E731
    eventually(lambda: published(b), sorted([first, rotated["kid"]]), "B does not publish the next key", budget=PROPAGATION)
    assert published(a) == sorted([first, rotated["kid"]])
    # ...and once due (0 s max-age + 10 s), one replica promotes it and B signs with it.
    eventually(
        lambda: kid_of(b.token(admin["client_id"], admin["client_secret"])["access_token"]), rotated["kid"],
        "B never signs with the rotated key", budget=30, interval=0.2,
    )
    assert kid_of(a.token(admin["client_id"], admin["client_secret"])["access_token"]) == rotated["kid"]
    listed = json.loads(a.tessera("keys", "list").stdout)
    assert {key["kid"]: key["state"] for key in listed} == {first: "retired", rotated["kid"]: "active"}


def test_a_replica_with_another_master_key_refuses_to_start(replicas):
    a, _, environment = replicas
    a.bootstrap()
    other = dict(environment, TESSERA_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | other
    result = subprocess.run([BIN, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    # The last log line, after its timestamp, in docs/operations.md's words. (Warnings from the
    # PostgreSQL client may come before it on a busy machine.)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ critical tessera: error=a stored key cannot be decrypted with this master key "
        r"\(was the database created with another one\?\) \[tessera\] cannot start",
        result.stderr.splitlines()[-1] if result.stderr else "",
    ), result.stderr
    assert result.stdout == ""


def test_migrate_command_and_no_migrate(postgres_url):
    url = fresh_database(postgres_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | {"TESSERA_DATABASE_URL": url}
    refused = subprocess.run([BIN, "serve", "--no-migrate", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 64, refused.stderr
    # That line exactly (log warnings from the PostgreSQL client may come before it).
    assert "Error: the database lacks migrations v1, v2, v3, v4, v5, v6, v7, v8, v9; run `tessera migrate` first" in refused.stderr.splitlines(), refused.stderr
    first = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert first.stdout == "applied v1, v2, v3, v4, v5, v6, v7, v8, v9\n"
    again = subprocess.run([BIN, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout == "already up to date (v1, v2, v3, v4, v5, v6, v7, v8, v9)\n"


@pytest.fixture
def postgres_dir(postgres_url) -> str:
    """The test server's folder, for scripts/test-postgres stop and restart."""
    if not POSTGRES_DIR:
        service_missing(
            "TESSERA_TEST_POSTGRES_DIR is not set: restarting the test PostgreSQL needs the folder "
            "given to scripts/test-postgres start (.ci/run exports it)"
        )
    if not os.path.isfile(os.path.join(POSTGRES_DIR, "port")):
        service_missing(f"TESSERA_TEST_POSTGRES_DIR={POSTGRES_DIR} is not a folder made by scripts/test-postgres start")
    return POSTGRES_DIR


def postgres(command: str, directory: str) -> None:
    done = subprocess.run([TEST_POSTGRES, command, directory], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"scripts/test-postgres {command} failed: {done.stdout}{done.stderr}"


# What an admin write answers while the store is unreachable (docs/operations.md "Outages").
STORE_UNAVAILABLE = {"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "the store is unavailable"}


@dataclass
class Exchange:
    """One request of the traffic: when it started and ended, and what came back."""

    worker: int
    kind: str  # "create" (an admin write) or "token" (a known client's token)
    started: float
    ended: float
    status: int | None = None
    retry_after: str | None = None
    body: object = None
    error: str | None = None  # an exception instead of an answer
    name: str | None = None  # the account a write creates


def test_a_database_restart_under_traffic_loses_nothing_and_recovers(replicas, postgres_dir):
    """Four workers (two per replica) create accounts and obtain tokens while PostgreSQL
    stops and restarts. Allowed, and nothing else:

    - token requests (a client both replicas know): 200, throughout;
    - admin writes: 201, or 503 with `Retry-After: 1` and the store-unavailable problem,
      the 503 only for a request that overlapped the outage (from the stop until both
      replicas are ready again);
    - no request fails at the HTTP level (refused, reset, timed out): Tessera itself keeps
      running throughout, only its database goes away.
    """
    a, b, _ = replicas
    admin = a.bootstrap()
    headers = bearer(a, admin)
    stop = threading.Event()
    exchanges: list[Exchange] = []
    lock = threading.Lock()
    # Bounds on the workers, whatever happens below.
    hard_deadline = time.monotonic() + 180
    max_rounds = 5000

    def call(worker: int, kind: str, send, name: str | None = None) -> None:
        started = time.monotonic()
        try:
            response = send()
        except requests.RequestException as error:
            exchange = Exchange(worker, kind, started, time.monotonic(), error=f"{type(error).__name__}: {error}", name=name)
        else:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            exchange = Exchange(
                worker, kind, started, time.monotonic(), response.status_code, response.headers.get("Retry-After"), body, name=name
            )
        with lock:
            exchanges.append(exchange)

    def traffic(server: Server, worker: int):
        for _ in range(max_rounds):
            if stop.is_set() or time.monotonic() > hard_deadline:
                return
            name = f"load-{worker}-{secrets.token_hex(4)}"
            call(worker, "create", lambda: requests.post(
                f"{server.issuer}/v1/tenants/acme/service-accounts", json={"name": name}, headers=headers, timeout=15,
            ), name)
            call(worker, "token", lambda: requests.post(
                server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                auth=(admin["client_id"], admin["client_secret"]), timeout=15,
            ))
            time.sleep(0.02)

    def both_replicas_had(kind: str, status: int, since: float) -> bool:
        """Whether each replica (workers 0 and 2 use A, 1 and 3 use B) answered a request
        of this kind started at `since` or later with `status`."""
        with lock:
            return {e.worker % 2 for e in exchanges if e.kind == kind and e.status == status and e.started >= since} == {0, 1}

    threads = [threading.Thread(target=traffic, args=(server, i), daemon=True) for i, server in enumerate((a, b, a, b))]
    for thread in threads:
        thread.start()
    try:
        # Traffic flows on both replicas before the database goes away.
        eventually(lambda: both_replicas_had("create", 201, 0) and both_replicas_had("token", 200, 0), True,
                   "the replicas did not both create an account and issue a token before the stop", budget=15)
        stopping = time.monotonic()
        postgres("stop", postgres_dir)
        try:
            # While it is down: not ready, tokens for known clients still issued, writes refused with 503.
            for server in (a, b):
                eventually(lambda: requests.get(server.issuer + "/health/ready", timeout=15).status_code, 503,
                           f"{server.issuer} still ready with the database stopped", budget=10, interval=0.1)
            assert a.token(admin["client_id"], admin["client_secret"])["token_type"] == "Bearer"
            refused = requests.post(f"{b.issuer}/v1/tenants/acme/service-accounts", json={"name": "while-down"}, headers=headers, timeout=15)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            assert refused.json() == STORE_UNAVAILABLE
            # The traffic's writes meet the outage on both replicas.
            eventually(lambda: both_replicas_had("create", 503, stopping), True,
                       "the replicas did not both refuse a write of the traffic during the outage", budget=15, interval=0.1)
        finally:
            restarting = time.monotonic()
            postgres("restart", postgres_dir)
        # Both recover without a restart of Tessera.
        for server in (a, b):
            eventually(lambda: requests.get(server.issuer + "/health/ready", timeout=15).status_code, 200,
                       f"{server.issuer} did not become ready again", budget=30, interval=0.2)
        recovered = time.monotonic()
        # ...and the traffic's writes succeed again on both.
        eventually(lambda: both_replicas_had("create", 201, recovered), True,
                   "the replicas did not both create an account of the traffic after the recovery", budget=15, interval=0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not [thread for thread in threads if thread.is_alive()], "a traffic worker did not stop within 60 s"

    def show(selection: list[Exchange]) -> str:
        return f"{len(selection)}, e.g. " + "; ".join(
            f"{e.kind} by worker {e.worker} at {e.started - stopping:+.2f} s for {e.ended - e.started:.2f} s: "
            f"{e.error or (e.status, e.retry_after, e.body)}"
            for e in selection[:5]
        )

    failed = [e for e in exchanges if e.error]
    tokens_refused = [e for e in exchanges if e.kind == "token" and not e.error and e.status != 200]
    creates = [e for e in exchanges if e.kind == "create"]
    writes_unexpected = [
        e for e in creates
        if not e.error and e.status != 201 and not (
            e.status == 503 and e.retry_after == "1" and e.body == STORE_UNAVAILABLE and e.ended >= stopping and e.started <= recovered
        )
    ]
    problems = [
        f"{label}: {show(selection)}"
        for label, selection in [
            ("requests that failed at the HTTP level (refused, reset, timed out) although Tessera kept running", failed),
            ("token requests of a known client not answered 200", tokens_refused),
            ("writes answered other than 201, or 503 with Retry-After: 1 during the outage", writes_unexpected),
        ]
        if selection
    ]
    assert not problems, f"{len(exchanges)} requests; times are from the stop of PostgreSQL, which was restarted at " \
        f"{restarting - stopping:+.2f} s and ready again at {recovered - stopping:+.2f} s:\n" + "\n".join(problems)

    # Every acknowledged write is there; no refused one is (each write is one transaction).
    acknowledged = {e.name for e in creates if e.status == 201}
    refused_names = {e.name for e in creates if e.status == 503} | {"while-down"}
    names = set()
    cursor = None
    for _ in range(100):
        url = f"{a.issuer}/v1/tenants/acme/service-accounts?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = requests.get(url, headers=bearer(a, admin), timeout=15)
        assert page.status_code == 200, page.text
        names.update(item["name"] for item in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    else:
        pytest.fail("more than 100 pages of service accounts")
    assert acknowledged - names == set()
    assert refused_names & names == set()
    created = requests.post(f"{b.issuer}/v1/tenants/acme/service-accounts", json={"name": "after"}, headers=bearer(b, admin), timeout=15)
    assert created.status_code == 201, created.text


def test_a_dpop_proof_spent_at_one_replica_is_refused_at_the_other_and_nonces_serve_both(postgres_url):
    """docs/binding.md: a proof's jti is remembered in the shared store, and a nonce one
    replica hands out (derived from the shared master key) is good at the other."""
    from binding_support import ProofKey, proof

    environment = {
        "TESSERA_DATABASE_URL": fresh_database(postgres_url),
        "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    issuer = "http://issuer.test"
    a = start_server("ES256", "--dpop-nonce", environment=environment, issuer=issuer)
    try:
        b = start_server("ES256", "--dpop-nonce", environment=environment, issuer=issuer)
        try:
            admin = a.bootstrap()
            key = ProofKey("ES256")
            htu = issuer + "/oauth2/token"

            def ask(server: Server, dpop: str) -> requests.Response:
                return requests.post(
                    server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                    auth=(admin["client_id"], admin["client_secret"]), headers={"DPoP": dpop}, timeout=10,
                )

            first = ask(a, proof(key, "POST", htu))
            assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce", first.text
            nonce = first.headers["DPoP-Nonce"]
            spent = proof(key, "POST", htu, nonce=nonce)
            # A's nonce at B.
            issued = ask(b, spent)
            assert issued.status_code == 200, issued.text
            assert issued.json()["token_type"] == "DPoP"
            # The same proof at A, after B took it.
            replayed = ask(a, spent)
            assert replayed.status_code == 400, replayed.text
            assert replayed.json()["error"] == "invalid_dpop_proof"
        finally:
            stop_server(b)
    finally:
        stop_server(a)
