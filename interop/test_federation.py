"""Secretless workloads from the outside: federated credentials and token exchange.

Everything here is written from docs/federation.md (the contract), docs/admin-api.md and
docs/endpoints.md only, against a release-built `tessera serve` on loopback. The
external platforms are played by stand-in OIDC issuers (interop/federation_issuer.py,
joserfc) on their own loopback ports, minting tokens shaped exactly as Kubernetes
projected service-account tokens, GitHub Actions OIDC tokens and SPIFFE JWT-SVIDs are.

- the admin API: create (the documented fields echoed, the audience defaulting to the
  issuer URL), list, delete, 409 on a duplicate name, 400 on bad input, tenant
  isolation, the audit log, the OpenAPI document;
- both flows (client credentials with the external token as client assertion, and
  RFC 8693 token exchange) with each of the three token shapes, the issued token
  verified with Tessera's JWKS;
- claim conditions (GitHub's repository/environment/job_workflow_ref, Kubernetes'
  nested kubernetes.io paths, globs on sub);
- every safety rule refused on its own, in both flows, as the same `invalid_client`
  (401) or `invalid_grant` (400), never saying why; the reason in the audit log;
- the issuer's keys: rotation (refetch on an unknown kid, at most once per 10 s),
  caching, inline keys with the issuer unreachable, discovery and its fallbacks, and
  never a URL found in the token;
- scopes narrowed by the credential; Tessera's own tokens exchanged for narrower ones
  (never more than the subject, expiring no later, `act` only with an actor, revoked
  subjects refused);
- the dry run (`federated-credentials:test`) and the discovery metadata.

The server runs with `--federation-allow-loopback-http` (the stand-ins are plain HTTP
on 127.0.0.1) and without the failed-authentication throttle, whose 429s would
otherwise mask the answers under test (docs/endpoints.md, a separate feature).

Tests that use token exchange without `client_id` rely on the account following from
the credentials' rules across the whole server, so every test gives its credentials
subjects (repositories, namespaces, SPIFFE paths) no other test's credentials match.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Callable

import pytest
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from conftest import Server, eventually, start_server, stop_server
from federation_issuer import DROP, StandInIssuer, b64url, claims_of, new_key, untagged

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

SERVE_FLAGS = ("--federation-allow-loopback-http", "--auth-failure-limit", "0", "--auth-address-failure-limit", "0")
ROLE = "ledger"
READ, WRITE = "ledger:read", "ledger:write"
ORDERS = "https://orders.example.com"
FLOWS = ("assertion", "exchange")

# The canonical identities of the module-wide credentials (the docs' recipes).
GH_REPO = "acme/deploy"
GH_WORKFLOW = "acme/deploy/.github/workflows/deploy.yml@refs/heads/main"
K8S_NAMESPACE, K8S_ACCOUNT = "shop", "orders"
SPIFFE_ID = "spiffe://example.org/ns/billing/sa/worker"

# Words that would tell a caller why its token was refused (docs/federation.md: the
# precise reason goes to the audit log and the server log, never to the caller).
LEAKS = (
    r"expir", r"\bexp\b", r"audience", r"\baud\b", r"issuer", r"\biss\b", r"\biat\b", r"\bnbf\b",
    r"future", r"not yet", r"\bjti\b", r"replay", r"already (been )?used", r"reused", r"lifetime",
    r"signature", r"\bkid\b", r"\bkeys?\b", r"algorithm", r"\balg\b", r"hmac", r"hs256", r"unsigned",
    r"default", r"ambiguous", r"more than one", r"multiple", r"claim", r"environment", r"namespace",
    r"repository", r"\bjku\b",
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def now() -> int:
    return int(time.time())


def body_of(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"not JSON: {response.status_code} {response.text[:500]!r}", pytrace=False)
    assert isinstance(body, dict), response.text
    return body


# MARK: the admin API


class Admin:
    """An admin of one tenant, calling the admin API with a cached access token."""

    def __init__(self, server: Server, credentials: dict, tenant: str):
        self.server = server
        self.credentials = credentials
        self.tenant = tenant
        self._token: str | None = None

    @property
    def headers(self) -> dict:
        if self._token is None:
            self._token = self.server.token(self.credentials["client_id"], self.credentials["client_secret"])["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.server.issuer + path, headers=self.headers, timeout=10, **kwargs)

    def account(self, prefix: str = "workload", roles: tuple = (ROLE,), **body) -> dict:
        """A service account; secretless (`issue_secret: false`) unless `body` says otherwise."""
        body = {"name": unique(prefix), "roles": list(roles), "issue_secret": False, **body}
        response = self.call("POST", f"/v1/tenants/{self.tenant}/service-accounts", json=body)
        assert response.status_code == 201, f"create account {body}: {response.status_code} {response.text}"
        account = response.json()
        assert account.get("id") and account.get("client_id"), account
        return account

    def credentials_path(self, account_id: str) -> str:
        return f"/v1/tenants/{self.tenant}/service-accounts/{account_id}/federated-credentials"

    def add_credential(self, account: dict, **body) -> requests.Response:
        body.setdefault("name", unique("cred"))
        return self.call("POST", self.credentials_path(account["id"]), json=body)

    def credential(self, account: dict, **body) -> dict:
        response = self.add_credential(account, **body)
        assert response.status_code == 201, f"create credential {body}: {response.status_code} {response.text}"
        return response.json()

    def list_credentials(self, account: dict) -> list[dict]:
        response = self.call("GET", self.credentials_path(account["id"]))
        assert response.status_code == 200, f"list credentials: {response.status_code} {response.text}"
        listed = response.json()
        assert set(listed) >= {"items", "next_cursor"}, listed
        return listed["items"]

    def dry_run(self, token: str, client_id: str | None = None) -> requests.Response:
        body = {"token": token} if client_id is None else {"token": token, "client_id": client_id}
        return self.call("POST", f"/v1/tenants/{self.tenant}/federated-credentials:test", json=body)

    def audit(self, **params) -> list[dict]:
        response = self.call("GET", f"/v1/tenants/{self.tenant}/audit-events", params={"limit": "200", **params})
        assert response.status_code == 200, f"audit events: {response.status_code} {response.text}"
        return response.json()["items"]


# MARK: the token endpoint


def post_token(server: Server, form: dict, auth: tuple | None = None) -> requests.Response:
    return requests.post(server.issuer + "/oauth2/token", data=form, auth=auth, timeout=10)


def assertion(server: Server, client_id: str, token: str, **form) -> requests.Response:
    """Client credentials with the external token as client assertion (Azure's model)."""
    return post_token(server, {
        "grant_type": "client_credentials", "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": token, **form})


def exchange(server: Server, token: str, token_type: str = JWT_TYPE, **form) -> requests.Response:
    """RFC 8693 token exchange, no client authentication (Google's STS model)."""
    return post_token(server, {
        "grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": token_type, **form})


def present(server: Server, flow: str, account: dict, token: str, **form) -> requests.Response:
    if flow == "assertion":
        return assertion(server, account["client_id"], token, **form)
    return exchange(server, token, **form)


_jwks_cache: dict[str, KeySet] = {}


def verify_tessera(server: Server, token: str) -> dict:
    """A Tessera access token verified with joserfc against /.well-known/jwks.json."""
    if server.issuer not in _jwks_cache:
        jwks = requests.get(server.issuer + "/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200, jwks.text
        _jwks_cache[server.issuer] = KeySet.import_key_set(jwks.json())
    decoded = jose_jwt.decode(token, _jwks_cache[server.issuer], algorithms=["ES256"])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.issuer},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims


def scopes_of(claims_or_body: dict) -> set[str]:
    return set((claims_or_body.get("scope") or "").split())


def audiences(claims: dict) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else list(aud or [])


def granted(server: Server, flow: str, account: dict, token: str, what: str, **form) -> tuple[dict, dict]:
    """Presents `token` in `flow` and checks the answer is a Tessera access token for
    `account`; returns (the answer, the verified claims)."""
    response = present(server, flow, account, token, **form)
    assert response.status_code == 200, f"{what} ({flow}): {response.status_code} {response.text}"
    body = body_of(response)
    assert body.get("token_type") == "Bearer", body
    assert isinstance(body.get("expires_in"), int) and body["expires_in"] > 0, body
    if flow == "exchange":
        assert body.get("issued_token_type") == ACCESS_TOKEN_TYPE, body
    claims = verify_tessera(server, body["access_token"])
    assert claims["sub"] == account["id"], f"{what}: sub {claims['sub']} is not the account {account['id']}"
    assert claims.get("client_id") == account["client_id"], claims
    if "scope" in body:
        assert scopes_of(body) == scopes_of(claims), (body, claims)
    return body, claims


def refused(flow: str, response: requests.Response, what: str) -> dict:
    """The one refusal of the flow: 401 invalid_client (assertion) or 400 invalid_grant
    (exchange), whose description and challenge do not say why."""
    expected = (401, "invalid_client") if flow == "assertion" else (400, "invalid_grant")
    try:
        body = response.json()
    except ValueError:
        body = {}
    got = (response.status_code, body.get("error") if isinstance(body, dict) else None)
    assert got == expected, f"{what} ({flow}): expected {expected}, got {response.status_code} {response.text}"
    challenge = response.headers.get("WWW-Authenticate", "")
    if flow == "assertion":
        assert challenge, f"{what}: a 401 without WWW-Authenticate"
    said = f"{body.get('error_description') or ''} {challenge}"
    leaked = [pattern for pattern in LEAKS if re.search(pattern, said, re.IGNORECASE)]
    assert not leaked, f"{what} ({flow}): the refusal tells the caller why ({leaked}): {said!r}"
    return body


def refusal_signature(response: requests.Response) -> tuple:
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text}
    return (response.status_code, body.get("error"), body.get("error_description"),
            response.headers.get("WWW-Authenticate"))


# MARK: fixtures


@pytest.fixture(scope="module")
def tessera():
    instance = start_server("ES256", *SERVE_FLAGS)
    yield instance
    stop_server(instance)


@pytest.fixture(scope="module")
def acme(tessera) -> Admin:
    admin = Admin(tessera, tessera.bootstrap("acme"), "acme")
    role = admin.call("POST", "/v1/tenants/acme/roles", json={"name": ROLE, "scopes": [READ, WRITE]})
    assert role.status_code in (200, 201), f"create role {ROLE}: {role.status_code} {role.text}"
    return admin


def _issuer(name: str, **options):
    issuer = StandInIssuer(name, **options).start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def github():
    """GitHub Actions' issuer: discovery, keys at /.well-known/jwks."""
    yield from _issuer("github", jwks_path="/.well-known/jwks")


@pytest.fixture(scope="module")
def kubernetes():
    """A cluster's API server: discovery, keys at /openid/v1/jwks."""
    yield from _issuer("kubernetes", jwks_path="/openid/v1/jwks")


@pytest.fixture(scope="module")
def spire():
    """SPIRE's OIDC discovery provider: keys at /keys, EC keys published without alg."""
    yield from _issuer("spire", jwks_path="/keys", ec_alg_in_jwks=False)


@pytest.fixture(scope="module")
def stranger():
    """An issuer no credential trusts."""
    yield from _issuer("stranger")


@pytest.fixture(scope="module")
def globex(tessera, acme) -> Admin:
    """An admin of another tenant."""
    return Admin(tessera, tessera.bootstrap("globex"), "globex")


class Trust:
    """A service account and one federated credential, with `mint(**overrides)` making
    tokens the credential accepts unless the overrides break a rule."""

    def __init__(self, account: dict, credential: dict, mint: Callable[..., str]):
        self.account = account
        self.credential = credential
        self.mint = mint


@pytest.fixture(scope="module")
def gh(tessera, acme, github) -> Trust:
    """The docs' GitHub recipe: an environment-bound deploy job of acme/deploy."""
    account = acme.account("deploy")
    credential = acme.credential(
        account, name="deploy", issuer=github.issuer, subject=f"repo:{GH_REPO}:environment:production",
        claims={"repository": GH_REPO, "job_workflow_ref": GH_WORKFLOW})

    def mint(audience=None, **kw) -> str:
        return github.github_token(GH_REPO, audience or tessera.issuer, environment="production", **kw)

    return Trust(account, credential, mint)


@pytest.fixture(scope="module")
def k8s(tessera, acme, kubernetes) -> Trust:
    """The docs' Kubernetes recipe: the pods of shop/orders."""
    account = acme.account("orders")
    credential = acme.credential(account, name="orders-pod", issuer=kubernetes.issuer,
                                 subject=f"system:serviceaccount:{K8S_NAMESPACE}:{K8S_ACCOUNT}")

    def mint(audience=None, **kw) -> str:
        return kubernetes.kubernetes_token(K8S_NAMESPACE, K8S_ACCOUNT, audience or tessera.issuer, **kw)

    return Trust(account, credential, mint)


@pytest.fixture(scope="module")
def svid(tessera, acme, spire) -> Trust:
    """The docs' SPIFFE recipe: the billing worker's JWT-SVIDs."""
    account = acme.account("billing")
    credential = acme.credential(account, name="billing", issuer=spire.issuer, subject=SPIFFE_ID)

    def mint(audience=None, **kw) -> str:
        return spire.spiffe_svid(SPIFFE_ID, audience or tessera.issuer, **kw)

    return Trust(account, credential, mint)


@pytest.fixture(scope="module")
def trusts(gh, k8s, svid) -> dict[str, Trust]:
    return {"github": gh, "kubernetes": k8s, "spiffe": svid}


# MARK: discovery and the OpenAPI document


def test_discovery_lists_the_token_exchange_grant(tessera):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        response = requests.get(tessera.issuer + path, timeout=10)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        grants = response.json().get("grant_types_supported") or []
        assert TOKEN_EXCHANGE in grants, f"{path}: grant_types_supported = {grants}"
        assert "client_credentials" in grants, grants


def test_openapi_describes_the_federated_credential_routes(tessera):
    response = requests.get(tessera.issuer + "/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    collection = [p for p in paths if p.endswith("/federated-credentials")]
    item = [p for p in paths if re.search(r"/federated-credentials/\{[^}]+\}$", p)]
    dry_run = [p for p in paths if p.endswith("/federated-credentials:test")]
    assert collection and {"get", "post"} <= set(paths[collection[0]]), sorted(p for p in paths if "federated" in p)
    assert item and "delete" in paths[item[0]], sorted(p for p in paths if "federated" in p)
    assert dry_run and "post" in paths[dry_run[0]], sorted(p for p in paths if "federated" in p)


# MARK: the admin API


def test_create_echoes_the_documented_fields_and_defaults_the_audience(tessera, acme, kubernetes):
    account = acme.account("echo")
    # The docs' example, as it stands (creating it fetches nothing it would need).
    created = acme.add_credential(
        account, name="deploy-from-main", issuer="https://token.actions.githubusercontent.com",
        subject="repo:acme/deploy:ref:refs/heads/main", claims={"environment": "production"}, scopes=["deploy"])
    assert created.status_code == 201, created.text
    credential = created.json()
    assert isinstance(credential.get("id"), str) and credential["id"], credential
    assert credential["service_account_id"] == account["id"], credential
    expected = {
        "name": "deploy-from-main", "issuer": "https://token.actions.githubusercontent.com",
        "audience": tessera.issuer, "subject": "repo:acme/deploy:ref:refs/heads/main",
        "claims": {"environment": "production"}, "scopes": ["deploy"], "jwks_uri": None, "jwks": None,
        "allow_without_jti": False,
    }
    assert {k: credential.get(k, "<missing>") for k in expected} == expected
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", credential.get("created_at") or ""), credential

    # Every optional field given is echoed as given.
    jwks = kubernetes.jwks()
    inline = acme.add_credential(
        account, name="air.gapped_1", issuer=kubernetes.issuer, audience="api://tessera",
        claims={"kubernetes.io.namespace": "batch"}, jwks=jwks, allow_without_jti=True)
    assert inline.status_code == 201, inline.text
    echoed = inline.json()
    assert (echoed["audience"], echoed["jwks"], echoed["allow_without_jti"], echoed["jwks_uri"]) == \
        ("api://tessera", jwks, True, None), echoed
    assert echoed.get("subject") is None, echoed
    assert echoed["claims"] == {"kubernetes.io.namespace": "batch"}, echoed

    by_uri = acme.add_credential(account, name="by-uri", issuer=kubernetes.issuer,
                                 subject="system:serviceaccount:batch:cron", jwks_uri=kubernetes.jwks_uri)
    assert by_uri.status_code == 201, by_uri.text
    assert by_uri.json()["jwks_uri"] == kubernetes.jwks_uri, by_uri.json()
    assert by_uri.json()["audience"] == tessera.issuer, by_uri.json()


def test_list_and_delete(tessera, acme, github):
    account = acme.account("listing")
    repo = f"acme/{unique('listed')}"
    first = acme.credential(account, issuer=github.issuer, subject=f"repo:{repo}:ref:refs/heads/main")
    second = acme.credential(account, issuer=github.issuer, subject=f"repo:{repo}:environment:production")
    response = acme.call("GET", acme.credentials_path(account["id"]))
    assert response.status_code == 200, response.text
    assert response.json().get("next_cursor") is None, response.json()
    listed = {c["id"]: c for c in response.json()["items"]}
    assert set(listed) == {first["id"], second["id"]}, listed
    assert listed[first["id"]] == first, "the list does not show the credential as created"

    # A token the first credential accepts, until it is deleted.
    assert exchange(tessera, github.github_token(repo, tessera.issuer)).status_code == 200

    deleted = acme.call("DELETE", f"{acme.credentials_path(account['id'])}/{first['id']}")
    assert deleted.status_code == 204, f"{deleted.status_code} {deleted.text}"
    assert [c["id"] for c in acme.list_credentials(account)] == [second["id"]]
    again = acme.call("DELETE", f"{acme.credentials_path(account['id'])}/{first['id']}")
    assert again.status_code == 404, f"deleting it again: {again.status_code} {again.text}"

    refused("exchange", exchange(tessera, github.github_token(repo, tessera.issuer)), "a token of a deleted credential")
    refused("assertion", assertion(tessera, account["client_id"], github.github_token(repo, tessera.issuer)),
            "a token of a deleted credential")


def test_a_duplicate_name_is_409(acme, github):
    account = acme.account("dupes")
    name = unique("same")
    acme.credential(account, name=name, issuer=github.issuer, subject=f"repo:acme/{unique('a')}:*")
    duplicate = acme.add_credential(account, name=name, issuer=github.issuer, subject=f"repo:acme/{unique('b')}:*")
    assert duplicate.status_code == 409, f"{duplicate.status_code} {duplicate.text}"
    assert len(acme.list_credentials(account)) == 1
    # Names are unique per account, not per tenant.
    other = acme.account("dupes-other")
    acme.credential(other, name=name, issuer=github.issuer, subject=f"repo:acme/{unique('c')}:*")


BAD_INPUT = {
    "no condition": ({}, {"subject", "claims"}),
    "subject only *": ({"subject": "*"}, {"subject"}),
    "subject only **": ({"subject": "**"}, {"subject"}),
    "claims only *": ({"claims": {"repository": "*"}}, {"claims", "subject"}),
    "subject and claims only *": ({"subject": "*", "claims": {"environment": "*"}}, {"subject", "claims"}),
    "http issuer not loopback": ({"issuer": "http://issuer.example.com", "subject": "x"}, {"issuer"}),
    "issuer with a query": ({"issuer": "https://issuer.example.com?tenant=1", "subject": "x"}, {"issuer"}),
    "issuer with a fragment": ({"issuer": "https://issuer.example.com#keys", "subject": "x"}, {"issuer"}),
    "issuer not a URL": ({"issuer": "token.actions.githubusercontent.com", "subject": "x"}, {"issuer"}),
    "jwks_uri http not loopback": ({"subject": "x", "jwks_uri": "http://keys.example.com/jwks"}, {"jwks_uri"}),
    "empty name": ({"name": "", "subject": "x"}, {"name"}),
    "name with a space": ({"name": "has space", "subject": "x"}, {"name"}),
    "name with a slash": ({"name": "a/b", "subject": "x"}, {"name"}),
    "name of 65 characters": ({"name": "n" * 65, "subject": "x"}, {"name"}),
    "name not ASCII": ({"name": "déploiement", "subject": "x"}, {"name"}),
    "unknown member": ({"subject": "x", "subjects": ["y"]}, {"subjects"}),
    "claims not an object": ({"claims": ["repository"]}, {"claims"}),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_400_naming_the_field(acme, github, case):
    account = acme.account("bad-input")
    overrides, fields = BAD_INPUT[case]
    body = {"name": unique("bad"), "issuer": github.issuer, **overrides}
    response = acme.call("POST", acme.credentials_path(account["id"]), json=body)
    assert response.status_code == 400, f"{case}: {body} answered {response.status_code} {response.text}"
    problem = body_of(response)
    assert problem.get("field") in fields, f"{case}: the problem names {problem.get('field')!r}, not one of {fields}: {problem}"
    assert acme.list_credentials(account) == [], f"{case}: a refused credential was stored"


def test_a_name_of_64_characters_is_accepted(acme, github):
    account = acme.account("long-name")
    name = "A-z0.9_" + "x" * 57
    assert len(name) == 64
    assert acme.credential(account, name=name, issuer=github.issuer, subject=f"repo:acme/{unique('n')}:*")["name"] == name


def test_a_loopback_http_issuer_needs_the_flag(server_factory, github):
    plain = server_factory("ES256")  # without --federation-allow-loopback-http
    admin = Admin(plain, plain.bootstrap("acme"), "acme")
    account = admin.account("no-flag", roles=("consumer",))
    response = admin.add_credential(account, issuer=github.issuer, subject="repo:acme/deploy:*")
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    assert body_of(response).get("field") == "issuer", response.text
    https = admin.add_credential(account, issuer="https://token.actions.githubusercontent.com",
                                 subject="repo:acme/deploy:*", jwks_uri=github.jwks_uri)
    assert https.status_code == 400, f"an http jwks_uri without the flag: {https.status_code} {https.text}"
    assert body_of(https).get("field") == "jwks_uri", https.text


def test_another_tenant_cannot_see_or_touch_the_credentials(tessera, acme, globex, github):
    account = acme.account("isolated")
    repo = f"acme/{unique('isolated')}"
    credential = acme.credential(account, issuer=github.issuer, subject=f"repo:{repo}:*")
    item = f"{acme.credentials_path(account['id'])}/{credential['id']}"

    attempts = {
        "list acme's": globex.call("GET", acme.credentials_path(account["id"])),
        "create on acme's account": globex.call("POST", acme.credentials_path(account["id"]), json={
            "name": unique("intruder"), "issuer": github.issuer, "subject": "repo:globex/evil:*"}),
        "delete acme's": globex.call("DELETE", item),
        "dry run in acme": globex.call("POST", "/v1/tenants/acme/federated-credentials:test",
                                       json={"token": github.github_token(repo, tessera.issuer)}),
    }
    for what, response in attempts.items():
        assert response.status_code in (403, 404), f"globex admin, {what}: {response.status_code} {response.text}"
    # Through its own tenant's path, acme's account does not exist.
    for method, path in (("GET", globex.credentials_path(account["id"])),
                         ("DELETE", f"{globex.credentials_path(account['id'])}/{credential['id']}")):
        response = globex.call(method, path)
        assert response.status_code == 404, f"globex {method} {path}: {response.status_code} {response.text}"

    assert [c["id"] for c in acme.list_credentials(account)] == [credential["id"]], "globex changed acme's credentials"

    # globex's dry run only ever considers globex's credentials.
    own = globex.dry_run(github.github_token(repo, tessera.issuer))
    assert own.status_code == 200, own.text
    assert own.json().get("matched") is None, own.json()
    assert credential["id"] not in json.dumps(own.json()), f"acme's credential shows in globex's dry run: {own.json()}"


def test_create_and_delete_are_audited(acme, github):
    account = acme.account("audited")
    credential = acme.credential(account, issuer=github.issuer, subject=f"repo:acme/{unique('audited')}:*")
    deleted = acme.call("DELETE", f"{acme.credentials_path(account['id'])}/{credential['id']}")
    assert deleted.status_code == 204, deleted.text

    def federated_events(verb: str) -> list[dict]:
        return [e for e in acme.audit(outcome="success")
                if "federated" in e.get("action", "").lower() and verb in e.get("action", "").lower()
                and (e.get("resource_id") in (credential["id"], account["id"]) or credential["id"] in json.dumps(e))]

    eventually(lambda: len(federated_events("create")) >= 1, True, "a federated-credential create in the audit log")
    eventually(lambda: len(federated_events("delete")) >= 1, True, "a federated-credential delete in the audit log")
    event = federated_events("create")[0]
    assert event.get("actor") == acme.credentials.get("service_account_id"), event


# MARK: both flows, each token shape


SHAPES = ("kubernetes", "github", "spiffe")


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("shape", SHAPES)
def test_each_token_shape_obtains_a_token(tessera, trusts, shape, flow):
    trust = trusts[shape]
    external = trust.mint()
    if shape == "spiffe":
        assert "jti" not in claims_of(external) and claims_of(external)["exp"] - claims_of(external)["iat"] == 300
    body, claims = granted(tessera, flow, trust.account, external, f"a {shape} token")
    assert scopes_of(claims) == {READ, WRITE}, f"the account's roles decide the scope: {claims}"
    assert tessera.issuer in audiences(claims), claims
    assert claims["exp"] > now(), claims
    assert "act" not in claims, claims


def test_exchange_takes_an_id_token_type(tessera, gh):
    granted(tessera, "exchange", gh.account, gh.mint(), "an id_token subject", token_type=ID_TOKEN_TYPE)


def test_exchange_with_a_client_id_names_the_account(tessera, k8s):
    granted(tessera, "exchange", k8s.account, k8s.mint(), "exchange naming the account",
            client_id=k8s.account["client_id"])


def test_exchange_asks_for_a_permitted_audience(tessera, acme, kubernetes):
    namespace = unique("ns-aud")
    account = acme.account("audiences", audiences=[ORDERS])
    acme.credential(account, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{namespace}:api")
    mint = lambda: kubernetes.kubernetes_token(namespace, "api", tessera.issuer)  # noqa: E731
    for parameter in ("resource", "audience"):
        _, claims = granted(tessera, "exchange", account, mint(), f"{parameter}={ORDERS}", **{parameter: ORDERS})
        assert ORDERS in audiences(claims), claims
        other = exchange(tessera, mint(), **{parameter: "https://payroll.example.com"})
        assert other.status_code == 400 and body_of(other).get("error") == "invalid_target", \
            f"{parameter} not among the account's audiences: {other.status_code} {other.text}"


def test_the_assertion_must_match_the_named_account(tessera, acme, globex, github):
    """The account is the one client_id names: another account's token is refused, in
    any tenant, and an exchange naming the wrong account finds nothing."""
    repo = f"acme/{unique('named')}"
    owner = acme.account("named-owner")
    acme.credential(owner, issuer=github.issuer, subject=f"repo:{repo}:ref:refs/heads/main")
    bystander = acme.account("named-bystander")
    foreign = globex.account("foreign", roles=("consumer",))
    mint = lambda: github.github_token(repo, tessera.issuer)  # noqa: E731

    granted(tessera, "assertion", owner, mint(), "the owner's own token")
    for other in (bystander, foreign):
        refused("assertion", assertion(tessera, other["client_id"], mint()), "another account's token")
        refused("exchange", exchange(tessera, mint(), client_id=other["client_id"]), "naming another account")


# MARK: claim conditions


@pytest.mark.parametrize("flow", FLOWS)
def test_github_claim_conditions(tessera, acme, github, flow):
    """The repository, environment and (reusable) job workflow all have to match."""
    repo = f"acme/{unique('service')}"
    shared = "acme/platform/.github/workflows/deploy.yml@refs/heads/main"
    account = acme.account("gh-claims")
    acme.credential(account, issuer=github.issuer, subject=f"repo:{repo}:environment:production",
                    claims={"repository": repo, "environment": "production", "job_workflow_ref": shared})

    def mint(**claims) -> str:
        return github.github_token(repo, tessera.issuer, environment="production",
                                   claims={"job_workflow_ref": shared, **claims})

    granted(tessera, flow, account, mint(), "all conditions met")
    broken = {
        "repository": mint(repository=f"acme/{unique('other')}"),
        "environment": mint(environment="staging"),
        "job_workflow_ref": mint(job_workflow_ref=f"{repo}/.github/workflows/deploy.yml@refs/heads/main"),
        "job_workflow_ref of a branch": mint(job_workflow_ref=shared.replace("refs/heads/main", "refs/heads/dev")),
        "environment missing": mint(environment=DROP),
    }
    for what, token in broken.items():
        refused(flow, present(tessera, flow, account, token), f"{what} not as the credential says")


@pytest.mark.parametrize("flow", FLOWS)
def test_kubernetes_nested_claim_conditions(tessera, acme, kubernetes, flow):
    """kubernetes.io.namespace and kubernetes.io.serviceaccount.name read the nested
    objects; the credential has no subject condition at all."""
    namespace = unique("payments")
    account = acme.account("k8s-claims")
    credential = acme.credential(account, issuer=kubernetes.issuer, claims={
        "kubernetes.io.namespace": namespace, "kubernetes.io.serviceaccount.name": "ledger-writer"})
    assert credential.get("subject") is None, credential

    granted(tessera, flow, account, kubernetes.kubernetes_token(namespace, "ledger-writer", tessera.issuer),
            "namespace and service account match")
    for what, token in {
        "another service account": kubernetes.kubernetes_token(namespace, "ledger-reader", tessera.issuer),
        "another namespace": kubernetes.kubernetes_token(unique("payments"), "ledger-writer", tessera.issuer),
    }.items():
        refused(flow, present(tessera, flow, account, token), what)


def test_glob_on_the_subject(tessera, acme, github):
    """`*` is any run of characters (also none), matched against the whole value; every
    other character stands for itself."""
    repo = f"acme/{unique('glob')}"
    account = acme.account("glob")
    acme.credential(account, issuer=github.issuer, subject=f"repo:{repo}:*")
    release = f"acme/v1.0-{unique('rel')}"
    releases = acme.account("glob-releases")
    acme.credential(releases, issuer=github.issuer, subject=f"repo:{release}:ref:refs/heads/release/*")

    accepted = {
        "a branch": (account, github.github_token(repo, tessera.issuer, ref="refs/heads/main")),
        "an environment": (account, github.github_token(repo, tessera.issuer, environment="production")),
        "a pull request": (account, github.github_token(repo, tessera.issuer, event_name="pull_request",
                                                        claims={"sub": f"repo:{repo}:pull_request"})),
        "a release branch": (releases, github.github_token(release, tessera.issuer, ref="refs/heads/release/2024.1")),
        "* as nothing": (releases, github.github_token(release, tessera.issuer, ref="refs/heads/release/")),
    }
    for what, (owner, token) in accepted.items():
        granted(tessera, "exchange", owner, token, f"glob matches {what}")

    not_matching = {
        "a repository with the same prefix": github.github_token(f"{repo}-fork", tessera.issuer),
        "a prefix before the pattern": github.github_token(repo, tessera.issuer, claims={"sub": f"x-repo:{repo}:ref:main"}),
        ". is not any character": github.github_token(release.replace("v1.0", "v1x0"), tessera.issuer,
                                                      ref="refs/heads/release/1"),
        "releases/ is not release/": github.github_token(release, tessera.issuer, ref="refs/heads/releases/1"),
    }
    for what, token in not_matching.items():
        refused("exchange", exchange(tessera, token), f"glob must not match {what}")


def test_integer_and_boolean_claims_match_as_their_json_text(tessera, acme, kubernetes):
    namespace = unique("typed")
    account = acme.account("typed")
    acme.credential(account, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{namespace}:job",
                    claims={"build": "42", "trusted": "true"})
    mint = lambda **claims: kubernetes.kubernetes_token(namespace, "job", tessera.issuer, claims=claims)  # noqa: E731
    granted(tessera, "exchange", account, mint(build=42, trusted=True), "42 and true")
    for what, token in {
        "another integer": mint(build=43, trusted=True),
        "false": mint(build=42, trusted=False),
        "an array holding the value": mint(build=[42], trusted=True),
        "the claim missing": mint(build=DROP, trusted=True),
    }.items():
        refused("exchange", exchange(tessera, token), what)

    # `*` still needs the claim to be there and to be a scalar.
    objects = acme.account("typed-star")
    other = unique("typed")
    acme.credential(objects, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{other}:job",
                    claims={"kubernetes.io.pod": "*", "cluster": "*"})
    refused("exchange", exchange(tessera, kubernetes.kubernetes_token(other, "job", tessera.issuer, claims={"cluster": "eu-1"})),
            "an object claim against *")
    flat = acme.account("typed-missing")
    third = unique("typed")
    acme.credential(flat, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{third}:job", claims={"cluster": "*"})
    granted(tessera, "exchange", flat, kubernetes.kubernetes_token(third, "job", tessera.issuer, claims={"cluster": "eu-1"}),
            "a present string claim against *")
    refused("exchange", exchange(tessera, kubernetes.kubernetes_token(third, "job", tessera.issuer)),
            "a missing claim against *")


# MARK: safety rules, one refusal each


@pytest.mark.parametrize("flow", FLOWS)
def test_wrong_issuer_is_refused(tessera, gh, github, stranger, flow):
    granted(tessera, flow, gh.account, gh.mint(), "control")
    # The same claims from an issuer no credential trusts, signed with its own keys.
    foreign = stranger.github_token(GH_REPO, tessera.issuer, environment="production")
    refused(flow, present(tessera, flow, gh.account, foreign), "a token of another issuer")
    assert stranger.requests_seen == 0, "Tessera fetched from an issuer it only learned from a token"
    # Signed by the trusted issuer, but iss is not exactly the registered one.
    for iss in (github.issuer + "/", github.issuer.replace("127.0.0.1", "localhost"), "https://token.actions.githubusercontent.com"):
        refused(flow, present(tessera, flow, gh.account, gh.mint(claims={"iss": iss})), f"iss {iss}")
    refused(flow, present(tessera, flow, gh.account, gh.mint(claims={"iss": DROP})), "no iss")


@pytest.mark.parametrize("flow", FLOWS)
def test_wrong_audience_is_refused(tessera, acme, k8s, gh, kubernetes, flow):
    granted(tessera, flow, k8s.account, k8s.mint(audience=["https://kubernetes.default.svc", tessera.issuer]),
            "control: aud contains the issuer URL among others")
    for aud in (["https://kubernetes.default.svc"], [tessera.issuer + "/"], [], "https://kubernetes.default.svc"):
        refused(flow, present(tessera, flow, k8s.account, k8s.mint(claims={"aud": aud})), f"aud {aud!r}")
    refused(flow, present(tessera, flow, k8s.account, k8s.mint(claims={"aud": DROP})), "no aud")
    refused(flow, present(tessera, flow, gh.account, gh.mint(audience="https://github.com/acme")), "GitHub's default aud")

    # A credential with its own audience wants that one, not the issuer URL.
    namespace = unique("ns-own-aud")
    account = acme.account("own-audience")
    acme.credential(account, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{namespace}:api",
                    audience="sts.acme.example")
    granted(tessera, flow, account, kubernetes.kubernetes_token(namespace, "api", "sts.acme.example"), "its audience")
    refused(flow, present(tessera, flow, account, kubernetes.kubernetes_token(namespace, "api", tessera.issuer)),
            "the issuer URL where the credential names another audience")


@pytest.mark.parametrize("flow", FLOWS)
def test_expired_token_is_refused(tessera, gh, flow):
    granted(tessera, flow, gh.account, gh.mint(issued_at=now() - 200), "control: issued 200 s ago, 100 s left")
    refused(flow, present(tessera, flow, gh.account, gh.mint(issued_at=now() - 1000)), "expired 700 s ago")
    refused(flow, present(tessera, flow, gh.account, gh.mint(issued_at=now() - 450)), "expired 150 s ago")


@pytest.mark.parametrize("flow", FLOWS)
def test_token_without_exp_is_refused(tessera, gh, flow):
    refused(flow, present(tessera, flow, gh.account, gh.mint(claims={"exp": DROP})), "no exp")
    refused(flow, present(tessera, flow, gh.account, gh.mint(claims={"exp": str(now() + 300)})), "exp a string")


@pytest.mark.parametrize("flow", FLOWS)
def test_exp_more_than_24_hours_ahead_is_refused(tessera, k8s, flow):
    granted(tessera, flow, k8s.account, k8s.mint(lifetime=23 * 3600), "control: 23 h")
    refused(flow, present(tessera, flow, k8s.account, k8s.mint(lifetime=25 * 3600)), "25 h")
    refused(flow, present(tessera, flow, k8s.account, k8s.mint(lifetime=365 * 86400)), "a year")


@pytest.mark.parametrize("flow", FLOWS)
def test_iat_in_the_future_is_refused(tessera, gh, flow):
    granted(tessera, flow, gh.account, gh.mint(issued_at=now() + 10), "control: iat 10 s ahead, within leeway")
    refused(flow, present(tessera, flow, gh.account, gh.mint(issued_at=now() + 120)), "iat 120 s ahead")


@pytest.mark.parametrize("flow", FLOWS)
def test_nbf_in_the_future_is_refused(tessera, k8s, flow):
    granted(tessera, flow, k8s.account, k8s.mint(claims={"nbf": now() + 10}), "control: nbf 10 s ahead, within leeway")
    refused(flow, present(tessera, flow, k8s.account, k8s.mint(claims={"nbf": now() + 120})), "nbf 120 s ahead")


@pytest.mark.parametrize("flow", FLOWS)
def test_replayed_jti_is_refused(tessera, gh, k8s, flow):
    for trust in (gh, k8s):
        token = trust.mint()
        granted(tessera, flow, trust.account, token, "first use")
        refused(flow, present(tessera, flow, trust.account, token), "the same token again")
        # Another token with the same jti is the same replay.
        jti = claims_of(token)["jti"]
        refused(flow, present(tessera, flow, trust.account, trust.mint(claims={"jti": jti})), "a new token, same jti")
    # Spent in one flow, it is spent in the other.
    other = "exchange" if flow == "assertion" else "assertion"
    token = gh.mint()
    granted(tessera, flow, gh.account, token, "first use")
    refused(other, present(tessera, other, gh.account, token), f"spent by {flow}, presented to {other}")


@pytest.mark.parametrize("flow", FLOWS)
def test_token_without_jti_living_10_minutes_or_more_is_refused(tessera, acme, svid, gh, spire, flow):
    granted(tessera, flow, svid.account, svid.mint(lifetime=300), "control: no jti, 5 minutes")
    refused(flow, present(tessera, flow, svid.account, svid.mint(lifetime=660)), "no jti, 11 minutes")
    refused(flow, present(tessera, flow, svid.account, svid.mint(lifetime=3600)), "no jti, an hour")
    refused(flow, present(tessera, flow, gh.account, gh.mint(lifetime=900, claims={"jti": DROP})), "GitHub, no jti, 15 min")

    # Unless the credential says allow_without_jti.
    spiffe_id = f"spiffe://example.org/ns/{unique('batch')}/sa/nightly"
    account = acme.account("no-jti")
    acme.credential(account, issuer=spire.issuer, subject=spiffe_id, allow_without_jti=True)
    granted(tessera, flow, account, spire.spiffe_svid(spiffe_id, tessera.issuer, lifetime=3600), "allow_without_jti")


@pytest.mark.parametrize("flow", FLOWS)
def test_kubernetes_default_service_account_needs_naming(tessera, acme, kubernetes, flow):
    namespace = unique("ns")
    account = acme.account("k8s-any")
    acme.credential(account, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{namespace}:*")
    token = lambda ns, sa: kubernetes.kubernetes_token(ns, sa, tessera.issuer)  # noqa: E731
    granted(tessera, flow, account, token(namespace, "orders"), "control: a named account through the glob")
    refused(flow, present(tessera, flow, account, token(namespace, "default")), "default through a glob subject")

    by_claims = acme.account("k8s-claims-glob")
    other = unique("ns")
    acme.credential(by_claims, issuer=kubernetes.issuer, claims={
        "kubernetes.io.namespace": other, "kubernetes.io.serviceaccount.name": "*"})
    granted(tessera, flow, by_claims, token(other, "worker"), "control: a named account through a claims glob")
    refused(flow, present(tessera, flow, by_claims, token(other, "default")), "default through a claims glob")

    # Named exactly, by subject or by claim, it is accepted.
    exact = acme.account("k8s-default")
    third = unique("ns")
    acme.credential(exact, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{third}:default")
    granted(tessera, flow, exact, token(third, "default"), "default named by subject")
    named = acme.account("k8s-default-claim")
    fourth = unique("ns")
    acme.credential(named, issuer=kubernetes.issuer, claims={
        "kubernetes.io.namespace": fourth, "kubernetes.io.serviceaccount.name": "default"})
    granted(tessera, flow, named, token(fourth, "default"), "default named by claim")


def test_ambiguous_match_is_refused_unless_client_id_says(tessera, acme, github):
    repo = f"acme/{unique('shared')}"
    first = acme.account("ambiguous-a")
    acme.credential(first, issuer=github.issuer, subject=f"repo:{repo}:ref:refs/heads/main")
    second = acme.account("ambiguous-b")
    acme.credential(second, issuer=github.issuer, subject=f"repo:{repo}:*")
    mint = lambda: github.github_token(repo, tessera.issuer)  # noqa: E731

    refused("exchange", exchange(tessera, mint()), "a token two accounts' credentials match")
    granted(tessera, "exchange", first, mint(), "client_id names the first", client_id=first["client_id"])
    granted(tessera, "exchange", second, mint(), "client_id names the second", client_id=second["client_id"])
    granted(tessera, "assertion", first, mint(), "the assertion flow names its account")

    dry = acme.dry_run(mint())
    assert dry.status_code == 200, dry.text
    assert dry.json()["matched"] is None, f"an ambiguous dry run matched: {dry.json()}"
    # Both accounts are candidates, and the words say why neither is used. (Whether
    # `matches` is then true, "its conditions hold", or false, "it is not used", the
    # docs leave open: not asserted.)
    candidates = {c["service_account_id"]: c for c in dry.json()["candidates"]}
    assert {first["id"], second["id"]} <= set(candidates), dry.json()
    for account in (first, second):
        assert candidates[account["id"]].get("reasons"), f"no reasons given for an ambiguous match: {dry.json()}"
    named = acme.dry_run(mint(), client_id=second["client_id"])
    assert named.status_code == 200, named.text
    assert (named.json()["matched"] or {}).get("service_account_id") == second["id"], named.json()


@pytest.mark.parametrize("flow", FLOWS)
def test_token_signed_with_an_unpublished_key_is_refused(tessera, gh, svid, github, spire, flow):
    granted(tessera, flow, gh.account, gh.mint(), "control")
    impostor = new_key("RS256", kid=github.rsa.kid)  # the published kid, other key material
    refused(flow, present(tessera, flow, gh.account, gh.mint(key=impostor)), "an unpublished key under the published kid")
    refused(flow, present(tessera, flow, gh.account, gh.mint(key=new_key("RS256"))), "an unpublished key, unknown kid")
    refused(flow, present(tessera, flow, gh.account, gh.mint(header={"kid": DROP}, key=impostor)), "no kid, other key")
    refused(flow, present(tessera, flow, svid.account, svid.mint(key=new_key("ES256", kid=spire.ec.kid))),
            "an unpublished EC key under the published kid")
    # A valid signature over other claims: the token's claims tampered after signing.
    token = gh.mint()
    head, _, signature = token.split(".")
    tampered = {**claims_of(token), "jti": str(uuid.uuid4())}
    forged = ".".join((head, b64url(json.dumps(tampered).encode()), signature))
    refused(flow, present(tessera, flow, gh.account, forged), "claims changed after signing")


@pytest.mark.parametrize("flow", FLOWS)
def test_hmac_tokens_are_refused(tessera, gh, github, flow):
    """HS256 keyed with the issuer's public key (the algorithm-confusion attack), or
    with anything else: the key states RS256."""
    for what, secret in {**github.public_key_secrets(), "a guessable secret": b"secret"}.items():
        for alg in ("HS256", "HS512"):
            claims = claims_of(gh.mint())
            forged = github.hmac_token(claims, secret, kid=github.rsa.kid, alg=alg)
            refused(flow, present(tessera, flow, gh.account, forged), f"{alg} keyed with {what}")


@pytest.mark.parametrize("flow", FLOWS)
def test_alg_none_is_refused(tessera, gh, github, flow):
    for alg in ("none", "None", "NONE", "nOnE"):
        forged = github.unsigned_token(claims_of(gh.mint()), alg=alg, kid=github.rsa.kid)
        refused(flow, present(tessera, flow, gh.account, forged), f"alg {alg}")
    # A real signature kept, but the header says none.
    token = gh.mint()
    _, payload, signature = token.split(".")
    header = b64url(json.dumps({"alg": "none", "kid": github.rsa.kid}).encode())
    refused(flow, present(tessera, flow, gh.account, f"{header}.{payload}.{signature}"), "alg none with a signature")


@pytest.mark.parametrize("flow", FLOWS)
def test_an_algorithm_other_than_the_keys_is_refused(tessera, gh, github, flow):
    """The key's alg (RS256) decides, not the header: the same RSA key signing PS256 or
    RS512 under its kid is refused."""
    for alg in ("PS256", "RS512"):
        token = gh.mint(header={"alg": alg}, key=untagged(github.rsa))
        refused(flow, present(tessera, flow, gh.account, token), f"{alg} with the RS256 key")


@pytest.mark.parametrize("flow", FLOWS)
def test_claim_condition_not_met_is_refused(tessera, gh, flow):
    granted(tessera, flow, gh.account, gh.mint(), "control")
    cases = {
        "another repository": {"repository": "acme/deploy-tools"},
        "a workflow of another branch": {"job_workflow_ref": GH_WORKFLOW.replace("refs/heads/main", "refs/heads/dev")},
        "the repository missing": {"repository": DROP},
        "the repository as an array": {"repository": [GH_REPO]},
        "the repository as an object": {"repository": {"name": GH_REPO}},
        "another subject": {"sub": f"repo:{GH_REPO}:environment:staging"},
        "no subject": {"sub": DROP},
    }
    for what, claims in cases.items():
        refused(flow, present(tessera, flow, gh.account, gh.mint(claims=claims)), what)


@pytest.mark.parametrize("flow", FLOWS)
def test_keys_are_never_fetched_from_urls_in_the_token(tessera, gh, flow):
    """A token that names its own keys (jku, x5u) under an unknown kid: the URLs are
    never fetched, and the token is refused."""
    attacker = StandInIssuer("attacker").start()
    try:
        key = attacker.rsa
        for member in ("jku", "x5u"):
            token = gh.mint(key=key, header={member: attacker.jwks_uri, "kid": key.kid})
            refused(flow, present(tessera, flow, gh.account, token), f"{member} to the attacker's keys")
        token = gh.mint(key=key, claims={"iss": attacker.issuer}, header={"jku": attacker.jwks_uri})
        refused(flow, present(tessera, flow, gh.account, token), "iss and jku both the attacker's")
        assert attacker.requests_seen == 0, f"Tessera fetched from a URL in a token: {attacker.hits}"
    finally:
        attacker.stop()


@pytest.mark.parametrize("flow", FLOWS)
def test_refusals_are_indistinguishable(tessera, gh, github, stranger, flow):
    """Every failure is the same answer: nothing in it tells one reason from another."""
    spent = gh.mint()
    granted(tessera, flow, gh.account, spent, "spend a jti")
    answers = {
        "no credential trusts the issuer": present(tessera, flow, gh.account,
                                                   stranger.github_token(GH_REPO, tessera.issuer, environment="production")),
        "expired": present(tessera, flow, gh.account, gh.mint(issued_at=now() - 1000)),
        "wrong audience": present(tessera, flow, gh.account, gh.mint(audience="https://elsewhere.example.com")),
        "unpublished key": present(tessera, flow, gh.account, gh.mint(key=new_key("RS256", kid=github.rsa.kid))),
        "claim not met": present(tessera, flow, gh.account, gh.mint(claims={"repository": "acme/other"})),
        "replayed": present(tessera, flow, gh.account, spent),
        "alg none": present(tessera, flow, gh.account, github.unsigned_token(claims_of(gh.mint()))),
        "HS256 keyed with the public key": present(tessera, flow, gh.account, github.hmac_token(
            claims_of(gh.mint()), github.public_key_secrets()["spki-pem"])),
        "no exp": present(tessera, flow, gh.account, gh.mint(claims={"exp": DROP})),
    }
    for what, response in answers.items():
        refused(flow, response, what)
    signatures = {}
    for what, response in answers.items():
        signatures.setdefault(refusal_signature(response), []).append(what)
    assert len(signatures) == 1, f"the refusals differ ({flow}): {signatures}"


@pytest.mark.parametrize("flow", FLOWS)
def test_a_refusal_is_audited_with_its_reason(tessera, acme, gh, flow):
    token = gh.mint(issued_at=now() - 1000)
    if flow == "assertion":
        refused(flow, assertion(tessera, gh.account["client_id"], token), "expired")
    else:
        refused(flow, exchange(tessera, token, client_id=gh.account["client_id"]), "expired")
    action = f"federation.{flow}"

    def events() -> list[dict]:
        return [e for e in acme.audit(action=action, outcome="failure") if re.search(r"expir|\bexp\b", json.dumps(e), re.I)]

    eventually(lambda: bool(events()), True, f"a failed {action} naming the expiry in acme's audit log")
    assert token not in json.dumps(acme.audit(action=action)), "the external token itself entered the audit log"


# MARK: the issuer's keys


def test_rotated_issuer_keys_are_refetched_at_most_every_10_seconds(tessera, acme):
    rotating = StandInIssuer("rotating", jwks_path="/openid/v1/jwks", max_age=3600).start()
    try:
        namespace = unique("rotating")
        account = acme.account("rotating")
        acme.credential(account, issuer=rotating.issuer, subject=f"system:serviceaccount:{namespace}:app")
        mint = lambda **kw: rotating.kubernetes_token(namespace, "app", tessera.issuer, **kw)  # noqa: E731

        old_key = rotating.rsa
        old_kid = old_key.kid
        granted(tessera, "exchange", account, mint(), "before the rotation")
        fetched = rotating.jwks_fetches
        assert fetched >= 1, f"the keys were never fetched from the jwks_uri: {rotating.hits}"
        for index in range(5):
            granted(tessera, "exchange" if index % 2 else "assertion", account, mint(), f"cached use {index}")
        assert rotating.jwks_fetches == fetched, f"the keys were fetched again while cached: {rotating.hits}"

        new_kid = rotating.rotate("RS256")
        published = {k["kid"] for k in rotating.jwks()["keys"]}
        assert new_kid in published and old_kid not in published, published
        wait = 10.5 - rotating.seconds_since_last_jwks_fetch()
        if wait > 0:
            time.sleep(wait)
        granted(tessera, "exchange", account, mint(), "a token under the new kid")
        assert rotating.jwks_fetches == fetched + 1, f"expected one refetch for the new kid: {rotating.hits}"
        # The old key is no longer the issuer's.
        refused("exchange", exchange(tessera, mint(key=old_key)), "a token under the dropped kid")

        # Just refetched: unknown kids are refused without another fetch.
        for index in range(4):
            refused("exchange", exchange(tessera, mint(key=new_key("RS256"))), f"unknown kid {index}")
        assert rotating.jwks_fetches == fetched + 1, f"unknown kids were refetched within 10 s: {rotating.hits}"
        granted(tessera, "assertion", account, mint(), "the new key, still cached")
    finally:
        rotating.stop()


def test_inline_keys_need_no_fetch(tessera, acme):
    air_gapped = StandInIssuer("air-gapped").start()
    try:
        namespace = unique("offline")
        spiffe_id = f"spiffe://example.org/ns/{namespace}/sa/worker"
        account = acme.account("inline")
        acme.credential(account, issuer=air_gapped.issuer, subject=f"system:serviceaccount:{namespace}:app", jwks=air_gapped.jwks())
        svid_account = acme.account("inline-svid")
        acme.credential(svid_account, issuer=air_gapped.issuer, subject=spiffe_id, jwks=air_gapped.jwks())
        assert air_gapped.requests_seen == 0, f"inline keys, yet the issuer was asked: {air_gapped.hits}"
    finally:
        air_gapped.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(air_gapped.jwks_uri, timeout=2)

    for flow in FLOWS:
        granted(tessera, flow, account, air_gapped.kubernetes_token(namespace, "app", tessera.issuer), "RS256, inline keys")
        granted(tessera, flow, svid_account, air_gapped.spiffe_svid(spiffe_id, tessera.issuer), "ES256, inline keys")
    refused("exchange", exchange(tessera, air_gapped.kubernetes_token(namespace, "app", tessera.issuer, key=new_key("RS256"))),
            "a key that is not inline")
    assert air_gapped.requests_seen == 0, air_gapped.hits


def test_keys_at_well_known_jwks_json_without_discovery(tessera, acme):
    bare = StandInIssuer("bare", discovery=False).start()
    try:
        namespace = unique("bare")
        account = acme.account("bare")
        acme.credential(account, issuer=bare.issuer, subject=f"system:serviceaccount:{namespace}:app")
        granted(tessera, "exchange", account, bare.kubernetes_token(namespace, "app", tessera.issuer), "keys at jwks.json")
        assert bare.count("/.well-known/jwks.json") >= 1, bare.hits
    finally:
        bare.stop()


def test_keys_at_the_credentials_jwks_uri(tessera, acme):
    hidden = StandInIssuer("hidden", discovery=False, jwks_path="/private/keys.json").start()
    try:
        namespace = unique("hidden")
        account = acme.account("by-uri")
        acme.credential(account, issuer=hidden.issuer, subject=f"system:serviceaccount:{namespace}:app",
                        jwks_uri=hidden.jwks_uri)
        granted(tessera, "assertion", account, hidden.kubernetes_token(namespace, "app", tessera.issuer), "jwks_uri")
        assert hidden.jwks_fetches >= 1, hidden.hits
    finally:
        hidden.stop()


def test_spiffe_keys_without_alg_take_the_curves(tessera, svid, spire):
    """SPIRE publishes EC keys without `alg`: P-256 allows ES256 only."""
    assert all("alg" not in k for k in spire.jwks()["keys"] if k["kty"] == "EC")
    granted(tessera, "exchange", svid.account, svid.mint(), "ES256 under an alg-less P-256 key")


# MARK: scopes


@pytest.mark.parametrize("flow", FLOWS)
def test_credential_scopes_narrow_the_token(tessera, acme, kubernetes, flow):
    namespace = unique("narrow")
    account = acme.account("narrow")  # its roles grant ledger:read and ledger:write
    acme.credential(account, issuer=kubernetes.issuer, subject=f"system:serviceaccount:{namespace}:reader", scopes=[READ])
    mint = lambda: kubernetes.kubernetes_token(namespace, "reader", tessera.issuer)  # noqa: E731

    _, claims = granted(tessera, flow, account, mint(), "no scope asked")
    assert scopes_of(claims) == {READ}, claims
    _, claims = granted(tessera, flow, account, mint(), "the credential's scope asked", scope=READ)
    assert scopes_of(claims) == {READ}, claims
    for scope in (WRITE, f"{READ} {WRITE}", "tessera:admin"):
        response = present(tessera, flow, account, mint(), scope=scope)
        assert response.status_code == 400 and body_of(response).get("error") == "invalid_scope", \
            f"scope {scope!r} outside the credential's ({flow}): {response.status_code} {response.text}"


# MARK: Tessera's own tokens exchanged


@pytest.fixture(scope="module")
def ledger_client(acme) -> dict:
    """An account with a secret whose roles grant ledger:read and ledger:write."""
    return acme.account("ledger-client", issue_secret=True)


def own_token(tessera: Server, account: dict, scope: str = f"{READ} {WRITE}", **form) -> tuple[str, dict]:
    body = tessera.token(account["client_id"], account["client_secret"], scope=scope, **form)
    return body["access_token"], verify_tessera(tessera, body["access_token"])


def exchange_own(tessera: Server, token: str, **form) -> requests.Response:
    return exchange(tessera, token, token_type=ACCESS_TOKEN_TYPE, **form)


def test_own_token_exchanged_for_fewer_scopes(tessera, ledger_client):
    subject, subject_claims = own_token(tessera, ledger_client)
    assert scopes_of(subject_claims) == {READ, WRITE}
    body, claims = granted(tessera, "exchange", ledger_client, subject, "own token, narrower", scope=READ,
                           token_type=ACCESS_TOKEN_TYPE)
    assert scopes_of(claims) == {READ}, claims
    assert claims["jti"] != subject_claims["jti"], "the subject token came back"


def test_own_token_exchange_never_adds_a_scope(tessera, ledger_client):
    subject, _ = own_token(tessera, ledger_client, scope=READ)
    for scope in (WRITE, f"{READ} {WRITE}", "api:read", "tessera:admin"):
        response = exchange_own(tessera, subject, scope=scope)
        assert response.status_code == 400 and body_of(response).get("error") in ("invalid_scope", "invalid_grant"), \
            f"scope {scope!r} the subject did not carry: {response.status_code} {response.text}"


def test_own_token_exchange_without_scope_carries_no_more(tessera, ledger_client):
    subject, _ = own_token(tessera, ledger_client, scope=READ)
    _, claims = granted(tessera, "exchange", ledger_client, subject, "no scope asked", token_type=ACCESS_TOKEN_TYPE)
    assert scopes_of(claims) <= {READ}, f"the exchanged token carries more than the subject's {READ}: {claims}"


def test_own_token_exchange_expires_no_later_than_the_subject(tessera, acme):
    account = acme.account("short-lived", issue_secret=True)
    path = f"/v1/tenants/acme/service-accounts/{account['id']}"
    assert acme.call("PATCH", path, json={"token_lifetime": 120}).status_code == 200
    subject, subject_claims = own_token(tessera, account)
    assert subject_claims["exp"] - subject_claims["iat"] <= 120, subject_claims
    assert acme.call("PATCH", path, json={"token_lifetime": 3600}).status_code == 200
    body, claims = granted(tessera, "exchange", account, subject, "a short-lived subject", token_type=ACCESS_TOKEN_TYPE)
    assert claims["exp"] <= subject_claims["exp"], f"exp {claims['exp']} after the subject's {subject_claims['exp']}"
    assert body["expires_in"] <= subject_claims["exp"] - now() + 1, body


def test_own_token_exchange_without_actor_has_no_act(tessera, ledger_client):
    subject, _ = own_token(tessera, ledger_client)
    _, claims = granted(tessera, "exchange", ledger_client, subject, "no actor", scope=READ, token_type=ACCESS_TOKEN_TYPE)
    assert "act" not in claims, claims


def test_own_token_exchange_with_actor_names_it(tessera, acme, ledger_client):
    gateway = acme.account("gateway", issue_secret=True)
    auditor = acme.account("auditor", issue_secret=True)
    subject, _ = own_token(tessera, ledger_client)
    actor, actor_claims = own_token(tessera, gateway)
    _, delegated = granted(tessera, "exchange", ledger_client, subject, "with an actor", scope=READ,
                           token_type=ACCESS_TOKEN_TYPE, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert delegated.get("act", {}).get("sub") == actor_claims["sub"] == gateway["id"], delegated
    assert delegated["act"].get("client_id") == gateway["client_id"], delegated
    assert "act" not in delegated["act"], delegated
    assert scopes_of(delegated) == {READ}, delegated

    # Delegated again: the subject's own act is nested inside the new actor's.
    first = exchange_own(tessera, subject, scope=READ, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert first.status_code == 200, first.text
    second_actor, _ = own_token(tessera, auditor)
    _, chained = granted(tessera, "exchange", ledger_client, first.json()["access_token"], "delegated twice",
                         token_type=ACCESS_TOKEN_TYPE, actor_token=second_actor, actor_token_type=JWT_TYPE)
    assert chained["act"].get("sub") == auditor["id"], chained
    assert chained["act"].get("act", {}).get("sub") == gateway["id"], chained
    assert scopes_of(chained) <= {READ}, chained


def test_revoked_own_token_cannot_be_exchanged(tessera, ledger_client):
    subject, _ = own_token(tessera, ledger_client)
    assert exchange_own(tessera, subject, scope=READ).status_code == 200
    revoked = requests.post(tessera.issuer + "/oauth2/revoke", data={"token": subject},
                            auth=(ledger_client["client_id"], ledger_client["client_secret"]), timeout=10)
    assert revoked.status_code == 200, revoked.text
    response = exchange_own(tessera, subject, scope=READ)
    assert response.status_code == 400 and body_of(response).get("error") == "invalid_grant", \
        f"a revoked subject token: {response.status_code} {response.text}"
    # Nor does a revoked token serve as the actor.
    fresh, _ = own_token(tessera, ledger_client)
    response = exchange_own(tessera, fresh, scope=READ, actor_token=subject, actor_token_type=ACCESS_TOKEN_TYPE)
    assert response.status_code == 400, f"a revoked actor token: {response.status_code} {response.text}"


def test_own_token_exchanged_for_another_permitted_audience(tessera, acme):
    account = acme.account("caller", issue_secret=True, audiences=[ORDERS])
    subject, _ = own_token(tessera, account)
    _, claims = granted(tessera, "exchange", account, subject, "for the orders service", resource=ORDERS,
                        token_type=ACCESS_TOKEN_TYPE)
    assert audiences(claims) == [ORDERS], claims
    other = exchange_own(tessera, subject, resource="https://payroll.example.com")
    assert other.status_code == 400 and body_of(other).get("error") == "invalid_target", \
        f"an audience the account may not have: {other.status_code} {other.text}"


def test_own_token_exchange_follows_the_roles_as_they_are_now(tessera, acme):
    account = acme.account("demoted", issue_secret=True)
    subject, _ = own_token(tessera, account)
    demoted = acme.call("PATCH", f"/v1/tenants/acme/service-accounts/{account['id']}", json={"roles": ["consumer"]})
    assert demoted.status_code == 200, demoted.text
    response = exchange_own(tessera, subject, scope=READ)
    assert response.status_code == 400 and body_of(response).get("error") in ("invalid_scope", "invalid_grant"), \
        f"a scope the roles no longer grant: {response.status_code} {response.text}"
    response = exchange_own(tessera, subject)
    if response.status_code == 200:
        assert not scopes_of(verify_tessera(tessera, response.json()["access_token"])) & {READ, WRITE}, response.text


def test_a_garbled_own_token_is_invalid_grant(tessera, ledger_client):
    subject, _ = own_token(tessera, ledger_client)
    head, payload, signature = subject.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for what, token in {"a bad signature": f"{head}.{payload}.{flipped}", "not a JWT": "tsa_not-a-token"}.items():
        response = exchange_own(tessera, token)
        assert response.status_code == 400 and body_of(response).get("error") == "invalid_grant", \
            f"{what}: {response.status_code} {response.text}"


# MARK: the dry run


def test_dry_run_names_the_matching_credential(tessera, acme, gh):
    token = gh.mint()
    response = acme.dry_run(token)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "access_token" not in answer, answer
    assert answer["matched"] == {
        "service_account_id": gh.account["id"], "client_id": gh.account["client_id"],
        "credential_id": gh.credential["id"], "credential_name": gh.credential["name"],
    }, answer
    assert answer["token"]["iss"] == gh.credential["issuer"] and answer["token"]["sub"] == claims_of(token)["sub"], answer
    assert tessera.issuer in (answer["token"]["aud"] if isinstance(answer["token"]["aud"], list) else [answer["token"]["aud"]])
    ours = [c for c in answer["candidates"] if c["credential_id"] == gh.credential["id"]]
    assert len(ours) == 1 and ours[0]["matches"] is True, answer


def test_dry_run_explains_a_non_match_in_words(tessera, acme, gh, github):
    sub = f"repo:{GH_REPO}:ref:refs/heads/dev"
    token = github.github_token(GH_REPO, tessera.issuer, ref="refs/heads/dev")
    assert claims_of(token)["sub"] == sub
    response = acme.dry_run(token)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["matched"] is None, answer
    ours = [c for c in answer["candidates"] if c["credential_id"] == gh.credential["id"]]
    assert len(ours) == 1 and ours[0]["matches"] is False, answer
    reasons = " ".join(ours[0]["reasons"])
    assert sub in reasons, f"the reasons do not name the token's sub {sub!r}: {ours[0]['reasons']}"

    wrong_repo = gh.mint(claims={"repository": "acme/deploy-tools"})
    answer = acme.dry_run(wrong_repo).json()
    ours = [c for c in answer["candidates"] if c["credential_id"] == gh.credential["id"]]
    assert answer["matched"] is None and len(ours) == 1 and ours[0]["matches"] is False, answer
    reasons = " ".join(ours[0]["reasons"])
    assert "repository" in reasons and "acme/deploy-tools" in reasons, ours[0]["reasons"]


def test_dry_run_does_not_spend_the_jti(tessera, acme, gh):
    token = gh.mint()
    for _ in range(2):
        response = acme.dry_run(token)
        assert response.status_code == 200 and response.json()["matched"], response.text
    granted(tessera, "exchange", gh.account, token, "the dry-run token at the token endpoint")


def test_dry_run_of_an_unreadable_token_is_400(acme):
    for token in ("not-a-jwt", "a.b.c", ""):
        response = acme.dry_run(token)
        assert response.status_code == 400, f"{token!r}: {response.status_code} {response.text}"


def test_dry_run_needs_an_admin(tessera, acme, gh, ledger_client):
    token = tessera.token(ledger_client["client_id"], ledger_client["client_secret"])["access_token"]
    response = requests.post(tessera.issuer + "/v1/tenants/acme/federated-credentials:test", json={"token": gh.mint()},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 403, f"a non-admin's dry run: {response.status_code} {response.text}"
    anonymous = requests.post(tessera.issuer + "/v1/tenants/acme/federated-credentials:test",
                              json={"token": gh.mint()}, timeout=10)
    assert anonymous.status_code == 401, anonymous.text


# MARK: attacks a review found (each written as the attacker would send it)


def test_a_resource_server_cannot_trade_a_token_it_received(tessera, acme):
    """A service that receives a caller's token meant for it cannot exchange it for a
    token the admin API or another service would take: only tokens meant for Tessera
    itself are exchanged, as subject or as actor."""
    caller = acme.account("trader-victim", roles=("admin",), issue_secret=True, audiences=[ORDERS])
    received = tessera.token(caller["client_id"], caller["client_secret"], resource=ORDERS)["access_token"]
    assert audiences(verify_tessera(tessera, received)) == [ORDERS]
    for form in ({}, {"audience": tessera.issuer}, {"resource": tessera.issuer}, {"scope": "tessera:admin"}):
        response = exchange_own(tessera, received, **form)
        refused("exchange", response, f"the orders service trading the caller's token {form}")
    # As actor, such a token does not act either.
    own = tessera.token(caller["client_id"], caller["client_secret"])["access_token"]
    refused("exchange", exchange_own(tessera, own, actor_token=received, actor_token_type=ACCESS_TOKEN_TYPE),
            "a received token as actor")


def test_without_client_id_nothing_is_chosen_across_tenants(tessera, acme, globex):
    """Another tenant trusting the same issuer for the same audience cannot take this
    tenant's workloads, whether or not this tenant's own rule fits: without client_id
    such a token is refused, and client_id chooses."""
    shared = StandInIssuer("contested", jwks_path="/.well-known/jwks").start()
    try:
        repo = f"acme/{unique('contested')}"
        owner = acme.account("contested-owner")
        acme.credential(owner, issuer=shared.issuer, subject=f"repo:{repo}:ref:refs/heads/main")
        granted(tessera, "exchange", owner, shared.github_token(repo, tessera.issuer), "one tenant trusts the issuer")

        thief = globex.account("contested-thief", roles=("consumer",))
        globex.credential(thief, issuer=shared.issuer, subject="repo:acme/*")
        unregistered = f"acme/{unique('unregistered')}"
        for token, what in ((shared.github_token(unregistered, tessera.issuer), "a workflow only globex's rule fits"),
                            (shared.github_token(repo, tessera.issuer), "acme's registered workflow")):
            response = exchange(tessera, token)
            refused("exchange", response, f"{what}, without client_id")
        _, claims = granted(tessera, "exchange", owner, shared.github_token(repo, tessera.issuer), "client_id chooses",
                            client_id=owner["client_id"])
        assert claims["sub"] == owner["id"], claims
        # The dry run says the same, without naming the other tenant.
        dry = acme.dry_run(shared.github_token(repo, tessera.issuer))
        assert dry.status_code == 200 and dry.json()["matched"] is None, dry.text
        assert "client_id" in json.dumps(dry.json()["candidates"]) and "globex" not in dry.text, dry.text
    finally:
        shared.stop()


def test_inline_keys_never_keep_a_private_member(acme):
    """A private JWK pasted as inline keys is refused, never stored nor served back."""
    account = acme.account("inline-private")
    key = new_key("ES256")
    private = key.as_dict(private=True)
    response = acme.add_credential(account, issuer="https://cluster.example.com", subject="system:serviceaccount:a:b",
                                   jwks={"keys": [private]})
    assert response.status_code == 400 and response.json().get("field") == "jwks", response.text
    assert acme.list_credentials(account) == []
    stored = acme.credential(account, issuer="https://cluster.example.com", subject="system:serviceaccount:a:b",
                             jwks={"keys": [key.as_dict(private=False)]})
    assert "d" not in stored["jwks"]["keys"][0] and stored["jwks"]["keys"][0]["alg"] == "ES256", stored


def test_fetches_never_aim_at_private_addresses(acme):
    account = acme.account("ssrf")
    for url in ("https://169.254.169.254", "https://10.0.0.7", "https://[fd00::1]", "https://192.168.1.1"):
        for field, body in (("issuer", {"issuer": url}),
                            ("jwks_uri", {"issuer": "https://cluster.example.com", "jwks_uri": url + "/keys"})):
            response = acme.add_credential(account, subject="system:serviceaccount:a:b", **body)
            assert response.status_code == 400 and response.json().get("field") == field, f"{url}: {response.text}"


@pytest.mark.parametrize("flow", ["assertion", "exchange"])
def test_an_outside_token_bound_to_a_key_is_refused(tessera, k8s, flow):
    # A token with cnf stands only with a proof of its key (RFC 7800, RFC 9449 §6), which
    # neither flow carries: taking it would turn a stolen bound token into a bearer one.
    bound = k8s.mint(claims={"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
    refused(flow, present(tessera, flow, k8s.account, bound), "a DPoP-bound outside token")
    granted(tessera, flow, k8s.account, k8s.mint(), "the same workload's unbound token")
