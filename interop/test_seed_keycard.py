"""Keycard's service-account API (seed 003) from the outside: one whole life of a
service account, driven the way Keycard's own SDKs drive it.

Reference, and nothing else:
- the seed document /work/shared/seeds/003_68c102a4aab20100.txt: Keycard's SDK reference
  for `client.organizations.serviceAccounts.create`,
  `POST /organizations/{organization_id}/service-accounts` (body `name`, `description?`
  (maxLength 500), header `X-Client-Request-ID` (uuid); returns `ServiceAccount
  {id, created_at, name, updated_at, description?, permissions?}`);
- Keycard's public API reference for the rest of the resource:
  https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/methods/list
  https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/methods/update
  https://docs.keycard.ai/api/typescript/resources/organizations/subresources/service_accounts/methods/delete
  https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/subresources/credentials/methods/create
  https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/subresources/credentials/methods/retrieve
  https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/subresources/credentials/methods/delete
- Keycard's published TypeScript SDK, generated from their OpenAPI (retrieve/list/update/
  delete and the credentials sub-resource, `PageInfoCursor`):
  https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/service-accounts/service-accounts.ts
  https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/service-accounts/credentials.ts
  https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/organizations.ts (PageInfoCursor)
- Keycard's own OpenAPI document as published in their Terraform provider, for the error
  body (`Error {message, code, status}`, all required) and the status codes its
  organization-scoped operations use (create 201, delete 204, not found 404):
  https://github.com/keycardai/terraform-provider-keycard/blob/0c4a2adeea7153edcacbab538b93eb3e7d6c22b4/api/openapi.yaml
- RFC 6749 §5.1/§5.2 (token response, `invalid_client`), RFC 6750 §3 (`WWW-Authenticate`
  on a request without a token), RFC 9068 §2.2 (`iss`, `client_id` in a JWT access token).

Deployment mapping (from the brief, not from Keycard): the paths sit directly under the
issuer, `{organization_id}` is the tenant's slug or its UUID, the administrator
authenticates with `Authorization: Bearer <access token from /oauth2/token>`, and a
credential's `client_id`/`client_secret` work at the issuer's `/oauth2/token`.
"""

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from functools import cache

import jwt
import requests

from conftest import Server
from test_dialects import seed_document

TENANT = "seed-keycard"
OTHER_TENANT = "seed-keycard-other"
TIMEOUT = 10

# "Identifier for API resources. A 26-char nanoid (URL/DNS safe)." (seed; same text on
# every id of the reference). DNS-safe read as lowercase letters and digits, as in the
# reference's example "ab3def8hij2klm9opq5rst7uvw".
NANOID = re.compile(r"^[0-9a-z]{26}$")
# A well-formed id that names nothing: the reference's own example id.
UNKNOWN_ID = "ab3def8hij2klm9opq5rst7uvw"

# ServiceAccountCredential (without secret) and CredentialCreateResponse (with it), from
# https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/service-accounts/credentials.ts
CREDENTIAL_REQUIRED = {"id", "client_id", "created_at", "name"}
CREDENTIAL_MEMBERS = CREDENTIAL_REQUIRED | {"description", "last_used_at", "permissions"}
CREATED_CREDENTIAL_REQUIRED = CREDENTIAL_REQUIRED | {"client_secret"}
CREATED_CREDENTIAL_MEMBERS = CREATED_CREDENTIAL_REQUIRED | {"description"}
# PageInfoCursor: has_next_page, has_prev_page (required), end_cursor?, start_cursor?
# https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/organizations.ts
PAGE_INFO_REQUIRED = {"has_next_page", "has_prev_page"}
PAGE_INFO_MEMBERS = PAGE_INFO_REQUIRED | {"end_cursor", "start_cursor"}


@cache
def service_account_shape() -> tuple[frozenset, frozenset]:
    """The ServiceAccount members (all, required) as the seed lists them under "Returns":
    `name: type` is required, `name?: type` optional; cross-checked with its example."""
    with open(seed_document("003_"), encoding="utf-8") as handle:
        text = handle.read()
    returns = text[text.index("ReturnsExpand Collapse") : text.index("import KeycardAPI")]
    declared = dict(re.findall(r"^([a-z_]+)(\??): ", returns, re.M))
    example, _ = json.JSONDecoder().raw_decode(text[text.index('{\n  "id"') :])
    assert set(declared) == set(example), (declared, example)
    return frozenset(declared), frozenset(name for name, optional in declared.items() if not optional)


# MARK: helpers


def url(server: Server, organization: str, *parts: str) -> str:
    return "/".join([f"{server.issuer}/organizations/{organization}/service-accounts", *parts])


def bearer(server: Server, account: dict) -> dict:
    token = server.token(account["client_id"], account["client_secret"])["access_token"]
    return {"Authorization": f"Bearer {token}"}


def request_id() -> dict:
    return {"X-Client-Request-ID": str(uuid.uuid4())}


def utc_timestamp(value) -> datetime:
    """`format: date-time`, "in utc" (seed)."""
    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


def assert_recent(value) -> None:
    moment = utc_timestamp(value)
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=5) <= moment <= now + timedelta(minutes=5), value


def assert_service_account(body, name: str, description: str, expanded: bool) -> None:
    """A ServiceAccount: only the seed's members, the required ones present, and
    `permissions` exactly when `expand[]=permissions` was asked for (seed: "Only populated
    when the 'expand[]=permissions' query parameter is provided")."""
    members, required = service_account_shape()
    assert isinstance(body, dict), body
    assert set(body) <= members, body
    assert required <= set(body), body
    assert NANOID.match(body["id"]), body["id"]
    assert body["name"] == name
    assert body["description"] == description
    assert_recent(body["created_at"])
    assert utc_timestamp(body["updated_at"]) >= utc_timestamp(body["created_at"])
    if not expanded:
        assert "permissions" not in body, body
        return
    # Record<string, Record<string, boolean>> (seed). Which resource type and which names
    # is not in the reference: decided here, "service_accounts" with read, update and delete
    # granted to an administrator (more names may follow; these three must be there).
    permissions = body["permissions"]
    assert isinstance(permissions, dict) and permissions, body
    for resource, granted in permissions.items():
        assert isinstance(resource, str) and isinstance(granted, dict), permissions
        assert all(isinstance(k, str) and isinstance(v, bool) for k, v in granted.items()), permissions
    assert {k: permissions["service_accounts"].get(k) for k in ("read", "update", "delete")} == {
        "read": True,
        "update": True,
        "delete": True,
    }, permissions


def without_permissions(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "permissions"}


def assert_error(response: requests.Response, status: int) -> dict:
    """Keycard's error body, `Error {message: string, code: string, status: number}`, all
    required (terraform-provider-keycard api/openapi.yaml, components.schemas.Error); the
    reference gives no list of `code` values, so only its type is fixed."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert {"message", "code", "status"} <= set(body), body
    assert body["status"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["code"], str) and body["code"], body
    return body


def assert_unauthenticated(response: requests.Response) -> None:
    assert_error(response, 401)
    # RFC 6750 §3: a protected resource answers a request without a token with a challenge.
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers


def assert_invalid_client(server: Server, credential: dict) -> None:
    """RFC 6749 §5.2: a client that authenticated with the Authorization header and failed
    gets 401, `invalid_client`, and a WWW-Authenticate challenge."""
    response = requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(credential["client_id"], credential["client_secret"]),
        timeout=TIMEOUT,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client", response.text
    assert response.headers.get("WWW-Authenticate"), response.headers


def assert_token_works(server: Server, credential: dict) -> None:
    token = server.token(credential["client_id"], credential["client_secret"])
    assert token["token_type"].lower() == "bearer", token  # RFC 6749 §5.1
    signing_key = jwt.PyJWKClient(server.issuer + "/.well-known/jwks.json").get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(
        token["access_token"],
        signing_key.key,
        algorithms=[jwt.get_unverified_header(token["access_token"])["alg"]],
        options={"verify_aud": False},
    )
    # RFC 9068 §2.2: the issuer, and the client the token was issued to.
    assert claims["iss"] == server.issuer, claims
    assert claims["client_id"] == credential["client_id"], claims


def create(server: Server, headers: dict, organization: str, body: dict) -> requests.Response:
    return requests.post(url(server, organization), json=body, headers={**headers, **request_id()}, timeout=TIMEOUT)


def list_page(server: Server, headers: dict, organization: str, **params) -> dict:
    response = requests.get(url(server, organization), params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    # ServiceAccountListResponse {items, page_info, permissions?}
    assert {"items", "page_info"} <= set(body) <= {"items", "page_info", "permissions"}, body
    assert isinstance(body["items"], list), body
    page_info = body["page_info"]
    assert PAGE_INFO_REQUIRED <= set(page_info) <= PAGE_INFO_MEMBERS, page_info
    assert isinstance(page_info["has_next_page"], bool) and isinstance(page_info["has_prev_page"], bool), page_info
    for cursor in ("end_cursor", "start_cursor"):
        assert cursor not in page_info or page_info[cursor] is None or isinstance(page_info[cursor], str), page_info
    return body


def ids(page: dict) -> list:
    return [item["id"] for item in page["items"]]


def assert_credential(body, name: str, description: str, with_secret: bool) -> None:
    assert isinstance(body, dict), body
    if with_secret:
        assert CREATED_CREDENTIAL_REQUIRED <= set(body) <= CREATED_CREDENTIAL_MEMBERS, body
        assert isinstance(body["client_secret"], str) and body["client_secret"], body
    else:
        # "Service account credential (without secret)": the secret is shown once only.
        assert CREDENTIAL_REQUIRED <= set(body) <= CREDENTIAL_MEMBERS, body
        assert "last_used_at" not in body or body["last_used_at"] is None or utc_timestamp(body["last_used_at"])
    assert NANOID.match(body["id"]), body["id"]
    assert isinstance(body["client_id"], str) and body["client_id"], body
    assert body["name"] == name
    assert body["description"] == description
    assert_recent(body["created_at"])


# MARK: the life


def test_keycard_service_account_life(server: Server):
    admin = server.bootstrap(TENANT)
    analyst = server.bootstrap(TENANT, role="analyst")
    other_admin = server.bootstrap(OTHER_TENANT)
    as_admin = bearer(server, admin)
    as_analyst = bearer(server, analyst)
    as_other_admin = bearer(server, other_admin)
    slug, tenant_uuid = TENANT, admin["tenant_id"]

    # Create (seed): 201 (decided: the reference gives no status; Keycard's organization-
    # scoped create, POST /organizations/{organization_id}/sso-connection, answers 201).
    response = create(server, as_admin, slug, {"name": "ci-deployer", "description": "Deploys from CI"})
    assert response.status_code == 201, response.text
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    created = response.json()
    assert_service_account(created, "ci-deployer", "Deploys from CI", expanded=False)
    account_id = created["id"]

    # Retrieve: GET /organizations/{organization_id}/service-accounts/{service_account_id},
    # by slug and by UUID ("Organization ID or label identifier"), the same resource.
    # https://github.com/keycardai/keycard-ts/blob/main/src/resources/organizations/service-accounts/service-accounts.ts
    for organization in (slug, tenant_uuid):
        response = requests.get(url(server, organization, account_id), headers=as_admin, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        assert response.json() == created
    # With expand[]=permissions (requests' default encoding: expand%5B%5D=permissions).
    response = requests.get(
        url(server, slug, account_id), params={"expand[]": "permissions"}, headers=as_admin, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert_service_account(response.json(), "ci-deployer", "Deploys from CI", expanded=True)
    assert without_permissions(response.json()) == created
    # "Other operations ignore expand values they do not use" (list reference, expand).
    response = requests.get(
        url(server, slug, account_id), params={"expand[]": "total_count"}, headers=as_admin, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert response.json() == created

    # Update: PATCH with any of name/description; what is not sent stays.
    # https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/methods/update
    response = requests.patch(
        url(server, slug, account_id),
        json={"description": "Deploys from CI, nightly"},
        headers={**as_admin, **request_id()},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert_service_account(updated, "ci-deployer", "Deploys from CI, nightly", expanded=False)
    assert (updated["id"], updated["created_at"]) == (account_id, created["created_at"])
    assert utc_timestamp(updated["updated_at"]) >= utc_timestamp(created["updated_at"])
    response = requests.get(url(server, slug, account_id), headers=as_admin, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json() == updated, response.text

    # Credentials: POST …/{service_account_id}/credentials {name, description?} returns
    # {id, client_id, client_secret, created_at, name, description?} once; 201 decided as for
    # the create above.
    # https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/subresources/credentials/methods/create
    credentials = {}
    for name in ("ci", "spare"):
        response = requests.post(
            url(server, slug, account_id, "credentials"),
            json={"name": name, "description": f"{name} key"},
            headers={**as_admin, **request_id()},
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        assert_credential(response.json(), name, f"{name} key", with_secret=True)
        credentials[name] = response.json()
    assert credentials["ci"]["id"] != credentials["spare"]["id"]
    assert credentials["ci"]["client_secret"] != credentials["spare"]["client_secret"]
    # List and retrieve them, never with the secret.
    response = requests.get(url(server, slug, account_id, "credentials"), headers=as_admin, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert {"items", "page_info"} <= set(listed) <= {"items", "page_info", "permissions"}, listed
    assert PAGE_INFO_REQUIRED <= set(listed["page_info"]) <= PAGE_INFO_MEMBERS, listed
    assert listed["page_info"]["has_next_page"] is False, listed
    assert sorted(item["id"] for item in listed["items"]) == sorted(c["id"] for c in credentials.values())
    for item in listed["items"]:
        name = item["name"]
        assert_credential(item, name, f"{name} key", with_secret=False)
        assert (item["client_id"], item["created_at"]) == (credentials[name]["client_id"], credentials[name]["created_at"])
    response = requests.get(
        url(server, slug, account_id, "credentials", credentials["ci"]["id"]), headers=as_admin, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert_credential(response.json(), "ci", "ci key", with_secret=False)
    # Both obtain a token at /oauth2/token that the issuer's JWKS verifies.
    for credential in credentials.values():
        assert_token_works(server, credential)
    # Deleting one credential (204, as Keycard's DELETEs) revokes it and only it.
    # https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/subresources/credentials/methods/delete
    response = requests.delete(
        url(server, slug, account_id, "credentials", credentials["spare"]["id"]), headers=as_admin, timeout=TIMEOUT
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_invalid_client(server, credentials["spare"])
    assert_error(
        requests.get(url(server, slug, account_id, "credentials", credentials["spare"]["id"]), headers=as_admin, timeout=TIMEOUT),
        404,
    )
    assert_token_works(server, credentials["ci"])

    # List: {items, page_info {has_next_page, has_prev_page, end_cursor?, start_cursor?}},
    # query after/before (cursors), limit (1…100), expand[].
    # https://docs.keycard.ai/api/resources/organizations/subresources/service_accounts/methods/list
    pagers = []
    for index in range(3):
        response = create(server, as_admin, slug, {"name": f"pager-{index}", "description": f"page filler {index}"})
        assert response.status_code == 201, response.text
        pagers.append(response.json())
    everything = list_page(server, as_admin, slug, limit=100)
    assert everything["page_info"]["has_next_page"] is False, everything
    assert everything["page_info"]["has_prev_page"] is False, everything
    assert len(set(ids(everything))) == len(ids(everything))
    assert {account_id, *(p["id"] for p in pagers)} <= set(ids(everything))
    by_id = {item["id"]: item for item in everything["items"]}
    assert by_id[account_id] == updated
    for pager in pagers:
        assert by_id[pager["id"]] == pager
    # The same list through the UUID.
    assert ids(list_page(server, as_admin, tenant_uuid, limit=100)) == ids(everything)
    # Forward, two at a time: the pages put together are the whole list, in its order.
    pages = [list_page(server, as_admin, slug, limit=2)]
    while pages[-1]["page_info"]["has_next_page"]:
        assert len(pages) < 20, pages
        pages.append(list_page(server, as_admin, slug, limit=2, after=pages[-1]["page_info"]["end_cursor"]))
    assert len(pages) >= 2, pages
    assert [item for page in pages for item in ids(page)] == ids(everything)
    for number, page in enumerate(pages):
        assert len(page["items"]) == 2 or (number == len(pages) - 1 and len(page["items"]) == 1), page
        assert page["page_info"]["has_prev_page"] is (number > 0), (number, page)
        assert page["page_info"]["has_next_page"] is (number < len(pages) - 1), (number, page)
    # Backward from the second page's start: the first page again.
    back = list_page(server, as_admin, slug, limit=2, before=pages[1]["page_info"]["start_cursor"])
    assert ids(back) == ids(pages[0])
    assert back["page_info"]["has_prev_page"] is False and back["page_info"]["has_next_page"] is True, back
    # expand[]=permissions populates every item's permissions.
    expanded = list_page(server, as_admin, slug, limit=100, **{"expand[]": "permissions"})
    assert ids(expanded) == ids(everything)
    for item in expanded["items"]:
        assert isinstance(item["permissions"], dict) and item["permissions"], item
    assert_service_account(
        {i["id"]: i for i in expanded["items"]}[account_id], "ci-deployer", "Deploys from CI, nightly", expanded=True
    )
    # limit outside 1…100 (reference: minimum 1, maximum 100): 400.
    for limit in (0, 101):
        assert_error(requests.get(url(server, slug), params={"limit": limit}, headers=as_admin, timeout=TIMEOUT), 400)

    # Validation: name is required, description at most 500 characters (seed): 400.
    assert_error(create(server, as_admin, slug, {"description": "no name"}), 400)
    assert_error(create(server, as_admin, slug, {"name": "too-long", "description": "x" * 501}), 400)

    # No token, or not a token: 401 with a Bearer challenge.
    assert_unauthenticated(requests.get(url(server, slug), timeout=TIMEOUT))
    assert_unauthenticated(requests.post(url(server, slug), json={"name": "anonymous"}, timeout=TIMEOUT))
    assert_unauthenticated(requests.get(url(server, slug, account_id), timeout=TIMEOUT))
    assert_unauthenticated(requests.delete(url(server, slug, account_id), timeout=TIMEOUT))
    assert_unauthenticated(
        requests.get(url(server, slug), headers={"Authorization": "Bearer not-a-token"}, timeout=TIMEOUT)
    )

    # Not an administrator: 403, whatever the operation.
    for method, target, body in [
        ("GET", url(server, slug), None),
        ("POST", url(server, slug), {"name": "by-analyst"}),
        ("GET", url(server, slug, account_id), None),
        ("PATCH", url(server, slug, account_id), {"name": "by-analyst"}),
        ("DELETE", url(server, slug, account_id), None),
        ("POST", url(server, slug, account_id, "credentials"), {"name": "by-analyst"}),
        ("GET", url(server, slug, account_id, "credentials"), None),
    ]:
        assert_error(requests.request(method, target, json=body, headers=as_analyst, timeout=TIMEOUT), 403)

    # Unknown ids: 404.
    assert_error(requests.get(url(server, slug, UNKNOWN_ID), headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(requests.patch(url(server, slug, UNKNOWN_ID), json={"name": "x"}, headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(requests.delete(url(server, slug, UNKNOWN_ID), headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(
        requests.post(url(server, slug, UNKNOWN_ID, "credentials"), json={"name": "x"}, headers=as_admin, timeout=TIMEOUT),
        404,
    )
    assert_error(
        requests.get(url(server, slug, account_id, "credentials", UNKNOWN_ID), headers=as_admin, timeout=TIMEOUT), 404
    )
    # Another organization's administrator sees neither this account nor this organization
    # (decided: 404, as for an organization that does not exist).
    assert_error(requests.get(url(server, OTHER_TENANT, account_id), headers=as_other_admin, timeout=TIMEOUT), 404)
    assert_error(requests.get(url(server, slug), headers=as_other_admin, timeout=TIMEOUT), 404)
    assert_error(requests.get(url(server, slug, account_id), headers=as_other_admin, timeout=TIMEOUT), 404)
    assert_error(requests.get(url(server, "no-such-organization"), headers=as_admin, timeout=TIMEOUT), 404)
    # …and the account is untouched by all of the above.
    response = requests.get(url(server, slug, account_id), headers=as_admin, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json() == updated, response.text

    # Delete: 204, no body (the SDK's delete returns void and sends Accept: */*).
    # https://docs.keycard.ai/api/typescript/resources/organizations/subresources/service_accounts/methods/delete
    response = requests.delete(url(server, slug, account_id), headers={**as_admin, **request_id()}, timeout=TIMEOUT)
    assert response.status_code == 204, response.text
    assert response.content == b""
    # Gone: retrieve, delete again, its credentials, the list; and its credential is revoked.
    assert_error(requests.get(url(server, slug, account_id), headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(requests.get(url(server, tenant_uuid, account_id), headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(requests.delete(url(server, slug, account_id), headers=as_admin, timeout=TIMEOUT), 404)
    assert_error(requests.get(url(server, slug, account_id, "credentials"), headers=as_admin, timeout=TIMEOUT), 404)
    remaining = list_page(server, as_admin, slug, limit=100)
    assert ids(remaining) == [i for i in ids(everything) if i != account_id]
    assert_invalid_client(server, credentials["ci"])
