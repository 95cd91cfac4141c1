"""Hardening, checked from the outside as an attacker and an operator see Tessera.

Everything here talks to a release-built `tessera serve` over loopback sockets only
(127.0.0.1), knowing nothing but the README and the served documents:

- private_key_jwt assertions with absurd time claims (Int64 edges, beyond Int64, floats,
  strings) are refused as `invalid_client` without killing the process, and replays stay
  refused; Authlib's PrivateKeyJWT with its default one-hour lifetime is accepted, longer
  lifetimes are not;
- connections: idle sockets, idle keep-alive connections and slow-loris request heads are
  closed by the server (`--idle-timeout`, `--header-timeout`); a flood of idle connections
  against a 1024-descriptor limit does not stop a fresh client from getting a token;
- oversized bodies (chunked or with a large Content-Length) get exactly 413 on the OAuth
  and admin routes;
- the Rezolve dialect creates 25 accounts within one second, each distinct; dialect
  creations are in the audit log under the account's native id;
- an access token issued for another audience is not an admin credential; a demoted or
  disabled admin loses its powers at once, also under concurrent token requests;
- a `201` for a created account is preceded by fsync/fdatasync (observed with strace);
- admin JSON with duplicate member names is refused.

Failed client authentications are throttled by default (429 after 5 failures); the
servers here run with `--auth-failure-limit 0 --auth-address-failure-limit 0` so that the
answers under test are not masked by that separate, documented feature.

Every loop is bounded in count and in time.
"""

import base64
import errno
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import jwt
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey

from conftest import BIN, Server, free_port, start_server, stop_server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NO_THROTTLE = ("--auth-failure-limit", "0", "--auth-address-failure-limit", "0")
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
ORDERS = "https://orders.example.com"


# MARK: helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def log_tail(server: Server, size: int = 1500) -> str:
    try:
        with open(os.path.join(server.directory, "serve.log"), errors="replace") as log:
            return log.read()[-size:]
    except OSError:
        return "(no log)"


def launch(*flags: str) -> Server:
    """`tessera serve` with throttling off and `flags`; a refusal to start fails the test."""
    directory = tempfile.mkdtemp(prefix="tessera-hardening-")
    try:
        return start_server("ES256", *NO_THROTTLE, *flags, directory=directory)
    except RuntimeError as error:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"`tessera serve {' '.join(flags)}` did not start: {str(error)[-800:]}", pytrace=False)


@pytest.fixture
def srv():
    server = launch()
    yield server
    stop_server(server)


def state(server: Server) -> str:
    code = server.process.poll()
    return "still running" if code is None else f"EXITED with status {code}"


def call(server: Server, method: str, path: str, what: str, **kwargs) -> requests.Response:
    """One request; no answer at all fails the test with the process state and log tail."""
    kwargs.setdefault("timeout", 10)
    try:
        return requests.request(method, server.issuer + path, **kwargs)
    except requests.RequestException as error:
        pytest.fail(f"{what}: no answer ({error!r}); tessera serve {state(server)}; log tail:\n{log_tail(server)}")


def assert_alive(server: Server, after: str) -> None:
    assert server.process.poll() is None, f"tessera serve exited after {after}; log tail:\n{log_tail(server)}"
    alive = call(server, "GET", "/health/alive", f"/health/alive after {after}", timeout=5)
    assert alive.status_code == 200, f"/health/alive after {after}: {alive.status_code}"


def oauth_error(response: requests.Response) -> tuple[int, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body.get("error") if isinstance(body, dict) else None


def bearer(server: Server, credentials: dict, **form: str) -> dict:
    token = server.token(credentials["client_id"], credentials["client_secret"], **form)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def create(server: Server, headers: dict, what: str, **body) -> dict:
    response = call(server, "POST", "/v1/tenants/acme/service-accounts", what, json=body, headers=headers)
    assert response.status_code == 201, f"{what}: {response.status_code} {response.text}"
    return response.json()


def listed(server: Server, headers: dict, **query: str) -> list[dict]:
    response = call(server, "GET", "/v1/tenants/acme/service-accounts", "list accounts",
                    params={"limit": "200", **query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# MARK: private_key_jwt


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid,
            "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}


def es256(key: ec.EllipticCurvePrivateKey, header: dict, claims_json: str) -> str:
    """A compact JWS signed here, with the claims' JSON text exactly as given."""
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(claims_json.encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def key_account(server: Server, admin: dict, kid: str) -> tuple[dict, ec.EllipticCurvePrivateKey]:
    """A service account with a registered EC P-256 public key."""
    headers = bearer(server, admin)
    account = create(server, headers, "create the private_key_jwt account", name=unique("pkjwt"), roles=["editor"])
    key = ec.generate_private_key(ec.SECP256R1())
    registered = call(server, "POST", f"/v1/tenants/acme/service-accounts/{account['id']}/keys", "register the key",
                      json={"jwk": public_jwk(key, kid)}, headers=headers)
    assert registered.status_code == 201, registered.text
    return account, key


def assertion(server: Server, account: dict, key, kid: str, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": account["client_id"], "sub": account["client_id"], "aud": server.issuer + "/oauth2/token",
              "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60}
    claims.update(overrides)
    return es256(key, {"alg": "ES256", "kid": kid}, json.dumps(claims))


def present(server: Server, client_assertion: str, what: str) -> requests.Response:
    return call(server, "POST", "/oauth2/token", what, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": client_assertion})


def assert_token_granted(response: requests.Response, what: str) -> None:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text}"
    assert response.json()["token_type"] == "Bearer", response.text


def test_private_key_jwt_extreme_times_are_refused_and_the_server_survives(srv: Server):
    """RFC 7523: absurd NumericDates are invalid_client (400 invalid_request for a wrongly
    typed one), and none of them brings the process down."""
    admin = srv.bootstrap()
    kid = "edge-1"
    account, key = key_account(srv, admin, kid)
    # Control: this very key and signing code are accepted with sane times.
    assert_token_granted(present(srv, assertion(srv, account, key, kid), "a sane assertion"), "a sane assertion")

    now = int(time.time())
    strict = {(401, "invalid_client")}
    typed = strict | {(400, "invalid_request")}
    cases = [
        ("exp = 2**63-1", {"exp": INT64_MAX}, strict),
        ("exp = 2**63 (beyond Int64)", {"exp": 2**63}, strict),
        ("exp = -2**63", {"exp": INT64_MIN}, strict),
        ("iat = 2**63-1", {"iat": INT64_MAX}, strict),
        ("nbf = -2**63", {"nbf": INT64_MIN}, strict),
        ("exp = 1e300 (a float)", {"exp": 1e300}, typed),
        ("exp as a string", {"exp": str(now + 60)}, typed),
    ]
    outcomes, wrong = [], []
    first = None
    for name, overrides, allowed in cases:
        text = assertion(srv, account, key, kid, **overrides)
        first = first or text
        try:
            response = requests.post(srv.issuer + "/oauth2/token", timeout=10, data={
                "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": text})
            outcome = oauth_error(response)
        except requests.RequestException as error:
            outcome = ("no answer", type(error).__name__)
        alive = srv.process.poll() is None
        outcomes.append(f"{name}: {outcome}, process {'alive' if alive else 'DEAD'}")
        if outcome not in allowed or not alive:
            wrong.append(name)
        if not alive:
            break
    assert not wrong, "wrong answers or a dead server:\n" + "\n".join(outcomes) + "\nlog tail:\n" + log_tail(srv)
    assert_alive(srv, "the extreme assertions")

    # The first one replayed after all the others: still refused, still alive.
    replay = present(srv, first, "the replayed exp = 2**63-1 assertion")
    assert oauth_error(replay) == (401, "invalid_client"), replay.text
    assert_alive(srv, "the replay")
    # And a sane assertion still works.
    assert_token_granted(present(srv, assertion(srv, account, key, kid), "a sane assertion afterwards"), "afterwards")


def test_authlib_private_key_jwt_defaults_obtain_a_token_and_longer_lifetimes_do_not(srv: Server):
    """Authlib's PrivateKeyJWT with its default lifetime (exp = iat + 3600) is within the
    default `--max-assertion-lifetime` of 3600 s; exp = now + 3700 is not, replayed or not."""
    admin = srv.bootstrap()
    kid = "authlib-1"
    account, key = key_account(srv, admin, kid)
    endpoint = srv.issuer + "/oauth2/token"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    session = OAuth2Session(account["client_id"], ECKey.import_key(pem), token_endpoint_auth_method="private_key_jwt")
    # Only what Tessera needs besides the defaults: the kid that picks the key, and ES256 for an EC key.
    session.register_client_auth_method(PrivateKeyJWT(endpoint, headers={"kid": kid}, alg="ES256"))
    seen: list[requests.Response] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    try:
        token = session.fetch_token(endpoint, grant_type="client_credentials")
    except OAuthError as error:
        last = seen[-1] if seen else None
        pytest.fail(f"Authlib's default private_key_jwt was refused: {error}; "
                    f"{last.status_code if last is not None else '?'} {last.text if last is not None else ''}")
    assert token["token_type"] == "Bearer"
    sent = dict(pair.split("=", 1) for pair in seen[-1].request.body.split("&"))
    claims = jwt.decode(sent["client_assertion"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600, "Authlib's default assertion lifetime is no longer one hour"

    # Our own signing is accepted with a short lifetime...
    assert_token_granted(present(srv, assertion(srv, account, key, kid), "exp = now + 60"), "exp = now + 60")
    # ...and refused beyond the maximum lifetime, the first time and when replayed.
    now = int(time.time())
    too_long = assertion(srv, account, key, kid, iat=now, exp=now + 3700)
    first = present(srv, too_long, "exp = now + 3700")
    assert oauth_error(first) == (401, "invalid_client"), f"exp = now + 3700: {first.status_code} {first.text}"
    again = present(srv, too_long, "exp = now + 3700 replayed")
    assert oauth_error(again) == (401, "invalid_client"), f"replayed: {again.status_code} {again.text}"


# MARK: connections


def wait_closed(socks: list[socket.socket], deadline: float) -> dict:
    """Reads every socket until the peer closes it (EOF or reset) or the deadline passes;
    answers {socket: monotonic time of the close}. Bytes before the close (a 408) are fine."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed = {}
    try:
        while len(closed) < len(socks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[key.fileobj] = time.monotonic()
                    selector.unregister(key.fileobj)
    finally:
        selector.close()
    return closed


def read_response(sock: socket.socket, deadline: float) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 response with a Content-Length, read from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def test_idle_connections_are_closed():
    """`--idle-timeout 2`: 20 connections that never send a byte are closed within 2 + 3 s."""
    server = launch("--idle-timeout", "2", "--header-timeout", "2")
    socks = []
    try:
        started = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
        closed = wait_closed(socks, started + 2 + 3)
        assert len(closed) == 20, f"{20 - len(closed)} of 20 silent connections still open 5 s after connecting"
        assert_alive(server, "the idle connections")
    finally:
        for sock in socks:
            sock.close()
        stop_server(server)


def test_an_idle_keep_alive_connection_is_closed():
    """A keep-alive connection that completed one request and then sits idle is closed
    within `--idle-timeout 2` + 3 s."""
    server = launch("--idle-timeout", "2", "--header-timeout", "2")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(f"GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        status, headers, _ = read_response(sock, time.monotonic() + 5)
        answered = time.monotonic()
        assert status == 200
        assert headers.get("connection", "").lower() != "close", "the server did not keep the connection alive"
        closed = wait_closed([sock], answered + 2 + 3)
        assert closed, "an idle keep-alive connection was still open 5 s after its last response"
    finally:
        sock.close()
        stop_server(server)


def test_a_slow_loris_request_head_is_cut_off():
    """A request head trickling in one byte a second is closed within `--header-timeout 2`
    (+ 3 s slack), although it never stops sending."""
    server = launch("--idle-timeout", "2", "--header-timeout", "2")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        started = time.monotonic()
        sock.sendall(f"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode())
        closed_at = None
        for _ in range(8):  # at most 8 s
            if wait_closed([sock], time.monotonic() + 1.0):
                closed_at = time.monotonic()
                break
            try:
                sock.setblocking(True)
                sock.send(b"a")
            except OSError:
                closed_at = time.monotonic()
                break
        assert closed_at is not None, "a slow-loris head (one byte a second) was never cut off in 8 s"
        assert closed_at - started <= 2 + 3, f"the slow-loris head was cut off only after {closed_at - started:.1f} s"
        assert_alive(server, "the slow-loris connection")
    finally:
        sock.close()
        stop_server(server)


def start_with_fd_limit(limit: int, *extra: str) -> Server:
    """As conftest's start_server, with RLIMIT_NOFILE of the server set to `limit`."""
    directory = tempfile.mkdtemp(prefix="tessera-hardening-fd-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_SIGNING_ALG"] = "ES256"
    local = f"http://127.0.0.1:{port}"
    log = open(os.path.join(directory, "serve.log"), "a")
    process = subprocess.Popen(
        [BIN, "serve", "--port", str(port), *NO_THROTTLE, *extra], cwd=directory, env=env, stdout=log,
        stderr=subprocess.STDOUT, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)),
    )
    server = Server(directory, port, local, process, env)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tessera serve did not start under a {limit}-descriptor limit: {log_tail(server)}")
        try:
            if requests.get(local + "/health/ready", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    stop_server(server)
    pytest.fail("tessera serve did not become ready under a descriptor limit")


def open_idle(port: int, count: int, within: float) -> tuple[list[socket.socket], int]:
    """`count` non-blocking connects; answers the sockets and how many completed within `within` s."""
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
            sock.close()
            continue
        socks.append(sock)
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_WRITE)
    connected, deadline = 0, time.monotonic() + within
    try:
        while connected < len(socks) and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(remaining):
                selector.unregister(key.fileobj)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected += 1
    finally:
        selector.close()
    return socks, connected


def settle(server: Server, within: float = 5.0) -> int:
    """Waits until the server's open descriptors (as an operator sees them in /proc) stop
    growing for 1 s, at most `within` s, so that it has accepted what it will accept."""
    def count() -> int:
        try:
            return len(os.listdir(f"/proc/{server.process.pid}/fd"))
        except OSError:
            return -1
    deadline, last, since = time.monotonic() + within, count(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 1.0:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def test_a_flood_of_idle_connections_does_not_lock_out_a_new_client():
    """Under a 1024-descriptor limit, 1,000 and then 1,100 idle connections: a token request
    on a fresh connection still answers 200 (the server drops its longest-idle connections
    at `--max-connections`, it does not stop accepting)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 1300, "this test process cannot open 1,300 descriptors"

    server = start_with_fd_limit(1024)
    socks: list[socket.socket] = []
    try:
        admin = server.bootstrap()
        for total in (1000, 1100):
            more, connected = open_idle(server.port, total - len(socks), within=3)
            socks += more
            descriptors = settle(server)
            try:
                response = requests.post(server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                                         auth=(admin["client_id"], admin["client_secret"]), timeout=10)
            except requests.RequestException as error:
                pytest.fail(f"with {total} idle connections open ({connected} of the last {len(more)} connected, "
                            f"the server holding {descriptors} descriptors), "
                            f"a fresh token request got no answer: {error!r}; tessera serve {state(server)}; "
                            f"log tail:\n{log_tail(server)}")
            assert response.status_code == 200, f"with {total} idle connections: {response.status_code} {response.text}"
            assert response.json()["token_type"] == "Bearer"
        assert server.process.poll() is None, log_tail(server)
    finally:
        for sock in socks:
            sock.close()
        stop_server(server)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# MARK: bodies


def exchange(port: int, head: bytes, body: list[bytes], within: float = 10.0) -> tuple[int | None, str]:
    """Sends `head` then `body` while reading, as a client that notices an early answer;
    answers the response's status (None if there was none) and how the exchange ended."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    pieces = [head, *body]
    pending, sending = memoryview(pieces.pop(0)), True
    received, ended = b"", "deadline"
    deadline = time.monotonic() + within

    def complete() -> bool:
        if b"\r\n\r\n" not in received:
            return False
        response_head, response_body = received.split(b"\r\n\r\n", 1)
        match = re.search(rb"(?im)^content-length:\s*(\d+)", response_head)
        return match is not None and len(response_body) >= int(match.group(1))

    try:
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while (remaining := deadline - time.monotonic()) > 0:
            if complete():
                ended = "answered"
                break
            for _, mask in selector.select(remaining):
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        data = None
                    except OSError as error:
                        ended = f"reset ({error.strerror})"
                        break
                    if data == b"":
                        ended = "closed"
                        break
                    received += data or b""
                if mask & selectors.EVENT_WRITE and sending:
                    try:
                        sent = sock.send(pending)
                        pending = pending[sent:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        sending = False  # the server stopped reading: keep reading its answer
                    if sending and not pending:
                        if pieces:
                            pending = memoryview(pieces.pop(0))
                        else:
                            sending = False
                    if not sending:
                        selector.modify(sock, selectors.EVENT_READ)
            else:
                continue
            break
    finally:
        selector.close()
        sock.close()
    status = re.match(rb"HTTP/1\.[01] (\d{3})", received)
    return (int(status.group(1)) if status else None), ended


def chunked(payload: bytes, size: int = 16384) -> list[bytes]:
    frames = [b"%x\r\n" % len(payload[i:i + size]) + payload[i:i + size] + b"\r\n" for i in range(0, len(payload), size)]
    return frames + [b"0\r\n\r\n"]


def test_oversized_bodies_are_413(srv: Server):
    """100 KiB and 2 MiB bodies, chunked without Content-Length and with a Content-Length,
    to the OAuth endpoints (valid Basic credentials of an admin) and to JSON admin routes
    (valid Bearer token): exactly 413, never 5xx."""
    admin = srv.bootstrap()
    basic = "Basic " + base64.b64encode(f"{admin['client_id']}:{admin['client_secret']}".encode()).decode()
    token = srv.token(admin["client_id"], admin["client_secret"])["access_token"]
    form = "application/x-www-form-urlencoded"
    routes = [
        ("/oauth2/token", basic, form, b"grant_type=client_credentials&pad=", b""),
        ("/oauth2/introspect", basic, form, f"token={token}&pad=".encode(), b""),
        ("/oauth2/revoke", basic, form, f"token={token}&pad=".encode(), b""),
        ("/v1/tenants/acme/service-accounts", f"Bearer {token}", "application/json", b'{"name":"', b'"}'),
        ("/v1/tenants/acme/roles", f"Bearer {token}", "application/json", b'{"scopes":["x:read"],"name":"', b'"}'),
    ]
    results, wrong = [], []
    for path, authorization, content_type, prefix, suffix in routes:
        for size in (100 * 1024, 2 * 1024 * 1024):
            payload = prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix
            for framing in ("chunked", "content-length"):
                head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nAuthorization: {authorization}\r\n"
                        f"Content-Type: {content_type}\r\n")
                if framing == "chunked":
                    head += "Transfer-Encoding: chunked\r\n\r\n"
                    body = chunked(payload)
                else:
                    head += f"Content-Length: {len(payload)}\r\n\r\n"
                    body = [payload[i:i + 65536] for i in range(0, len(payload), 65536)]
                status, ended = exchange(srv.port, head.encode(), body)
                results.append(f"{path} {size // 1024} KiB {framing}: {status} ({ended})")
                if status != 413:
                    wrong.append(results[-1])
    assert_alive(srv, "the oversized bodies")
    assert not wrong, "not 413:\n" + "\n".join(wrong) + "\n\nall:\n" + "\n".join(results)


# MARK: dialects and audit


def rezolve_create(server: Server, headers: dict) -> requests.Response:
    return requests.post(server.issuer + "/api/v1/admin/service-account/create",
                         headers={**headers, "x-tenantid": "acme"}, timeout=10)


def test_rezolve_creates_25_distinct_accounts_within_one_second(srv: Server):
    """No body, so every account gets a generated name: 25 at once, all 200 and distinct."""
    admin = srv.bootstrap()
    headers = bearer(srv, admin)
    results: list = [None] * 25
    barrier = threading.Barrier(25, timeout=10)

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = rezolve_create(srv, headers)
        except requests.RequestException as error:
            results[index] = error

    time.sleep(1.02 - time.time() % 1)  # start just after a wall-clock second begins
    threads = [threading.Thread(target=one, args=(i,)) for i in range(25)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    elapsed = time.monotonic() - started

    refused = [r if isinstance(r, Exception) else f"{r.status_code} {r.text[:200]}"
               for r in results if not isinstance(r, requests.Response) or r.status_code != 200]
    assert not refused, f"{len(refused)} of 25 creations (in {elapsed:.2f} s) were not 200: {refused[:3]}"
    data = [r.json()["data"] for r in results]
    assert len({d["id"] for d in data}) == 25, "data.id repeats"
    assert len({d["clientId"] for d in data}) == 25, "data.clientId repeats"


def audit_events(server: Server, headers: dict, resource_id: str) -> list[dict]:
    response = call(server, "GET", "/v1/tenants/acme/audit-events", "audit events",
                    params={"resource_id": resource_id, "limit": "200"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_dialect_creations_are_audited_under_the_native_id(srv: Server):
    """A Rezolve and a Keycard creation each leave a success event whose resource id is the
    account's native id (found through the native list: by client id for Rezolve; Keycard
    answers no client id, so by its unique name)."""
    admin = srv.bootstrap()
    headers = bearer(srv, admin)
    rezolve = rezolve_create(srv, headers)
    assert rezolve.status_code == 200, rezolve.text
    name = unique("keycard-audit")
    keycard = call(srv, "POST", "/organizations/acme/service-accounts", "Keycard creation",
                   json={"name": name}, headers=headers)
    assert keycard.status_code == 201, keycard.text

    accounts = listed(srv, headers)
    by_client = [a for a in accounts if a["client_id"] == rezolve.json()["data"]["clientId"]]
    by_name = [a for a in accounts if a["name"] == name]
    assert len(by_client) == 1 and len(by_name) == 1, "the dialect-created accounts are not in the native list"
    for dialect, account in (("Rezolve", by_client[0]), ("Keycard", by_name[0])):
        events = audit_events(srv, headers, account["id"])
        matching = [e for e in events if e.get("resource_id") == account["id"] and e.get("outcome") == "success"]
        assert matching, f"no success audit event with resource_id {account['id']} for the {dialect} creation: {events}"


# MARK: admin tokens: audience, demotion, disabling


def test_a_token_for_another_audience_is_not_an_admin_credential(srv: Server):
    boss = srv.bootstrap()
    admin = create(srv, bearer(srv, boss), "create the audience admin", name=unique("aud-admin"),
                   roles=["admin"], audiences=[ORDERS])
    response = call(srv, "POST", "/oauth2/token", "token for the orders audience", data={
        "grant_type": "client_credentials", "resource": ORDERS}, auth=(admin["client_id"], admin["client_secret"]))
    assert response.status_code == 200, response.text
    foreign = response.json()["access_token"]
    aud = jwt.decode(foreign, options={"verify_signature": False})["aud"]
    assert aud in (ORDERS, [ORDERS]), aud

    headers = {"Authorization": f"Bearer {foreign}"}
    name = unique("via-foreign-token")
    for method, path, kwargs in (("GET", "/v1/whoami", {}),
                                 ("POST", "/v1/tenants/acme/service-accounts", {"json": {"name": name}})):
        refused = call(srv, method, path, f"{method} {path} with an orders token", headers=headers, **kwargs)
        assert refused.status_code == 401, f"{method} {path} with aud={ORDERS}: {refused.status_code} {refused.text}"
        assert "invalid_token" in refused.headers.get("WWW-Authenticate", ""), refused.headers
    assert not listed(srv, bearer(srv, boss), name_prefix=name)

    own = call(srv, "GET", "/v1/whoami", "whoami with the issuer-audience token", headers=bearer(srv, admin))
    assert own.status_code == 200, own.text


def test_a_demoted_admin_token_loses_admin_powers(srv: Server):
    a = srv.bootstrap()
    a_headers = bearer(srv, a)
    b = create(srv, a_headers, "create admin B", name=unique("admin-b"), roles=["admin"])
    b_headers = bearer(srv, b)
    demoted = call(srv, "PATCH", f"/v1/tenants/acme/service-accounts/{b['id']}", "demote B",
                   json={"roles": ["consumer"]}, headers=a_headers)
    assert demoted.status_code == 200, demoted.text

    name = unique("made-by-demoted")
    attempt = call(srv, "POST", "/v1/tenants/acme/service-accounts", "B's old token creates",
                   json={"name": name}, headers=b_headers)
    assert attempt.status_code == 403, f"a demoted admin's old token: {attempt.status_code} {attempt.text}"
    assert not listed(srv, a_headers, name_prefix=name), "the demoted admin's old token created an account"


def test_disabling_an_admin_under_concurrent_token_requests(srv: Server):
    """Five races: B requests tokens from 4 threads while A disables B. From 0.5 s after the
    PATCH answers, every token request of B is 401 invalid_client, for 3 s."""
    a = srv.bootstrap()
    a_headers = bearer(srv, a)
    url = srv.issuer + "/oauth2/token"
    problems = []
    for race in range(5):
        b = create(srv, a_headers, f"create B for race {race}", name=unique(f"race-{race}"), roles=["admin"])
        records, lock = [], threading.Lock()
        stop_at = [time.monotonic() + 10.0]  # hard bound until the PATCH sets the real one

        def hammer() -> None:
            with requests.Session() as session:
                while time.monotonic() < stop_at[0]:
                    started = time.monotonic()
                    try:
                        response = session.post(url, data={"grant_type": "client_credentials"},
                                                auth=(b["client_id"], b["client_secret"]), timeout=5)
                        outcome = oauth_error(response)
                    except requests.RequestException as error:
                        outcome = (None, type(error).__name__)
                    with lock:
                        records.append((started, *outcome))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        sent = time.monotonic()
        patch = requests.patch(f"{srv.issuer}/v1/tenants/acme/service-accounts/{b['id']}", json={"status": "disabled"},
                               headers=a_headers, timeout=10)
        answered = time.monotonic()
        stop_at[0] = answered + 3.0
        for thread in threads:
            thread.join(timeout=20)
        assert patch.status_code == 200, patch.text

        before = [r for r in records if r[0] < sent and r[1] == 200]
        late = [r for r in records if r[0] >= answered + 0.5]
        wrong = [r for r in late if (r[1], r[2]) != (401, "invalid_client")]
        if not before or not late or wrong:
            granted = sum(1 for r in wrong if r[1] == 200)
            problems.append(f"race {race}: {len(before)} tokens before the PATCH, {len(late)} requests from 0.5 s after it, "
                            f"{len(wrong)} of them not 401 invalid_client ({granted} granted), e.g. "
                            f"{[(round(r[0] - answered, 3), r[1], r[2]) for r in wrong[:3]]}")
    assert_alive(srv, "the disable races")
    assert not problems, "\n".join(problems)


# MARK: durability


def test_created_accounts_are_fsynced_before_201(srv: Server):
    """strace on the server while 5 accounts are created: at least 5 successful
    fsync/fdatasync calls (the README promises synchronous=FULL)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is not installed: this test needs it (apt-get install -y strace)"
                    + ("; CI must install it" if os.environ.get("CI") else ""))
    admin = srv.bootstrap()
    headers = bearer(srv, admin)  # the token before tracing: only the creations are traced
    trace = os.path.join(srv.directory, "fsync.trace")
    tracer = subprocess.Popen([strace, "-f", "-e", "trace=fsync,fdatasync", "-o", trace, "-p", str(srv.process.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    attached = threading.Event()
    messages: list[str] = []

    def watch() -> None:
        for line in tracer.stderr:
            messages.append(line)
            if "attached" in line:
                attached.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not attached.wait(10):
            pytest.fail(f"strace did not attach to pid {srv.process.pid}: {''.join(messages)[-500:]}")
        time.sleep(0.2)
        for index in range(5):
            create(srv, headers, f"creation {index} under strace", name=unique(f"durable-{index}"))
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait(timeout=5)
    text = open(trace).read() if os.path.exists(trace) else ""
    synced = re.findall(r"\b(?:fsync|fdatasync)\(\d+\)\s*=\s*0\b", text)
    synced += re.findall(r"<\.\.\. (?:fsync|fdatasync) resumed>.*=\s*0\b", text)
    assert len(synced) >= 5, f"{len(synced)} successful fsync/fdatasync calls for 5 creations; trace:\n{text[-1500:]}"


# MARK: consistency


def test_duplicate_member_names_are_refused(srv: Server):
    """`{"name":"a","name":"b"}` is ambiguous JSON (RFC 8259 §4): 400 problem+json, nothing created."""
    admin = srv.bootstrap()
    headers = bearer(srv, admin)
    first, second = unique("dup-a"), unique("dup-b")
    response = call(srv, "POST", "/v1/tenants/acme/service-accounts", "duplicate members",
                    data=f'{{"name":"{first}","name":"{second}"}}',
                    headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    assert response.headers.get("Content-Type", "").split(";")[0] == "application/problem+json", response.headers
    assert not listed(srv, headers, name_prefix="dup-"), "an account was created from the ambiguous body"
    # (An access token with header typ "application/at+jwt" cannot be forged without the
    # signing key, so that case is not tested from the outside.)
