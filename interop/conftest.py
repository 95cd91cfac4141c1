"""Starts release-built `tessera serve` processes on free loopback ports for the interop suite."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, NoReturn, TypeVar

import pytest
import requests

BIN = os.environ.get("TESSERA_BIN", os.path.join(os.path.dirname(__file__), "..", ".build", "release", "tessera"))
# The repository's root: interop/ sits directly in it.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `.ci/run` provides every service a test needs; elsewhere one may be missing.
UNDER_CI = bool(os.environ.get("CI"))

T = TypeVar("T")


def service_missing(reason: str) -> NoReturn:
    """A service a test needs (PostgreSQL, the seed documents, a built example…) is
    missing: under CI the test fails with `reason`, since CI must provide it;
    elsewhere it is skipped with `reason`."""
    if UNDER_CI:
        pytest.fail(f"{reason} (CI is set, and CI must provide it)", pytrace=False)
    pytest.skip(reason)


def eventually(probe: Callable[[], T], expected: T, what: str, budget: float = 5.0, interval: float = 0.05) -> float:
    """Calls `probe` until it returns `expected`, at most `budget` seconds (and so at
    most budget / interval + 1 times); returns the seconds it took. Fails with the
    last value seen otherwise. For state that another process reaches in its own
    time: a fixed sleep or a tight budget is flaky on a busy machine."""
    started = time.monotonic()
    for _ in range(int(budget / interval) + 2):
        value = probe()
        elapsed = time.monotonic() - started
        if value == expected:
            return elapsed
        if elapsed >= budget:
            break
        time.sleep(interval)
    pytest.fail(f"{what}: still {value!r} after {elapsed:.2f} s (expected {expected!r} within {budget} s)", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    directory: str
    port: int
    issuer: str
    process: subprocess.Popen
    env: dict = field(default_factory=dict)

    def tessera(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs the tessera CLI against this server's store."""
        return subprocess.run(
            [BIN, *args], cwd=self.directory, env=self.env, capture_output=True, text=True, timeout=60, check=check
        )

    def bootstrap(self, tenant: str = "acme", role: str = "admin") -> dict:
        result = self.tessera("bootstrap", "--tenant", tenant, "--role", role, "--json")
        return json.loads(result.stdout)

    def token(self, client_id: str, secret: str, **form: str) -> dict:
        response = requests.post(
            self.issuer + "/oauth2/token",
            data={"grant_type": "client_credentials", **form},
            auth=(client_id, secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def create_account(self, admin: dict, tenant: str = "acme", **body) -> dict:
        token = self.token(admin["client_id"], admin["client_secret"])["access_token"]
        response = requests.post(
            f"{self.issuer}/v1/tenants/{tenant}/service-accounts",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()


def start_server(
    alg: str = "ES256", *extra: str, environment: dict | None = None, issuer: str | None = None, directory: str | None = None
) -> Server:
    """A `tessera serve` in a new folder (or `directory`, to restart on its store);
    `environment` adds TESSERA_* variables (a shared database and master key for
    replicas), `issuer` a shared public URL."""
    directory = directory or tempfile.mkdtemp(prefix="tessera-interop-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_SIGNING_ALG"] = alg
    env.update(environment or {})
    if issuer:
        extra = (*extra, "--issuer", issuer)
    local = f"http://127.0.0.1:{port}"
    log = open(os.path.join(directory, "serve.log"), "a")
    process = subprocess.Popen(
        [BIN, "serve", "--port", str(port), *extra], cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    # Until the process listens and answers, refused or slow connections are expected.
    deadline = time.monotonic() + 30
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tessera serve exited with {process.returncode} before it was ready:\n" + read_log(directory))
        try:
            ready = requests.get(local + "/health/ready", timeout=1)
            if ready.status_code == 200:
                return Server(directory, port, local, process, env)
            last = f"/health/ready answered {ready.status_code} {ready.text}"
        except (requests.ConnectionError, requests.Timeout) as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"tessera serve did not become ready within 30 s ({last}):\n" + read_log(directory))


def read_log(directory: str) -> str:
    with open(os.path.join(directory, "serve.log"), errors="replace") as log:
        return log.read()[-4000:]


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    instance = start_server()
    yield instance
    stop_server(instance)


@pytest.fixture(scope="module")
def server_factory():
    started = []

    def make(alg: str, *extra: str) -> Server:
        instance = start_server(alg, *extra)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        stop_server(instance)
