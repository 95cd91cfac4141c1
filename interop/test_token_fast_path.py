"""The token fast path changes nothing a client can see (docs/ARCHITECTURE.md, "The
token fast path").

Two servers, one as shipped and one with `--no-token-fast-path`, get the same
sequence of token requests over raw HTTP/1.1 connections. Every request is sent
after the client asked for a token once, so that the fast path has the client in
memory. The two answers must agree: status, the header field names in order, every
header value but `Date`, the request id and the length, the whole error body, and
for a token the members, `token_type`, `expires_in`, `scope` and the claims but the
per-token ones. At the end, the counters of `/metrics` that the token endpoint moves
must have moved alike on both."""

import base64
import json
import socket
import time
import urllib.parse

import pytest
import requests

from conftest import start_server, stop_server

# Claims that differ between two tokens of one client, or between the two servers.
PER_TOKEN = {"jti", "iat", "nbf", "exp", "iss", "aud", "sub", "client_id", "tenant"}
# Header fields whose value differs per response.
PER_RESPONSE = {"date", "x-request-id", "content-length"}
METRICS = (
    "tessera_tokens_issued_total",
    "tessera_token_errors_total",
    "tessera_client_auth_failures_total",
    "tessera_client_cache_hits_total",
    'hb_requests{http_route="/oauth2/token",http_request_method="POST",http_response_status_code="200"}',
    'hb_requests{http_route="/oauth2/token",http_request_method="POST",http_response_status_code="400"}',
    'hb_requests{http_route="/oauth2/token",http_request_method="POST",http_response_status_code="401"}',
)


class Side:
    """One server with its accounts, by role in the scenarios."""

    def __init__(self, *extra: str):
        self.server = start_server("ES256", *extra)
        self.admin = self.server.bootstrap()
        self.token = self.server.token(self.admin["client_id"], self.admin["client_secret"])["access_token"]
        self.accounts = {}

    def account(self, name: str, **body) -> dict:
        if name not in self.accounts:
            self.accounts[name] = self.server.create_account(self.admin, name=name, roles=["member"], **body)
        return self.accounts[name]

    def patch(self, name: str, **body) -> None:
        account = self.accounts[name]
        response = requests.patch(
            f"{self.server.issuer}/v1/tenants/acme/service-accounts/{account['id']}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def metrics(self) -> dict:
        text = requests.get(self.server.issuer + "/metrics", timeout=10).text
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
        return {name: values.get(name, 0.0) for name in METRICS}


def exchange(port: int, raw: bytes, *, watch_close: bool = True) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """Sends one request on a new connection; the status, the header fields in
    order, the body, and whether the server closed the connection after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed before a head: {data!r}"
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        fields = [(name.strip(), value.strip()) for name, value in (line.split(":", 1) for line in lines[1:])]
        length = int(next(value for name, value in fields if name.lower() == "content-length"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "closed inside a body"
            rest += chunk
        if not watch_close:
            return status, fields, rest[:length], False
        sock.settimeout(0.3)
        try:
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
        return status, fields, rest[:length], closed


def request(account: dict | None, *, basic: bool = True, form: dict | list | None = None, headers: dict | None = None,
            content_type: str | None = "application/x-www-form-urlencoded") -> bytes:
    pairs = list(form.items()) if isinstance(form, dict) else list(form or [("grant_type", "client_credentials")])
    fields = {"Host": "127.0.0.1"}
    if account and basic:
        pair = f"{urllib.parse.quote(account['client_id'], safe='')}:{urllib.parse.quote(account['client_secret'], safe='')}"
        fields["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif account:
        pairs += [("client_id", account["client_id"]), ("client_secret", account["client_secret"])]
    body = urllib.parse.urlencode(pairs).encode()
    if content_type:
        fields["Content-Type"] = content_type
    fields.update(headers or {})
    fields["Content-Length"] = str(len(body))
    return ("POST /oauth2/token HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode() + body


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def comparable(answer: tuple[int, list[tuple[str, str]], bytes, bool]) -> tuple:
    status, fields, body, closed = answer
    names = [name.lower() for name, _ in fields]
    values = [(name.lower(), value) for name, value in fields if name.lower() not in PER_RESPONSE]
    parsed = json.loads(body) if body else None
    if status == 200 and parsed and "access_token" in parsed:
        token = parsed.pop("access_token")
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        header.pop("kid")
        parsed["claims"] = {k: v for k, v in claims(token).items() if k not in PER_TOKEN}
        parsed["claim names"] = sorted(claims(token))
        parsed["header"] = header
    return status, names, values, parsed, closed


def wrong(account: dict) -> dict:
    secret = account["client_secret"]
    return {**account, "client_secret": secret[:-1] + ("A" if secret[-1] != "A" else "B")}


# Each scenario: a name, the account it uses (and how that account is created), and
# the request given that side's account.
SCENARIOS = [
    ("basic", "plain", {}, lambda a: request(a)),
    ("post", "plain", {}, lambda a: request(a, basic=False)),
    ("a scope granted", "plain", {}, lambda a: request(a, form={"grant_type": "client_credentials", "scope": "api:read"})),
    ("a scope refused", "plain", {}, lambda a: request(a, form={"grant_type": "client_credentials", "scope": "api:admin"})),
    ("a malformed scope", "plain", {}, lambda a: request(a, form={"grant_type": "client_credentials", "scope": "api:read\x01"})),
    ("an audience refused", "plain", {},
     lambda a: request(a, form={"grant_type": "client_credentials", "audience": "https://elsewhere.example"})),
    ("an audience of the account", "audienced", {"audiences": ["https://api.example"]},
     lambda a: request(a, form=[("grant_type", "client_credentials"), ("resource", "https://api.example")])),
    ("a wrong secret", "plain", {}, lambda a: request(wrong(a))),
    ("a wrong secret in the form", "plain", {}, lambda a: request(wrong(a), basic=False)),
    ("an unknown client", None, {}, lambda a: request({"client_id": "no-such-client", "client_secret": "tss_" + "A" * 43})),
    ("a malformed assertion type beside Basic", "plain", {},
     lambda a: request(a, form={"grant_type": "client_credentials", "client_assertion_type": "bogus"})),
    ("Basic and a secret in the form", "plain", {},
     lambda a: request(a, form={"grant_type": "client_credentials", "client_secret": a["client_secret"]})),
    ("a client_id that is not Basic's", "plain", {},
     lambda a: request(a, form={"grant_type": "client_credentials", "client_id": "someone-else"})),
    ("grant_type repeated", "plain", {}, lambda a: request(a, form=[("grant_type", "client_credentials")] * 2)),
    ("grant_type missing", "plain", {}, lambda a: request(a, form={"scope": "api:read"})),
    ("another grant type", "plain", {}, lambda a: request(a, form={"grant_type": "password"})),
    ("a JSON body", "plain", {}, lambda a: request(a, content_type="application/json")),
    ("no content type", "plain", {}, lambda a: request(a, content_type=None)),
    ("a form type in capitals with a charset", "plain", {},
     lambda a: request(a, content_type="Application/X-WWW-Form-URLEncoded; charset=UTF-8")),
    ("a request id to echo", "plain", {}, lambda a: request(a, headers={"X-Request-ID": "caller-chosen.id_1"})),
    ("a request id not to echo", "plain", {}, lambda a: request(a, headers={"X-Request-ID": "not safe!"})),
    ("Connection: keep-alive", "plain", {}, lambda a: request(a, headers={"Connection": "keep-alive"})),
    ("Connection: close", "plain", {}, lambda a: request(a, headers={"Connection": "close"})),
    ("a DPoP-bound account without a proof", "dpop", {"dpop_bound_access_tokens": True}, lambda a: request(a)),
    ("a certificate-bound account without a certificate", "bound", {"tls_client_certificate_bound_access_tokens": True},
     lambda a: request(a)),
]


@pytest.fixture(scope="module")
def sides():
    fast, routed = Side(), Side("--no-token-fast-path")
    try:
        yield fast, routed
    finally:
        stop_server(fast.server)
        stop_server(routed.server)


def ask(side: Side, build, account_name: str | None, body: dict) -> tuple:
    account = side.account(account_name, **body) if account_name else None
    if account:
        # Once, so that the client is in memory and the fast path may answer next
        # (an account that needs a binding is refused, and loaded all the same).
        warm = exchange(side.server.port, request(account), watch_close=False)
        assert warm[0] == (400 if body.keys() & {"dpop_bound_access_tokens", "tls_client_certificate_bound_access_tokens"} else 200), warm
    return exchange(side.server.port, build(account))


@pytest.mark.parametrize("name,account,body,build", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_the_same_answer_with_and_without_the_fast_path(sides, name, account, body, build):
    fast, routed = sides
    answer = ask(fast, build, account, body)
    expected = ask(routed, build, account, body)
    assert comparable(answer) == comparable(expected), f"{name}: fast path {answer!r}\nrouter {expected!r}"
    # Not two equal wrong answers: the scenarios that should succeed did.
    assert (answer[0] == 200) == (name in {
        "basic", "post", "a scope granted", "an audience of the account", "a form type in capitals with a charset",
        "a request id to echo", "a request id not to echo", "Connection: keep-alive", "Connection: close",
    }), answer


def test_a_disabled_account_is_refused_at_once_on_both(sides):
    for side in sides:
        account = side.account("to-disable")
        assert exchange(side.server.port, request(account))[0] == 200
        assert exchange(side.server.port, request(account))[0] == 200
        side.patch("to-disable", status="disabled")
        status, _, body, _ = exchange(side.server.port, request(account))
        assert (status, json.loads(body)["error"]) == (401, "invalid_client")


def test_the_counters_moved_alike(sides):
    fast, routed = sides
    # Both sides ran the same sequence above (pytest runs this module's tests in order).
    assert fast.metrics() == routed.metrics()
    assert fast.metrics()["tessera_tokens_issued_total"] > 10


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_a_client_that_never_reads_cannot_grow_the_server(sides):
    """Token requests pipelined for 4 s by a client that never reads an answer: the
    server must stop reading from it once its answers back up (as the router does),
    not keep issuing tokens into memory. Measured by the server's resident memory and
    by how much of what the client wrote the server took."""
    fast, _ = sides
    account = fast.account("never-reads")
    assert exchange(fast.server.port, request(account), watch_close=False)[0] == 200
    one = request(account)
    burst = one * 200
    before = rss_kib(fast.server.process.pid)
    sent = 0
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", fast.server.port))
        sock.settimeout(0.5)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                sent += sock.send(burst)
            except socket.timeout:
                continue
        grown = rss_kib(fast.server.process.pid) - before
    requests_taken = sent // len(one)
    # Kernel buffers on loopback take a few MB; past that a server that keeps reading
    # takes about 20,000 requests a second and holds a 1 KB answer for each.
    assert grown < 48 * 1024, f"the server grew by {grown} KiB while a client sent {requests_taken} requests and read none"
    assert requests_taken < 60_000, f"the server took {requests_taken} requests from a client that read no answer"
    # And it still serves others.
    assert exchange(fast.server.port, request(account), watch_close=False)[0] == 200


def test_a_body_that_breaks_off_mid_request_is_answered_alike(sides):
    """A token request the fast path would hold, whose chunked body turns into bytes that
    cannot be framed: the held request goes to the router with the error, and the client
    gets what the router alone gives it (status, then the close)."""
    answers = []
    for side in sides:
        account = side.account("broken-body")
        assert exchange(side.server.port, request(account), watch_close=False)[0] == 200
        good = request(account)
        head = good.split(b"\r\n\r\n", 1)[0]
        head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length"))
        broken = head + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ngrant\r\nzz-not-a-size\r\n\r\n"
        with socket.create_connection(("127.0.0.1", side.server.port), timeout=10) as sock:
            sock.sendall(broken)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        # Each answer's status and field names: which layer answered shows in them.
        heads = [part.split(b"\r\n\r\n", 1)[0].split(b"\r\n") for part in data.split(b"HTTP/1.1 ")[1:]]
        answers.append([(lines[0].split(b" ")[0], [line.split(b":")[0].lower() for line in lines[1:]]) for lines in heads])
    assert answers[0] == answers[1], f"fast path {answers[0]}, router {answers[1]}"
    assert answers[0] and all(status.startswith(b"4") for status, _ in answers[0]), answers
