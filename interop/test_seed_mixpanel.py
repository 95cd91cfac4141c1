"""Seed 001, Mixpanel service accounts, from the outside: one whole life of a service
account through Mixpanel's own Service Accounts API, served by Tessera at
`<issuer>/api/app` (Mixpanel: https://mixpanel.com/api/app), with `{organizationId}` the
tenant's integer number and HTTP Basic `username:secret` authentication.

The reference, and nothing else:
- the seed document shared/seeds/001_f1e737c7f89723de.txt ("Create Service Account", its
  embedded OpenAPI 3.0.2 document: the create operation, its 201/400/401/403/404 bodies,
  the ServiceAccountRead/Write schemas, the `ServiceAccount` http-basic scheme). The
  create call goes through a client that openapi-python-client generates from it here;
- Mixpanel's published OpenAPI document for the whole Service Accounts API,
  https://docs.mixpanel.com/openapi/service-accounts.openapi.yaml (the same file as
  github.com/mixpanel/docs, openapi/service-accounts.openapi.yaml), and its pages
  https://docs.mixpanel.com/reference/list-service-accounts,
  https://docs.mixpanel.com/reference/get-service-account,
  https://docs.mixpanel.com/reference/delete-service-account,
  https://docs.mixpanel.com/reference/add-service-accounts-to-projects,
  https://docs.mixpanel.com/reference/remove-service-accounts-from-projects,
  https://docs.mixpanel.com/reference/list-project-service-accounts: list, retrieve one,
  delete, project membership, which the seed lacks;
- https://docs.mixpanel.com/reference/service-accounts-api ("To modify (create, delete)
  service accounts, the service account used for authentication must have the role of
  admin or owner") and https://developer.mixpanel.com/reference/service-accounts
  (authentication is HTTP Basic with the service account's username and secret);
- RFC 6749 §4.4, §5.1, §5.2 (token endpoint), RFC 7617 §2 and RFC 9110 §11.6.1 (the
  Basic challenge).

Where neither says, the test decides (see the comments marked DECIDED): a tenant's
project is the one whose id is the organization number; `last_used` is absent until the
account first authenticates; any organizationId other than the caller's own is 404.
"""

import importlib
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from conftest import Server, service_missing  # noqa: F401  (service_missing: the seed helpers use it)
from test_dialects import embedded_openapi, resolve, validate

TENANT = "seed-mixpanel"
SEED = "001_"
CREATE_PATH = "/organizations/{organizationId}/service-accounts"
# The generated package gets a name of its own so that no other test's client collides.
PACKAGE = "mixpanel_seed_001_client"

# https://docs.mixpanel.com/openapi/service-accounts.openapi.yaml, components.schemas
# ListServiceAccountsResponse (GET /organizations/{organizationId}/service-accounts); its
# items are ServiceAccountRead, which the seed has too (inlined below from the seed).
def list_schema(read: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": read},
            "status": {"type": "string", "enum": ["ok"]},
        },
    }


# Same document, ListServiceAccountsForProjectResponse (GET /projects/{projectId}/service-accounts).
def project_list_schema(read: dict, role: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "allOf": [
                        read,
                        {
                            "type": "object",
                            "properties": {
                                "hasSensitiveAccess": {"type": "boolean"},
                                "role": role,
                                "role_order": {"type": "integer"},
                                "target_type": {"type": "string", "enum": ["individual", "team", "organization"]},
                                "email": {"type": "string"},
                            },
                        },
                    ]
                },
            },
            "status": {"type": "string", "enum": ["ok"]},
        },
    }


# Same document: 200 of POST …/service-accounts/add-to-project and …/remove-from-project.
STATUS_OK_SCHEMA = {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}}
# Same document: 200 of DELETE …/service-accounts/{serviceAccountId} is `type: object` with
# the example `{status: ok}`.
DELETED_SCHEMA = {"type": "object"}


def generate_client(document: dict, directory) -> dict:
    """openapi-python-client (0.28) generates a client from the seed's OpenAPI into
    `directory`; returns its modules, imported."""
    spec = directory / "service-accounts.openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
         "--output-path", str(directory / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(directory))
    try:
        return {
            "client": importlib.import_module(f"{PACKAGE}.client"),
            "models": importlib.import_module(f"{PACKAGE}.models"),
            "create": importlib.import_module(f"{PACKAGE}.api.create_service_accounts.create_service_account"),
        }
    finally:
        sys.path.remove(str(directory))


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text!r} has no UTC offset"
    return value


def is_int(value) -> bool:
    return type(value) is int


def assert_error(response, status: int, schemas: dict) -> dict:
    """The seed's error body (400/401/403/404): {"error": <details>, "status": "error"}."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response.headers["content-type"].split(";")[0].strip() == "application/json", response.headers
    body = json.loads(response.content)
    validate(OAS30Validator, schemas[status], body)
    assert set(body) == {"error", "status"}, body
    assert body["status"] == "error", body
    assert isinstance(body["error"], str) and body["error"], body
    return body


def assert_basic_challenge(response) -> None:
    # RFC 9110 §11.6.1: a 401 carries WWW-Authenticate; the seed's only scheme is http
    # basic, and RFC 7617 §2 makes `realm` REQUIRED in a Basic challenge.
    challenge = response.headers.get("www-authenticate", "")
    assert re.match(r'(?i)^basic\s+realm="[^"]*"', challenge), f"WWW-Authenticate: {challenge!r}"


def token_endpoint(server: Server, username: str, secret: str) -> requests.Response:
    # RFC 6749 §4.4.2 with client authentication by HTTP Basic (§2.3.1).
    return requests.post(
        server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(username, secret), timeout=10
    )


def test_mixpanel_service_account_life(server: Server, tmp_path):
    document = embedded_openapi(SEED)
    seed_post = document["paths"][CREATE_PATH]["post"]
    seed_responses = seed_post["responses"]
    created_schema = resolve(document, seed_responses["201"]["content"]["application/json"]["schema"])
    error_schemas = {
        int(code): resolve(document, seed_responses[code]["content"]["application/json"]["schema"])
        for code in ("400", "401", "403", "404")
    }
    read_schema = resolve(document, document["components"]["schemas"]["ServiceAccountRead"])
    role_schema = resolve(document, document["components"]["schemas"]["RoleEnum"])
    # The seed's security: the http-basic `ServiceAccount` scheme, for the whole document.
    assert document["security"] == [{"ServiceAccount": []}]
    assert document["components"]["securitySchemes"]["ServiceAccount"] == {
        "type": "http", "scheme": "basic", "description": "Service Account"}

    generated = generate_client(document, tmp_path)
    Client, models, create_operation = generated["client"].Client, generated["models"], generated["create"]
    base_url = server.issuer + "/api/app"

    def api(username: str | None = None, secret: str | None = None):
        # Only the base URL and the Basic credentials are ours; the rest is as generated.
        arguments = {"auth": httpx.BasicAuth(username, secret)} if username is not None else {}
        return Client(base_url=base_url, timeout=httpx.Timeout(10.0), httpx_args=arguments)

    # The tenant, its administrator, and its organization number (the fixture interface).
    admin = server.bootstrap(tenant=TENANT, role="admin")
    analyst = server.bootstrap(tenant=TENANT, role="analyst")
    root = server.bootstrap(tenant="root", role="super_admin")
    root_token = server.token(root["client_id"], root["client_secret"])["access_token"]

    def organization_number(slug: str) -> int:
        response = requests.get(
            f"{server.issuer}/v1/tenants/{slug}", headers={"Authorization": "Bearer " + root_token}, timeout=10
        )
        assert response.status_code == 200, response.text
        number = response.json()["number"]
        assert is_int(number), number
        return number

    org = organization_number(TENANT)
    other_org = organization_number("root")
    assert other_org != org
    # DECIDED (no reference says how Tessera maps Mixpanel projects): a tenant's project is
    # the one whose id is its organization number.
    project = org

    admin_api = api(admin["client_id"], admin["client_secret"])
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)

    def create(client, username: str, role: str = "admin"):
        body = models.CreateServiceAccountRequest(username=username, role=models.RoleEnum(role), expires=expires)
        return create_operation.sync_detailed(org, client=client, body=body)

    def assert_created(response, started: datetime) -> dict:
        """201 of the seed's create: {"results": {token + ServiceAccountRead}, "status": "ok"}."""
        assert response.status_code == 201, (response.status_code, response.content)
        assert response.headers["content-type"].split(";")[0].strip() == "application/json", response.headers
        body = json.loads(response.content)
        validate(OAS30Validator, created_schema, body)
        assert set(body) == {"results", "status"}, body
        assert body["status"] == "ok", body
        account = body["results"]
        # Every member of the seed's ServiceAccountRead plus `token`; DECIDED: `last_used`
        # is absent (not null: the seed's schema is a non-nullable string) until first use.
        assert set(account) == {"id", "username", "token", "created", "creator", "user", "expires"}, account
        assert is_int(account["id"]) and is_int(account["creator"]) and is_int(account["user"]), account
        assert isinstance(account["username"], str) and account["username"], account
        assert isinstance(account["token"], str) and account["token"], account
        assert account["token"] != account["username"], account
        assert instant(account["expires"]) == expires, account
        created = instant(account["created"])
        assert started - timedelta(seconds=2) <= created <= datetime.now(timezone.utc) + timedelta(seconds=2), account
        # The generated client parses the same body into its model.
        parsed = response.parsed
        assert isinstance(parsed, models.CreateServiceAccountResponse), parsed
        assert parsed.status.value == "ok"
        assert parsed.results.id == account["id"] and parsed.results.token == account["token"]
        assert parsed.results.username == account["username"] and parsed.results.expires == expires
        return account

    def read_fields(account: dict) -> dict:
        return {key: account[key] for key in ("id", "username", "creator", "user")}

    def listed(client) -> list:
        response = client.get_httpx_client().get(f"/organizations/{org}/service-accounts")
        assert response.status_code == 200, (response.status_code, response.content)
        body = response.json()
        validate(OAS30Validator, list_schema(read_schema), body)
        assert set(body) == {"results", "status"} and body["status"] == "ok", body
        for item in body["results"]:
            # https://docs.mixpanel.com/reference/create-service-account: the secret "cannot
            # be recovered": no other answer carries it.
            assert "token" not in item, item
        return body["results"]

    def project_members() -> dict:
        response = admin_api.get_httpx_client().get(f"/projects/{project}/service-accounts")
        assert response.status_code == 200, (response.status_code, response.content)
        body = response.json()
        validate(OAS30Validator, project_list_schema(read_schema, role_schema), body)
        assert set(body) == {"results", "status"} and body["status"] == "ok", body
        assert all("token" not in item for item in body["results"]), body
        return {item["id"]: item for item in body["results"]}

    # --- Create (the seed's operation, the generated client), as role admin.
    started = datetime.now(timezone.utc)
    account = assert_created(create(admin_api, "seed-mixpanel-pipeline"), started)

    # --- 401 without credentials, through the generated client: a Basic challenge.
    response = create_operation.sync_detailed(
        org, client=api(), body=models.CreateServiceAccountRequest(username="anonymous")
    )
    assert_error(response, 401, error_schemas)
    assert_basic_challenge(response)
    assert isinstance(response.parsed, models.CreateServiceAccountResponse401)
    # … and with a wrong secret.
    response = create(api(admin["client_id"], admin["client_secret"] + "x"), "wrong-secret")
    assert_error(response, 401, error_schemas)
    assert_basic_challenge(response)

    # --- 403: a non-administrator may not create (https://docs.mixpanel.com/reference/service-accounts-api).
    analyst_api = api(analyst["client_id"], analyst["client_secret"])
    response = create(analyst_api, "by-an-analyst")
    assert_error(response, 403, error_schemas)
    assert isinstance(response.parsed, models.CreateServiceAccountResponse403)
    # DECIDED (no reference): an organization that is not the caller's, existing or not,
    # is 404, the same answer either way, so that numbers of other tenants do not leak.
    for foreign in (other_org, 2147483647):
        response = create_operation.sync_detailed(
            foreign, client=admin_api,
            body=models.CreateServiceAccountRequest(username="elsewhere", role=models.RoleEnum("admin")),
        )
        assert_error(response, 404, error_schemas)
        assert isinstance(response.parsed, models.CreateServiceAccountResponse404)

    # --- 400 (seed): a body that is not a ServiceAccountWrite.
    raw = admin_api.get_httpx_client()
    assert_error(raw.post(f"/organizations/{org}/service-accounts", json={"role": "admin"}), 400, error_schemas)
    assert_error(
        raw.post(f"/organizations/{org}/service-accounts", json={"username": "bad-role", "role": "emperor"}),
        400, error_schemas,
    )

    # Its Basic credentials at the token endpoint (RFC 6749 §4.4.3, §5.1).
    response = token_endpoint(server, account["username"], account["token"])
    assert response.status_code == 200, response.text
    issued = response.json()
    assert isinstance(issued["access_token"], str) and issued["access_token"].count(".") == 2, issued
    assert issued["token_type"].lower() == "bearer", issued
    assert "no-store" in response.headers.get("cache-control", ""), response.headers

    # … and on the Service Accounts API: an admin account may itself list and create.
    account_api = api(account["username"], account["token"])
    assert account["id"] in {item["id"] for item in listed(account_api)}
    child = assert_created(create(account_api, "created-by-the-pipeline", role="analyst"), started)
    # ServiceAccountRead: `creator` is "the Mixpanel user id that created this service
    # account", `user` "the Mixpanel user id that this service account represents".
    assert child["creator"] == account["user"], (child, account)

    # --- The same create twice: two accounts, two usernames.
    twins = [assert_created(create(admin_api, "seed-mixpanel-twin"), started) for _ in range(2)]
    assert twins[0]["username"] != twins[1]["username"], twins
    assert twins[0]["id"] != twins[1]["id"] and twins[0]["token"] != twins[1]["token"], twins
    assert twins[0]["creator"] == twins[1]["creator"] == account["creator"], (twins, account)
    for twin in twins:
        assert token_endpoint(server, twin["username"], twin["token"]).status_code == 200

    # --- List (https://docs.mixpanel.com/reference/list-service-accounts): it is there.
    everyone = {item["id"]: item for item in listed(admin_api)}
    for member in (account, child, *twins):
        assert member["id"] in everyone, (member, everyone)
        item = everyone[member["id"]]
        assert read_fields(item) == read_fields(member), (item, member)
        assert instant(item["created"]) == instant(member["created"]), (item, member)
        assert instant(item["expires"]) == expires, item
    assert len({item["username"] for item in everyone.values()}) == len(everyone), everyone

    # --- Retrieve one (https://docs.mixpanel.com/reference/get-service-account): the 200 is
    # a bare ServiceAccountRead (the vendor's schema has no results/status envelope here).
    path = f"/organizations/{org}/service-accounts/{account['id']}"
    response = raw.get(path)
    assert response.status_code == 200, (response.status_code, response.content)
    retrieved = response.json()
    validate(OAS30Validator, read_schema, retrieved)
    assert set(retrieved) == {"id", "username", "created", "creator", "user", "expires", "last_used"}, retrieved
    assert read_fields(retrieved) == read_fields(account), (retrieved, account)
    assert instant(retrieved["created"]) == instant(account["created"])
    assert instant(retrieved["expires"]) == expires
    # It has authenticated since (token endpoint, API): `last_used` is set.
    last_used = instant(retrieved["last_used"])
    assert instant(account["created"]) - timedelta(seconds=1) <= last_used <= datetime.now(timezone.utc) + timedelta(seconds=2)

    # --- Project membership (https://docs.mixpanel.com/reference/add-service-accounts-to-projects,
    # …/remove-service-accounts-from-projects, …/list-project-service-accounts).
    def add(role: str) -> None:
        response = raw.post(
            f"/organizations/{org}/service-accounts/add-to-project",
            json={"projects": [{"id": project, "role": role}], "service_account_ids": [account["id"]]},
        )
        assert response.status_code == 200, (response.status_code, response.content)
        validate(OAS30Validator, STATUS_OK_SCHEMA, response.json())
        assert response.json() == {"status": "ok"}

    assert account["id"] not in project_members()
    add("analyst")
    member = project_members()[account["id"]]
    assert member["username"] == account["username"], member
    assert member["role"] == "analyst" and member["target_type"] == "individual", member
    response = raw.post(
        f"/organizations/{org}/service-accounts/remove-from-project",
        json={"projects": [{"id": project, "service_account_ids": [account["id"]]}]},
    )
    assert response.status_code == 200, (response.status_code, response.content)
    validate(OAS30Validator, STATUS_OK_SCHEMA, response.json())
    assert response.json() == {"status": "ok"}
    assert account["id"] not in project_members()
    # AddServiceAccountsToProjectsRequest requires `service_account_ids`: 400.
    assert_error(
        raw.post(f"/organizations/{org}/service-accounts/add-to-project",
                 json={"projects": [{"id": project, "role": "analyst"}]}),
        400, error_schemas,
    )
    add("consumer")
    assert project_members()[account["id"]]["role"] == "consumer"

    # --- Delete (https://docs.mixpanel.com/reference/delete-service-account): an analyst may
    # not (403); the administrator may: 200 {"status": "ok"}.
    assert_error(analyst_api.get_httpx_client().delete(path), 403, error_schemas)
    response = raw.delete(path)
    assert response.status_code == 200, (response.status_code, response.content)
    validate(OAS30Validator, DELETED_SCHEMA, response.json())
    assert response.json() == {"status": "ok"}

    # --- After the delete: retrieve 404, delete again 404, gone from the list and the
    # project ("Removes the service account from all associated projects").
    assert_error(raw.get(path), 404, error_schemas)
    assert_error(raw.delete(path), 404, error_schemas)
    remaining = {item["id"] for item in listed(admin_api)}
    assert account["id"] not in remaining and child["id"] in remaining, remaining
    assert account["id"] not in project_members()

    # Its Basic credentials: 401 at the token endpoint (RFC 6749 §5.2: invalid_client, with
    # a challenge for the scheme the client used) …
    response = token_endpoint(server, account["username"], account["token"])
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client", response.text
    assert response.headers.get("www-authenticate", "").lower().startswith("basic"), response.headers
    # … and at the API.
    response = account_api.get_httpx_client().get(f"/organizations/{org}/service-accounts")
    assert_error(response, 401, error_schemas)
    assert_basic_challenge(response)
    # The account it created lives on.
    assert token_endpoint(server, child["username"], child["token"]).status_code == 200
