"""The seed dialects from the outside: responses validated against the OpenAPI
schemas embedded in the seed documents (Mixpanel, Ctrl Hub), and for every dialect
a round trip create → token (Authlib or requests) → verify (PyJWT)."""

import json
import os
import re
import subprocess
import uuid
from datetime import datetime, timedelta

import pytest
import requests
import yaml
from authlib.integrations.requests_client import OAuth2Session
from openapi_schema_validator import OAS30Validator, OAS31Validator

from conftest import ROOT, Server, service_missing
from test_examples import readme_block
from test_interop import verify_with_pyjwt

# The seed documents are vendors' text and stay outside the project: in `shared/seeds`
# beside the repository's root (TESSERA_SEEDS names another folder).
SEEDS = os.environ.get("TESSERA_SEEDS") or os.path.join(os.path.dirname(ROOT), "shared", "seeds")


def seed_document(prefix: str) -> str:
    """The path of the seed document whose name starts with `prefix` ("001_"); a missing
    folder or document fails under CI and skips elsewhere, saying where it was expected."""
    if not os.path.isdir(SEEDS):
        service_missing(f"the seed documents are expected at {SEEDS} (set TESSERA_SEEDS to another folder)")
    names = [name for name in sorted(os.listdir(SEEDS)) if name.startswith(prefix)]
    if len(names) != 1:
        service_missing(f"the seed documents are expected at {SEEDS}: one named {prefix}…, found {names or 'none'}")
    return os.path.join(SEEDS, names[0])


def embedded_openapi(prefix: str) -> dict:
    """The OpenAPI document in a seed file's ````yaml block."""
    path = seed_document(prefix)
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"````yaml[^\n]*\n(.*?)\n````", text, re.S)
    assert match, f"no embedded OpenAPI in {name}"
    return yaml.safe_load(match.group(1))


def resolve(document: dict, node):
    """Inlines every local $ref (the seeds' schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(document, target)
        return {key: resolve(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(document, value) for value in node]
    return node


def response_spec(document: dict, path: str, status: int) -> dict:
    return resolve(document, document["paths"][path]["post"]["responses"][str(status)])


def validate(validator_class, schema: dict, instance) -> None:
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, "\n".join(str(error) for error in errors)


def bearer(server: Server, credentials: dict) -> str:
    return "Bearer " + server.token(credentials["client_id"], credentials["client_secret"])["access_token"]


# MARK: Mixpanel (001)

MIXPANEL = "/organizations/{organizationId}/service-accounts"


def organization_number(server: Server, slug: str) -> int:
    superuser = server.bootstrap("root", role="super_admin")
    response = requests.get(f"{server.issuer}/v1/tenants/{slug}", headers={"Authorization": bearer(server, superuser)}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["number"]


def test_mixpanel_responses_validate_against_the_seed_schema(server: Server):
    document = embedded_openapi("001_")
    admin = server.bootstrap("mixpanel-org")
    number = organization_number(server, "mixpanel-org")
    url = f"{server.issuer}/api/app/organizations/{number}/service-accounts"
    body = {"username": "etl", "role": "analyst", "expires": "2031-06-01T00:00:00Z", "projects": [{"id": 4242, "role": "consumer"}]}
    validate(OAS30Validator, resolve(document, document["components"]["schemas"]["CreateServiceAccountRequest"]), body)

    # HTTP Basic with the admin account's own id and secret, as the seed's security scheme says.
    response = requests.post(url, json=body, auth=(admin["client_id"], admin["client_secret"]), timeout=10)
    assert response.status_code == 201, response.text
    schema = response_spec(document, MIXPANEL, 201)["content"]["application/json"]["schema"]
    validate(OAS30Validator, schema, response.json())
    results = response.json()["results"]
    assert response.json()["status"] == "ok"
    assert results["expires"] == "2031-06-01T00:00:00Z"
    assert results["user"] == results["id"]

    # The returned username and token obtain a token (Authlib) that PyJWT verifies.
    session = OAuth2Session(results["username"], results["token"], token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(server.issuer + "/oauth2/token", grant_type="client_credentials")
    claims = verify_with_pyjwt(server, token["access_token"], "ES256")
    assert claims["scope"] == "api:read"
    assert claims["roles"] == ["analyst"]
    assert claims["client_id"] == results["username"]

    analyst = (results["username"], results["token"])
    for status, kwargs in [
        (400, {"json": {"role": "admin"}, "auth": (admin["client_id"], admin["client_secret"])}),
        (401, {"json": {"username": "x"}, "auth": (admin["client_id"], "tss_wrong")}),
        (403, {"json": {"username": "x"}, "auth": analyst}),
    ]:
        failure = requests.post(url, timeout=10, **kwargs)
        assert failure.status_code == status, failure.text
        validate(OAS30Validator, response_spec(document, MIXPANEL, status)["content"]["application/json"]["schema"], failure.json())
        assert failure.json()["status"] == "error"
    missing = requests.post(
        f"{server.issuer}/api/app/organizations/987654/service-accounts", json={"username": "x"},
        auth=(admin["client_id"], admin["client_secret"]), timeout=10,
    )
    assert missing.status_code == 404
    validate(OAS30Validator, response_spec(document, MIXPANEL, 404)["content"]["application/json"]["schema"], missing.json())


# MARK: Ctrl Hub (002)

CTRL_HUB = "/v3/orgs/{org_id}/iam/service-accounts"
JSON_API = "application/vnd.api+json"


def test_ctrl_hub_responses_validate_against_the_seed_schema(server: Server):
    document = embedded_openapi("002_")
    admin = server.bootstrap("ctrl-hub-org")
    org = admin["tenant_id"]
    headers = {"Authorization": bearer(server, admin), "Content-Type": JSON_API}
    body = {"data": {"type": "service-accounts", "attributes": {"name": "API Integration Service", "description": "integrations"}}}
    request_schema = resolve(document, document["components"]["requestBodies"]["CreateServiceAccount"])["content"][JSON_API]["schema"]
    validate(OAS31Validator, request_schema, body)

    response = requests.post(f"{server.issuer}/v3/orgs/{org}/iam/service-accounts", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    spec = response_spec(document, CTRL_HUB, 200)
    validate(OAS31Validator, spec["content"][JSON_API]["schema"], response.json())
    for header in spec["headers"]:
        assert header in response.headers, header
    assert response.headers["Content-Type"] == JSON_API
    assert int(response.headers["Content-Length"]) == len(response.content)
    data = response.json()["data"]
    assert data["attributes"]["name"] == "API Integration Service"
    assert data["relationships"]["organisations"]["data"] == [{"id": org, "type": "organisations"}]
    datetime.fromisoformat(data["meta"]["created_at"])

    # Its OAuth flow: client credentials at /oauth2/token with the returned key.
    key = data["attributes"]["keys"][0]
    session = OAuth2Session(key["client_id"], key["client_secret"], token_endpoint_auth_method="client_secret_post")
    token = session.fetch_token(server.issuer + "/oauth2/token", grant_type="client_credentials")
    claims = verify_with_pyjwt(server, token["access_token"], "ES256")
    assert claims["sub"] == data["id"]
    assert claims["tenant"] == org

    analyst = server.bootstrap("ctrl-hub-org", role="analyst")
    for status, target, sent, auth in [
        (400, org, {"data": {"type": "service-accounts", "attributes": {"name": ""}}}, headers),
        (401, org, body, {**headers, "Authorization": bearer(server, analyst)}),
        (409, org, body, headers),
        (409, org, {"data": {"type": "users", "attributes": {"name": "y"}}}, headers),
    ]:
        failure = requests.post(f"{server.issuer}/v3/orgs/{target}/iam/service-accounts", json=sent, headers=auth, timeout=10)
        assert failure.status_code == status, failure.text
        failure_spec = response_spec(document, CTRL_HUB, status)
        validate(OAS31Validator, failure_spec["content"][JSON_API]["schema"], failure.json())
        for header in failure_spec["headers"]:
            assert header in failure.headers, header
        assert failure.headers["Content-Type"] == JSON_API
        assert int(failure.headers["Content-Length"]) == len(failure.content)
        assert failure.json()["errors"][0]["status"] == str(status)


# MARK: Rezolve (000), Keycard (003), Qualytics (004): round trips


def test_rezolve_round_trip(server: Server):
    admin = server.bootstrap("rezolve-org")
    response = requests.post(
        server.issuer + "/api/v1/admin/service-account/create",
        headers={"Authorization": bearer(server, admin), "x-tenantid": "rezolve-org"}, timeout=10,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    token = server.token(data["clientId"], data["clientSecret"])
    claims = verify_with_pyjwt(server, token["access_token"], "ES256")
    assert claims["sub"] == data["id"].removeprefix("sa-")
    assert claims["scope"].split() == data["permissions"]


def test_keycard_round_trip(server: Server):
    admin = server.bootstrap("keycard-org")
    headers = {"Authorization": bearer(server, admin)}
    response = requests.post(
        server.issuer + "/organizations/keycard-org/service-accounts", json={"name": "keycard-bot"}, headers=headers, timeout=10,
    )
    assert response.status_code == 201, response.text
    account_id = response.json()["id"]
    assert response.json()["name"] == "keycard-bot"
    # Keycard returns no secret: the account's secret comes from the native API, as for any account.
    listed = requests.get(f"{server.issuer}/v1/tenants/keycard-org/service-accounts?name_prefix=keycard-bot", headers=headers, timeout=10)
    assert listed.status_code == 200, listed.text
    [native] = listed.json()["items"]
    secret = requests.post(
        f"{server.issuer}/v1/tenants/keycard-org/service-accounts/{native['id']}/secrets", json={"name": "ci"}, headers=headers, timeout=10,
    )
    assert secret.status_code == 201, secret.text
    claims = verify_with_pyjwt(server, server.token(native["client_id"], secret.json()["client_secret"])["access_token"], "ES256")
    assert claims["sub"] == native["id"]
    # Keycard's id is the native UUID's 128 bits in 26 lower-case Crockford base32 characters.
    assert account_id == crockford32(native["id"]).lower()


def crockford32(uuid_text: str) -> str:
    value = uuid.UUID(uuid_text).int
    return "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(value >> (5 * shift)) & 31] for shift in range(25, -1, -1))


@pytest.mark.parametrize("scim", [False, True])
def test_qualytics_round_trip(server: Server, scim: bool):
    admin = server.bootstrap("qualytics-org")
    headers = {"Authorization": bearer(server, admin)}
    name = "Alation Sync" if scim else "Pipeline Automation"
    user = requests.post(server.issuer + "/api/users", json={"name": name, "role": "Admin" if scim else "Manager"}, headers=headers, timeout=10)
    assert user.status_code == 200, user.text
    assert user.json()["teams"] == ["Public"]
    created = requests.post(
        server.issuer + "/api/user-tokens",
        json={"name": "prod", "user_id": user.json()["id"], "expires_in_days": 365, "scim_endpoints_only": scim},
        headers=headers, timeout=10,
    )
    assert created.status_code == 200, created.text
    # The token is a Bearer credential as it is given (no exchange); introspection says what it may do.
    bearer_token = created.json()["bearer_token"]
    whoami = requests.get(server.issuer + "/v1/whoami", headers={"Authorization": f"Bearer {bearer_token}"}, timeout=10)
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["scopes"] == (["scim"] if scim else ["api:read", "api:write"])
    answer = requests.post(
        server.issuer + "/oauth2/introspect", data={"token": bearer_token, "token_type_hint": "api_token"},
        auth=(admin["client_id"], admin["client_secret"]), timeout=10,
    ).json()
    assert answer["active"] is True and answer["token_type"] == "api_token"
    assert answer["scope"] == ("scim" if scim else "api:read api:write")


def test_readme_dialect_curls(server: Server):
    """The README's one curl per dialect, run as written against a live server."""
    admin = server.bootstrap()
    script = readme_block("dialect-curls").replace("http://127.0.0.1:8080", server.issuer)
    env = dict(
        os.environ, T=bearer(server, admin).removeprefix("Bearer "), N=str(organization_number(server, "acme")),
        TENANT=admin["tenant_id"], ID=admin["client_id"], SECRET=admin["client_secret"],
    )
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    # Six JSON documents back to back, one per curl; each checked on what is not random.
    documents, position = [], 0
    decoder = json.JSONDecoder()
    while position < len(result.stdout) and len(documents) < 10:
        document, position = decoder.raw_decode(result.stdout, position)
        documents.append(document)
    assert len(documents) == 6, result.stdout
    rezolve, mixpanel, ctrl_hub, keycard, qualytics_user, qualytics_token = documents

    assert (rezolve["success"], rezolve["message"]) == (True, "Service account created successfully")
    assert (rezolve["data"]["status"], rezolve["data"]["type"], rezolve["data"]["permissions"]) == ("active", "service_account", ["api:read", "api:write"])
    assert rezolve["data"]["tenant"] == {"id": admin["tenant_id"], "name": "acme"}

    assert mixpanel["status"] == "ok"
    assert mixpanel["results"]["user"] == mixpanel["results"]["id"]

    assert ctrl_hub["jsonapi"] == {"version": "1.0"}
    assert (ctrl_hub["data"]["type"], ctrl_hub["data"]["attributes"]["name"]) == ("service-accounts", "API Integration Service")
    assert ctrl_hub["data"]["relationships"]["organisations"]["data"] == [{"id": admin["tenant_id"], "type": "organisations"}]

    assert sorted(keycard) == ["created_at", "id", "name", "updated_at"]
    assert keycard["name"] == "bot"

    service_user = {
        "email": "api_access@service", "name": "API Access", "role": "Editor", "teams": ["Public"],
        "user_id": "api_access@service", "user_name": "api_access@service", "user_type": "Service",
    }
    assert qualytics_user == service_user | {"id": qualytics_user["id"]}
    assert qualytics_token["user"] == qualytics_user
    assert (qualytics_token["name"], qualytics_token["active"], qualytics_token["scim_endpoints_only"]) == ("prod", True, False)
    assert qualytics_token["bearer_token"].startswith("tsa_")
    lifetime = datetime.fromisoformat(qualytics_token["expiration"]) - datetime.fromisoformat(qualytics_token["created"])
    assert lifetime == timedelta(days=90)
