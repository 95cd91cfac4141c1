"""Ctrl Hub IAM service accounts (seed 002) from the outside: one whole life of a
service account and its keys, driven by a client that openapi-python-client generates
at test time from the OpenAPI document embedded in the seed.

References (nothing else was read):
- Seed: shared/seeds/002_e7e8bc879fc28391.txt, "Create a service account"
  (POST /v3/orgs/{org_id}/iam/service-accounts, its Session / OAuth2 / Cookie security
  schemes, the ServiceAccount, JSONAPI and Error schemas, the BadRequest / Unauthorised /
  Conflict responses and their Content-Type / Content-Length / X-Request-ID headers).
- Ctrl Hub's public API reference, for the operations the seed lacks:
  https://docs.ctrl-hub.com/api-reference/iam/get-v3orgs-iamservice-accounts-1 (get one)
  https://docs.ctrl-hub.com/api-reference/service-accounts/get-v3orgs-iamservice-accounts (list, meta.pagination)
  https://docs.ctrl-hub.com/api-reference/admin/iam/service-accounts/get-all (list: limit /
    offset, defaults 10 / 0, links current / next / previous, default sort created_at)
  https://docs.ctrl-hub.com/api-reference/iam/create-a-service-account-key (create a key)
  https://docs.ctrl-hub.com/api-reference/admin/iam/service-accounts/create-key ("the secret is only returned once")
  https://docs.ctrl-hub.com/api-reference/features (filter[field]=value, exact match, ANDed)
  https://docs.ctrl-hub.com/api-reference/auth (client credentials; the key is the Client ID / secret pair)
  Ctrl Hub's published SDKs, github.com/ctrl-hub/sdk.ts (src/utils/RequestOptions.ts: paging
  is `limit` / `offset`, filters `filter[key]`; src/Client.ts: the token request posts
  client_id / client_secret in the form) and github.com/ctrl-hub/sdk.swift
  (ServiceAccountModels.swift: key type "service-account-keys", a key is an OAuth2 client).
- JSON:API 1.0 (https://jsonapi.org/format/1.0/) where Ctrl Hub names an operation but
  publishes no shape: disabling a key (PATCH, 200 with the resource, 409 on an id
  mismatch), deleting a key or an account (DELETE, 204), pagination links (null or
  absent when unavailable), `data` and `errors` never together, the exact media type.
- RFC 6749 §2.3.1 / §4.4 / §5.1 / §5.2 for the token endpoint, RFC 9068 §2.2 for the
  access token's claims.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote_plus, urlencode, urljoin, urlsplit

import httpx
import jwt
import requests
from openapi_schema_validator import OAS31Validator

from conftest import Server, service_missing
from test_dialects import embedded_openapi, resolve, seed_document, validate

SEED = "002_"
TENANT = "seed-ctrlhub"
OTHER_TENANT = "seed-ctrlhub-other"
JSONAPI = "application/vnd.api+json"
PACKAGE = "ctrl_hub_seed_client"
# The key's JSON:API type: the create-key request body (docs .../admin/iam/service-accounts/create-key,
# sdk.ts ServiceAccountsService.createKey) and sdk.swift's ResourceWrapper(type: "service-account-keys").
KEY_TYPE = "service-account-keys"


class Generated:
    """The pieces of the generated client this test uses."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.client = importlib.import_module(f"{PACKAGE}.client")
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.create = importlib.import_module(f"{PACKAGE}.api.service_accounts.create_service_account")

    # The seed's three security schemes, each on the generated client as generated.
    def bearer(self, token: str):  # OAuth2 (clientCredentials): Authorization: Bearer
        return self.client.AuthenticatedClient(base_url=self.issuer, token=token, timeout=httpx.Timeout(10.0))

    def session(self, token: str):  # Session: apiKey in header X-Session-Token
        return self.client.AuthenticatedClient(
            base_url=self.issuer,
            token=token,
            prefix="",
            auth_header_name="X-Session-Token",
            timeout=httpx.Timeout(10.0),
        )

    def cookie(self, token: str):  # Cookie: apiKey in cookie ctrl_hub_session
        cookies = {"ctrl_hub_session": token}
        return self.client.Client(base_url=self.issuer, cookies=cookies, timeout=httpx.Timeout(10.0))

    def anonymous(self):
        return self.client.Client(base_url=self.issuer, timeout=httpx.Timeout(10.0))

    def body(self, name: str, description: str | None = None, type_: str = "service-accounts"):
        m = self.models
        attributes = (
            m.CreateServiceAccountBodyDataAttributes(name=name)
            if description is None
            else m.CreateServiceAccountBodyDataAttributes(name=name, description=description)
        )
        return m.CreateServiceAccountBody(data=m.CreateServiceAccountBodyData(type_=type_, attributes=attributes))


def generate_client(directory: str, issuer: str) -> Generated:
    """openapi-python-client 0.28 on the seed's embedded document, into `directory`."""
    seed_document(SEED)
    executable = shutil.which("openapi-python-client")
    if not executable:
        service_missing("openapi-python-client is not installed (pip install openapi-python-client)")
    spec = os.path.join(directory, "ctrl-hub-openapi.json")
    with open(spec, "w", encoding="utf-8") as handle:
        json.dump(embedded_openapi(SEED), handle, default=str)
    output = os.path.join(directory, PACKAGE)
    result = subprocess.run(
        [executable, "generate", "--path", spec, "--meta", "none", "--output-path", output, "--overwrite"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and os.path.isfile(os.path.join(output, "client.py")), result.stdout + result.stderr
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.path.insert(0, directory)
    try:
        importlib.invalidate_caches()
        return Generated(issuer)
    finally:
        sys.path.remove(directory)


def test_ctrl_hub_service_account_life(server: Server, tmp_path):
    api = generate_client(str(tmp_path), server.issuer)
    document = embedded_openapi(SEED)
    components = document["components"]

    # --- Schemas: the seed's, and where the seed has none, the vendor reference's. ---
    jsonapi_schema = resolve(document, components["schemas"]["JSONAPI"])
    account_schema = resolve(document, components["schemas"]["ServiceAccount"])
    one_schema = resolve(document, components["responses"]["GetServiceAccount"]["content"][JSONAPI]["schema"])
    error_schema = resolve(document, components["responses"]["Unauthorised"]["content"][JSONAPI]["schema"])
    assert error_schema == resolve(document, components["responses"]["BadRequest"]["content"][JSONAPI]["schema"])
    key_item = resolve(document, components["schemas"]["ServiceAccountAttributes"]["properties"]["keys"]["items"])
    # A key as a resource of its own ({id, type, attributes}): the seed's key item, split
    # as https://docs.ctrl-hub.com/api-reference/iam/create-a-service-account-key shows it.
    key_document_schema = {
        "allOf": [
            {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "object",
                        "required": ["id", "type", "attributes"],
                        "properties": {
                            "id": key_item["properties"]["id"],
                            "type": {"type": "string", "const": KEY_TYPE},
                            "attributes": {
                                "type": "object",
                                "required": ["enabled", "created_at"],
                                "properties": {k: v for k, v in key_item["properties"].items() if k != "id"},
                            },
                        },
                    }
                },
            },
            jsonapi_schema,
        ]
    }
    # The list: https://docs.ctrl-hub.com/api-reference/service-accounts/get-v3orgs-iamservice-accounts
    # (meta.pagination) and https://docs.ctrl-hub.com/api-reference/admin/iam/service-accounts/get-all (links).
    nullable_integer = {"type": ["integer", "null"]}
    nullable_string = {"type": ["string", "null"]}
    list_schema = {
        "allOf": [
            {
                "type": "object",
                "required": ["data", "meta", "links"],
                "properties": {
                    "data": {"type": "array", "items": account_schema},
                    "meta": {
                        "type": "object",
                        "required": ["pagination"],
                        "properties": {
                            "pagination": {
                                "type": "object",
                                "required": ["counts", "current_page", "offsets", "requested"],
                                "properties": {
                                    "counts": {
                                        "type": "object",
                                        "required": ["pages", "resources"],
                                        "properties": {"pages": {"type": "integer"}, "resources": {"type": "integer"}},
                                    },
                                    "current_page": {"type": "integer"},
                                    "offsets": {
                                        "type": "object",
                                        "properties": {"next": nullable_integer, "previous": nullable_integer},
                                    },
                                    "requested": {
                                        "type": "object",
                                        "required": ["limit", "offset"],
                                        "properties": {"limit": {"type": "integer"}, "offset": {"type": "integer"}},
                                    },
                                },
                            }
                        },
                    },
                    "links": {
                        "type": "object",
                        "required": ["current"],
                        "properties": {
                            "current": {"type": "string"},
                            "next": nullable_string,
                            "previous": nullable_string,
                        },
                    },
                },
            },
            jsonapi_schema,
        ]
    }

    request_ids: list[str] = []

    def document_of(response, status: int, schema: dict, what: str) -> dict:
        """Status, the seed's documented headers, and the body against `schema`."""
        code, headers, content = int(response.status_code), response.headers, response.content
        assert code == status, f"{what}: expected {status}, got {code} {content[:2000]!r}"
        # JSON:API 1.0: the media type, without parameters; the seed: Content-Type example.
        assert headers.get("Content-Type") == JSONAPI, f"{what}: Content-Type {headers.get('Content-Type')!r}"
        length = headers.get("Content-Length")
        assert length == str(len(content)), f"{what}: Content-Length {length!r}, body {len(content)} bytes"
        request_id = headers.get("X-Request-ID")
        assert request_id, f"{what}: no X-Request-ID"
        request_ids.append(request_id)
        body = json.loads(content)
        validate(OAS31Validator, schema, body)
        return body

    def success(response, status: int, schema: dict, what: str) -> dict:
        body = document_of(response, status, schema, what)
        assert body["jsonapi"] == {"version": "1.0"}, what
        assert "errors" not in body, what
        return body

    def failure(response, status: int, what: str) -> dict:
        """One error object in the seed's shape (Error: id uuid, status, title)."""
        body = document_of(response, status, error_schema, what)
        assert "data" not in body, f"{what}: data and errors together"  # JSON:API 1.0 §document structure
        assert isinstance(body.get("errors"), list) and len(body["errors"]) == 1, f"{what}: {body}"
        error = body["errors"][0]
        assert error["status"] == str(status), f"{what}: {error}"
        assert isinstance(error["title"], str) and error["title"], f"{what}: {error}"
        return error

    def no_content(response, what: str) -> None:
        code = int(response.status_code)
        assert code == 204, f"{what}: expected 204, got {code} {response.content[:2000]!r}"
        assert response.content == b"", what
        assert response.headers.get("X-Request-ID"), f"{what}: no X-Request-ID"
        request_ids.append(response.headers["X-Request-ID"])

    def create(client, org_id: str, name: str, description: str | None = None, type_: str = "service-accounts"):
        """The seed's operation, through the generated function."""
        body = api.body(name, description, type_)
        return api.create.sync_detailed(org_id=uuid.UUID(org_id), client=client, body=body)

    def send(client: httpx.Client, method: str, url: str, body: dict) -> httpx.Response:
        """A JSON:API request document, with the generated client's httpx client."""
        return client.request(method, url, content=json.dumps(body), headers={"Content-Type": JSONAPI})

    token_url = server.issuer + "/oauth2/token"

    def token_basic(client_id: str, secret: str) -> requests.Response:
        # RFC 6749 §2.3.1: both form-urlencoded before the Basic encoding.
        basic = (quote_plus(client_id), quote_plus(secret))
        return requests.post(token_url, data={"grant_type": "client_credentials"}, auth=basic, timeout=10)

    def token_form(client_id: str, secret: str) -> requests.Response:
        # What github.com/ctrl-hub/sdk.ts (src/Client.ts getToken) sends.
        return requests.post(
            token_url,
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            timeout=10,
        )

    def issued(response: requests.Response, what: str) -> str:
        assert response.status_code == 200, f"{what}: {response.status_code} {response.text}"
        # RFC 6749 §5.1: JSON, never cached.
        assert response.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", what
        assert "no-store" in response.headers.get("Cache-Control", ""), what
        body = response.json()
        assert isinstance(body.get("access_token"), str) and body["access_token"].count(".") == 2, f"{what}: {body}"
        assert body.get("token_type", "").lower() == "bearer", f"{what}: {body}"
        # https://docs.ctrl-hub.com/api-reference/auth: the response says how long it is valid for.
        assert isinstance(body.get("expires_in"), int) and body["expires_in"] > 0, f"{what}: {body}"
        return body["access_token"]

    def client_of(token: str) -> str:
        """Signed by a key at the JWKS, by this issuer; the client it names (RFC 9068 §2.2).
        The claim's value may be the deployment's own name for the key: only which key
        it stands for is part of this contract, not its spelling."""
        signing_key = jwt.PyJWKClient(server.issuer + "/.well-known/jwks.json").get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[signing_key.algorithm_name],
            issuer=server.issuer,
            options={"verify_aud": False, "require": ["exp", "iat", "iss"]},
        )
        assert isinstance(claims.get("client_id"), str) and claims["client_id"], claims
        return claims["client_id"]

    def refused(response: requests.Response, what: str, basic: bool) -> None:
        assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
        assert response.json().get("error") == "invalid_client", f"{what}: {response.text}"  # RFC 6749 §5.2
        if basic:  # RFC 6749 §5.2: a 401 to Basic carries a matching WWW-Authenticate
            assert response.headers.get("WWW-Authenticate", "").lower().startswith("basic"), what

    def moment(text: str) -> datetime:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert value.tzinfo is not None, f"{text}: no offset"
        return value

    # --- The administrator, its org, its clients (one per security scheme). ---
    admin = server.bootstrap(tenant=TENANT, role="admin")
    org = admin["tenant_id"]
    uuid.UUID(org)
    admin_token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    bearer, session, cookie = api.bearer(admin_token), api.session(admin_token), api.cookie(admin_token)
    http = bearer.get_httpx_client()
    base = f"/v3/orgs/{org}/iam/service-accounts"

    # --- 1. Create (the seed's operation, the generated function, OAuth2 scheme). ---
    started = datetime.now(timezone.utc) - timedelta(seconds=2)
    name_a, description_a = "Ctrl Hub interop A", "Service account for third-party API integrations"
    created = create(bearer, org, name_a, description_a)
    account_a = success(created, 200, one_schema, "create A")["data"]
    assert isinstance(created.parsed, api.models.CreateServiceAccountResponse200), created.parsed
    ended = datetime.now(timezone.utc) + timedelta(seconds=2)
    id_a = account_a["id"]
    assert str(created.parsed.data.id) == id_a
    assert account_a["type"] == "service-accounts"
    attributes = account_a["attributes"]
    # Members beyond the seed's are tolerated (its schemas do not forbid them, JSON:API
    # clients ignore them); the secret is the one member that must be absent where noted.
    assert {"name", "description", "email", "enabled", "keys"} <= set(attributes), attributes
    assert attributes["name"] == name_a and attributes["description"] == description_a
    assert attributes["enabled"] is True
    assert isinstance(attributes["email"], str) and "@" in attributes["email"]
    # The create response carries the first key with its secret, the only time it is shown
    # (seed: key {id, client_secret, enabled, created_at}).
    assert len(attributes["keys"]) == 1, attributes["keys"]
    key1 = attributes["keys"][0]
    assert {"id", "client_secret", "enabled", "created_at"} <= set(key1), key1
    assert key1["enabled"] is True and isinstance(key1["client_secret"], str) and len(key1["client_secret"]) >= 16
    assert created.parsed.data.attributes.keys[0].client_secret == key1["client_secret"]
    assert started <= moment(key1["created_at"]) <= ended, key1
    assert set(account_a["meta"]) == {"created_at", "updated_at"}, account_a["meta"]
    assert started <= moment(account_a["meta"]["created_at"]) <= moment(account_a["meta"]["updated_at"]) <= ended
    assert account_a["relationships"]["organisations"] == {"data": [{"id": org, "type": "organisations"}]}
    assert key1["id"] != id_a

    # --- 2. The key is an OAuth2 client: its id is the client_id (Basic and form post). ---
    key1_token = issued(token_basic(key1["id"], key1["client_secret"]), "key 1, Basic")
    client1 = client_of(key1_token)
    assert client_of(issued(token_form(key1["id"], key1["client_secret"]), "key 1, form post")) == client1
    refused(token_basic(key1["id"], key1["client_secret"] + "x"), "key 1, wrong secret", basic=True)
    # The key's token is a credential under each of the seed's schemes, refused on these
    # administrator-only operations as the new account is no administrator: the seed's
    # Unauthorised response (401, code AUTH.001, "you need the 'admin' role") is the
    # answer to a missing role.
    schemes = (("Bearer", api.bearer), ("X-Session-Token", api.session), ("cookie", api.cookie))
    for scheme, client in ((scheme, make(key1_token)) for scheme, make in schemes):
        assert failure(client.get_httpx_client().get(f"{base}/{id_a}"), 401, f"get A with key 1's token ({scheme})")["code"] == "AUTH.001"
        assert failure(client.get_httpx_client().get(base), 401, f"list with key 1's token ({scheme})")["code"] == "AUTH.001"

    # --- 3. Get one, by each of the seed's schemes: the same document, the secret gone
    #        (https://docs.ctrl-hub.com/api-reference/iam/get-v3orgs-iamservice-accounts-1;
    #        "the secret is only returned once": .../admin/iam/service-accounts/create-key). ---
    expected_a = deepcopy(account_a)
    del expected_a["attributes"]["keys"][0]["client_secret"]
    shown = {}
    for scheme, client in (("Bearer", bearer), ("X-Session-Token", session), ("cookie", cookie)):
        response = client.get_httpx_client().get(f"{base}/{id_a}")
        shown[scheme] = success(response, 200, one_schema, f"get A ({scheme})")["data"]
        assert shown[scheme] == expected_a, f"{scheme}: {shown[scheme]}"
    sent = session.get_httpx_client().get(f"{base}/{id_a}").request.headers
    assert sent.get("X-Session-Token") == admin_token and "Authorization" not in sent and "Cookie" not in sent
    sent = cookie.get_httpx_client().get(f"{base}/{id_a}").request.headers
    assert sent.get("Cookie") == f"ctrl_hub_session={admin_token}" and "Authorization" not in sent

    # --- 4. A second account, by the Session scheme, without a description. ---
    name_b = "Ctrl Hub interop B"
    created = create(session, org, name_b)
    account_b = success(created, 200, one_schema, "create B")["data"]
    id_b = account_b["id"]
    assert id_b != id_a and account_b["attributes"]["name"] == name_b
    assert account_b["attributes"].get("description", "") == ""
    assert account_b["attributes"]["enabled"] is True
    assert account_b["attributes"]["email"] != attributes["email"]
    assert len(account_b["attributes"]["keys"]) == 1
    key_b = account_b["attributes"]["keys"][0]
    assert key_b["id"] not in (key1["id"], id_a, id_b) and key_b["client_secret"] != key1["client_secret"]
    client_b = client_of(issued(token_basic(key_b["id"], key_b["client_secret"]), "key B"))
    assert client_b != client1
    expected_b = deepcopy(account_b)
    del expected_b["attributes"]["keys"][0]["client_secret"]

    # --- 5. The list, one per page, following links.next (limit / offset: get-all and
    #        sdk.ts RequestOptions, which leaves out offset=0; default sort created_at). ---
    def link(value, offset: int, what: str) -> str:
        assert isinstance(value, str), f"{what}: {value!r}"
        if "://" in value:
            assert value.startswith(server.issuer + "/"), f"{what}: {value}"
        parts = urlsplit(urljoin(server.issuer + "/", value))
        assert parts.path == base, f"{what}: {value}"
        assert parse_qs(parts.query) == {"limit": ["1"], "offset": [str(offset)]}, f"{what}: {value}"
        return value

    pages = []
    url = f"{base}?limit=1"
    for offset in range(10):
        page = success(http.get(url), 200, list_schema, f"list, offset {offset}")
        pages.append(page)
        pagination = page["meta"]["pagination"]
        total = pages[0]["meta"]["pagination"]["counts"]["resources"]
        last = offset == total - 1
        assert len(page["data"]) == 1, page["data"]
        assert pagination["requested"] == {"limit": 1, "offset": offset}, pagination
        assert pagination["counts"] == {"resources": total, "pages": total}, pagination
        assert pagination["current_page"] == offset + 1, pagination
        assert pagination["offsets"].get("next") == (None if last else offset + 1), pagination
        assert pagination["offsets"].get("previous") == (None if offset == 0 else offset - 1), pagination
        link(page["links"]["current"], offset, "links.current")
        if offset:
            link(page["links"].get("previous"), offset - 1, "links.previous")
        else:
            assert page["links"].get("previous") is None, page["links"]
        if last:
            assert page["links"].get("next") is None, page["links"]
            break
        url = link(page["links"].get("next"), offset + 1, "links.next")
    else:
        raise AssertionError(f"links.next never ended: {pages[-1]['links']}")
    listed = [page["data"][0] for page in pages]
    ids = [item["id"] for item in listed]
    # The org's accounts: A, B, and at most the bootstrapped administrator itself.
    assert 2 <= len(ids) <= 3 and len(set(ids)) == len(ids), ids
    assert ids.index(id_a) < ids.index(id_b), ids
    assert listed[ids.index(id_a)] == expected_a and listed[ids.index(id_b)] == expected_b
    assert all("client_secret" not in key for item in listed for key in item["attributes"].get("keys", []))
    for scheme, client in (("X-Session-Token", session), ("cookie", cookie)):
        page = success(client.get_httpx_client().get(f"{base}?limit=1"), 200, list_schema, f"list ({scheme})")
        assert page["data"] == pages[0]["data"] and page["meta"]["pagination"] == pages[0]["meta"]["pagination"]

    # --- 6. Filter: exact match on name (https://docs.ctrl-hub.com/api-reference/features),
    #        encoded as sdk.ts's URLSearchParams encodes it. ---
    def named(name: str) -> dict:
        return success(http.get(f"{base}?{urlencode({'filter[name]': name})}"), 200, list_schema, f"filter {name!r}")

    page = named(name_a)
    assert page["data"] == [expected_a], page["data"]
    assert page["meta"]["pagination"]["counts"] == {"resources": 1, "pages": 1}
    assert page["links"].get("next") is None
    page = named("Ctrl Hub interop")  # exact, not a prefix
    assert page["data"] == [] and page["meta"]["pagination"]["counts"]["resources"] == 0, page
    assert page["links"].get("next") is None

    # --- 7. A second key (https://docs.ctrl-hub.com/api-reference/iam/create-a-service-account-key). ---
    keys_url = f"{base}/{id_a}/keys"
    response = send(http, "POST", keys_url, {"data": {"type": KEY_TYPE}})
    key2_resource = success(response, 200, key_document_schema, "create key 2")["data"]
    assert key2_resource["type"] == KEY_TYPE
    assert {"client_secret", "enabled", "created_at"} <= set(key2_resource["attributes"]), key2_resource
    assert key2_resource["attributes"]["enabled"] is True
    key2 = {"id": key2_resource["id"], **key2_resource["attributes"]}
    assert key2["id"] not in (key1["id"], key_b["id"], id_a, id_b)
    assert key2["client_secret"] not in (key1["client_secret"], key_b["client_secret"])
    client2 = client_of(issued(token_basic(key2["id"], key2["client_secret"]), "key 2, Basic"))
    # RFC 9068 §2.2: client_id names the OAuth client. The keys are credentials of one
    # service account (one client), so both keys' tokens name the same client, and
    # another account's key another one.
    assert client2 == client1 and client2 != client_b
    assert client_of(issued(token_form(key2["id"], key2["client_secret"]), "key 2, form post")) == client2
    issued(token_basic(key1["id"], key1["client_secret"]), "key 1 beside key 2")

    def keys_of_a() -> list:
        """A's keys as GET shows them: never a secret; id, enabled, created_at of each."""
        keys = success(http.get(f"{base}/{id_a}"), 200, one_schema, "get A")["data"]["attributes"]["keys"]
        assert all("client_secret" not in key for key in keys), keys
        return [{"id": key["id"], "enabled": key["enabled"], "created_at": key["created_at"]} for key in keys]

    assert keys_of_a() == [
        {"id": key1["id"], "enabled": True, "created_at": key1["created_at"]},
        {"id": key2["id"], "enabled": True, "created_at": key2["created_at"]},
    ]

    # --- 8. Disable key 1 (JSON:API 1.0 "Updating Resources": PATCH the key, 200 with it). ---
    key1_url = f"{keys_url}/{key1['id']}"
    patch = {"data": {"type": KEY_TYPE, "id": key1["id"], "attributes": {"enabled": False}}}
    response = send(http, "PATCH", key1_url, patch)
    disabled = success(response, 200, key_document_schema, "disable key 1")["data"]
    assert disabled["id"] == key1["id"] and disabled["type"] == KEY_TYPE, disabled
    assert disabled["attributes"]["enabled"] is False, disabled
    assert disabled["attributes"]["created_at"] == key1["created_at"], disabled
    assert "client_secret" not in disabled["attributes"], disabled
    refused(token_basic(key1["id"], key1["client_secret"]), "disabled key 1, Basic", basic=True)
    refused(token_form(key1["id"], key1["client_secret"]), "disabled key 1, form post", basic=False)
    issued(token_basic(key2["id"], key2["client_secret"]), "key 2 after key 1 was disabled")
    assert keys_of_a() == [
        {"id": key1["id"], "enabled": False, "created_at": key1["created_at"]},
        {"id": key2["id"], "enabled": True, "created_at": key2["created_at"]},
    ]
    # JSON:API 1.0: a PATCH whose id does not match the endpoint is a 409 Conflict.
    mismatch = {"data": {"type": KEY_TYPE, "id": key2["id"], "attributes": {"enabled": False}}}
    failure(send(http, "PATCH", key1_url, mismatch), 409, "patch id mismatch")
    issued(token_basic(key2["id"], key2["client_secret"]), "key 2 after the refused patch")

    # --- 9. Errors, while A and B exist. ---
    unknown = str(uuid.uuid4())
    anonymous = api.anonymous()
    failure(anonymous.get_httpx_client().get(base), 401, "list without a token")
    failure(anonymous.get_httpx_client().get(f"{base}/{id_b}"), 401, "get without a token")
    response = create(anonymous, org, "Ctrl Hub interop X")
    failure(response, 401, "create without a token")
    assert isinstance(response.parsed, api.models.CreateServiceAccountResponse401), response.parsed
    failure(api.bearer("not-a-token").get_httpx_client().get(f"{base}/{id_b}"), 401, "get with a bad token")
    failure(api.session("not-a-token").get_httpx_client().get(base), 401, "list with a bad session token")

    analyst = server.bootstrap(tenant=TENANT, role="analyst")
    assert analyst["tenant_id"] == org
    analyst_client = api.bearer(server.token(analyst["client_id"], analyst["client_secret"])["access_token"])
    # The seed's 401 AUTH.001 ("In order to access this resource, you need the 'admin' role").
    failure(analyst_client.get_httpx_client().get(base), 401, "list as analyst")
    failure(analyst_client.get_httpx_client().get(f"{base}/{id_b}"), 401, "get as analyst")
    response = create(analyst_client, org, "Ctrl Hub interop X")
    failure(response, 401, "create as analyst")
    failure(analyst_client.get_httpx_client().delete(f"{base}/{id_b}"), 401, "delete as analyst")
    response = send(analyst_client.get_httpx_client(), "POST", f"{base}/{id_b}/keys", {"data": {"type": KEY_TYPE}})
    failure(response, 401, "create a key as analyst")
    assert success(http.get(f"{base}/{id_b}"), 200, one_schema, "B after the analyst")["data"] == expected_b

    failure(http.get(f"{base}/{unknown}"), 404, "get an unknown account")
    failure(http.delete(f"{base}/{unknown}"), 404, "delete an unknown account")
    response = send(http, "POST", f"{base}/{unknown}/keys", {"data": {"type": KEY_TYPE}})
    failure(response, 404, "create a key for an unknown account")
    failure(http.delete(f"{keys_url}/{unknown}"), 404, "delete an unknown key")

    other = server.bootstrap(tenant=OTHER_TENANT, role="admin")
    other_org = other["tenant_id"]
    assert other_org != org
    other_client = api.bearer(server.token(other["client_id"], other["client_secret"])["access_token"])
    created = create(other_client, other_org, "Ctrl Hub interop C")
    id_c = success(created, 200, one_schema, "create C in the other org")["data"]["id"]
    failure(http.get(f"{base}/{id_c}"), 404, "another org's account under this org")
    # Another organisation: the seed's 401 AUTH.001, as for a missing role there.
    failure(http.get(f"/v3/orgs/{other_org}/iam/service-accounts"), 401, "another org's list")
    failure(http.get(f"/v3/orgs/{other_org}/iam/service-accounts/{id_c}"), 401, "another org's account")

    # The seed's 400 (BadRequest) and 409 (Conflict) on create.
    response = create(bearer, org, "")
    error = failure(response, 400, "create with an empty name")
    assert isinstance(response.parsed, api.models.CreateServiceAccountResponse400), response.parsed
    assert error.get("source") == {"pointer": "/data/attributes/name"}, error  # seed: Error.source.pointer
    response = create(bearer, org, "Ctrl Hub interop X", type_="users")
    failure(response, 409, "create with the wrong type")  # JSON:API 1.0: a type outside the collection
    assert isinstance(response.parsed, api.models.CreateServiceAccountResponse409), response.parsed
    assert named("Ctrl Hub interop X")["data"] == []

    # --- 10. Delete key 2 (JSON:API 1.0 "Deleting Resources": 204). ---
    key2_url = f"{keys_url}/{key2['id']}"
    no_content(http.delete(key2_url), "delete key 2")
    refused(token_basic(key2["id"], key2["client_secret"]), "deleted key 2", basic=True)
    assert keys_of_a() == [{"id": key1["id"], "enabled": False, "created_at": key1["created_at"]}]
    failure(http.delete(key2_url), 404, "delete key 2 again")
    enable = {"data": {"type": KEY_TYPE, "id": key2["id"], "attributes": {"enabled": True}}}
    failure(send(http, "PATCH", key2_url, enable), 404, "patch a deleted key")

    # --- 11. Delete the accounts: gone, and their keys with them. ---
    no_content(http.delete(f"{base}/{id_a}"), "delete A")
    failure(http.get(f"{base}/{id_a}"), 404, "get A after its deletion")
    failure(http.delete(f"{base}/{id_a}"), 404, "delete A again")
    refused(token_basic(key1["id"], key1["client_secret"]), "key 1 of deleted A", basic=True)
    assert named(name_a)["data"] == []

    issued(token_basic(key_b["id"], key_b["client_secret"]), "key B before B's deletion")
    no_content(http.delete(f"{base}/{id_b}"), "delete B")
    failure(http.get(f"{base}/{id_b}"), 404, "get B after its deletion")
    refused(token_basic(key_b["id"], key_b["client_secret"]), "key B of deleted B", basic=True)
    refused(token_form(key_b["id"], key_b["client_secret"]), "key B of deleted B, form post", basic=False)
    remaining = success(http.get(base), 200, list_schema, "list at the end")
    assert {item["id"] for item in remaining["data"]}.isdisjoint({id_a, id_b}), remaining["data"]
    # Defaults limit 10, offset 0 (.../admin/iam/service-accounts/get-all). Left: the
    # bootstrapped administrator and analyst if the org lists them (it listed 3 above), else none.
    assert remaining["meta"]["pagination"]["requested"] == {"limit": 10, "offset": 0}, remaining["meta"]
    left = 2 * (len(ids) - 2)
    assert len(remaining["data"]) == remaining["meta"]["pagination"]["counts"]["resources"] == left, remaining

    # Every response had its own X-Request-ID.
    assert len(set(request_ids)) == len(request_ids), request_ids
