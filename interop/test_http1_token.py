"""`POST /oauth2/token` at the HTTP/1.1 connection level, over raw loopback sockets.

Written from the outside only: RFC 9112 (HTTP/1.1 message syntax and connection
management), RFC 9110 (semantics: `Date`, media types, `Expect`), RFC 6749 §2.3.1
(client_secret_basic / client_secret_post), §4.4 (client credentials), §5.1 (successful
response) and §5.2 (error response), and the user documentation (README.md, docs/*.md):
the default token lifetime of 3600 s, the role catalogue, `X-Request-ID` echoed when it is
1–128 characters of `A-Z a-z 0-9 . _ -`, the 413 for bodies over the route's limit.

What a demanding client or an attacker does with one connection:

- pipelining (RFC 9112 §9.3.2): many requests in one write, answered in order, including
  errors and a GET of the JWKS between token requests; `Connection: close` inside a
  pipeline stops the processing of what follows it (§9.6);
- requests split into tiny writes, paused for 2 s between head and body, sent chunked
  (§7.1, with a chunk extension), as HTTP/1.0 (§9.3), with `Expect: 100-continue`
  (RFC 9110 §10.1.1);
- 50 requests on one kept-alive connection, every token a distinct `jti`;
- bodies over 16 KiB (413, whichever the framing, with a request hidden in the refused
  body that must never be answered), framing that smells of smuggling (both
  `Content-Length` and `Transfer-Encoding`, two different `Content-Length`s, a transfer
  coding other than chunked: RFC 9112 §6.3), a request without or with two `Host`s (§3.2);
- the form's media type missing, wrong, or spelled in another case (RFC 9110 §8.3.1).

Every response is read properly: status line, header fields, exactly `Content-Length`
bytes; several responses are read from one socket with a deadline, never one `recv`.
Every response must carry exactly one `Content-Length` equal to its body's length (no
chunked answers), an `X-Request-ID`, and one valid IMF-fixdate `Date` (RFC 9110 §5.6.7,
§6.6.1). Token answers are checked member by member against RFC 6749 §5.1, errors against
§5.2. Failed authentications here are few (well under the default throttle of 5 per
client and 20 per address, and each success clears the client's count).
"""

import base64
import json
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from conftest import Server

FORM = "application/x-www-form-urlencoded"
# RFC 9110 §5.6.7 IMF-fixdate, the form a sender MUST generate.
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT"
)
# RFC 9110 §5.6.2 token, for field names; no obs-fold (RFC 9112 §5.2: a server MUST NOT send it).
FIELD_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# RFC 6749 §5.2: error and error_description are %x20-21 / %x23-5B / %x5D-7E.
ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
# Documented default lifetime of an access token (docs/admin-api.md, "Access tokens").
DEFAULT_LIFETIME = 3600


# MARK: reading HTTP/1.1 from a socket


@dataclass
class Response:
    version: str
    status: int
    reason: str
    fields: list[tuple[str, str]]
    body: bytes
    interim: list[int] = field(default_factory=list)  # 1xx answers seen before this one

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, f"{name} appears {len(values)} times: {values}"
        return values[0] if values else None

    def json(self) -> dict:
        try:
            value = json.loads(self.body)
        except ValueError:
            pytest.fail(f"not JSON: {self.status} {self.body[:300]!r}")
        assert isinstance(value, dict), f"the JSON body is not an object: {value!r}"
        return value

    def __repr__(self) -> str:
        return f"<HTTP/{self.version} {self.status} {self.fields} {self.body[:200]!r}>"


class Conn:
    """One TCP connection with a read buffer: responses are parsed out of the byte stream
    as it arrives, so pipelined answers that share a segment are split correctly."""

    def __init__(self, server: Server):
        self.server = server
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        # Small writes stay small segments: what a slow or fragmenting client produces.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.ended: str | None = None  # "eof" or "reset" once the peer has closed

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float, what: str) -> bool:
        """Reads more bytes; False at EOF or reset. A deadline passing fails the test."""
        if self.ended:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"timed out waiting for {what}; buffered so far: {self.buffer[:400]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            pytest.fail(f"timed out waiting for {what}; buffered so far: {self.buffer[:400]!r}")
        except ConnectionResetError:
            self.ended = "reset"
            return False
        if not chunk:
            self.ended = "eof"
            return False
        self.buffer += chunk
        return True

    def _take(self, count: int) -> bytes:
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self, deadline: float, what: str) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill(deadline, what):
                pytest.fail(f"connection {self.ended} inside {what}: {self.buffer[:400]!r}")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def read_response(self, timeout: float = 10.0, head_request: bool = False) -> Response:
        """One final response (1xx interim responses before it are recorded, RFC 9110 §15.2)."""
        deadline = time.monotonic() + timeout
        interim: list[int] = []
        while True:
            while b"\r\n\r\n" not in self.buffer:
                if not self._fill(deadline, "a response head"):
                    pytest.fail(f"connection {self.ended} before a complete response head: {self.buffer[:400]!r}; "
                                f"tessera serve {'running' if self.server.process.poll() is None else 'EXITED'}")
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status_line = re.fullmatch(r"HTTP/(1\.[01]) ([1-5]\d\d) (.*)", lines[0])
            assert status_line, f"not an HTTP/1.x status line: {lines[0]!r}"
            fields = []
            for line in lines[1:]:
                match = FIELD_LINE.fullmatch(line)
                assert match, f"malformed field line (or obs-fold) {line!r} in {head!r}"
                fields.append((match.group(1), match.group(2)))
            version, status, reason = status_line.group(1), int(status_line.group(2)), status_line.group(3)
            if 100 <= status < 200:
                assert status != 101, "unexpected protocol switch"
                interim.append(status)
                continue
            response = Response(version, status, reason, fields, b"", interim)
            break
        if head_request or status in (204, 304):
            return response
        encodings = response.all("Transfer-Encoding")
        lengths = response.all("Content-Length")
        if encodings:
            # Decoded so that the stream stays in step; `check_common` refuses it anyway.
            body = b""
            while True:
                size_line = self._line(deadline, "a chunk size")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self._line(deadline, "the trailer section"):
                        pass
                    break
                while len(self.buffer) < size + 2:
                    if not self._fill(deadline, "a chunk"):
                        pytest.fail(f"connection {self.ended} inside a chunk")
                body += self._take(size)
                assert self._take(2) == b"\r\n", "chunk not followed by CRLF"
            response.body = body
            return response
        if lengths:
            assert len(lengths) == 1, f"several Content-Length fields: {lengths}"
            assert re.fullmatch(r"\d+", lengths[0]), f"invalid Content-Length {lengths[0]!r}"
            length = int(lengths[0])
            while len(self.buffer) < length:
                if not self._fill(deadline, f"a {length}-byte body"):
                    pytest.fail(f"connection {self.ended} after {len(self.buffer)} of {length} body bytes")
            response.body = self._take(length)
            return response
        # No framing at all: the body runs to the close (RFC 9112 §6.3 item 8).
        while self._fill(deadline, "a body delimited by the close"):
            pass
        response.body = self._take(len(self.buffer))
        return response

    def read_response_or_close(self, timeout: float = 10.0) -> Response | None:
        """The next response, or None if the server closes (EOF or reset) before any byte of one."""
        deadline = time.monotonic() + timeout
        while not self.buffer:
            if not self._fill(deadline, "a response or the close"):
                return None
        return self.read_response(max(0.01, deadline - time.monotonic()))

    def read_responses(self, count: int, timeout: float = 15.0) -> list[Response]:
        deadline = time.monotonic() + timeout
        return [self.read_response(max(0.01, deadline - time.monotonic())) for _ in range(count)]

    def expect_closed(self, timeout: float = 5.0, what: str = "") -> str:
        """Nothing more arrives, and the server closes (recv answers b"", or a reset)."""
        deadline = time.monotonic() + timeout
        while not self.ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{what}: the server kept the connection open {timeout} s (buffered {self.buffer[:300]!r})")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                self.ended = "reset"
                break
            if not chunk:
                self.ended = "eof"
                break
            self.buffer += chunk
        assert self.buffer == b"", f"{what}: bytes after the last expected response: {self.buffer[:400]!r}"
        return self.ended

    def expect_nothing_more(self, wait: float = 0.4, what: str = "") -> None:
        """No further byte arrives within `wait` s and the connection stays open."""
        deadline = time.monotonic() + wait
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                pytest.fail(f"{what}: the connection was reset")
            assert chunk, f"{what}: the server closed a connection it should have kept"
            self.buffer += chunk
        assert self.buffer == b"", f"{what}: unexpected extra bytes: {self.buffer[:400]!r}"


# MARK: building requests


def basic_auth(client: dict) -> str:
    """RFC 6749 §2.3.1: client id and secret form-encoded, then HTTP Basic (RFC 7617)."""
    pair = f"{urllib.parse.quote_plus(client['client_id'])}:{urllib.parse.quote_plus(client['client_secret'])}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def form(**params: str) -> bytes:
    return urllib.parse.urlencode(params).encode()


def token_request(
    server: Server,
    client: dict | None,
    *,
    auth: str = "basic",
    secret: str | None = None,
    params: dict | None = None,
    body: bytes | None = None,
    request_id: str | None = None,
    headers: list[str] = (),
    content_type: str | None = FORM,
    target: str = "/oauth2/token",
    version: str = "HTTP/1.1",
    framing: str = "length",
) -> bytes:
    """One complete `POST /oauth2/token` as bytes. `auth` is "basic" (client_secret_basic),
    "post" (client_secret_post) or "none"; `secret` replaces the client's secret;
    `framing` is "length" (Content-Length), "chunked" or "none"."""
    fields = dict(params if params is not None else {"grant_type": "client_credentials"})
    lines = [f"POST {target} {version}", f"Host: 127.0.0.1:{server.port}"]
    if client is not None:
        credentials = {**client, "client_secret": secret if secret is not None else client["client_secret"]}
        if auth == "basic":
            lines.append(f"Authorization: {basic_auth(credentials)}")
        elif auth == "post":
            fields.update(client_id=credentials["client_id"], client_secret=credentials["client_secret"])
    payload = body if body is not None else urllib.parse.urlencode(fields).encode()
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if request_id is not None:
        lines.append(f"X-Request-ID: {request_id}")
    lines.extend(headers)
    if framing == "length":
        lines.append(f"Content-Length: {len(payload)}")
        encoded = payload
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        encoded = chunk_encode(payload)
    else:
        encoded = payload
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + encoded


def chunk_encode(payload: bytes, sizes=(7, 1, 30, 4096)) -> bytes:
    """RFC 9112 §7.1: chunks of varying sizes, then the last chunk and an empty trailer."""
    out, index, turn = b"", 0, 0
    while index < len(payload):
        size = sizes[turn % len(sizes)]
        piece = payload[index:index + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        index += len(piece)
        turn += 1
    return out + b"0\r\n\r\n"


def get_request(server: Server, path: str, request_id: str | None = None, extra: list[str] = ()) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    if request_id is not None:
        lines.append(f"X-Request-ID: {request_id}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# MARK: checking responses


def b64url_decode(text: str) -> bytes:
    assert re.fullmatch(r"[A-Za-z0-9_-]*", text), f"not base64url without padding: {text[:60]!r}"
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    segments = token.split(".")
    assert len(segments) == 3, f"an access token of {len(segments)} segments"
    header = json.loads(b64url_decode(segments[0]))
    claims = json.loads(b64url_decode(segments[1]))
    assert b64url_decode(segments[2]), "an empty signature"
    return header, claims


def check_common(response: Response, request_id: str | None = None) -> None:
    """What every answer here must carry, whatever its status."""
    assert not response.all("Transfer-Encoding"), f"a chunked answer: {response!r}"
    lengths = response.all("Content-Length")
    assert lengths == [str(len(response.body))], f"Content-Length {lengths} for a {len(response.body)}-byte body"
    ids = response.all("X-Request-ID")
    assert len(ids) == 1 and REQUEST_ID.fullmatch(ids[0]), f"X-Request-ID {ids}"
    if request_id is not None:
        assert ids[0] == request_id, f"X-Request-ID {ids[0]!r}, sent {request_id!r}: answers out of order?"
    dates = response.all("Date")
    assert len(dates) == 1, f"Date fields: {dates}"
    match = IMF_FIXDATE.fullmatch(dates[0])
    assert match, f"Date is not an IMF-fixdate (RFC 9110 §5.6.7): {dates[0]!r}"
    when = datetime.strptime(dates[0], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    assert when.strftime("%a") == match.group(1), f"the day name does not match the date: {dates[0]!r}"
    skew = abs(when.timestamp() - time.time())
    assert skew < 120, f"Date {dates[0]!r} is {skew:.0f} s away from this (same) machine's clock"


def media_type(response: Response) -> str:
    value = response.header("Content-Type")
    assert value is not None, f"no Content-Type: {response!r}"
    return value.split(";")[0].strip().lower()


def check_token(response: Response, client: dict, scope: str, request_id: str | None = None) -> dict:
    """RFC 6749 §5.1 (and §4.4.3: no refresh token); answers the token's claims."""
    assert response.status == 200, f"expected 200, got {response!r}"
    check_common(response, request_id)
    assert media_type(response) == "application/json", response.fields
    assert response.header("Cache-Control") == "no-store", response.fields
    assert response.header("Pragma") == "no-cache", response.fields
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}, body
    assert body["token_type"] == "Bearer", body
    assert type(body["expires_in"]) is int and body["expires_in"] == DEFAULT_LIFETIME, body
    assert body["scope"] == scope, body
    header, claims = jwt_parts(body["access_token"])
    assert header.get("typ") == "at+jwt", header
    assert claims["client_id"] == client["client_id"], claims
    assert claims["scope"] == scope, claims
    # docs/admin-api.md: sub is the service account's id; without `resource`, aud is the issuer.
    assert claims["sub"] == client["id"], claims
    assert claims["iss"] == client["_issuer"] and claims["aud"] in (client["_issuer"], [client["_issuer"]]), claims
    assert claims["exp"] - claims["iat"] == body["expires_in"], claims
    assert isinstance(claims["jti"], str) and claims["jti"], claims
    return claims


def check_error(response: Response, status: int, error: str, request_id: str | None = None) -> dict:
    """RFC 6749 §5.2: a JSON object with `error` (and optionally error_description/error_uri)."""
    assert response.status == status, f"expected {status} {error}, got {response!r}"
    check_common(response, request_id)
    assert media_type(response) == "application/json", response.fields
    assert response.header("Cache-Control") == "no-store", response.fields
    body = response.json()
    assert body.get("error") == error, f"expected error {error!r}: {body}"
    assert set(body) <= {"error", "error_description", "error_uri"}, body
    for member in ("error", "error_description"):
        if member in body:
            assert isinstance(body[member], str) and ERROR_TEXT.fullmatch(body[member]), body
    return body


def check_invalid_client_basic(response: Response, request_id: str | None = None) -> None:
    """§5.2: a client that authenticated with the Authorization header gets 401 and a
    WWW-Authenticate challenge of the scheme it used (Basic)."""
    check_error(response, 401, "invalid_client", request_id)
    challenge = response.header("WWW-Authenticate")
    assert challenge is not None and re.match(r"(?i)basic(\s|$)", challenge), f"WWW-Authenticate {challenge!r}"


def check_jwks(response: Response, request_id: str) -> None:
    assert response.status == 200, response
    check_common(response, request_id)
    assert media_type(response) in ("application/json", "application/jwk-set+json"), response.fields
    keys = response.json().get("keys")
    assert isinstance(keys, list) and keys and all("kid" in key and "d" not in key for key in keys), keys


def assert_alive(server: Server, world: dict, after: str) -> None:
    """The process runs, and a fresh connection gets a token."""
    assert server.process.poll() is None, f"tessera serve exited after {after}"
    with Conn(server) as conn:
        conn.send(token_request(server, world["reader"], request_id="alive-check"))
        check_token(conn.read_response(), world["reader"], "api:read", "alive-check")


# MARK: fixtures


@pytest.fixture(scope="module")
def world(server: Server) -> dict:
    """Two service accounts of the documented role catalogue: `reader` (analyst: api:read)
    and `writer` (editor: api:read api:write); each remembers the issuer its tokens name."""
    admin = server.bootstrap()
    reader = server.create_account(admin, name="http1-reader", roles=["analyst"])
    writer = server.create_account(admin, name="http1-writer", roles=["editor"])
    for account in (reader, writer):
        account["_issuer"] = server.issuer
    return {"reader": reader, "writer": writer}


# MARK: 1. pipelining


def test_pipelined_token_requests_are_answered_in_order(server: Server, world: dict):
    """RFC 9112 §9.3.2: a server MAY process pipelined requests in parallel but MUST send
    the responses in the order the requests were received. Six token requests in one write,
    alternating client and authentication method and scope: six 200s, in order."""
    reader, writer = world["reader"], world["writer"]
    plan = [
        (reader, "basic", None, "api:read"),
        (writer, "post", "api:write", "api:write"),
        (writer, "basic", None, "api:read api:write"),
        (reader, "post", "api:read", "api:read"),
        (writer, "basic", "api:read", "api:read"),
        (writer, "post", None, "api:read api:write"),
    ]
    wire = b""
    for index, (client, auth, scope, _) in enumerate(plan, 1):
        params = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        wire += token_request(server, client, auth=auth, params=params, request_id=f"pipe-{index}")
    with Conn(server) as conn:
        conn.send(wire)
        responses = conn.read_responses(len(plan))
        jtis = set()
        for index, ((client, _, _, granted), response) in enumerate(zip(plan, responses), 1):
            jtis.add(check_token(response, client, granted, f"pipe-{index}")["jti"])
        assert len(jtis) == len(plan), "two pipelined tokens share a jti"
        conn.expect_nothing_more(what="after six pipelined answers")
        # The connection is still usable after the pipeline.
        conn.send(token_request(server, reader, request_id="after-pipe"))
        check_token(conn.read_response(), reader, "api:read", "after-pipe")


def test_pipelined_errors_and_a_jwks_get_keep_their_places(server: Server, world: dict):
    """Errors are answers like any other in a pipeline: wrong secrets (401 invalid_client,
    with a Basic challenge for Basic), unknown grant types (400 unsupported_grant_type) and
    GETs of the JWKS sit between good token requests, ten requests in one write; every
    status in its place, and the requests after an error are still served."""
    reader, writer = world["reader"], world["writer"]
    wire = b"".join([
        token_request(server, reader, request_id="pipe-1"),
        token_request(server, reader, secret=reader["client_secret"][:-1] + ("A" if reader["client_secret"][-1] != "A" else "B"),
                      request_id="pipe-2"),
        token_request(server, writer, auth="post", params={"grant_type": "client_credentials", "scope": "api:write"},
                      request_id="pipe-3"),
        token_request(server, writer, params={"grant_type": "password", "username": "u", "password": "p"},
                      request_id="pipe-4"),
        get_request(server, "/.well-known/jwks.json", "pipe-5"),
        token_request(server, writer, request_id="pipe-6"),
        token_request(server, reader, auth="post", params={"grant_type": "urn:example:unknown"}, request_id="pipe-7"),
        get_request(server, "/.well-known/jwks.json", "pipe-8"),
        token_request(server, writer, auth="post", secret="tss_not-the-secret", request_id="pipe-9"),
        token_request(server, reader, auth="post", request_id="pipe-10"),
    ])
    with Conn(server) as conn:
        conn.send(wire)
        r = conn.read_responses(10)
        check_token(r[0], reader, "api:read", "pipe-1")
        check_invalid_client_basic(r[1], "pipe-2")
        check_token(r[2], writer, "api:write", "pipe-3")
        check_error(r[3], 400, "unsupported_grant_type", "pipe-4")
        check_jwks(r[4], "pipe-5")
        check_token(r[5], writer, "api:read api:write", "pipe-6")
        check_error(r[6], 400, "unsupported_grant_type", "pipe-7")
        check_jwks(r[7], "pipe-8")
        # client_secret_post with a wrong secret: docs/endpoints.md answers invalid_client as
        # 401 with WWW-Authenticate (§5.2 allows 401 here, and requires it for Basic).
        check_error(r[8], 401, "invalid_client", "pipe-9")
        assert r[8].header("WWW-Authenticate"), r[8]
        check_token(r[9], reader, "api:read", "pipe-10")
        conn.expect_nothing_more(what="after the mixed pipeline")


def test_connection_close_inside_a_pipeline_ends_the_connection(server: Server, world: dict):
    """RFC 9112 §9.6: a server that receives `close` MUST initiate closure after the final
    response to that request and MUST NOT process any further requests on the connection.
    Three pipelined requests, the second with `Connection: close`: exactly two answers,
    then the close; the third request is never answered."""
    reader = world["reader"]
    wire = (token_request(server, reader, request_id="pipe-1")
            + token_request(server, reader, request_id="pipe-2", headers=["Connection: close"])
            + token_request(server, reader, request_id="pipe-3"))
    with Conn(server) as conn:
        conn.send(wire)
        first, second = conn.read_responses(2)
        check_token(first, reader, "api:read", "pipe-1")
        check_token(second, reader, "api:read", "pipe-2")
        conn.expect_closed(what="after the response to the `Connection: close` request")


# MARK: 2. fragmented writes, 10. a pause


def test_a_request_written_in_tiny_pieces_is_answered_once(server: Server, world: dict):
    """The head in pieces cut inside the request line, a field name and the final CRLFs,
    the body (client_secret_post) one byte at a time: one correct answer, nothing more,
    and the connection serves the next request."""
    writer = world["writer"]
    request = token_request(server, writer, auth="post", params={"grant_type": "client_credentials", "scope": "api:write"},
                            request_id="slow-pieces")
    head, body = request.split(b"\r\n\r\n", 1)
    head += b"\r\n\r\n"
    cuts = [0, 3, 9, 20, head.index(b"Content-Type") + 7, len(head) - 3, len(head) - 1, len(head)]
    with Conn(server) as conn:
        for start, end in zip(cuts, cuts[1:]):
            conn.send(head[start:end])
            time.sleep(0.05)
        for byte in body:
            conn.send(bytes([byte]))
            time.sleep(0.005)
        check_token(conn.read_response(), writer, "api:write", "slow-pieces")
        conn.expect_nothing_more(wait=0.5, what="after a request sent in pieces")
        conn.send(token_request(server, writer, request_id="after-pieces"))
        check_token(conn.read_response(), writer, "api:read api:write", "after-pieces")


def test_a_two_second_pause_inside_a_request_is_tolerated(server: Server, world: dict):
    """A client that stalls 2 s (well within the documented 10 s header and 30 s body
    timeouts) is answered correctly: once after the complete head, once in the middle of a
    header field. Both connections wait at the same time."""
    reader, writer = world["reader"], world["writer"]
    after_head = token_request(server, reader, request_id="pause-after-head")
    mid_head = token_request(server, writer, auth="post", request_id="pause-mid-head")
    split_a = after_head.index(b"\r\n\r\n") + 4
    split_b = mid_head.index(b"X-Request-ID") + 5
    with Conn(server) as a, Conn(server) as b:
        a.send(after_head[:split_a])
        b.send(mid_head[:split_b])
        time.sleep(2.0)
        a.send(after_head[split_a:])
        b.send(mid_head[split_b:])
        check_token(a.read_response(), reader, "api:read", "pause-after-head")
        check_token(b.read_response(), writer, "api:read api:write", "pause-mid-head")


# MARK: 3. chunked bodies, Expect


def test_a_chunked_form_body_yields_a_token(server: Server, world: dict):
    """RFC 9112 §7.1: a chunked request body (chunks of 7, 1, 30 … bytes) is the form; then,
    on the same connection, a chunked body with a chunk extension (§7.1.1: unrecognized
    extensions MUST be ignored) and upper-case hex sizes, and a Content-Length request after
    them: the framing ended exactly where it should."""
    reader, writer = world["reader"], world["writer"]
    payload = form(grant_type="client_credentials", scope="api:write",
                   client_id=writer["client_id"], client_secret=writer["client_secret"])
    pieces = [payload[:10], payload[10:11], payload[11:]]
    with_extension = b"".join(b"%X;note=\"x\"\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    head_post = ("POST /oauth2/token HTTP/1.1\r\n"
                 f"Host: 127.0.0.1:{server.port}\r\nContent-Type: {FORM}\r\n"
                 "X-Request-ID: chunk-2\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with Conn(server) as conn:
        conn.send(token_request(server, reader, framing="chunked", request_id="chunk-1"))
        check_token(conn.read_response(), reader, "api:read", "chunk-1")
        conn.send(head_post + with_extension)
        check_token(conn.read_response(), writer, "api:write", "chunk-2")
        conn.send(token_request(server, reader, request_id="chunk-3"))
        check_token(conn.read_response(), reader, "api:read", "chunk-3")
        conn.expect_nothing_more(what="after the chunked requests")


def test_expect_100_continue_is_honoured(server: Server, world: dict):
    """RFC 9110 §10.1.1: with `Expect: 100-continue` the client sends the head and waits.
    The server either answers 100 (Continue) and then reads the body, or gives a final
    answer at once. Here the client sends the body once it sees 100 or after 1 s."""
    reader = world["reader"]
    request = token_request(server, reader, request_id="expect-1", headers=["Expect: 100-continue"])
    split = request.index(b"\r\n\r\n") + 4
    with Conn(server) as conn:
        conn.send(request[:split])
        deadline = time.monotonic() + 1.0
        while b"\r\n\r\n" not in conn.buffer and time.monotonic() < deadline:
            conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = conn.sock.recv(65536)
            except socket.timeout:
                break
            assert chunk, "the server closed the connection after an Expect: 100-continue head"
            conn.buffer += chunk
        assert conn.buffer == b"" or re.match(rb"HTTP/1\.1 100 ", conn.buffer), \
            f"a final answer before the body was sent: {conn.buffer[:300]!r}"
        conn.send(request[split:])
        response = conn.read_response()
        assert response.interim in ([], [100]), response.interim
        check_token(response, reader, "api:read", "expect-1")


# MARK: 4. Connection: close, 5. HTTP/1.0


def test_connection_close_gets_the_answer_then_the_close(server: Server, world: dict):
    """RFC 9112 §9.6: a server that receives `close` MUST initiate closure of the connection
    after it sends the final response: the answer comes, then recv answers b""."""
    writer = world["writer"]
    with Conn(server) as conn:
        conn.send(token_request(server, writer, auth="post", request_id="close-1", headers=["Connection: close"]))
        check_token(conn.read_response(), writer, "api:read api:write", "close-1")
        conn.expect_closed(what="after a `Connection: close` request")


def test_the_last_answer_on_a_closing_connection_says_close(server: Server, world: dict):
    """RFC 9112 §9.6: the server SHOULD send a `close` connection option in its final
    response on that connection, so that the client knows not to reuse it (a pooled client
    that does not see it may write its next request into a closing socket)."""
    writer = world["writer"]
    with Conn(server) as conn:
        conn.send(token_request(server, writer, request_id="close-2", headers=["Connection: close"]))
        response = conn.read_response()
        check_token(response, writer, "api:read api:write", "close-2")
        connection = [token.strip().lower() for value in response.all("Connection") for token in value.split(",")]
        assert "close" in connection, f"no `Connection: close` in the final answer: {response.fields}"
        conn.expect_closed(what="after a `Connection: close` request")


def test_http_1_0_request_gets_a_valid_answer(server: Server, world: dict):
    """An HTTP/1.0 request with a Content-Length is answered with a token: an HTTP/1.x
    status line (RFC 9110 §6.2), framed by Content-Length (never chunked to a 1.0 client,
    RFC 9112 §6.1), with every member and header field of RFC 6749 §5.1."""
    reader, writer = world["reader"], world["writer"]
    for client, auth, rid in ((reader, "basic", "http10-basic"), (writer, "post", "http10-post")):
        with Conn(server) as conn:
            conn.send(token_request(server, client, auth=auth, version="HTTP/1.0", request_id=rid))
            response = conn.read_response()
            check_token(response, client, "api:read" if client is reader else "api:read api:write", rid)


def persists(response: Response) -> bool:
    """RFC 9112 §9.3, as the client applies it to the response it received: `close` ends
    the connection; an HTTP/1.1 response otherwise persists; an HTTP/1.0 one only with
    `keep-alive`."""
    tokens = [t.strip().lower() for value in response.all("Connection") for t in value.split(",")]
    if "close" in tokens:
        return False
    return response.version == "1.1" or "keep-alive" in tokens


def test_http_1_0_request_without_keep_alive_ends_the_connection(server: Server, world: dict):
    """RFC 9112 §9.3: if the received protocol is HTTP/1.0 and `keep-alive` is not present,
    the connection will close after the current response. A 1.0 client (ApacheBench
    without -k, simple scripts) may read the answer up to the close: the server must close,
    and must not leave it to the client or to the 75 s idle timeout."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(token_request(server, reader, version="HTTP/1.0", request_id="http10-close"))
        response = conn.read_response()
        check_token(response, reader, "api:read", "http10-close")
        conn.expect_closed(what=f"after an HTTP/1.0 request without keep-alive (answered HTTP/{response.version}, "
                                f"Connection: {response.all('Connection')})")


def test_http_1_0_keep_alive_is_honoured_or_the_connection_closes(server: Server, world: dict):
    """RFC 9112 §9.3 and Appendix C.2.2: an HTTP/1.0 request with `Connection: keep-alive`
    may persist. Whatever the server answers, what it does matches what its answer tells
    the client: if the answer says the connection persists, a second request on it is
    served; if not, the server closes."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(token_request(server, reader, version="HTTP/1.0", request_id="http10-ka",
                                headers=["Connection: keep-alive"]))
        response = conn.read_response()
        check_token(response, reader, "api:read", "http10-ka")
        if persists(response):
            conn.send(token_request(server, reader, version="HTTP/1.0", request_id="http10-ka-2",
                                    headers=["Connection: keep-alive"]))
            check_token(conn.read_response(), reader, "api:read", "http10-ka-2")
        else:
            conn.expect_closed(what="an HTTP/1.0 answer that does not persist")


# MARK: 6. keep-alive


def test_fifty_sequential_requests_on_one_connection_get_distinct_tokens(server: Server, world: dict):
    """50 token requests one after another on one kept-alive connection (alternating
    client_secret_basic and client_secret_post): 50 answers, none closing, 50 distinct jti."""
    reader, writer = world["reader"], world["writer"]
    jtis = []
    started = time.monotonic()
    with Conn(server) as conn:
        for index in range(50):
            client, auth = (reader, "basic") if index % 2 == 0 else (writer, "post")
            conn.send(token_request(server, client, auth=auth, request_id=f"seq-{index}"))
            response = conn.read_response()
            check_token(response, client, "api:read" if client is reader else "api:read api:write", f"seq-{index}")
            assert "close" not in (response.header("Connection") or "").lower(), f"request {index} closed: {response!r}"
            jtis.append(jwt_parts(response.json()["access_token"])[1]["jti"])
        conn.expect_nothing_more(what="after 50 sequential requests")
    assert len(set(jtis)) == 50, f"{50 - len(set(jtis))} repeated jti among 50 tokens"
    assert time.monotonic() - started < 20


# MARK: 7. oversized bodies


def oversized_body(size: int, smuggled: bytes = b"") -> bytes:
    prefix = b"grant_type=client_credentials&scope="
    return prefix + b"a" * (size - len(prefix) - len(smuggled)) + smuggled


def test_a_body_over_16_kib_is_413_whatever_its_framing(server: Server, world: dict):
    """A 20,000-byte scope parameter: 413 with a Content-Length and chunked, and a request
    hidden at the end of the refused body (a GET of the JWKS) is never answered: after the
    413 the connection either closes or serves the next real request (and only that).
    Other connections are served meanwhile and afterwards."""
    reader = world["reader"]
    smuggled = get_request(server, "/.well-known/jwks.json", "smuggled")
    for framing in ("length", "chunked"):
        body = oversized_body(20_000, b"\r\n\r\n" + smuggled)
        with Conn(server) as conn:
            conn.send(token_request(server, reader, body=body, framing=framing, request_id=f"big-{framing}"))
            check_error(conn.read_response(), 413, "invalid_request", f"big-{framing}")
            # The next request on the same connection, if the server kept it.
            try:
                conn.send(token_request(server, reader, request_id=f"after-big-{framing}"))
            except (BrokenPipeError, ConnectionResetError):
                conn.ended = conn.ended or "reset"
            follow = None if conn.ended else conn.read_response_or_close(timeout=5)
            if follow is None:
                conn.expect_closed(what=f"after the 413 ({framing})")
            else:
                assert follow.header("X-Request-ID") != "smuggled", \
                    f"the request hidden in the refused {framing} body was executed: {follow!r}"
                check_token(follow, reader, "api:read", f"after-big-{framing}")
                conn.expect_nothing_more(what=f"after the 413 ({framing}) and the next request")
        # Meanwhile another connection is served.
        assert_alive(server, world, f"a 20,000-byte {framing} body")


def test_the_body_limit_is_16_kib_exactly(server: Server, world: dict):
    """A body of exactly 16,384 bytes (an unknown padding parameter, which RFC 6749 §3.2
    says MUST be ignored) is served; one byte more is 413."""
    reader = world["reader"]
    base = b"grant_type=client_credentials&pad="
    for size, chunked in ((16_384, False), (16_384, True), (16_385, False), (16_385, True)):
        body = base + b"p" * (size - len(base))
        rid = f"limit-{size}-{'chunked' if chunked else 'length'}"
        with Conn(server) as conn:
            conn.send(token_request(server, reader, body=body, framing="chunked" if chunked else "length", request_id=rid))
            response = conn.read_response()
            if size <= 16_384:
                check_token(response, reader, "api:read", rid)
            else:
                check_error(response, 413, "invalid_request", rid)
    assert_alive(server, world, "bodies at the limit")


# MARK: 8. a query string


def test_a_query_string_on_the_token_endpoint_is_not_a_server_error(server: Server, world: dict):
    """`POST /oauth2/token?x=1`: RFC 6749 does not forbid a query on the token endpoint
    (§3.2: it MAY include a query component, which MUST be retained). Whatever the answer,
    it is not 5xx, it is well formed, and the connection serves the next request."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(token_request(server, reader, target="/oauth2/token?x=1", request_id="query-1"))
        response = conn.read_response()
        print(f"POST /oauth2/token?x=1 answered {response.status}: {response.body[:200]!r}")
        assert response.status < 500, response
        check_common(response, "query-1")
        conn.send(token_request(server, reader, request_id="query-2"))
        check_token(conn.read_response(), reader, "api:read", "query-2")


# MARK: 9. media type


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json", "multipart/form-data; boundary=x"])
def test_a_form_body_without_the_form_media_type_is_invalid_request(server: Server, world: dict, content_type):
    """RFC 6749 §4.4.2: the parameters are sent as application/x-www-form-urlencoded; the
    same valid body without that media type is 400 invalid_request, and the connection
    goes on serving."""
    reader = world["reader"]
    rid = "ctype-" + re.sub(r"[^a-z]", "-", (content_type or "missing").split(";")[0])
    with Conn(server) as conn:
        conn.send(token_request(server, reader, auth="post", content_type=content_type, request_id=rid))
        check_error(conn.read_response(), 400, "invalid_request", rid)
        conn.send(token_request(server, reader, auth="post", request_id=rid + "-ok"))
        check_token(conn.read_response(), reader, "api:read", rid + "-ok")


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded; charset=UTF-8",
    "Application/X-WWW-Form-URLEncoded",
    "application/x-www-form-urlencoded;charset=utf-8",
])
def test_the_form_media_type_with_parameters_or_in_another_case_is_accepted(server: Server, world: dict, content_type):
    """RFC 9110 §8.3.1: type and subtype are case-insensitive, and a charset parameter is
    what many clients send (Java, .NET)."""
    writer = world["writer"]
    with Conn(server) as conn:
        conn.send(token_request(server, writer, auth="basic", content_type=content_type, request_id="ctype-ok"))
        check_token(conn.read_response(), writer, "api:read api:write", "ctype-ok")


# MARK: framing attacks (RFC 9112 §6.3, §6.1, §3.2)


def check_refusal(response: Response, status: int = 400) -> None:
    """A refusal at the framing level: the status, and a body exactly as long as its
    Content-Length says (Date and X-Request-ID are checked in their own test below)."""
    assert response.status == status, f"expected {status}: {response!r}"
    assert response.all("Content-Length") == [str(len(response.body))], response
    assert not response.all("Transfer-Encoding"), response


def cl_and_te(server: Server, client: dict) -> bytes:
    """Content-Length and Transfer-Encoding: chunked together, a GET of the JWKS hidden
    where the Content-Length reading ends and the chunked one does not."""
    payload = form(grant_type="client_credentials")
    chunked_body = chunk_encode(payload)
    hidden = get_request(server, "/.well-known/jwks.json", "smuggled")
    return token_request(server, client, body=payload, framing="none", request_id="cl-te",
                         headers=[f"Content-Length: {len(chunked_body) + len(hidden) + 10}",
                                  "Transfer-Encoding: chunked"]) + chunked_body + hidden


def bad_length(server: Server, client: dict, lengths: list[str]) -> bytes:
    payload = form(grant_type="client_credentials")  # 29 bytes
    assert len(payload) == 29
    return token_request(server, client, body=payload, framing="none", request_id="bad-cl",
                         headers=[f"Content-Length: {value}" for value in lengths]) \
        + get_request(server, "/.well-known/jwks.json", "smuggled")


def non_final_chunked(server: Server, client: dict) -> bytes:
    payload = form(grant_type="client_credentials")
    return token_request(server, client, body=payload, framing="none", request_id="te-identity",
                         headers=["Transfer-Encoding: chunked, identity", f"Content-Length: {len(payload)}"])


def test_content_length_and_transfer_encoding_together_then_close(server: Server, world: dict):
    """RFC 9112 §6.3 item 3: with both, Transfer-Encoding overrides Content-Length; the
    server MAY refuse (400) or process by the chunked framing (a token), and MUST close the
    connection after responding. The hidden request is never answered."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(cl_and_te(server, reader))
        response = conn.read_response()
        assert response.header("X-Request-ID") != "smuggled", response
        if response.status == 200:
            check_token(response, reader, "api:read", "cl-te")
        else:
            check_refusal(response, 400)
        conn.expect_closed(what="after a request with both Content-Length and Transfer-Encoding")
    assert_alive(server, world, "a Content-Length + Transfer-Encoding request")


@pytest.mark.parametrize("lengths", [["29", "30"], ["29, 30"], ["-1"], ["29x"]], ids=["two", "list", "negative", "junk"])
def test_an_invalid_content_length_is_400_and_close(server: Server, world: dict, lengths):
    """RFC 9112 §6.3 item 5: an invalid Content-Length (two different values, a negative or
    non-numeric one) is an unrecoverable framing error: the server MUST answer 400 and then
    close the connection. The request after it in the same write is never answered."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(bad_length(server, reader, lengths))
        check_refusal(conn.read_response(), 400)
        conn.expect_closed(what=f"after Content-Length {lengths}")
    assert_alive(server, world, f"Content-Length {lengths}")


def test_a_transfer_coding_other_than_final_chunked_is_400_and_close(server: Server, world: dict):
    """RFC 9112 §6.3 item 4: a request whose Transfer-Encoding does not end in chunked has
    no reliable length: the server MUST answer 400 and then close the connection."""
    reader = world["reader"]
    with Conn(server) as conn:
        conn.send(non_final_chunked(server, reader))
        check_refusal(conn.read_response(), 400)
        conn.expect_closed(what="after Transfer-Encoding: chunked, identity")
    assert_alive(server, world, "a non-final chunked transfer coding")


@pytest.mark.parametrize("case", ["cl-te", "two-lengths", "non-final-chunked"])
def test_framing_refusals_carry_date_and_request_id(server: Server, world: dict, case):
    """The 400s above are 4xx answers of an origin server with a clock: RFC 9110 §6.6.1
    says it MUST send Date; docs/endpoints.md says every response carries X-Request-ID."""
    reader = world["reader"]
    wire = {"cl-te": lambda: cl_and_te(server, reader),
            "two-lengths": lambda: bad_length(server, reader, ["29", "30"]),
            "non-final-chunked": lambda: non_final_chunked(server, reader)}[case]()
    with Conn(server) as conn:
        conn.send(wire)
        response = conn.read_response()
        check_refusal(response, 400)
        check_common(response)


def test_an_unknown_transfer_coding_is_501(server: Server, world: dict):
    """RFC 9112 §6.1: a server that receives a request with a transfer coding it does not
    understand SHOULD answer 501 (Not Implemented). `Transfer-Encoding: gzip, chunked` on a
    body that is not gzip: a server that decodes only `chunked` must not read the rest as
    if `gzip` were not there (a proxy in front that does understand gzip would see
    another body)."""
    reader = world["reader"]
    payload = form(grant_type="client_credentials")
    request = token_request(server, reader, body=chunk_encode(payload), framing="none", request_id="te-gzip",
                            headers=["Transfer-Encoding: gzip, chunked"])
    with Conn(server) as conn:
        conn.send(request)
        response = conn.read_response()
        check_refusal(response, 501)
        check_common(response)
    assert_alive(server, world, "Transfer-Encoding: gzip, chunked")


@pytest.mark.parametrize("hosts", [[], [f"127.0.0.1:1", "evil.example"]], ids=["no-host", "two-hosts"])
def test_a_request_without_or_with_two_hosts_is_400(server: Server, world: dict, hosts):
    """RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request that lacks a Host
    header field or has more than one."""
    reader = world["reader"]
    request = token_request(server, reader, request_id="host-check")
    lines = [line for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if not line.startswith(b"Host:")]
    lines[1:1] = [f"Host: {host}".encode() for host in hosts]
    wire = b"\r\n".join(lines) + b"\r\n\r\n" + request.split(b"\r\n\r\n", 1)[1]
    with Conn(server) as conn:
        conn.send(wire)
        response = conn.read_response()
        assert response.status == 400, f"Host fields {hosts}: {response!r}"
        check_common(response)
    assert_alive(server, world, f"Host fields {hosts}")


@pytest.mark.parametrize("before", ["token", "jwks"])
def test_a_refusal_behind_pipelined_requests_waits_for_their_answers(server: Server, world: dict, before):
    """A request refused at the framing level (here, no Host) behind requests still being
    answered: their answers come first, in order, then the 400, then the close
    (RFC 9112 §9.3.2: responses in the order of the requests). `token` puts a token request
    the server may answer on its fast path in front; `jwks`, a request for the router."""
    reader = world["reader"]
    first = (token_request(server, reader, request_id="ahead-1") if before == "token"
             else get_request(server, "/.well-known/jwks.json", "ahead-1"))
    second = get_request(server, "/.well-known/jwks.json", "ahead-2")
    hostless = b"\r\n".join(line for line in token_request(server, reader, request_id="no-host").split(b"\r\n")
                             if not line.startswith(b"Host:"))
    with Conn(server) as conn:
        conn.send(first + second + hostless)
        answers = conn.read_responses(3)
        assert [a.status for a in answers] == [200, 200, 400], answers
        assert [a.header("X-Request-ID") for a in answers] == ["ahead-1", "ahead-2", "no-host"], answers
        for answer in answers:
            check_common(answer)
        conn.expect_closed(what="after the refusal")
    assert_alive(server, world, "a refusal behind pipelined requests")


def test_the_server_survives_the_whole_file(server: Server, world: dict):
    """Last: the process is still running, and a fresh client (requests, not a raw socket)
    gets a token."""
    assert server.process.poll() is None
    token = server.token(world["writer"]["client_id"], world["writer"]["client_secret"], scope="api:write")
    assert token["token_type"] == "Bearer" and token["scope"] == "api:write"
    assert_alive(server, world, "the whole file")
