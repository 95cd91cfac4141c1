"""A stand-in OIDC issuer for the federation interop suite, written with joserfc.

It plays the platforms whose tokens a secretless workload presents to Tessera
(docs/federation.md): a Kubernetes API server (projected service-account tokens), GitHub
Actions (OIDC tokens) and a SPIRE OIDC discovery provider (JWT-SVIDs). It serves, on its
own loopback port:

- `GET /.well-known/openid-configuration`: `issuer` and `jwks_uri` (and the usual
  members), unless it is built with `discovery=False`;
- `GET <jwks_path>`: its published public keys, with `Cache-Control: max-age=<max_age>`.

It counts every request by path (so a test can see how often Tessera fetched the keys),
can rotate its keys (a new `kid`, the old one dropped), and mints tokens shaped exactly
as the real platforms shape them, with their real claim names. Every claim and header
member can be overridden or removed (`DROP`) for negative tests, and tokens can be
signed with a key that is not published, with HMAC (also keyed with the public key's
own bytes, the classic algorithm-confusion attack) or with `alg: none`.

Run it by hand: `python3 interop/federation_issuer.py` starts one and prints a token of
each kind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

# Given as a claim or header value, removes the member instead.
DROP = object()

K8S_DEFAULT_LIFETIME = 3607  # what the kubelet asks for by default (1 h + 7 s, "extended")
GITHUB_LIFETIME = 300  # GitHub's OIDC tokens live 5 minutes...
GITHUB_NBF_SKEW = 600  # ...and are valid from 10 minutes before they are issued
SPIFFE_LIFETIME = 300  # SPIRE's default JWT-SVID TTL


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def apply(base: dict, overrides: dict | None) -> dict:
    """`base` with `overrides` applied: a value of `DROP` removes the member."""
    result = dict(base)
    for name, value in (overrides or {}).items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def new_key(alg: str, kid: str | None = None) -> RSAKey | ECKey:
    """A fresh signing key for `alg` (RS256/RS384/PS256 → RSA 2048, ES256 → P-256)."""
    kid = kid or uuid.uuid4().hex[:16]
    if alg.startswith(("RS", "PS")):
        return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg, "use": "sig"})
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg, "use": "sig"})
    raise ValueError(f"no key type for {alg}")


def untagged(key: RSAKey | ECKey) -> RSAKey | ECKey:
    """The same key material without `alg`, so joserfc signs with it under any
    algorithm of its type (for tokens whose `alg` is not the one the JWKS states)."""
    data = {k: v for k, v in key.as_dict(private=True).items() if k != "alg"}
    return type(key).import_key(data)


def public_jwk(key: RSAKey | ECKey, with_alg: bool = True) -> dict:
    jwk = dict(key.as_dict(private=False))
    if not with_alg:
        jwk.pop("alg", None)
    return jwk


def x5t(key: RSAKey | ECKey) -> str:
    """A SHA-1 thumbprint as GitHub puts in `x5t` (here over the public key's DER, as
    the stand-in has no certificate)."""
    der = key.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha1(der).digest())


def sign_raw(header: dict, claims: dict, signer) -> str:
    """A compact JWS built by hand, for what joserfc rightly refuses to produce (HMAC
    keyed with an asymmetric public key). `signer(signing_input) -> signature bytes`."""
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(signer(signing_input.encode()))


class StandInIssuer:
    """One OIDC issuer on `http://127.0.0.1:<port>`; `start()` before use, `stop()` after.

    `jwks_path` is where the keys are served (Kubernetes: `/openid/v1/jwks`, GitHub:
    `/.well-known/jwks`, SPIRE: `/keys`); with `discovery=False` there is no discovery
    document and the keys are at `/.well-known/jwks.json` unless `jwks_path` says
    otherwise (then only a credential's `jwks_uri` can find them). `ec_alg_in_jwks=False`
    publishes EC keys without `alg` (as SPIRE does), leaving the curve to fix it.
    """

    def __init__(
        self,
        name: str = "stand-in",
        jwks_path: str | None = None,
        discovery: bool = True,
        max_age: int = 300,
        ec_alg_in_jwks: bool = True,
    ):
        self.name = name
        self.discovery = discovery
        self.jwks_path = jwks_path or ("/.well-known/jwks" if discovery else "/.well-known/jwks.json")
        self.max_age = max_age
        self.ec_alg_in_jwks = ec_alg_in_jwks
        self._lock = threading.Lock()
        self.rsa = new_key("RS256")
        self.ec = new_key("ES256")
        self.published: list[RSAKey | ECKey] = [self.rsa, self.ec]
        self.hits: list[tuple[float, str]] = []  # (monotonic time, path) of every request
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # MARK: serving

    def start(self, port: int = 0) -> "StandInIssuer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: stop() then really stops

            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                with owner._lock:
                    owner.hits.append((time.monotonic(), path))
                if owner.discovery and path == "/.well-known/openid-configuration":
                    self._json(owner.discovery_document(), "public, max-age=3600")
                elif path == owner.jwks_path:
                    self._json(owner.jwks(), f"public, max-age={owner.max_age}")
                else:
                    self._json({"error": "not found"}, "no-store", status=404)

            def _json(self, body: dict, cache_control: str, status: int = 200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", cache_control)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"issuer-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving (the port then refuses connections); keys and URLs stay, so
        tokens can still be minted."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def issuer(self) -> str:
        assert self.port is not None, "start() the stand-in issuer first"
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_uri(self) -> str:
        return self.issuer + self.jwks_path

    def discovery_document(self) -> dict:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": sorted({k.as_dict(private=False)["alg"] for k in self.published}),
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }

    def jwks(self) -> dict:
        with self._lock:
            keys = list(self.published)
        return {
            "keys": [public_jwk(k, with_alg=self.ec_alg_in_jwks or not isinstance(k, ECKey)) for k in keys]
        }

    # MARK: counting

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p in self.hits if p == path)

    @property
    def jwks_fetches(self) -> int:
        return self.count(self.jwks_path)

    @property
    def discovery_fetches(self) -> int:
        return self.count("/.well-known/openid-configuration")

    @property
    def requests_seen(self) -> int:
        with self._lock:
            return len(self.hits)

    def seconds_since_last_jwks_fetch(self) -> float:
        with self._lock:
            times = [t for t, p in self.hits if p == self.jwks_path]
        return time.monotonic() - times[-1] if times else float("inf")

    # MARK: keys

    def rotate(self, alg: str = "RS256") -> str:
        """Publishes a new key for `alg` under a new kid, drops the old one, and signs
        with the new one from now on. Returns the new kid."""
        fresh = new_key(alg)
        with self._lock:
            if alg == "ES256":
                old, self.ec = self.ec, fresh
            else:
                old, self.rsa = self.rsa, fresh
            self.published = [k for k in self.published if k is not old] + [fresh]
        return fresh.kid

    def key_for(self, alg: str) -> RSAKey | ECKey:
        return self.ec if alg.startswith("ES") else self.rsa

    # MARK: minting

    def mint(
        self,
        claims: dict,
        header: dict | None = None,
        key: RSAKey | ECKey | None = None,
        alg: str | None = None,
    ) -> str:
        """Signs `claims` with joserfc. `header` must hold `alg`; `kid` defaults to the
        signing key's. `key` defaults to the published key of the algorithm's type (give
        an unpublished one for negative tests); `alg` overrides the header's."""
        header = dict(header or {"alg": "RS256"})
        if alg:
            header["alg"] = alg
        key = key or self.key_for(header["alg"])
        header.setdefault("kid", key.kid)
        header = {k: v for k, v in header.items() if v is not DROP}
        claims = {k: v for k, v in claims.items() if v is not DROP}
        return jwt.encode(header, claims, key, algorithms=[header["alg"]], default_type=None)

    def kubernetes_token(
        self,
        namespace: str,
        service_account: str,
        audience: str | list[str],
        lifetime: int = K8S_DEFAULT_LIFETIME,
        issued_at: int | None = None,
        claims: dict | None = None,
        header: dict | None = None,
        key: RSAKey | ECKey | None = None,
    ) -> str:
        """A projected service-account token as the kube-apiserver's TokenRequest API
        signs it: RS256 with `kid`, no `typ`, `aud` an array, the pod and node bound."""
        now = int(time.time()) if issued_at is None else issued_at
        bound: dict[str, Any] = {
            "namespace": namespace,
            "node": {"name": "ip-10-0-17-42.eu-west-1.compute.internal", "uid": str(uuid.uuid4())},
            "pod": {"name": f"{service_account}-7c9d8f6b5d-x2kq9", "uid": str(uuid.uuid4())},
            "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())},
        }
        if lifetime > 3600:  # an extended token warns its users after an hour
            bound["warnafter"] = now + 3600
        base = {
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "exp": now + lifetime,
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": bound,
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
        }
        return self.mint(apply(base, claims), apply({"alg": "RS256"}, header), key)

    def github_token(
        self,
        repository: str,
        audience: str | list[str],
        ref: str = "refs/heads/main",
        environment: str | None = None,
        event_name: str = "push",
        workflow_file: str = "deploy.yml",
        lifetime: int = GITHUB_LIFETIME,
        issued_at: int | None = None,
        claims: dict | None = None,
        header: dict | None = None,
        key: RSAKey | ECKey | None = None,
    ) -> str:
        """A GitHub Actions OIDC token as `ACTIONS_ID_TOKEN_REQUEST_URL` hands it out:
        RS256, `typ` JWT, `kid` and `x5t`; `aud` a string; `sub`
        `repo:<owner>/<repo>:environment:<env>` in an environment, else
        `repo:<owner>/<repo>:ref:<ref>`; ids as strings, as GitHub sends them."""
        now = int(time.time()) if issued_at is None else issued_at
        owner = repository.split("/", 1)[0]
        sub = f"repo:{repository}:environment:{environment}" if environment else f"repo:{repository}:ref:{ref}"
        workflow_ref = f"{repository}/.github/workflows/{workflow_file}@{ref}"
        sha = hashlib.sha1(repository.encode() + ref.encode()).hexdigest()
        base = {
            "jti": str(uuid.uuid4()),
            "sub": sub,
            "aud": audience,
            "ref": ref,
            "sha": sha,
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": "72918407",
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "repository_visibility": "private",
            "repository_id": "685502711",
            "actor_id": "1024025",
            "actor": "octocat",
            "workflow": "Deploy",
            "head_ref": "",
            "base_ref": "",
            "event_name": event_name,
            "ref_protected": "true" if ref == "refs/heads/main" else "false",
            "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": sha,
            "runner_environment": "github-hosted",
            "iss": self.issuer,
            "nbf": now - GITHUB_NBF_SKEW,
            "exp": now + lifetime,
            "iat": now,
        }
        if environment:
            base["environment"] = environment
            base["environment_node_id"] = "EN_kwDOKNv4l84" + b64url(environment.encode())[:8]
        key = key or self.rsa
        head = {"alg": "RS256", "kid": key.kid, "typ": "JWT", "x5t": x5t(key)}
        return self.mint(apply(base, claims), apply(head, header), key)

    def spiffe_svid(
        self,
        spiffe_id: str,
        audience: str | list[str],
        lifetime: int = SPIFFE_LIFETIME,
        issued_at: int | None = None,
        claims: dict | None = None,
        header: dict | None = None,
        key: RSAKey | ECKey | None = None,
    ) -> str:
        """A JWT-SVID as SPIRE signs it for `spire-agent api fetch jwt`: ES256, `typ`
        JWT, `kid`; `sub` the SPIFFE ID, `aud` an array, 5 minutes, no `jti`; `iss` the
        server's `jwt_issuer` (its OIDC discovery provider's URL)."""
        now = int(time.time()) if issued_at is None else issued_at
        base = {
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "exp": now + lifetime,
            "iat": now,
            "iss": self.issuer,
            "sub": spiffe_id,
        }
        key = key or self.ec
        return self.mint(apply(base, claims), apply({"alg": "ES256", "typ": "JWT"}, header), key)

    def verify(self, token: str, jwks: dict | None = None) -> jwt.Token:
        """`token` checked with joserfc against the published keys (or `jwks`, say as
        fetched over HTTP): the signature and the algorithm the key states."""
        jwks = jwks or self.jwks()
        stated = {k.get("kid"): k.get("alg") or ("ES256" if k.get("crv") == "P-256" else None) for k in jwks["keys"]}
        alg = stated.get(header_of(token).get("kid"))
        return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg] if alg else [])

    # MARK: forgeries

    def hmac_token(self, claims: dict, secret: bytes, kid: str | None = None, alg: str = "HS256") -> str:
        """`claims` under an HMAC: with `secret` the published public key's bytes, the
        algorithm-confusion forgery a verifier that takes `alg` from the header falls
        for. Built by hand: joserfc refuses to use a public key as an HMAC secret."""
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        header = {"alg": alg, "typ": "JWT", "kid": kid or self.rsa.kid}
        return sign_raw(header, claims, lambda data: hmac.new(secret, data, digest).digest())

    def unsigned_token(self, claims: dict, alg: str = "none", kid: str | None = None) -> str:
        """`alg: none` (or a spelling of it): an empty signature."""
        header = {"alg": alg, "typ": "JWT", "kid": kid or self.rsa.kid}
        return sign_raw(header, claims, lambda data: b"")

    def public_key_secrets(self) -> dict[str, bytes]:
        """The public RSA key's bytes as an attacker would try them as an HMAC secret."""
        public = self.rsa.public_key
        return {
            "spki-pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            "pkcs1-pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
            "jwk-json": json.dumps(public_jwk(self.rsa)).encode(),
        }


def claims_of(token: str) -> dict:
    """A token's claims, unverified (for tests that rewrite a minted token)."""
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def header_of(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


if __name__ == "__main__":
    import requests

    issuer = StandInIssuer("demo").start()
    try:
        discovery = requests.get(issuer.issuer + "/.well-known/openid-configuration", timeout=5)
        jwks = requests.get(discovery.json()["jwks_uri"], timeout=5)
        print(json.dumps(discovery.json(), indent=2))
        print("Cache-Control:", jwks.headers["Cache-Control"])
        print(json.dumps(jwks.json(), indent=2))
        audience = "https://auth.example.com"
        for kind, token in (
            ("kubernetes", issuer.kubernetes_token("shop", "orders", audience)),
            ("github", issuer.github_token("acme/deploy", audience, environment="production")),
            ("spiffe", issuer.spiffe_svid("spiffe://example.org/ns/billing/sa/worker", audience)),
        ):
            verified = issuer.verify(token, jwks.json())
            print(kind, json.dumps(verified.header), json.dumps(verified.claims))
            print(token)
    finally:
        issuer.stop()
