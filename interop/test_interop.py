"""Interop: implementations nobody on this project wrote obtain and verify Tessera tokens."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.parse

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet

from conftest import BIN, Server, start_server, stop_server


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def metadata(server: Server) -> dict:
    return requests.get(server.issuer + "/.well-known/oauth-authorization-server", timeout=10).json()


def verify_with_pyjwt(server: Server, token: str, alg: str) -> dict:
    """PyJWT, keys from our JWKS through PyJWKClient, every registered claim required."""
    meta = metadata(server)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == alg
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key,
        algorithms=[alg],
        audience=server.issuer,
        issuer=server.issuer,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_fetches_a_token_that_pyjwt_verifies(server: Server, method: str):
    admin = server.bootstrap()
    account = server.create_account(admin, name=f"authlib-{method}", roles=["editor"])
    meta = metadata(server)
    session = OAuth2Session(account["client_id"], account["client_secret"], token_endpoint_auth_method=method)
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "api:read api:write"
    assert token["expires_in"] == 3600

    claims = verify_with_pyjwt(server, token["access_token"], "ES256")
    assert claims["client_id"] == account["client_id"]
    assert claims["sub"] == account["id"]
    assert claims["tenant"] == account["tenant_id"]
    assert claims["scope"] == "api:read api:write"
    assert claims["roles"] == ["editor"]
    assert claims["exp"] - claims["iat"] == 3600


def test_authlib_down_scoping_and_invalid_scope(server: Server):
    admin = server.bootstrap()
    account = server.create_account(admin, name="narrow", roles=["editor"])
    session = OAuth2Session(account["client_id"], account["client_secret"], scope="api:read")
    token = session.fetch_token(server.issuer + "/oauth2/token", grant_type="client_credentials")
    assert token["scope"] == "api:read"
    response = requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "tessera:admin"},
        auth=(account["client_id"], account["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_joserfc_verifies_with_claims_registry(server: Server):
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    keys = KeySet.import_key_set(requests.get(metadata(server)["jwks_uri"], timeout=10).json())
    decoded = jose_jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.issuer},
        aud={"essential": True, "value": server.issuer},
        exp={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
    )
    registry.validate(decoded.claims)


def test_wrong_secret_is_invalid_client_with_challenge(server: Server):
    admin = server.bootstrap()
    response = requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(admin["client_id"], admin["client_secret"][:-1] + ("A" if admin["client_secret"][-1] != "A" else "B")),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "client authentication failed"}
    assert response.headers["WWW-Authenticate"] == 'Basic realm="tessera", charset="UTF-8"'
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("alg", ["EdDSA", "RS256", "PS256"])
def test_every_signing_algorithm_verifies_in_pyjwt(server_factory, alg: str):
    server = server_factory(alg)
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    claims = verify_with_pyjwt(server, token, alg)
    assert claims["client_id"] == admin["client_id"]
    # Our own verifier accepts it too, and prints the same claims.
    result = server.tessera("verify", "--issuer", server.issuer, token)
    assert json.loads(result.stdout) == claims


# --- Our verifier (TesseraVerifier through `tessera verify`) rejects what it must ---------------


def rejected(server: Server, token: str) -> str:
    result = server.tessera("verify", "--issuer", server.issuer, token, check=False)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    return result.stderr.strip()


def issued(server: Server) -> str:
    admin = server.bootstrap()
    return server.token(admin["client_id"], admin["client_secret"])["access_token"]


def test_our_verifier_accepts_a_genuine_token(server: Server):
    token = issued(server)
    result = server.tessera("verify", "--issuer", server.issuer, "--require-scope", "api:read", token)
    claims = json.loads(result.stdout)
    assert claims["iss"] == server.issuer
    assert claims == jwt.decode(token, options={"verify_signature": False})


def test_our_verifier_rejects_a_tampered_token(server: Server):
    header, payload, signature = issued(server).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "tessera:super"
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    assert rejected(server, forged) == "rejected: invalid_signature: the signature does not verify"


def test_our_verifier_rejects_hs256_keyed_with_the_public_key(server: Server):
    header, payload, _ = issued(server).split(".")
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    jwks = requests.get(server.issuer + "/.well-known/jwks.json", timeout=10).content
    forged_header = b64url(json.dumps({"alg": "HS256", "kid": kid, "typ": "at+jwt"}).encode())
    signing_input = f"{forged_header}.{payload}".encode()
    signature = b64url(hmac.new(jwks, signing_input, hashlib.sha256).digest())
    assert rejected(server, f"{forged_header}.{payload}.{signature}") == (
        'rejected: algorithm_not_allowed: algorithm "HS256" is not accepted'
    )


def test_our_verifier_rejects_alg_none(server: Server):
    header, payload, _ = issued(server).split(".")
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    forged_header = b64url(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
    # An empty signature segment is refused as malformed before anything else.
    assert rejected(server, f"{forged_header}.{payload}.") == "rejected: malformed: a JWS segment is empty"
    assert rejected(server, f"{forged_header}.{payload}.AAAA") == (
        'rejected: algorithm_not_allowed: algorithm "none" is not accepted'
    )


def test_our_verifier_rejects_another_algorithm_under_our_kid(server: Server):
    # An RS256 token from a key we never published, claiming our ES256 kid.
    token = issued(server)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    from cryptography.hazmat.primitives.asymmetric import rsa

    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, attacker, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})
    assert rejected(server, forged) == (
        "rejected: algorithm_not_allowed: header algorithm RS256 does not match the key's ES256"
    )


def test_our_verifier_rejects_an_unknown_kid(server: Server):
    claims = jwt.decode(issued(server), options={"verify_signature": False})
    attacker = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims, attacker, algorithm="ES256", headers={"kid": "not-ours", "typ": "at+jwt"})
    assert rejected(server, forged) == 'rejected: unknown_key: no published key has kid "not-ours"'


def test_our_verifier_rejects_a_foreign_audience(server: Server):
    token = issued(server)
    result = server.tessera("verify", "--issuer", server.issuer, "--audience", "https://elsewhere.example", token, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'rejected: wrong_audience: aud does not contain "https://elsewhere.example"'


def test_metadata_and_jwks_headers(server: Server):
    meta = metadata(server)
    assert meta["issuer"] == server.issuer
    assert meta["token_endpoint"] == server.issuer + "/oauth2/token"
    alias = requests.get(server.issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert alias == meta
    jwks = requests.get(meta["jwks_uri"], timeout=10)
    assert jwks.headers["Cache-Control"] == "public, max-age=300"
    # One ES256 key on this server: its public members only, named by its RFC 7638 thumbprint.
    [key] = jwks.json()["keys"]
    assert sorted(key) == ["alg", "crv", "kid", "kty", "use", "x", "y"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert key["kid"] == ECKey.import_key(key).thumbprint()


def test_authlib_introspects_and_revokes(server: Server):
    """RFC 7662 and RFC 7009 through Authlib's own client calls."""
    admin = server.bootstrap()
    worker = server.create_account(admin, name="introspected", roles=["member"])
    meta = metadata(server)
    worker_session = OAuth2Session(worker["client_id"], worker["client_secret"])
    token = worker_session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")["access_token"]

    introspector = OAuth2Session(admin["client_id"], admin["client_secret"])
    active = introspector.introspect_token(meta["introspection_endpoint"], token=token).json()
    assert active["active"] is True
    assert active["client_id"] == worker["client_id"]
    assert active["scope"] == "api:read"
    assert active["token_type"] == "Bearer"

    revoked = worker_session.revoke_token(meta["revocation_endpoint"], token=token)
    assert revoked.status_code == 200
    assert introspector.introspect_token(meta["introspection_endpoint"], token=token).json() == {"active": False}


def test_a_revocation_outlives_a_restart():
    """On SQLite the denylist is held in memory; a restart loads it from the store."""
    # One issuer for both: the second server listens on another port.
    first = start_server(issuer="http://tessera.restart.test")
    admin = first.bootstrap()
    try:
        revoked_token = first.token(admin["client_id"], admin["client_secret"])["access_token"]
        kept_token = first.token(admin["client_id"], admin["client_secret"])["access_token"]
        auth = (admin["client_id"], admin["client_secret"])
        revoked = requests.post(first.issuer + "/oauth2/revoke", data={"token": revoked_token}, auth=auth, timeout=10)
        assert revoked.status_code == 200
        first.process.terminate()
        first.process.wait(timeout=10)

        second = start_server(issuer="http://tessera.restart.test", directory=first.directory)
        try:
            introspect = lambda token: requests.post(  # noqa: E731
                second.issuer + "/oauth2/introspect", data={"token": token}, auth=auth, timeout=10
            ).json()
            assert introspect(revoked_token) == {"active": False}
            assert introspect(kept_token)["active"] is True
        finally:
            stop_server(second)
    finally:
        if first.process.poll() is None:
            stop_server(first)


def test_client_cache_ttl_is_validated():
    result = subprocess.run([BIN, "serve", "--client-cache-ttl", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--client-cache-ttl must be 1–86400 seconds" in result.stderr


def test_authlib_authenticates_with_private_key_jwt(server: Server):
    """RFC 7523 §2.2 client authentication, signed by Authlib with a key made in Python."""
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import ECKey

    admin = server.bootstrap()
    account = server.create_account(admin, name="jwt-authlib", roles=["editor"])
    private_key = ECKey.generate_key("P-256")
    public_jwk = dict(private_key.as_dict(private=False), kid="py-1")
    admin_token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    registered = requests.post(
        f"{server.issuer}/v1/tenants/acme/service-accounts/{account['id']}/keys",
        json={"jwk": public_jwk},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["jwk"]["alg"] == "ES256"

    meta = metadata(server)
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256", "PS256"]
    auth = PrivateKeyJWT(
        meta["token_endpoint"], claims={"exp": int(time.time()) + 120}, headers={"kid": "py-1"}, alg="ES256"
    )
    session = OAuth2Session(account["client_id"], private_key, token_endpoint_auth_method=auth)
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    claims = verify_with_pyjwt(server, token["access_token"], "ES256")
    assert claims["client_id"] == account["client_id"]
    assert claims["scope"] == "api:read api:write"

    # Authlib's defaults: an assertion that lives an hour, within the hour Tessera accepts
    # (docs/admin-api.md "private_key_jwt", `--max-assertion-lifetime`).
    sent: list[requests.PreparedRequest] = []
    defaults = OAuth2Session(
        account["client_id"], private_key,
        token_endpoint_auth_method=PrivateKeyJWT(meta["token_endpoint"], headers={"kid": "py-1"}, alg="ES256"),
    )
    defaults.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request))
    token = defaults.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert verify_with_pyjwt(server, token["access_token"], "ES256")["client_id"] == account["client_id"]
    [request] = sent
    [client_assertion] = urllib.parse.parse_qs(request.body)["client_assertion"]
    lifetime = jwt.decode(client_assertion, options={"verify_signature": False})
    assert lifetime["exp"] - lifetime["iat"] == 3600, "Authlib's default assertion lifetime is no longer one hour"

    # Without any client authentication (no assertion, no secret): invalid_client.
    response = requests.post(meta["token_endpoint"], data={"grant_type": "client_credentials"}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "client authentication is required"}


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_a_ps256_client_assertion_from_pyjwt_obtains_a_token(server_factory):
    """RFC 7523 §2.2 client authentication with PS256 (RFC 7518 §3.5: RSASSA-PSS, SHA-256,
    MGF1 with SHA-256, a 32-byte salt), nothing of it from Tessera: the key made by
    pyca/cryptography and registered as a JWK with "alg":"PS256", the assertion signed by
    PyJWT. On a PS256 server, so the token it obtains is checked by PyJWT and joserfc too."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    server = server_factory("PS256")
    admin = server.bootstrap()
    account = server.create_account(admin, name="jwt-ps256", roles=["editor"])
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private_key.public_key().public_numbers()
    as_b64url = lambda number: b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))  # noqa: E731
    public_jwk = {"kty": "RSA", "n": as_b64url(numbers.n), "e": as_b64url(numbers.e), "kid": "ps-1", "alg": "PS256"}
    admin_token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    registered = requests.post(
        f"{server.issuer}/v1/tenants/acme/service-accounts/{account['id']}/keys",
        json={"jwk": public_jwk},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["kid"] == "ps-1"
    assert registered.json()["jwk"] == dict(public_jwk, use="sig")
    assert registered.json()["expires_at"] is None

    meta = metadata(server)
    assert "PS256" in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert meta["access_token_signing_alg_values_supported"] == ["PS256"]

    def assertion(key, alg: str = "PS256") -> str:
        now = int(time.time())
        claims = {
            "iss": account["client_id"], "sub": account["client_id"], "aud": meta["token_endpoint"],
            "iat": now, "exp": now + 120, "jti": b64url(os.urandom(16)),
        }
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": "ps-1"})

    def present(client_assertion: str) -> requests.Response:
        return requests.post(
            meta["token_endpoint"],
            data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": client_assertion},
            timeout=10,
        )

    signed = assertion(private_key)
    # It is a PS256 JWS as RFC 7518 defines it, checked with pyca/cryptography alone.
    assert jwt.get_unverified_header(signed) == {"alg": "PS256", "kid": "ps-1", "typ": "JWT"}
    signing_input, signature = signed.rsplit(".", 1)
    private_key.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), signing_input.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )

    response = present(signed)
    assert response.status_code == 200, response.text
    token = response.json()
    assert (token["token_type"], token["scope"], token["expires_in"]) == ("Bearer", "api:read api:write", 3600)
    claims = verify_with_pyjwt(server, token["access_token"], "PS256")
    assert (claims["client_id"], claims["sub"], claims["scope"]) == (account["client_id"], account["id"], "api:read api:write")
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    decoded = jose_jwt.decode(token["access_token"], keys, algorithms=["PS256"])
    assert decoded.header["alg"] == "PS256"
    assert decoded.claims == claims

    # Refused, each as invalid_client with its reason: the same assertion again, the
    # registered key used with RS256 (PKCS #1 v1.5), and another key under its kid.
    refusals = {
        "replayed": present(signed),
        "RS256": present(assertion(private_key, "RS256")),
        "another key": present(assertion(rsa.generate_private_key(public_exponent=65537, key_size=2048))),
    }
    assert {case: (answer.status_code, answer.json()) for case, answer in refusals.items()} == {
        "replayed": (401, {"error": "invalid_client", "error_description": "the client assertion was used before"}),
        "RS256": (401, {"error": "invalid_client", "error_description": "the client assertion's signature does not verify"}),
        "another key": (401, {"error": "invalid_client", "error_description": "the client assertion's signature does not verify"}),
    }


def test_metrics_count_tokens_and_client_cache_use(server: Server):
    def counters() -> dict:
        response = requests.get(server.issuer + "/metrics", timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return {
            line.split()[0]: float(line.split()[1])
            for line in response.text.splitlines()
            if line.startswith("tessera_") and " " in line
        }

    admin = server.bootstrap(tenant="metrics")
    before = counters()
    server.token(admin["client_id"], admin["client_secret"])
    server.token(admin["client_id"], admin["client_secret"])
    after = counters()
    assert after["tessera_tokens_issued_total"] - before.get("tessera_tokens_issued_total", 0) == 2
    # The first request loads the new client, the second finds it cached.
    assert after["tessera_client_cache_loads_total"] - before.get("tessera_client_cache_loads_total", 0) == 1
    assert after["tessera_client_cache_hits_total"] - before.get("tessera_client_cache_hits_total", 0) == 1


def test_request_metrics_count_routes_methods_and_statuses(server: Server):
    """Per-route request counts and latencies, under Hummingbird's metric names."""

    def series() -> dict:
        text = requests.get(server.issuer + "/metrics", timeout=10).text
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}

    admin = server.bootstrap(tenant="request-metrics")
    before = series()
    server.token(admin["client_id"], admin["client_secret"])
    refused = requests.post(server.issuer + "/oauth2/token", data={"grant_type": "password"}, timeout=10)
    assert refused.status_code == 400
    missing = requests.get(server.issuer + "/no/such/route", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["detail"] == "no route for GET /no/such/route"
    # A method outside RFC 9110 / RFC 5789 is one series whatever its name.
    odd = requests.request("PROPFIND", server.issuer + "/oauth2/token", timeout=10)
    assert odd.status_code == 404
    assert odd.headers["X-Request-ID"]
    after = series()

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    token_ok = 'http_route="/oauth2/token",http_request_method="POST",http_response_status_code="200"'
    assert grew("hb_requests{%s}" % token_ok) == 1
    assert grew('hb_requests{http_route="/oauth2/token",http_request_method="POST",http_response_status_code="400"}') == 1
    assert grew('hb_requests{http_route="NotFound",http_request_method="GET",http_response_status_code="404"}') == 1
    assert grew('hb_requests{http_route="NotFound",http_request_method="_OTHER",http_response_status_code="404"}') == 1
    assert not any("PROPFIND" in name for name in after)
    # Requests with no route count as errors too, as Hummingbird's middleware counted them.
    assert grew('hb_request_errors{http_route="NotFound",http_request_method="GET",error_type="404"}') == 1
    assert grew("http_server_request_duration_count{%s}" % token_ok) == 1
    assert grew("http_server_request_duration_sum{%s}" % token_ok) > 0
    # Every request has finished: none is counted as active.
    assert after['http_server_active_requests{http_request_method="POST"}'] == 0
