"""Sender-constrained tokens, native TLS and trusted proxies, checked from the outside.

Everything here is written from docs/binding.md and the RFCs it names, with proofs,
keys and certificates made in Python (pyca/cryptography, joserfc): nothing is taken from
Tessera's own clients.

- DPoP (RFC 9449) at the token endpoint: good proofs of every listed algorithm bind the
  token (`token_type` DPoP, `cnf.jkt` the RFC 7638 thumbprint computed here); each broken
  proof is `400 invalid_dpop_proof`; replays; accounts that require DPoP; nonces;
  introspection; the admin API and the example resource server as DPoP resource servers.
- Native TLS: a chain served to curl, HTTP/2 through ALPN, TLS 1.2 and 1.3, refusals at
  start, and certificate reloads (SIGHUP and the interval) that drop no request.
- Mutual TLS (RFC 8705): `tls_client_auth` by each registered name type,
  `self_signed_tls_client_auth` by a registered key, `cnf.x5t#S256`, certificate-bound
  admin tokens, accounts that require certificate-bound tokens, metadata, validation.
- Trusted proxies: `Client-Cert` and `Client-Cert-Chain` (RFC 9440) from a trusted peer
  only, and the failed-authentication throttle counting the forwarded client address
  (RFC 7239 `Forwarded`, `X-Forwarded-For`) from a trusted peer only.

Servers are started once per module for each configuration; only the reload tests start
their own. Servers whose subject is not the throttle run without it.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import types
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from binding_support import (
    DPOP_ALGS,
    NO_THROTTLE,
    OMIT,
    ProofKey,
    access_token_hash,
    b64url,
    challenges,
    client_cert,
    client_cert_field,
    dn,
    handshake,
    jwk_thumbprint,
    jwt_header,
    jwt_payload,
    make_ca,
    post_with_headers,
    proof,
    public_jwk,
    replace_file,
    rsa_key,
    self_signed_cert,
    serve_refused,
    served_serial,
    server_cert,
    start_tls_server,
)
from conftest import BIN, Server, eventually, free_port, service_missing, start_server, stop_server

METADATA = "/.well-known/oauth-authorization-server"
TLS_NAME_FIELDS = (
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
)
# RFC 9449 §8.1: nonce = 1*NQCHAR.
NONCE_SYNTAX = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")


# MARK: helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def verify_of(server: Server):
    """What `requests` verifies the server with: the test CA for a TLS server."""
    return getattr(server, "ca_file", None) or True


def token_url(server: Server) -> str:
    return server.issuer + "/oauth2/token"


def ask_token(
    server: Server,
    account: dict,
    *,
    dpop: str | None = None,
    secret: bool = True,
    cert: tuple[str, str] | None = None,
    headers: dict | None = None,
    **form: str,
) -> requests.Response:
    """A client-credentials request: `account` authenticates with its secret (HTTP Basic),
    or with `secret=False` names itself with `client_id` in the form alone (RFC 8705
    §2); `dpop` is the proof, `cert` the TLS client certificate and key files."""
    sent = dict(headers or {})
    if dpop is not None:
        sent["DPoP"] = dpop
    data = {"grant_type": "client_credentials", **form}
    auth = None
    if secret:
        auth = (account["client_id"], account["client_secret"])
    else:
        data["client_id"] = account["client_id"]
    return requests.post(token_url(server), data=data, auth=auth, headers=sent, cert=cert,
                         verify=verify_of(server), timeout=10)


def granted(response: requests.Response) -> dict:
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    return response.json()


def oauth_refusal(response: requests.Response, status: int, error: str) -> dict:
    """RFC 6749 §5.2: `status` with `error`, and an `error_description` string."""
    try:
        body = response.json()
    except ValueError:
        body = None
    assert (response.status_code, (body or {}).get("error")) == (status, error), f"{response.status_code} {response.text}"
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    return body


def api(server: Server, method: str, path: str, headers: dict, **kwargs) -> requests.Response:
    return requests.request(method, server.issuer + path, headers=headers, verify=verify_of(server), timeout=10, **kwargs)


def bearer(server: Server, account: dict) -> dict:
    return {"Authorization": "Bearer " + server.token(account["client_id"], account["client_secret"])["access_token"]}


def problem_field(response: requests.Response) -> str | None:
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    assert response.headers.get("Content-Type", "").split(";")[0] == "application/problem+json", response.headers
    return response.json().get("field")


def metadata(server: Server) -> dict:
    response = requests.get(server.issuer + METADATA, verify=verify_of(server), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def introspect(server: Server, admin: dict, token: str) -> dict:
    response = requests.post(server.issuer + "/oauth2/introspect", data={"token": token},
                             auth=(admin["client_id"], admin["client_secret"]), verify=verify_of(server), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def dpop_challenge(response: requests.Response) -> dict:
    """The DPoP challenge (RFC 9449 §7.1) of a 401."""
    assert response.status_code == 401, f"{response.status_code} {response.text}"
    found = challenges(response.headers.get("WWW-Authenticate", ""))
    assert "dpop" in found, f"no DPoP challenge: {response.headers.get('WWW-Authenticate')!r}"
    return found["dpop"]


def assert_mtls_metadata(server: Server) -> None:
    """RFC 8705 §3.3 and §5: what a server that can receive client certificates advertises."""
    meta = metadata(server)
    assert meta.get("tls_client_certificate_bound_access_tokens") is True, meta
    assert meta.get("mtls_endpoint_aliases") == {
        "token_endpoint": server.issuer + "/oauth2/token",
        "introspection_endpoint": server.issuer + "/oauth2/introspect",
        "revocation_endpoint": server.issuer + "/oauth2/revoke",
    }, meta.get("mtls_endpoint_aliases")
    methods = meta["token_endpoint_auth_methods_supported"]
    assert "tls_client_auth" in methods and "self_signed_tls_client_auth" in methods, methods


def launch(*flags: str) -> Server:
    """`tessera serve *flags` over plain HTTP, with the bootstrap admin of tenant acme as
    `admin`; its folder is removed if it does not start."""
    directory = tempfile.mkdtemp(prefix="tessera-binding-")
    try:
        server = start_server("ES256", *flags, directory=directory)
    except RuntimeError:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    server.admin = server.bootstrap()
    return server


# MARK: fixtures


@pytest.fixture(scope="module")
def pki():
    """Two CAs made here: one for servers (the leaf under an intermediate, which the
    server sends) and one for clients (with an intermediate that clients send). Every
    client certificate the tests use is written to the folder as NAME.pem / NAME-key.pem."""
    directory = tempfile.mkdtemp(prefix="tessera-binding-pki-")
    server_root = make_ca("interop server root")
    server_intermediate = make_ca("interop server intermediate", server_root)
    clients_root = make_ca("interop clients root")
    clients_intermediate = make_ca("interop clients intermediate", clients_root)
    replace_file(os.path.join(directory, "server-ca.pem"), server_root.pem)
    replace_file(os.path.join(directory, "clients-ca.pem"), clients_root.pem)

    acme = lambda common_name: dn((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Acme"),
                                  (NameOID.COMMON_NAME, common_name))
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    certs = {
        "svc_a": client_cert(clients_root, acme("svc-a")),
        "svc_z": client_cert(clients_root, acme("svc-z")),
        "svc_b": client_cert(clients_root, acme("svc-b-host"), dns=("svc-b.acme.example",)),
        "svc_uri": client_cert(clients_root, acme("svc-uri"), uris=("spiffe://acme.example/ns/prod/sa/svc-u",)),
        "svc_ip": client_cert(clients_root, acme("svc-ip"), ips=("10.1.2.3",)),
        "svc_email": client_cert(clients_root, acme("svc-email"), emails=("svc-e@acme.example",)),
        "ops_admin": client_cert(clients_root, acme("ops-admin")),
        "impostor": self_signed_cert(acme("svc-a")),
        "expired": client_cert(clients_root, acme("svc-a"), not_before=yesterday - datetime.timedelta(days=1),
                               not_after=yesterday),
        "svc_i": client_cert(clients_intermediate, acme("svc-i")),
        "self_signed": self_signed_cert(acme("svc-self")),
        "self_signed_other": self_signed_cert(acme("svc-self")),
    }
    files = {}
    for name, issued in certs.items():
        chain = (clients_intermediate,) if name == "svc_i" else ()
        files[name] = issued.write(directory, name, chain=chain)
    yield types.SimpleNamespace(
        directory=directory,
        server_root=server_root,
        server_intermediate=server_intermediate,
        server_ca_file=os.path.join(directory, "server-ca.pem"),
        clients_ca_file=os.path.join(directory, "clients-ca.pem"),
        clients_intermediate=clients_intermediate,
        certs=certs,
        files=files,
    )
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def plain():
    """Plain HTTP, no client certificates, no nonces: DPoP at the token endpoint, the admin
    API and introspection."""
    server = launch(*NO_THROTTLE)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def nonce_server():
    """`--dpop-nonce`, and a 30 s proof age instead of the default 300 s."""
    server = launch(*NO_THROTTLE, "--dpop-nonce", "--dpop-proof-max-age", "30")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def tls(pki):
    """Native TLS with a leaf issued by an intermediate: the certificate file holds both."""
    directory = tempfile.mkdtemp(prefix="tessera-binding-tls-")
    leaf = server_cert(pki.server_intermediate)
    cert, key = leaf.write(directory, "server", chain=(pki.server_intermediate,))
    server = start_tls_server(directory, cert, key, pki.server_ca_file, *NO_THROTTLE)
    server.admin = server.bootstrap()
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def mtls(pki):
    """Native TLS asking clients for a certificate from the clients CA."""
    directory = tempfile.mkdtemp(prefix="tessera-binding-mtls-")
    cert, key = server_cert(pki.server_root).write(directory, "server")
    server = start_tls_server(directory, cert, key, pki.server_ca_file, "--tls-client-ca", pki.clients_ca_file, *NO_THROTTLE)
    server.admin = server.bootstrap()
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def proxied(pki):
    """Plain HTTP behind a TLS-terminating proxy at 127.0.0.1 that passes client
    certificates (`--client-cert-proxy`). `tls_client_auth` checks a certificate against
    `--tls-client-ca` wherever it came from, so the option is given here without a TLS
    listener."""
    server = launch(*NO_THROTTLE, "--client-cert-proxy", "127.0.0.1", "--tls-client-ca", pki.clients_ca_file)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def untrusted(pki):
    """Configured for a proxy at 10.9.9.9 only: the tests' own 127.0.0.1 is not trusted.
    Throttled at 3 failures of a client from an address, with no per-address limit."""
    server = launch("--trusted-proxy", "10.9.9.9", "--client-cert-proxy", "10.9.9.9", "--tls-client-ca", pki.clients_ca_file,
                    "--auth-failure-limit", "3", "--auth-address-failure-limit", "0")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def throttled():
    """Behind a trusted proxy at 127.0.0.1: 3 failures of a client from an address, or 6
    from an address whatever the client, lock out."""
    server = launch("--trusted-proxy", "127.0.0.1", "--auth-failure-limit", "3", "--auth-address-failure-limit", "6")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def throttled_forwarded():
    """As `throttled`, with the proxy setting `Forwarded` (`--forwarded-header forwarded`)."""
    server = launch("--trusted-proxy", "127.0.0.1", "--forwarded-header", "forwarded", "--auth-failure-limit", "3",
                    "--auth-address-failure-limit", "6")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def unproxied():
    """No trusted proxy at all; 3 failures of a client from an address lock out."""
    server = launch("--auth-failure-limit", "3", "--auth-address-failure-limit", "0")
    yield server
    stop_server(server)


# MARK: the harness itself


# joserfc flags "EdDSA" as superseded by RFC 9864's "Ed25519"; the contract names EdDSA.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_harness_thumbprints_and_proofs_agree_with_joserfc():
    """The hand-made RFC 7638 thumbprint and JWS agree with an independent library, so a
    failure elsewhere is Tessera's, not the harness's."""
    from joserfc import jws
    from joserfc.jwk import import_key

    # Room for an RSA key in the header (joserfc's default stops at 512 bytes).
    registry = jws.JWSRegistry(algorithms=list(DPOP_ALGS))
    registry.max_header_length = 4096
    for alg in DPOP_ALGS:
        key = ProofKey(alg)
        assert key.thumbprint == key.jose.thumbprint(), alg
        signed = proof(key, "POST", "https://as.example/oauth2/token", token="abc")
        decoded = jws.deserialize_compact(signed, import_key(key.public_jwk), algorithms=[alg], registry=registry)
        assert decoded.headers()["typ"] == "dpop+jwt"
        assert jwt_payload(signed)["ath"] == access_token_hash("abc")
    # RFC 7638 §3.1's example key and thumbprint.
    example = {
        "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
             "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
             "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert jwk_thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert challenges('Bearer realm="api", DPoP algs="ES256 PS256", error="invalid_token"') == {
        "bearer": {"realm": "api"}, "dpop": {"algs": "ES256 PS256", "error": "invalid_token"}}


# MARK: DPoP at the token endpoint


def test_metadata_advertises_dpop_and_no_mtls_without_client_certificates(plain):
    meta = metadata(plain)
    supported = meta.get("dpop_signing_alg_values_supported")
    assert isinstance(supported, list) and sorted(supported) == sorted(DPOP_ALGS), supported
    # No client certificate can reach this server (no --tls-client-ca, no --trusted-proxy).
    assert "tls_client_auth" not in meta["token_endpoint_auth_methods_supported"]
    assert "self_signed_tls_client_auth" not in meta["token_endpoint_auth_methods_supported"]
    assert "mtls_endpoint_aliases" not in meta
    assert meta.get("tls_client_certificate_bound_access_tokens") in (None, False)


@pytest.fixture(scope="module")
def dpop_client(plain):
    return plain.create_account(plain.admin, name="dpop-client", roles=["editor"])


@pytest.mark.parametrize("alg", DPOP_ALGS)
def test_a_good_proof_binds_the_token(plain, dpop_client, alg):
    key = ProofKey(alg)
    response = ask_token(plain, dpop_client, dpop=proof(key, "POST", token_url(plain)))
    answer = granted(response)
    assert answer["token_type"] == "DPoP"
    assert response.headers.get("Cache-Control") == "no-store"
    claims = jwt_payload(answer["access_token"])
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert claims["client_id"] == dpop_client["client_id"]
    assert jwt_header(answer["access_token"])["typ"] == "at+jwt"


def test_without_a_proof_the_token_is_a_plain_bearer_token(plain, dpop_client):
    answer = granted(ask_token(plain, dpop_client))
    assert answer["token_type"] == "Bearer"
    assert "cnf" not in jwt_payload(answer["access_token"])


def hs256_with_an_oct_jwk(key: ProofKey, url: str, other: ProofKey) -> str:
    secret = os.urandom(32)
    return proof(key, "POST", url, header={"alg": "HS256", "jwk": {"kty": "oct", "k": b64url(secret)}},
                 sign=lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def hs256_keyed_with_the_public_key(key: ProofKey, url: str, other: ProofKey) -> str:
    # The classic confusion: the public key's bytes as an HMAC secret.
    secret = json.dumps(key.public_jwk).encode()
    return proof(key, "POST", url, header={"alg": "HS256"}, sign=lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def oversized_proof(key: ProofKey, url: str) -> str:
    """A sound proof just over 8 KiB (8192 bytes), well under any HTTP header limit."""
    made = proof(key, "POST", url, claims={"padding": "p" * 6000})
    while len(made) <= 8192 + 64:
        made = proof(key, "POST", url, claims={"padding": "p" * (len(jwt_payload(made)["padding"]) + 64)})
    assert len(made) < 9000
    return made


# Proofs that RFC 9449 §4.3 and the contract refuse, each built for the token endpoint
# `url` with the key `key` (ES256); `other` is a second ES256 key.
REFUSED_PROOFS = {
    "typ JWT": lambda key, url, other: proof(key, "POST", url, header={"typ": "JWT"}),
    "no typ": lambda key, url, other: proof(key, "POST", url, header={"typ": OMIT}),
    "alg none": lambda key, url, other: proof(key, "POST", url, header={"alg": "none"}, sign=lambda data: b""),
    "HS256 keyed with the public key": hs256_keyed_with_the_public_key,
    "HS256 with an oct jwk": hs256_with_an_oct_jwk,
    "alg that does not fit the key": lambda key, url, other: proof(key, "POST", url, header={"alg": "EdDSA"}),
    "ES384 with a P-256 key": lambda key, url, other: proof(key, "POST", url, header={"alg": "ES384"}),
    "jwk with the private d": lambda key, url, other: proof(key, "POST", url, header={"jwk": key.private_jwk}),
    "no jwk": lambda key, url, other: proof(key, "POST", url, header={"jwk": OMIT}),
    "signed by another key": lambda key, url, other: proof(key, "POST", url, sign=other.sign),
    "htm GET": lambda key, url, other: proof(key, "GET", url),
    "htu of another path": lambda key, url, other: proof(key, "POST", url.replace("/oauth2/token", "/oauth2/introspect")),
    "htu of another port": lambda key, url, other: proof(key, "POST", re.sub(r":(\d+)/", lambda m: f":{int(m[1]) + 1}/", url)),
    "htu of another scheme": lambda key, url, other: proof(key, "POST", url.replace("http://", "https://", 1)),
    "iat 400 s old": lambda key, url, other: proof(key, "POST", url, iat=int(time.time()) - 400),
    "iat 120 s ahead": lambda key, url, other: proof(key, "POST", url, iat=int(time.time()) + 120),
    "no iat": lambda key, url, other: proof(key, "POST", url, claims={"iat": OMIT}),
    "no jti": lambda key, url, other: proof(key, "POST", url, claims={"jti": OMIT}),
    "empty jti": lambda key, url, other: proof(key, "POST", url, claims={"jti": ""}),
    "jti of 257 characters": lambda key, url, other: proof(key, "POST", url, claims={"jti": "j" * 257}),
    "jti not a string": lambda key, url, other: proof(key, "POST", url, claims={"jti": 12345}),
    "no htm": lambda key, url, other: proof(key, "POST", url, claims={"htm": OMIT}),
    "no htu": lambda key, url, other: proof(key, "POST", url, claims={"htu": OMIT}),
    "over 8 KiB": lambda key, url, other: oversized_proof(key, url),
    "not a JWS": lambda key, url, other: "not-a-dpop-proof",
}


@pytest.mark.parametrize("case", list(REFUSED_PROOFS))
def test_a_bad_proof_is_invalid_dpop_proof(plain, dpop_client, case):
    bad = REFUSED_PROOFS[case](ProofKey("ES256"), token_url(plain), ProofKey("ES256"))
    response = ask_token(plain, dpop_client, dpop=bad)
    oauth_refusal(response, 400, "invalid_dpop_proof")
    assert response.headers.get("Cache-Control") == "no-store"


# Proofs the contract accepts although they differ from the plainest form: `htu` is
# compared without query and fragment and with the scheme in any case; `iat` may be up to
# 300 s old and 60 s ahead; a `jti` may have 256 characters.
ACCEPTED_PROOFS = {
    "htu with a query": lambda key, url: proof(key, "POST", url + "?tenant=acme"),
    "htu with a fragment": lambda key, url: proof(key, "POST", url + "#token"),
    "htu with an upper-case scheme": lambda key, url: proof(key, "POST", "HTTP" + url[len("http"):]),
    "iat 240 s old": lambda key, url: proof(key, "POST", url, iat=int(time.time()) - 240),
    "iat 40 s ahead": lambda key, url: proof(key, "POST", url, iat=int(time.time()) + 40),
    "jti of 256 characters": lambda key, url: proof(key, "POST", url, claims={"jti": uuid.uuid4().hex + "j" * 224}),
}


@pytest.mark.parametrize("case", list(ACCEPTED_PROOFS))
def test_proofs_within_the_rules_are_accepted(plain, dpop_client, case):
    key = ProofKey("ES256")
    answer = granted(ask_token(plain, dpop_client, dpop=ACCEPTED_PROOFS[case](key, token_url(plain))))
    assert answer["token_type"] == "DPoP"
    assert jwt_payload(answer["access_token"])["cnf"] == {"jkt": key.thumbprint}


def test_a_replayed_proof_is_refused(plain, dpop_client):
    key = ProofKey("ES256")
    once = proof(key, "POST", token_url(plain))
    granted(ask_token(plain, dpop_client, dpop=once))
    oauth_refusal(ask_token(plain, dpop_client, dpop=once), 400, "invalid_dpop_proof")
    # The jti is remembered for the key that signed it: the same jti under another key is new.
    jti = jwt_payload(once)["jti"]
    other = ProofKey("ES256")
    answer = granted(ask_token(plain, dpop_client, dpop=proof(other, "POST", token_url(plain), claims={"jti": jti})))
    assert jwt_payload(answer["access_token"])["cnf"] == {"jkt": other.thumbprint}


def test_two_dpop_headers_are_refused(plain, dpop_client):
    key = ProofKey("ES256")
    basic = base64.b64encode(f"{dpop_client['client_id']}:{dpop_client['client_secret']}".encode()).decode()
    status, _, body = post_with_headers(
        token_url(plain), {"grant_type": "client_credentials"},
        [("Authorization", f"Basic {basic}"), ("DPoP", proof(key, "POST", token_url(plain))),
         ("DPoP", proof(key, "POST", token_url(plain)))],
    )
    assert (status, body.get("error")) == (400, "invalid_dpop_proof"), body


def test_an_account_that_requires_dpop(plain):
    headers = bearer(plain, plain.admin)
    created = api(plain, "POST", "/v1/tenants/acme/service-accounts", headers,
                  json={"name": unique("dpop-only"), "roles": ["member"], "dpop_bound_access_tokens": True})
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["dpop_bound_access_tokens"] is True
    fetched = api(plain, "GET", f"/v1/tenants/acme/service-accounts/{account['id']}", headers)
    assert fetched.json()["dpop_bound_access_tokens"] is True

    oauth_refusal(ask_token(plain, account), 400, "invalid_dpop_proof")
    key = ProofKey("EdDSA")
    answer = granted(ask_token(plain, account, dpop=proof(key, "POST", token_url(plain))))
    assert answer["token_type"] == "DPoP"
    assert jwt_payload(answer["access_token"])["cnf"] == {"jkt": key.thumbprint}

    # Turned off, the account may ask for bearer tokens again.
    patched = api(plain, "PATCH", f"/v1/tenants/acme/service-accounts/{account['id']}", headers,
                  json={"dpop_bound_access_tokens": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["dpop_bound_access_tokens"] is False
    assert granted(ask_token(plain, account))["token_type"] == "Bearer"


# MARK: the account's settings


def test_a_new_account_shows_the_binding_settings_at_their_defaults(plain):
    headers = bearer(plain, plain.admin)
    account = plain.create_account(plain.admin, name=unique("defaults"))
    fetched = api(plain, "GET", f"/v1/tenants/acme/service-accounts/{account['id']}", headers).json()
    for representation in (account, fetched):
        assert representation["dpop_bound_access_tokens"] is False
        assert representation["tls_client_certificate_bound_access_tokens"] is False
        for name in TLS_NAME_FIELDS:
            assert name in representation and representation[name] is None, (name, representation)


@pytest.mark.parametrize(
    "field, bad, good",
    [
        ("tls_client_auth_subject_dn", "just some words", "CN=svc-ok,O=Acme,C=US"),
        ("tls_client_auth_san_dns", "bad..acme.example", "svc-ok.acme.example"),
        ("tls_client_auth_san_dns", "has space.acme.example", "svc-ok.acme.example"),
        ("tls_client_auth_san_uri", "not a uri", "spiffe://acme.example/svc-ok"),
        ("tls_client_auth_san_ip", "300.1.2.3", "10.0.0.1"),
        ("tls_client_auth_san_ip", "2001:db8::g", "2001:db8::1"),
        ("tls_client_auth_san_email", "svc.acme.example", "svc-ok@acme.example"),
        ("dpop_bound_access_tokens", "yes", True),
        ("tls_client_certificate_bound_access_tokens", 1, True),
    ],
)
def test_binding_settings_are_validated(plain, field, bad, good):
    """A value of the wrong kind is 400 naming the field, on create and on change; a
    sound value of the same field is taken and shown."""
    headers = bearer(plain, plain.admin)
    created = api(plain, "POST", "/v1/tenants/acme/service-accounts", headers, json={"name": unique("bad"), field: bad})
    assert problem_field(created) == field
    account = plain.create_account(plain.admin, name=unique("patched"))
    path = f"/v1/tenants/acme/service-accounts/{account['id']}"
    assert problem_field(api(plain, "PATCH", path, headers, json={field: bad})) == field
    patched = api(plain, "PATCH", path, headers, json={field: good})
    assert patched.status_code == 200, patched.text
    assert patched.json()[field] == good


def test_setting_one_tls_name_clears_the_others(plain):
    headers = bearer(plain, plain.admin)
    account = plain.create_account(plain.admin, name=unique("names"), tls_client_auth_subject_dn="CN=svc-n,O=Acme,C=US")
    assert account["tls_client_auth_subject_dn"] == "CN=svc-n,O=Acme,C=US"
    path = f"/v1/tenants/acme/service-accounts/{account['id']}"
    patched = api(plain, "PATCH", path, headers, json={"tls_client_auth_san_dns": "svc-n.acme.example"})
    assert patched.status_code == 200, patched.text
    names = {name: patched.json()[name] for name in TLS_NAME_FIELDS}
    assert names == {name: ("svc-n.acme.example" if name == "tls_client_auth_san_dns" else None) for name in TLS_NAME_FIELDS}
    cleared = api(plain, "PATCH", path, headers, json={"tls_client_auth_san_dns": None})
    assert cleared.status_code == 200, cleared.text
    assert all(cleared.json()[name] is None for name in TLS_NAME_FIELDS)
    assert all(api(plain, "GET", path, headers).json()[name] is None for name in TLS_NAME_FIELDS)


def test_two_tls_names_in_one_request_are_refused(plain):
    # "At most one is set": a request naming two at once cannot be honoured as written;
    # the reading taken is that it is refused (400) rather than one silently winning.
    headers = bearer(plain, plain.admin)
    created = api(plain, "POST", "/v1/tenants/acme/service-accounts", headers,
                  json={"name": unique("two-names"), "tls_client_auth_subject_dn": "CN=svc-2,O=Acme,C=US",
                        "tls_client_auth_san_dns": "svc-2.acme.example"})
    assert problem_field(created) in TLS_NAME_FIELDS


# MARK: DPoP nonces


def test_a_nonce_is_demanded_then_accepted(nonce_server):
    account = nonce_server.create_account(nonce_server.admin, name="nonce-client", roles=["member"])
    key = ProofKey("ES256")
    url = token_url(nonce_server)
    demanded = ask_token(nonce_server, account, dpop=proof(key, "POST", url))
    oauth_refusal(demanded, 400, "use_dpop_nonce")
    nonce = demanded.headers.get("DPoP-Nonce")
    assert nonce and NONCE_SYNTAX.match(nonce), demanded.headers

    retried = ask_token(nonce_server, account, dpop=proof(key, "POST", url, nonce=nonce))
    answer = granted(retried)
    assert answer["token_type"] == "DPoP"
    assert jwt_payload(answer["access_token"])["cnf"] == {"jkt": key.thumbprint}
    # Every answer to a DPoP request carries a nonce while nonces are on.
    fresh = retried.headers.get("DPoP-Nonce")
    assert fresh and NONCE_SYNTAX.match(fresh), retried.headers

    # A nonce serves more than one proof (each with its own jti) and any key.
    for reuse_key in (key, ProofKey("EdDSA")):
        granted(ask_token(nonce_server, account, dpop=proof(reuse_key, "POST", url, nonce=fresh)))


def test_a_made_up_nonce_is_refused_with_a_real_one(nonce_server):
    # RFC 9449 §8: a nonce that was not supplied is refused, and the refusal may carry a
    # nonce to use. A client cannot tell a forged nonce from an expired one, so the reading
    # taken is that it gets what a stale one gets: `use_dpop_nonce` and a fresh nonce.
    account = nonce_server.create_account(nonce_server.admin, name=unique("nonce-forger"), roles=["member"])
    key = ProofKey("ES256")
    refused = ask_token(nonce_server, account, dpop=proof(key, "POST", token_url(nonce_server), nonce="made-up-nonce"))
    oauth_refusal(refused, 400, "use_dpop_nonce")
    nonce = refused.headers.get("DPoP-Nonce")
    assert nonce and nonce != "made-up-nonce" and NONCE_SYNTAX.match(nonce), refused.headers
    granted(ask_token(nonce_server, account, dpop=proof(key, "POST", token_url(nonce_server), nonce=nonce)))


def test_nonces_do_not_concern_requests_without_a_proof(nonce_server):
    account = nonce_server.create_account(nonce_server.admin, name=unique("nonce-bearer"), roles=["member"])
    assert granted(ask_token(nonce_server, account))["token_type"] == "Bearer"


def test_the_proof_age_follows_the_option(nonce_server):
    account = nonce_server.create_account(nonce_server.admin, name=unique("nonce-age"), roles=["member"])
    key = ProofKey("ES256")
    url = token_url(nonce_server)
    nonce = ask_token(nonce_server, account, dpop=proof(key, "POST", url)).headers["DPoP-Nonce"]
    now = int(time.time())
    oauth_refusal(ask_token(nonce_server, account, dpop=proof(key, "POST", url, nonce=nonce, iat=now - 60)),
                  400, "invalid_dpop_proof")
    granted(ask_token(nonce_server, account, dpop=proof(key, "POST", url, nonce=nonce, iat=now - 15)))


# MARK: introspection


def test_introspection_answers_the_binding(plain, dpop_client):
    key = ProofKey("ES256")
    bound = granted(ask_token(plain, dpop_client, dpop=proof(key, "POST", token_url(plain))))["access_token"]
    answer = introspect(plain, plain.admin, bound)
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.thumbprint}
    unbound = granted(ask_token(plain, dpop_client))["access_token"]
    answer = introspect(plain, plain.admin, unbound)
    assert (answer["active"], answer["token_type"]) == (True, "Bearer")
    assert "cnf" not in answer


# MARK: Tessera's own API with a DPoP-bound token


@pytest.fixture(scope="module")
def dpop_admin(plain):
    """The bootstrap admin's DPoP key and a token bound to it."""
    key = ProofKey("ES256")
    token = granted(ask_token(plain, plain.admin, dpop=proof(key, "POST", token_url(plain))))["access_token"]
    return types.SimpleNamespace(key=key, token=token)


def test_the_admin_api_accepts_a_dpop_bound_token_with_its_proof(plain, dpop_admin):
    url = plain.issuer + "/v1/whoami"
    headers = {"Authorization": f"DPoP {dpop_admin.token}", "DPoP": proof(dpop_admin.key, "GET", url, token=dpop_admin.token)}
    whoami = api(plain, "GET", "/v1/whoami", headers)
    assert whoami.status_code == 200, whoami.text
    assert "tessera:admin" in whoami.json()["scopes"]

    # A query is not part of htu; a POST is proven as POST.
    listed = plain.issuer + "/v1/tenants/acme/service-accounts"
    response = api(plain, "GET", "/v1/tenants/acme/service-accounts?limit=1",
                   {"Authorization": f"DPoP {dpop_admin.token}", "DPoP": proof(dpop_admin.key, "GET", listed, token=dpop_admin.token)})
    assert response.status_code == 200, response.text
    created = api(plain, "POST", "/v1/tenants/acme/service-accounts",
                  {"Authorization": f"DPoP {dpop_admin.token}", "DPoP": proof(dpop_admin.key, "POST", listed, token=dpop_admin.token)},
                  json={"name": unique("made-with-dpop")})
    assert created.status_code == 201, created.text


def test_the_admin_api_refuses_a_dpop_bound_token_as_bearer(plain, dpop_admin):
    refused = api(plain, "GET", "/v1/whoami", {"Authorization": f"Bearer {dpop_admin.token}"})
    assert refused.status_code == 401, refused.text
    # RFC 9449 §7.2 does not fix the challenge's scheme for a bound token sent as Bearer;
    # what the contract fixes is the error.
    found = challenges(refused.headers.get("WWW-Authenticate", ""))
    assert any(params.get("error") == "invalid_token" for params in found.values()), refused.headers


@pytest.mark.parametrize(
    "case, error",
    [
        ("wrong ath", "invalid_dpop_proof"),
        ("no ath", "invalid_dpop_proof"),
        ("htu of another route", "invalid_dpop_proof"),
        ("htm POST", "invalid_dpop_proof"),
        # A sound proof by a key the token is not bound to: the binding fails, not the proof.
        ("another key", "invalid_token"),
    ],
)
def test_the_admin_api_refuses_a_bad_proof(plain, dpop_admin, case, error):
    url = plain.issuer + "/v1/whoami"
    token, key = dpop_admin.token, dpop_admin.key
    proofs = {
        "wrong ath": lambda: proof(key, "GET", url, token=token + "x"),
        "no ath": lambda: proof(key, "GET", url),
        "htu of another route": lambda: proof(key, "GET", plain.issuer + "/v1/tenants/acme/roles", token=token),
        "htm POST": lambda: proof(key, "POST", url, token=token),
        "another key": lambda: proof(ProofKey("ES256"), "GET", url, token=token),
    }
    headers = {"Authorization": f"DPoP {token}", "DPoP": proofs[case]()}
    assert dpop_challenge(api(plain, "GET", "/v1/whoami", headers)).get("error") == error


def test_the_admin_api_refuses_a_dpop_token_without_a_proof(plain, dpop_admin):
    # Neither RFC 9449 §7.1 nor the contract says which of its two errors a missing proof
    # is: a 401 with a DPoP challenge and one of them is what a client can rely on.
    refused = api(plain, "GET", "/v1/whoami", {"Authorization": f"DPoP {dpop_admin.token}"})
    assert dpop_challenge(refused).get("error") in ("invalid_dpop_proof", "invalid_token"), refused.headers


# MARK: the example resource server


@pytest.fixture(scope="module")
def orders(plain):
    """Examples/ResourceServer against the plain server, its public URL on `localhost`
    while the tests connect to 127.0.0.1: `htu` must follow PUBLIC_URL."""
    path = os.path.join(os.path.dirname(os.path.abspath(BIN)), "example-resource-server")
    if not os.access(path, os.X_OK):
        service_missing(f"the example example-resource-server is not built at {path}")
    port = free_port()
    public = f"http://localhost:{port}"
    env = dict(os.environ, TESSERA_ISSUER=plain.issuer, PORT=str(port), PUBLIC_URL=public,
               INTROSPECT_CLIENT_ID=plain.admin["client_id"], INTROSPECT_CLIENT_SECRET=plain.admin["client_secret"])
    directory = tempfile.mkdtemp(prefix="tessera-binding-orders-")
    log_path = os.path.join(directory, "resource-server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([path], env=env, stdout=log, stderr=subprocess.STDOUT)
    local = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        with open(log_path, errors="replace") as log:
            return log.read()[-2000:]

    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"example-resource-server exited with {process.returncode}: {log_tail()}")
            try:
                if requests.get(local + "/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"example-resource-server not ready in 20 s: {log_tail()}")
            time.sleep(0.1)
        caller = plain.create_account(plain.admin, name="orders-caller", roles=["analyst"])
        key = ProofKey("ES256")
        token = granted(ask_token(plain, caller, dpop=proof(key, "POST", token_url(plain))))["access_token"]
        yield types.SimpleNamespace(local=local, public=public, caller=caller, key=key, token=token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def orders_get(orders, path: str = "/orders", **headers: str) -> requests.Response:
    return requests.get(orders.local + path, headers=headers, timeout=10)


def assert_verifier_refusal(response: requests.Response, error: str) -> None:
    challenge = dpop_challenge(response)
    assert challenge.get("error") == error, response.headers["WWW-Authenticate"]
    assert challenge.get("algs") == " ".join(DPOP_ALGS), response.headers["WWW-Authenticate"]


def test_the_example_resource_server_accepts_a_dpop_bound_token(orders):
    url = orders.public + "/orders"
    response = orders_get(orders, Authorization=f"DPoP {orders.token}", DPoP=proof(orders.key, "GET", url, token=orders.token))
    assert (response.status_code, response.text) == (200, f'{{"orders":[],"caller":"{orders.caller["client_id"]}"}}')
    # The query is not part of htu.
    response = orders_get(orders, "/orders?limit=5", Authorization=f"DPoP {orders.token}",
                          DPoP=proof(orders.key, "GET", url, token=orders.token))
    assert response.status_code == 200, response.text


def test_the_example_resource_server_challenges_both_schemes(orders):
    anonymous = orders_get(orders)
    assert anonymous.status_code == 401
    found = challenges(anonymous.headers.get("WWW-Authenticate", ""))
    assert "bearer" in found and "dpop" in found, anonymous.headers
    assert found["dpop"].get("algs") == " ".join(DPOP_ALGS)


def test_the_example_resource_server_refuses_a_replayed_proof(orders):
    once = proof(orders.key, "GET", orders.public + "/orders", token=orders.token)
    assert orders_get(orders, Authorization=f"DPoP {orders.token}", DPoP=once).status_code == 200
    assert_verifier_refusal(orders_get(orders, Authorization=f"DPoP {orders.token}", DPoP=once), "invalid_dpop_proof")


@pytest.mark.parametrize(
    "case, error",
    [
        ("htu of another path", "invalid_dpop_proof"),
        ("htu of the address connected to, not the public URL", "invalid_dpop_proof"),
        ("htm POST", "invalid_dpop_proof"),
        ("wrong ath", "invalid_dpop_proof"),
        ("no ath", "invalid_dpop_proof"),
        ("iat 400 s old", "invalid_dpop_proof"),
        ("typ JWT", "invalid_dpop_proof"),
        ("another key", "invalid_token"),
    ],
)
def test_the_example_resource_server_refuses_a_bad_proof(orders, case, error):
    url, token, key = orders.public + "/orders", orders.token, orders.key
    proofs = {
        "htu of another path": lambda: proof(key, "GET", orders.public + "/orders/audit", token=token),
        "htu of the address connected to, not the public URL": lambda: proof(key, "GET", orders.local + "/orders", token=token),
        "htm POST": lambda: proof(key, "POST", url, token=token),
        "wrong ath": lambda: proof(key, "GET", url, token=token[:-2]),
        "no ath": lambda: proof(key, "GET", url),
        "iat 400 s old": lambda: proof(key, "GET", url, token=token, iat=int(time.time()) - 400),
        "typ JWT": lambda: proof(key, "GET", url, token=token, header={"typ": "JWT"}),
        "another key": lambda: proof(ProofKey("ES256"), "GET", url, token=token),
    }
    assert_verifier_refusal(orders_get(orders, Authorization=f"DPoP {token}", DPoP=proofs[case]()), error)


def test_the_example_resource_server_refuses_a_bound_token_as_bearer(orders):
    assert_verifier_refusal(orders_get(orders, Authorization=f"Bearer {orders.token}"), "invalid_token")


def test_the_example_resource_server_refuses_an_unbound_token_as_dpop(plain, orders):
    unbound = plain.token(orders.caller["client_id"], orders.caller["client_secret"])["access_token"]
    response = orders_get(orders, Authorization=f"DPoP {unbound}",
                          DPoP=proof(orders.key, "GET", orders.public + "/orders", token=unbound))
    assert_verifier_refusal(response, "invalid_token")


# MARK: native TLS


def curl(*arguments: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.fail("curl is not installed; CI installs it and these tests need it", pytrace=False)
    return subprocess.run(["curl", "-sS", *arguments], capture_output=True, text=True, timeout=30, check=False)


def test_curl_reads_the_metadata_over_tls(tls):
    # The file holds the leaf and the intermediate; curl trusts the root alone.
    result = curl("--fail", "--cacert", tls.ca_file, tls.issuer + METADATA)
    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout)
    assert meta["issuer"] == tls.issuer == f"https://127.0.0.1:{tls.port}"
    assert meta["token_endpoint"] == tls.issuer + "/oauth2/token"
    assert meta["jwks_uri"].startswith(tls.issuer + "/")


def test_http2_is_offered_through_alpn(tls):
    for option, expected in (("--http2", "2"), ("--http1.1", "1.1")):
        result = curl(option, "--cacert", tls.ca_file, "-o", "/dev/null", "-w", "%{http_version}", tls.issuer + "/health/ready")
        assert (result.returncode, result.stdout) == (0, expected), (option, result.stderr)
    assert handshake(tls.port, tls.ca_file, alpn=["h2", "http/1.1"])[1] == "h2"
    assert handshake(tls.port, tls.ca_file, alpn=["http/1.1"])[1] == "http/1.1"


def test_a_token_over_http2(tls):
    admin = tls.admin
    result = curl("--http2", "--fail", "--cacert", tls.ca_file, "-u", f"{admin['client_id']}:{admin['client_secret']}",
                  "-d", "grant_type=client_credentials", "-w", "\n%{http_version}", tls.issuer + "/oauth2/token")
    assert result.returncode == 0, result.stderr
    body, version = result.stdout.rsplit("\n", 1)
    assert version == "2"
    token = json.loads(body)
    assert token["token_type"] == "Bearer"
    assert jwt_payload(token["access_token"])["iss"] == tls.issuer


def test_tls_1_2_and_1_3_are_served(tls):
    assert handshake(tls.port, tls.ca_file, version=ssl.TLSVersion.TLSv1_2)[2] == "TLSv1.2"
    assert handshake(tls.port, tls.ca_file, version=ssl.TLSVersion.TLSv1_3)[2] == "TLSv1.3"


def test_plain_http_to_the_tls_port_gets_nothing_served(tls):
    try:
        response = requests.get(f"http://127.0.0.1:{tls.port}" + METADATA, timeout=5)
    except requests.RequestException:
        return
    assert response.status_code != 200 and "issuer" not in response.text, (response.status_code, response.text[:200])


def test_dpop_over_tls_proves_the_https_url(tls):
    account = tls.create_account(tls.admin, name=unique("dpop-tls"), roles=["member"])
    key = ProofKey("ES256")
    answer = granted(ask_token(tls, account, dpop=proof(key, "POST", token_url(tls))))
    assert jwt_payload(answer["access_token"])["cnf"] == {"jkt": key.thumbprint}
    plain_url = token_url(tls).replace("https://", "http://", 1)
    oauth_refusal(ask_token(tls, account, dpop=proof(key, "POST", plain_url)), 400, "invalid_dpop_proof")


def test_tls_start_refusals(pki, tmp_path):
    good = server_cert(pki.server_root)
    cert, key = good.write(str(tmp_path), "good")
    _, stranger_key = server_cert(pki.server_root).write(str(tmp_path), "stranger")

    status, output = serve_refused("--tls-cert", cert)
    assert status not in (None, 0), f"started with --tls-cert alone: {output[-800:]}"

    status, output = serve_refused("--tls-cert", cert, "--tls-key", stranger_key)
    assert status not in (None, 0), f"started with a key that does not match: {output[-800:]}"
    assert "stranger-key.pem" in output or "good.pem" in output, output[-800:]

    missing = os.path.join(str(tmp_path), "missing.pem")
    status, output = serve_refused("--tls-cert", missing, "--tls-key", key)
    assert status not in (None, 0), f"started with a missing certificate file: {output[-800:]}"
    assert "missing.pem" in output, output[-800:]


def test_sighup_reloads_the_certificate_without_dropping_requests(pki):
    directory = tempfile.mkdtemp(prefix="tessera-binding-sighup-")
    first = server_cert(pki.server_root)
    cert, key = first.write(directory, "server")
    # The interval is long: only SIGHUP can make the change seen within the test. The
    # issuer is left to its default.
    server = start_tls_server(directory, cert, key, pki.server_ca_file, *NO_THROTTLE, "--tls-reload-interval", "600",
                              issuer=False)
    try:
        assert metadata(server)["issuer"] == f"https://127.0.0.1:{server.port}"
        assert served_serial(server.port, server.ca_file) == first.serial
        admin = server.bootstrap()
        held = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                           context=ssl.create_default_context(cafile=server.ca_file))
        held.request("GET", "/health/ready")
        before = held.getresponse()
        before.read()
        assert before.status == 200

        stop, failures, counts = threading.Event(), [], [0, 0]

        def ask_tokens(worker: int) -> None:
            # Keep-alive connections opened before the reload and running across it.
            # verify= per request: a Session's own `verify` loses to REQUESTS_CA_BUNDLE
            # when the environment sets it.
            with requests.Session() as session:
                deadline = time.monotonic() + 10
                while not stop.is_set() and time.monotonic() < deadline:
                    try:
                        response = session.post(server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                                                auth=(admin["client_id"], admin["client_secret"]), timeout=10,
                                                verify=server.ca_file)
                        if response.status_code == 200:
                            counts[worker] += 1
                        else:
                            failures.append(f"worker {worker}: {response.status_code} {response.text[:200]}")
                    except requests.RequestException as error:
                        failures.append(f"worker {worker}: {error!r}")

        workers = [threading.Thread(target=ask_tokens, args=(n,)) for n in range(2)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        try:
            time.sleep(1)
            # An RSA key as PKCS#1 this time: a different key, a different serial.
            second = server_cert(pki.server_root, key=rsa_key())
            second.write(directory, "server", key_form="traditional")
            os.kill(server.process.pid, signal.SIGHUP)
            eventually(lambda: served_serial(server.port, server.ca_file), second.serial,
                       "the serial of the certificate new connections get after SIGHUP", budget=3)
            time.sleep(max(0.0, 3 - (time.monotonic() - started)))
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=15)
        assert failures == [], failures[:5]
        assert min(counts) >= 3, f"too few token requests ran across the reload: {counts}"

        # The connection opened before the reload keeps its certificate and still works.
        held.request("GET", "/health/ready")
        after = held.getresponse()
        after.read()
        assert after.status == 200
        assert x509.load_der_x509_certificate(held.sock.getpeercert(binary_form=True)).serial_number == first.serial
        held.close()

        # A broken file is logged and the last good pair stays in use.
        replace_file(cert, b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(1)
        assert server.process.poll() is None, "tessera serve exited after a broken certificate file"
        assert served_serial(server.port, server.ca_file) == second.serial
        third = server_cert(pki.server_root)
        third.write(directory, "server")
        os.kill(server.process.pid, signal.SIGHUP)
        eventually(lambda: served_serial(server.port, server.ca_file), third.serial,
                   "the serial served after a good pair follows a broken one", budget=3)
    finally:
        stop_server(server)


def test_the_certificate_files_are_read_again_every_interval(pki):
    directory = tempfile.mkdtemp(prefix="tessera-binding-interval-")
    first = server_cert(pki.server_root)
    cert, key = first.write(directory, "server")
    server = start_tls_server(directory, cert, key, pki.server_ca_file, *NO_THROTTLE, "--tls-reload-interval", "1")
    try:
        assert served_serial(server.port, server.ca_file) == first.serial
        # An EC key as SEC1 this time.
        second = server_cert(pki.server_root)
        second.write(directory, "server", key_form="traditional")
        eventually(lambda: served_serial(server.port, server.ca_file), second.serial,
                   "the serial of the certificate served after rewriting the files", budget=1 + 3)
    finally:
        stop_server(server)


# MARK: mutual TLS


def test_mtls_metadata(mtls):
    assert_mtls_metadata(mtls)


def test_a_client_without_a_certificate_still_connects(mtls):
    assert requests.get(mtls.issuer + "/health/ready", verify=mtls.ca_file, timeout=10).status_code == 200


def certificate_account(server: Server, **settings) -> dict:
    """An account with no secret, authenticating by certificate."""
    return server.create_account(server.admin, name=unique("cert"), roles=["member"], issue_secret=False, **settings)


def assert_certificate_bound(response: requests.Response, der_x5t: str) -> dict:
    answer = granted(response)
    assert answer["token_type"] == "Bearer"
    assert jwt_payload(answer["access_token"])["cnf"] == {"x5t#S256": der_x5t}
    return answer


def test_tls_client_auth_by_subject_dn(mtls, pki):
    assert pki.certs["svc_a"].cert.subject.rfc4514_string() == "CN=svc-a,O=Acme,C=US"
    account = certificate_account(mtls, tls_client_auth_subject_dn="CN=svc-a,O=Acme,C=US")
    assert account["tls_client_auth_subject_dn"] == "CN=svc-a,O=Acme,C=US"
    assert "client_secret" not in account
    assert_certificate_bound(ask_token(mtls, account, secret=False, cert=pki.files["svc_a"]), pki.certs["svc_a"].x5t)
    for refused in ("svc_z", "impostor", "expired"):
        response = ask_token(mtls, account, secret=False, cert=pki.files[refused])
        assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), (refused, response.text)
    response = ask_token(mtls, account, secret=False)
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_the_subject_dn_is_compared_as_a_distinguished_name(mtls, pki):
    # Attribute type names are case-insensitive (RFC 4512 §1.4), so these are one DN; the
    # order of RDNs is part of a DN, so the reversed string is another DN.
    same = certificate_account(mtls, tls_client_auth_subject_dn="cn=svc-a,o=Acme,c=US")
    assert_certificate_bound(ask_token(mtls, same, secret=False, cert=pki.files["svc_a"]), pki.certs["svc_a"].x5t)
    reversed_order = certificate_account(mtls, tls_client_auth_subject_dn="C=US,O=Acme,CN=svc-a")
    response = ask_token(mtls, reversed_order, secret=False, cert=pki.files["svc_a"])
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


@pytest.mark.parametrize(
    "field, value, matching, other",
    [
        ("tls_client_auth_san_dns", "svc-b.acme.example", "svc_b", "svc_a"),
        ("tls_client_auth_san_uri", "spiffe://acme.example/ns/prod/sa/svc-u", "svc_uri", "svc_b"),
        ("tls_client_auth_san_ip", "10.1.2.3", "svc_ip", "svc_b"),
        ("tls_client_auth_san_email", "svc-e@acme.example", "svc_email", "svc_b"),
    ],
)
def test_tls_client_auth_by_subject_alternative_name(mtls, pki, field, value, matching, other):
    account = certificate_account(mtls, **{field: value})
    assert account[field] == value
    assert_certificate_bound(ask_token(mtls, account, secret=False, cert=pki.files[matching]), pki.certs[matching].x5t)
    response = ask_token(mtls, account, secret=False, cert=pki.files[other])
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_tls_client_auth_with_an_intermediate_sent_by_the_client(mtls, pki):
    account = certificate_account(mtls, tls_client_auth_subject_dn="CN=svc-i,O=Acme,C=US")
    assert_certificate_bound(ask_token(mtls, account, secret=False, cert=pki.files["svc_i"]), pki.certs["svc_i"].x5t)


def register_key(server: Server, account: dict, jwk: dict) -> None:
    registered = api(server, "POST", f"/v1/tenants/acme/service-accounts/{account['id']}/keys", bearer(server, server.admin),
                     json={"jwk": jwk})
    assert registered.status_code == 201, registered.text


def test_self_signed_tls_client_auth(mtls, pki):
    # Off unless the account allows it: a registered key alone does not enrol it.
    closed = certificate_account(mtls)
    register_key(mtls, closed, public_jwk(pki.certs["self_signed"].key, "mtls-self-0"))
    refused = ask_token(mtls, closed, secret=False, cert=pki.files["self_signed"])
    assert (refused.status_code, refused.json().get("error")) == (401, "invalid_client"), refused.text
    account = certificate_account(mtls, self_signed_tls_client_auth=True)
    assert account["self_signed_tls_client_auth"] is True
    register_key(mtls, account, public_jwk(pki.certs["self_signed"].key, "mtls-self-1"))
    assert_certificate_bound(ask_token(mtls, account, secret=False, cert=pki.files["self_signed"]),
                             pki.certs["self_signed"].x5t)
    # Same subject, another key: nothing registered matches.
    response = ask_token(mtls, account, secret=False, cert=pki.files["self_signed_other"])
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_a_certificate_bound_admin_token(mtls, pki):
    operator = mtls.create_account(mtls.admin, name=unique("ops-admin"), roles=["admin"], issue_secret=False,
                                   tls_client_auth_subject_dn="CN=ops-admin,O=Acme,C=US")
    token = assert_certificate_bound(ask_token(mtls, operator, secret=False, cert=pki.files["ops_admin"]),
                                     pki.certs["ops_admin"].x5t)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    whoami = requests.get(mtls.issuer + "/v1/whoami", headers=headers, cert=pki.files["ops_admin"], verify=mtls.ca_file, timeout=10)
    assert whoami.status_code == 200, whoami.text
    assert "tessera:admin" in whoami.json()["scopes"]
    for case, cert in (("another certificate", pki.files["svc_a"]), ("no certificate", None)):
        refused = requests.get(mtls.issuer + "/v1/whoami", headers=headers, cert=cert, verify=mtls.ca_file, timeout=10)
        assert refused.status_code == 401, (case, refused.text)
        # RFC 8705 §3: the mismatch is refused as RFC 6750 invalid_token.
        found = challenges(refused.headers.get("WWW-Authenticate", ""))
        assert any(params.get("error") == "invalid_token" for params in found.values()), (case, refused.headers)


def test_an_account_that_requires_certificate_bound_tokens(mtls, pki):
    account = mtls.create_account(mtls.admin, name=unique("bound-only"), roles=["member"],
                                  tls_client_certificate_bound_access_tokens=True)
    assert account["tls_client_certificate_bound_access_tokens"] is True
    oauth_refusal(ask_token(mtls, account), 400, "invalid_request")
    # With its secret and any certificate in the handshake, the token is bound to that certificate.
    answer = assert_certificate_bound(ask_token(mtls, account, cert=pki.files["svc_z"]), pki.certs["svc_z"].x5t)
    introspected = introspect(mtls, mtls.admin, answer["access_token"])
    assert introspected["active"] is True
    assert introspected["token_type"] == "Bearer"
    assert introspected["cnf"] == {"x5t#S256": pki.certs["svc_z"].x5t}


# MARK: trusted proxies: client certificates


def with_client_cert(issued, chain=()) -> dict:
    headers = {"Client-Cert": client_cert_field(issued.der)}
    if chain:
        headers["Client-Cert-Chain"] = ", ".join(client_cert_field(link.der) for link in chain)
    return headers


def test_proxy_metadata(proxied, untrusted):
    assert_mtls_metadata(proxied)
    assert_mtls_metadata(untrusted)


def test_a_client_certificate_from_a_trusted_proxy(proxied, pki):
    account = certificate_account(proxied, tls_client_auth_subject_dn="CN=svc-a,O=Acme,C=US")
    assert_certificate_bound(ask_token(proxied, account, secret=False, headers=with_client_cert(pki.certs["svc_a"])),
                             pki.certs["svc_a"].x5t)
    for refused in ("impostor", "svc_z"):
        response = ask_token(proxied, account, secret=False, headers=with_client_cert(pki.certs[refused]))
        assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), (refused, response.text)
    response = ask_token(proxied, account, secret=False)
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_a_client_certificate_chain_from_a_trusted_proxy(proxied, pki):
    account = certificate_account(proxied, tls_client_auth_subject_dn="CN=svc-i,O=Acme,C=US")
    issued = pki.certs["svc_i"]
    assert_certificate_bound(ask_token(proxied, account, secret=False,
                                       headers=with_client_cert(issued, (pki.clients_intermediate,))), issued.x5t)
    # Without the intermediate the certificate does not chain to the clients CA.
    response = ask_token(proxied, account, secret=False, headers=with_client_cert(issued))
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_a_self_signed_certificate_from_a_trusted_proxy(proxied, pki):
    account = certificate_account(proxied, self_signed_tls_client_auth=True)
    register_key(proxied, account, public_jwk(pki.certs["self_signed"].key, "proxy-self-1"))
    assert_certificate_bound(ask_token(proxied, account, secret=False, headers=with_client_cert(pki.certs["self_signed"])),
                             pki.certs["self_signed"].x5t)


def test_a_certificate_around_someone_elses_public_key_authenticates_nobody(proxied, pki):
    # An attacker knows the account's registered public key (it is no secret) and wraps
    # it in a "self-signed" certificate signed with a key of its own.
    account = certificate_account(proxied, self_signed_tls_client_auth=True)
    victim = pki.certs["self_signed"]
    register_key(proxied, account, public_jwk(victim.key, "proxy-self-2"))
    attacker = ec.generate_private_key(ec.SECP256R1())
    name = victim.cert.subject
    now = datetime.datetime.now(datetime.timezone.utc)
    forged = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(victim.key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1)).sign(attacker, hashes.SHA256()))
    der = forged.public_bytes(serialization.Encoding.DER)
    response = ask_token(proxied, account, secret=False, headers={"Client-Cert": ":" + base64.b64encode(der).decode() + ":"})
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text


def test_certificate_bound_tokens_through_a_trusted_proxy(proxied, pki):
    account = proxied.create_account(proxied.admin, name=unique("bound-proxy"), roles=["member"],
                                     tls_client_certificate_bound_access_tokens=True)
    oauth_refusal(ask_token(proxied, account), 400, "invalid_request")
    assert_certificate_bound(ask_token(proxied, account, headers=with_client_cert(pki.certs["svc_z"])), pki.certs["svc_z"].x5t)


def test_client_cert_from_an_untrusted_peer_proves_nothing(untrusted, pki):
    account = certificate_account(untrusted, tls_client_auth_subject_dn="CN=svc-a,O=Acme,C=US")
    response = ask_token(untrusted, account, secret=False, headers=with_client_cert(pki.certs["svc_a"]))
    assert (response.status_code, response.json().get("error")) == (401, "invalid_client"), response.text
    # The header is ignored as if absent: an account that needs a certificate has none,
    # and another account's token is not bound to the forged certificate.
    needs = untrusted.create_account(untrusted.admin, name=unique("bound-untrusted"), roles=["member"],
                                     tls_client_certificate_bound_access_tokens=True)
    oauth_refusal(ask_token(untrusted, needs, headers=with_client_cert(pki.certs["svc_a"])), 400, "invalid_request")
    ordinary = untrusted.create_account(untrusted.admin, name=unique("ordinary-untrusted"), roles=["member"])
    answer = granted(ask_token(untrusted, ordinary, headers=with_client_cert(pki.certs["svc_a"])))
    assert "cnf" not in jwt_payload(answer["access_token"])


def test_client_cert_without_any_proxy_configured_is_ignored(plain, pki):
    ordinary = plain.create_account(plain.admin, name=unique("ordinary-plain"), roles=["member"])
    answer = granted(ask_token(plain, ordinary, headers=with_client_cert(pki.certs["svc_a"])))
    assert (answer["token_type"], "cnf" in jwt_payload(answer["access_token"])) == ("Bearer", False)


# MARK: trusted proxies: the forwarded address and the throttle


def attempt(server: Server, account: dict, *, good: bool, headers: dict | None = None) -> requests.Response:
    secret = account["client_secret"] if good else account["client_secret"][:-1] + ("A" if account["client_secret"][-1] != "A" else "B")
    return requests.post(token_url(server), data={"grant_type": "client_credentials"},
                         auth=(account["client_id"], secret), headers=headers or {}, timeout=10)


def fail(server: Server, account: dict, times: int, headers: dict) -> None:
    for n in range(times):
        response = attempt(server, account, good=False, headers=headers)
        assert response.status_code == 401, f"failure {n + 1} with {headers}: {response.status_code} {response.text}"


def assert_locked(response: requests.Response, what: str) -> None:
    assert response.status_code == 429, f"{what}: {response.status_code} {response.text}"
    assert response.headers.get("Retry-After", "").isdigit(), response.headers


# Each lock-out lasts 1 s (docs/endpoints.md): the checks of a locked address follow its
# failures at once, and a success, which clears the client's count, comes last.


def test_failures_are_counted_per_forwarded_for_address(throttled):
    account = throttled.create_account(throttled.admin, name=unique("xff"), roles=["member"])
    fail(throttled, account, 3, {"X-Forwarded-For": "203.0.113.10"})
    assert_locked(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "203.0.113.10"}), "the locked address")
    # The right-most address that is not a trusted proxy is the client: what the client
    # itself wrote further left changes nothing, and the trusted 127.0.0.1 is skipped.
    assert_locked(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.10"}),
                  "the locked address behind a spoofed left-most entry")
    assert_locked(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "203.0.113.10, 127.0.0.1"}),
                  "the locked address before a trusted proxy")
    granted(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "203.0.113.11"}))


def test_failures_are_counted_per_forwarded_address(throttled_forwarded):
    server = throttled_forwarded
    account = server.create_account(server.admin, name=unique("forwarded"), roles=["member"])
    fail(server, account, 3, {"Forwarded": "for=198.51.100.20"})
    # Only the header the proxy sets is read: X-Forwarded-For changes nothing here.
    assert_locked(attempt(server, account, good=True,
                          headers={"Forwarded": "for=198.51.100.20", "X-Forwarded-For": "198.51.100.21"}),
                  "the locked Forwarded address with another X-Forwarded-For")
    assert_locked(attempt(server, account, good=True, headers={"Forwarded": "for=192.0.2.9;proto=https, for=198.51.100.20"}),
                  "the locked address as the right-most Forwarded element")
    granted(attempt(server, account, good=True, headers={"Forwarded": 'for="[2001:db8::20]"'}))


def test_a_client_cannot_choose_its_address_with_the_header_the_proxy_does_not_set(throttled):
    # The proxy sets X-Forwarded-For; a client adding Forwarded picks nothing.
    account = throttled.create_account(throttled.admin, name=unique("spoof"), roles=["member"])
    fail(throttled, account, 3, {"X-Forwarded-For": "203.0.113.50", "Forwarded": "for=192.0.2.50"})
    assert_locked(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "203.0.113.50", "Forwarded": "for=192.0.2.77"}),
                  "the proxy's address with another Forwarded")
    granted(attempt(throttled, account, good=True, headers={"X-Forwarded-For": "203.0.113.51", "Forwarded": "for=192.0.2.50"}))


def test_the_address_limit_counts_the_forwarded_address(throttled):
    first, second, third = (throttled.create_account(throttled.admin, name=unique("by-address"), roles=["member"])
                            for _ in range(3))
    # Six failures from one forwarded address, three for each of two clients: the address
    # is locked for every client, and another forwarded address is not.
    fail(throttled, first, 3, {"X-Forwarded-For": "203.0.113.30"})
    fail(throttled, second, 3, {"X-Forwarded-For": "203.0.113.30"})
    assert_locked(attempt(throttled, third, good=True, headers={"X-Forwarded-For": "203.0.113.30"}),
                  "a third client from the locked address")
    granted(attempt(throttled, third, good=True, headers={"X-Forwarded-For": "203.0.113.31"}))


@pytest.mark.parametrize("which", ["unproxied", "untrusted"])
def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(request, which):
    # Without --trusted-proxy, and with a trusted proxy that is not the peer.
    server = request.getfixturevalue(which)
    account = server.create_account(server.admin, name=unique("ignored-xff"), roles=["member"])
    fail(server, account, 3, {"X-Forwarded-For": "203.0.113.40"})
    # Whatever the headers say, the failures were the peer's (127.0.0.1): it is locked out.
    assert_locked(attempt(server, account, good=True, headers={"X-Forwarded-For": "203.0.113.41"}), "another X-Forwarded-For")
    assert_locked(attempt(server, account, good=True, headers={"Forwarded": "for=203.0.113.42"}), "a Forwarded address")
    assert_locked(attempt(server, account, good=True), "no header")


def test_tls_connections_that_say_nothing_are_counted_and_closed(pki):
    """A TLS connection is counted against --max-connections and given deadlines from its
    first byte: a handshake never begun is closed after the header timeout, an HTTP/2
    connection that only sent its preface after the idle timeout, and past the limit the
    quietest connection makes room for a new one."""
    import socket

    directory = tempfile.mkdtemp(prefix="tessera-binding-guard-")
    cert, key = server_cert(pki.server_root).write(directory, "server")
    server = start_tls_server(directory, cert, key, pki.server_ca_file, "--header-timeout", "2", "--idle-timeout", "3",
                              "--max-connections", "8")
    try:
        silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
        # Let the server accept them all first: a connection accepted between them would be
        # among the quietest when the later ones arrive.
        time.sleep(0.5)
        # Past the limit the quietest connections were closed: a real client gets through.
        assert requests.get(server.issuer + "/health/ready", verify=server.ca_file, timeout=5).status_code == 200

        def closed(connection: socket.socket) -> bool:
            try:
                return connection.recv(1) == b""
            except (ConnectionResetError, ssl.SSLError):
                return True
            except socket.timeout:
                return False

        time.sleep(3)
        assert all(closed(connection) for connection in silent), "a connection that never began its handshake is still open"
        for connection in silent:
            connection.close()

        context = ssl.create_default_context(cafile=server.ca_file)
        context.set_alpn_protocols(["h2"])
        started = time.monotonic()
        with context.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=10), server_hostname="127.0.0.1") as h2:
            assert h2.selected_alpn_protocol() == "h2"
            # The connection preface and an empty SETTINGS frame (RFC 9113 §3.4), then nothing.
            h2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            while True:
                try:
                    if not h2.recv(4096):
                        break
                except (ConnectionResetError, ssl.SSLError):
                    break
        elapsed = time.monotonic() - started
        assert 2 <= elapsed <= 9, f"an idle HTTP/2 connection was closed after {elapsed:.1f} s (idle timeout 3 s)"
    finally:
        stop_server(server)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("arguments, said", [
    (("--forwarded-header", "x-real-ip"), "--forwarded-header must be x-forwarded-for or forwarded"),
    (("--trusted-proxy", "10.0.0.0/33"), "--trusted-proxy"),
    (("--client-cert-proxy", "proxy.example"), "--client-cert-proxy"),
    (("--tls-client-ca", "/nonexistent.pem"), "--tls-client-ca needs --tls-cert"),
    (("--dpop-proof-max-age", "5"), "--dpop-proof-max-age must be 10–3600 seconds"),
    (("--tls-reload-interval", "0"), "--tls-reload-interval must be 1–86400 seconds"),
])
def test_binding_options_that_make_no_sense_stop_the_start(arguments, said):
    status, output = serve_refused(*arguments)
    assert status not in (0, None), output
    assert said in output, output
