"""Rezolve admin service accounts (seed 000), from the outside: one whole life.

Reference, and nothing else:
- the seed document 000 ("Create Service Account", shared/seeds/000_*.txt), published as
  https://docs.rezolve.ai/docs/api-reference/auth-keys/create-service-account
  (source: github.com/ubreddy/rezolve-docs, docs/api-reference/auth-keys/create-service-account.md):
  POST /api/v1/admin/service-account/create, Bearer JWT, `x-tenantid`, the
  {success, message, data, timestamp} envelope, the `data` object, errors 401/403/409/500.
- Rezolve's API overview, https://docs.rezolve.ai/docs/api-reference/overview
  (docs/api-reference/overview.md): the error envelope
  {success: false, error: {code, message, details}, timestamp} and the status codes
  400/401/403/404/409/422.
- Rezolve's pages for its other admin objects, for naming conventions only:
  https://docs.rezolve.ai/docs/api-reference/auth-keys/get-oauth-client-by-id,
  .../delete-oauth-client, .../list-oauth-clients, .../create-api-key,
  .../revoke-delete-api-key (error codes UNAUTHORIZED, FORBIDDEN, VALIDATION_ERROR,
  <OBJECT>_NOT_FOUND; messages "<Object> retrieved/updated/deleted successfully").
- RFC 6749 (§2.3.1, §4.4, §5.2), RFC 6750 (§3), RFC 7519.

Rezolve publishes no list / get / permission-update / delete for service accounts (the
seed only says permissions are modified "via separate endpoint"), so those four follow
the contract of the seed's conventions: same path family, same envelope, same `data`
object as create minus `clientSecret`.
"""

import base64
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import requests

from conftest import Server, service_missing  # noqa: F401  (a missing seed skips, or fails under CI, via seed_document)
from test_dialects import seed_document

TENANT = "seed-rezolve"
OTHER_TENANT = "seed-rezolve-other"
BASE = "/api/v1/admin/service-account"
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SA_ID = re.compile(r"^sa-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# Seed note 4: the name is unique and based on the timestamp; two made in one second
# (here the bootstrapped administrator and the first account) differ by a suffix.
NAME = re.compile(r"^service-account-(\d{14})(-[0-9a-z]+)?$")


def seed_example() -> dict:
    """The seed's "Success Response Example" (its first ```json block)."""
    with open(seed_document("000_"), encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"```json\n(.*?)\n```", text, re.S)
    assert match, "no JSON example in seed 000"
    return json.loads(match.group(1))


def instant(text) -> datetime:
    """An ISO 8601 UTC instant with milliseconds and `Z`, as in every Rezolve example
    ("2025-07-10T14:35:00.000Z"); it must be now, give or take five minutes."""
    assert isinstance(text, str) and ISO_MS_Z.match(text), f"not an ISO 8601 ms Z instant: {text!r}"
    value = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=5) <= value <= now + timedelta(minutes=5), f"{text} is not now ({now.isoformat()})"
    return value


def success(response: requests.Response, message: str):
    """The seed's envelope: exactly {success: true, message, data, timestamp}, HTTP 200."""
    assert response.status_code == 200, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    assert response.headers["Content-Type"].split(";")[0].strip() == "application/json"
    body = response.json()
    assert set(body) == {"success", "message", "data", "timestamp"}, body
    assert body["success"] is True
    assert body["message"] == message
    instant(body["timestamp"])
    return body["data"]


def failure(response: requests.Response, status: int, code: str) -> dict:
    """The overview's error envelope (https://docs.rezolve.ai/docs/api-reference/overview,
    "Error Response"): exactly {success: false, error: {code, message[, details]}, timestamp}."""
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    assert response.headers["Content-Type"].split(";")[0].strip() == "application/json"
    body = response.json()
    assert set(body) == {"success", "error", "timestamp"}, body
    assert body["success"] is False
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    instant(body["timestamp"])
    if status == 401:
        # RFC 6750 §3: a 401 from a Bearer-protected resource carries WWW-Authenticate: Bearer.
        assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), response.headers
    return error


def claims(server: Server, token: str) -> dict:
    """The access token's payload, its signature checked with the issuer's JWKS."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] in {"ES256", "ES384", "RS256", "PS256", "EdDSA"}, header
    key = jwt.PyJWKClient(server.issuer + "/.well-known/jwks.json").get_signing_key_from_jwt(token).key
    return jwt.decode(token, key, algorithms=[header["alg"]], options={"verify_aud": False})


def unverified_payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_rezolve_service_account_life(server: Server):
    example = seed_example()
    account_members = set(example["data"])  # id, name, clientId, clientSecret, type, status, permissions, createdAt, createdBy, tenant
    listed_members = account_members - {"clientSecret"}  # seed: the secret "is only returned once during creation"

    admin = server.bootstrap(tenant=TENANT, role="admin")
    tenant_id = admin["tenant_id"]
    admin_token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    admin_sub = unverified_payload(admin_token)["sub"]

    def call(method: str, path: str, token: str | None = admin_token, tenant: str | None = tenant_id, **kwargs):
        # Seed "Headers": Authorization (Bearer JWT), accept: application/json, x-tenantid.
        headers = {"accept": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if tenant is not None:
            headers["x-tenantid"] = tenant
        return requests.request(method, server.issuer + path, headers=headers, timeout=10, **kwargs)

    # --- create (the seed: POST …/create, no body; the curl example sends no content-type) ---
    created = success(call("POST", f"{BASE}/create"), example["message"])  # "Service account created successfully"
    assert set(created) == account_members, created
    match = SA_ID.match(created["id"])
    assert match and str(uuid.UUID(match.group(1))) == match.group(1), created["id"]
    created_at = instant(created["createdAt"])
    # Seed note 4: "A unique name is auto-generated based on timestamp"; the example pairs
    # service-account-20250710143500 with createdAt 2025-07-10T14:35:00.000Z.
    name = NAME.match(created["name"])
    assert name and name.group(1) == created_at.strftime("%Y%m%d%H%M%S"), created
    assert isinstance(created["clientId"], str) and created["clientId"], created
    assert isinstance(created["clientSecret"], str) and created["clientSecret"], created
    assert created["clientSecret"] != created["clientId"]
    assert created["type"] == "service_account"
    assert created["status"] == "active"
    # Seed note 3: "Default permissions are assigned"; the defaults are the seed's example's.
    assert created["permissions"] == ["api:read", "api:write"]
    assert set(created["createdBy"]) == {"id", "name", "email"}, created["createdBy"]
    assert created["createdBy"]["id"] == admin_sub  # the caller: the `sub` of the Bearer token used
    assert isinstance(created["createdBy"]["name"], str) and created["createdBy"]["name"]
    assert created["createdBy"]["email"] is None or isinstance(created["createdBy"]["email"], str)
    assert created["tenant"] == {"id": tenant_id, "name": TENANT}
    account_id = created["id"]
    expected = {key: value for key, value in created.items() if key != "clientSecret"}

    # --- its credentials are OAuth 2.0 client credentials (RFC 6749 §4.4, Basic per §2.3.1) ---
    issued = server.token(created["clientId"], created["clientSecret"])
    assert issued["token_type"].lower() == "bearer"  # RFC 6749 §7.1: case-insensitive
    assert claims(server, issued["access_token"])["scope"] == " ".join(created["permissions"])

    # --- list (x-tenantid as the tenant's slug) ---
    listed = success(call("GET", f"{BASE}/list", tenant=TENANT), "Service accounts retrieved successfully")
    assert isinstance(listed, list), listed
    for item in listed:
        assert set(item) == listed_members, item
        assert item["tenant"] == {"id": tenant_id, "name": TENANT}, item
    assert [item for item in listed if item["id"] == account_id] == [expected]

    # --- get ---
    assert success(call("GET", f"{BASE}/{account_id}"), "Service account retrieved successfully") == expected

    # --- 401: no token, a token that is not one of ours (seed: "Bearer token is missing, expired, or invalid") ---
    failure(call("POST", f"{BASE}/create", token=None), 401, "UNAUTHORIZED")
    failure(call("GET", f"{BASE}/list", token=None), 401, "UNAUTHORIZED")
    failure(call("GET", f"{BASE}/{account_id}", token=None), 401, "UNAUTHORIZED")
    failure(call("GET", f"{BASE}/{account_id}", token="not-a-jwt"), 401, "UNAUTHORIZED")

    # --- 403: a non-administrator of the same tenant (seed note 5: tenant_admin or super_admin) ---
    analyst = server.bootstrap(tenant=TENANT, role="analyst")
    analyst_token = server.token(analyst["client_id"], analyst["client_secret"])["access_token"]
    failure(call("POST", f"{BASE}/create", token=analyst_token), 403, "FORBIDDEN")
    failure(call("GET", f"{BASE}/list", token=analyst_token), 403, "FORBIDDEN")
    failure(call("GET", f"{BASE}/{account_id}", token=analyst_token), 403, "FORBIDDEN")
    failure(
        call("PUT", f"{BASE}/{account_id}/permissions", token=analyst_token, json={"permissions": ["api:read"]}),
        403,
        "FORBIDDEN",
    )
    failure(call("DELETE", f"{BASE}/{account_id}", token=analyst_token), 403, "FORBIDDEN")

    # --- x-tenantid is required (seed "Headers"), and names the caller's own tenant ---
    failure(call("GET", f"{BASE}/list", tenant=None), 400, "VALIDATION_ERROR")
    other = server.bootstrap(tenant=OTHER_TENANT, role="admin")
    failure(call("GET", f"{BASE}/list", tenant=other["tenant_id"]), 403, "FORBIDDEN")
    # Another tenant's administrator does not see this tenant's account.
    other_token = server.token(other["client_id"], other["client_secret"])["access_token"]
    failure(call("GET", f"{BASE}/{account_id}", token=other_token, tenant=other["tenant_id"]), 404, "SERVICE_ACCOUNT_NOT_FOUND")

    # --- 404: an id that was never issued ---
    unknown = f"sa-{uuid.uuid4()}"
    failure(call("GET", f"{BASE}/{unknown}"), 404, "SERVICE_ACCOUNT_NOT_FOUND")
    failure(call("PUT", f"{BASE}/{unknown}/permissions", json={"permissions": ["api:read"]}), 404, "SERVICE_ACCOUNT_NOT_FOUND")
    failure(call("DELETE", f"{BASE}/{unknown}"), 404, "SERVICE_ACCOUNT_NOT_FOUND")

    # Nothing above changed the account.
    assert success(call("GET", f"{BASE}/{account_id}"), "Service account retrieved successfully") == expected

    # --- change its permissions ("modify via separate endpoint", seed note 3) ---
    changed = success(
        call("PUT", f"{BASE}/{account_id}/permissions", json={"permissions": ["api:read"]}),
        "Service account permissions updated successfully",
    )
    expected = {**expected, "permissions": ["api:read"]}
    assert changed == expected
    assert success(call("GET", f"{BASE}/{account_id}"), "Service account retrieved successfully") == expected

    # A token obtained afterwards carries exactly the new permissions; this time the client
    # authenticates with client_id/client_secret in the form (RFC 6749 §2.3.1).
    response = requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": created["clientId"], "client_secret": created["clientSecret"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert claims(server, response.json()["access_token"])["scope"] == "api:read"

    # --- 400: a permission that does not exist, or no list of permissions; nothing changes ---
    error = failure(
        call("PUT", f"{BASE}/{account_id}/permissions", json={"permissions": ["api:read", "nope:nothing"]}),
        400,
        "VALIDATION_ERROR",
    )
    assert "nope:nothing" in json.dumps(error), error  # the offending permission is named
    failure(call("PUT", f"{BASE}/{account_id}/permissions", json={"permissions": "api:read"}), 400, "VALIDATION_ERROR")
    failure(call("PUT", f"{BASE}/{account_id}/permissions", json={}), 400, "VALIDATION_ERROR")
    assert success(call("GET", f"{BASE}/{account_id}"), "Service account retrieved successfully") == expected

    # --- delete ---
    assert success(call("DELETE", f"{BASE}/{account_id}"), "Service account deleted successfully") is None

    # Gone: get and a second delete are 404, the list no longer has it.
    failure(call("GET", f"{BASE}/{account_id}"), 404, "SERVICE_ACCOUNT_NOT_FOUND")
    failure(call("DELETE", f"{BASE}/{account_id}"), 404, "SERVICE_ACCOUNT_NOT_FOUND")
    listed = success(call("GET", f"{BASE}/list"), "Service accounts retrieved successfully")
    assert account_id not in [item["id"] for item in listed]

    # Its credentials no longer authenticate: RFC 6749 §5.2, invalid_client; with HTTP Basic
    # the answer is 401 with a WWW-Authenticate for the Basic scheme.
    response = requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(created["clientId"], created["clientSecret"]),
        timeout=10,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("basic"), response.headers
