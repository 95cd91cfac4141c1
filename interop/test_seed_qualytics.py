"""Seed 004, Qualytics service users and service tokens, tested from the outside.

Reference (nothing else was read):
- the seed document shared/seeds/004_4ea66b3face8daa4.txt ("Create a Service Account":
  POST /users with name/role/teams, the answer with user_type "Service" and the
  Public team; a token with a Name unique per service user, an Expiration of 30/60/90
  days, 1 year or Never, a "SCIM Administration Token" checkbox; shown only once);
- Qualytics' user guide (https://userguide.qualytics.io), sources in
  github.com/Qualytics/userguide:
  * https://userguide.qualytics.io/settings/service-token/generate-service-token
    (docs/settings/service-token/generate-service-token.md): POST /user-tokens with
    {"name", "user_id", "expires_in_days"}, answer {"id", "name", "active",
    "expiration", "bearer_token", "user": {...}}, tokens used as
    `Authorization: Bearer <token>` on https://<instance>/api/...;
  * https://userguide.qualytics.io/settings/service-token/revoking-service-token
    (PUT /user-tokens/{token_id} with {"revoke": true});
  * docs/settings/tokens/service-account.md (the service account id is the name
    lowercased, spaces to underscores, special characters removed, + "@service";
    GET /user-tokens/service lists the service tokens);
  * https://userguide.qualytics.io/settings/access-tokens/service-token/api/
    (list answer: id, created, name, active, expiration, last_used, user; "The
    bearer_token field is not returned when listing tokens");
  * https://userguide.qualytics.io/settings/access-tokens/personal-token/api/
    (create body: name, max 255, unique per user; expires_in_days integer or null,
    1-365, null = no expiration; scim_endpoints_only boolean);
  * https://userguide.qualytics.io/settings/access-tokens/service-token/deep-dive/permissions/
    (all these endpoints need the Admin role; a duplicate token name is a 409;
    a SCIM Administration Token is restricted to /scim/v2/*);
  * https://userguide.qualytics.io/settings/access-tokens/service-token/deep-dive/how-it-works/
    (the token is a signed JWT; a revoked token is refused at once; Last Used is
    updated on each successful authentication);
  * https://userguide.qualytics.io/settings/security/service-users/api/
    (GET /api/users?type=Service, paginated, items with user_type "Service");
  * https://userguide.qualytics.io/settings/security/service-users/managing/deactivate-service-user/
    ("A Service User cannot be deactivated while it has active tokens. The system
    returns a 400 Bad Request error");
- the Qualytics CLI, github.com/Qualytics/qualytics-cli, qualytics/api/users.py
  (GET users?page=1&size=100 answers {"items", "total", "page", "size"};
  GET users/{user_id} with an integer id) and qualytics/api/client.py;
- FastAPI's conventions (Qualytics' API is FastAPI): errors {"detail": "..."}, a body
  that fails validation 422 {"detail": [{"loc": [...], "msg": ..., "type": ...}]};
- RFC 6750 §3 (a 401 to a bearer-token request carries WWW-Authenticate: Bearer).

Mapping onto Tessera: the Qualytics API base is `issuer + "/api"`, the tenant is the
caller's own, an administrator authenticates with its Tessera access token as Bearer,
and a Qualytics service token is used as Bearer at once, with no exchange.
"""

import json
import re
from datetime import datetime, timedelta, timezone

import requests

from conftest import Server

TENANT = "seed-qualytics"
OTHER_TENANT = "seed-qualytics-other"
SERVICE_NAME = "Seed Pipeline Automation"
# docs/settings/tokens/service-account.md, "Service Account Naming Convention":
# lowercase, spaces converted to underscores, special characters removed, "@service".
SERVICE_ID = "seed_pipeline_automation@service"


def api(server: Server) -> str:
    return server.issuer + "/api"


def call(server: Server, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, api(server) + path, headers=headers, timeout=10, **kwargs)


def admin_token(server: Server, tenant: str = TENANT, role: str = "admin") -> str:
    account = server.bootstrap(tenant=tenant, role=role)
    return server.token(account["client_id"], account["client_secret"])["access_token"]


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def utc(text: str) -> datetime:
    """An ISO 8601 time with an explicit UTC offset ("…Z" in the vendor's examples)."""
    assert isinstance(text, str), text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), text
    return moment


def assert_json(response: requests.Response, status: int):
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    return response.json()


def assert_detail(response: requests.Response, status: int) -> None:
    """FastAPI's error body: exactly {"detail": "<message>"}."""
    body = assert_json(response, status)
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str) and body["detail"], body


def assert_unauthorized(response: requests.Response) -> None:
    assert_detail(response, 401)
    # RFC 6750 §3: the resource server answers a missing or bad bearer token with
    # a WWW-Authenticate challenge of the Bearer scheme.
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers


def assert_validation_error(response: requests.Response, field: str) -> None:
    """FastAPI's 422: {"detail": [{"loc": ["body", field], "msg": str, "type": str, …}]}."""
    body = assert_json(response, 422)
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], list) and body["detail"], body
    locations = []
    for error in body["detail"]:
        assert {"loc", "msg", "type"} <= set(error), error
        assert isinstance(error["loc"], list), error
        assert isinstance(error["msg"], str) and error["msg"], error
        assert isinstance(error["type"], str) and error["type"], error
        locations.append(error["loc"])
    assert ["body", field] in locations, body


def assert_service_user(user: dict, user_id: int | None = None) -> None:
    """The seed's answer to POST /users: id, user_id, user_name, email, name, user_type,
    role, teams (Public always included)."""
    assert {"id", "user_id", "user_name", "email", "name", "user_type", "role", "teams"} <= set(user), user
    assert is_int(user["id"]), user
    if user_id is not None:
        assert user["id"] == user_id, user
    assert user["user_id"] == SERVICE_ID, user
    # Seed: "user_name": "api_access@service", the same as user_id.
    assert user["user_name"] == SERVICE_ID, user
    # Seed example shows a placeholder ("service@example.com"); the service-token API
    # page shows "email": "svc_airflow@service", the service id: that is the contract.
    assert user["email"] == SERVICE_ID, user
    assert user["name"] == SERVICE_NAME, user
    assert user["user_type"] == "Service", user
    assert user["role"] == "Admin", user
    assert user["teams"] == ["Public"], user


def assert_token_user(owner: dict, user_id: int) -> None:
    """The `user` member of a token, as in the token examples of the vendor pages."""
    assert {"id", "user_id", "name", "user_type"} <= set(owner), owner
    assert owner["id"] == user_id, owner
    assert owner["user_id"] == SERVICE_ID, owner
    assert owner["name"] == SERVICE_NAME, owner
    assert owner["user_type"] == "Service", owner


def assert_jwt(token: str) -> None:
    """How It Works says Qualytics signs a JWT. A client uses a bearer token as an
    opaque string (RFC 6750 §2.1: `b64token`), and Tessera's are opaque API tokens
    by design (docs/dialects.md), so only that much is asserted: a non-empty b64token."""
    assert isinstance(token, str) and len(token) >= 32, token
    assert re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", token), token


def list_users(server: Server, token: str, **params) -> dict:
    # qualytics-cli qualytics/api/users.py: GET users?page=1&size=100 → {items, total, page, size}.
    body = assert_json(call(server, "GET", "/users", token, params={"page": 1, "size": 100, **params}), 200)
    assert {"items", "total", "page", "size"} <= set(body), body
    assert isinstance(body["items"], list), body
    assert is_int(body["total"]) and body["total"] == len(body["items"]), body
    assert body["page"] == 1 and body["size"] == 100, body
    return body


def service_tokens_of(server: Server, token: str, user_id: int) -> dict:
    """GET /api/user-tokens/service: a JSON array of every service token, by token name."""
    body = assert_json(call(server, "GET", "/user-tokens/service", token), 200)
    assert isinstance(body, list), body
    mine = {}
    for entry in body:
        assert {"id", "created", "name", "active", "expiration", "last_used", "user"} <= set(entry), entry
        # "The bearer_token field is not returned when listing tokens."
        assert "bearer_token" not in entry, entry
        if entry["user"]["id"] == user_id:
            mine[entry["name"]] = entry
    return mine


def test_qualytics_service_user_life(server: Server):
    admin = admin_token(server)
    started = datetime.now(timezone.utc)

    # 1. Create the service user (seed "Creating a Service Account via API").
    # Teams are optional (seed, Step 4); Public is always included.
    created = call(server, "POST", "/users", admin, json={"name": SERVICE_NAME, "role": "Admin"})
    user = assert_json(created, 200)
    assert_service_user(user)
    user_id = user["id"]

    # 2. A token for it, expiring in 90 days (generate-service-token.md, "Creating a
    # Service Token via API").
    created = call(
        server, "POST", "/user-tokens", admin,
        json={"name": "pipeline-production", "user_id": user_id, "expires_in_days": 90},
    )
    first = assert_json(created, 200)
    assert {"id", "name", "active", "expiration", "bearer_token", "user"} <= set(first), first
    # Qualytics' token ids are integers; Tessera's are its credential ids, UUID strings
    # (docs/dialects.md). Either is used only as a path segment.
    assert isinstance(first["id"], str) and first["id"], first
    assert first["name"] == "pipeline-production", first
    assert first["active"] is True, first
    expires = utc(first["expiration"])
    assert started + timedelta(days=90) - timedelta(minutes=5) <= expires, first
    assert expires <= datetime.now(timezone.utc) + timedelta(days=90) + timedelta(minutes=5), first
    assert_jwt(first["bearer_token"])
    assert_token_user(first["user"], user_id)
    service = first["bearer_token"]

    # 3. The service token works at once, as Bearer, with no exchange: it lists the
    # users, and the new one is there, a Service user.
    listed = list_users(server, service)
    mine = [item for item in listed["items"] if item["id"] == user_id]
    assert len(mine) == 1, listed
    assert_service_user(mine[0], user_id)
    # https://userguide.qualytics.io/settings/security/service-users/api/: type=Service
    # lists only Service Users.
    services = list_users(server, service, type="Service")
    assert all(item["user_type"] == "Service" for item in services["items"]), services
    assert user_id in [item["id"] for item in services["items"]], services

    # 4. Get the user (qualytics-cli: GET users/{user_id}).
    assert_service_user(assert_json(call(server, "GET", f"/users/{user_id}", service), 200), user_id)

    # 5. Its tokens: listed without the secret; Last Used is set by the use above.
    tokens = service_tokens_of(server, admin, user_id)
    assert set(tokens) == {"pipeline-production"}, tokens
    entry = tokens["pipeline-production"]
    assert entry["id"] == first["id"] and entry["active"] is True, entry
    assert utc(entry["expiration"]) == expires, entry
    assert started - timedelta(minutes=5) <= utc(entry["created"]) <= datetime.now(timezone.utc) + timedelta(minutes=5), entry
    assert isinstance(entry["last_used"], str), entry
    utc(entry["last_used"])
    assert_token_user(entry["user"], user_id)
    assert first["bearer_token"] not in json.dumps(tokens), tokens

    # 6. Token names are unique per service user: 409 (service-token permissions page).
    duplicate = call(
        server, "POST", "/user-tokens", admin,
        json={"name": "pipeline-production", "user_id": user_id, "expires_in_days": 30},
    )
    assert_detail(duplicate, 409)

    # 7. A SCIM Administration Token (scim_endpoints_only), never expiring
    # (expires_in_days null): it authenticates but is restricted to /scim/v2/*, so
    # listing users is forbidden.
    created = call(
        server, "POST", "/user-tokens", admin,
        json={"name": "scim-provisioning", "user_id": user_id, "expires_in_days": None, "scim_endpoints_only": True},
    )
    scim = assert_json(created, 200)
    assert scim["name"] == "scim-provisioning" and scim["active"] is True, scim
    assert scim["expiration"] is None, scim
    assert scim["id"] != first["id"], scim
    assert_jwt(scim["bearer_token"])
    assert scim["bearer_token"] != service, scim
    assert_token_user(scim["user"], user_id)
    assert_detail(call(server, "GET", "/users", scim["bearer_token"]), 403)
    assert_detail(call(server, "GET", f"/users/{user_id}", scim["bearer_token"]), 403)
    assert set(service_tokens_of(server, admin, user_id)) == {"pipeline-production", "scim-provisioning"}

    # 8. Revoke the first token (PUT /user-tokens/{token_id} {"revoke": true}): it is
    # refused at once, and listed as inactive.
    revoked = assert_json(call(server, "PUT", f"/user-tokens/{first['id']}", admin, json={"revoke": True}), 200)
    assert revoked["id"] == first["id"] and revoked["active"] is False, revoked
    assert "bearer_token" not in revoked, revoked
    assert_unauthorized(call(server, "GET", "/users", service))
    assert service_tokens_of(server, admin, user_id)["pipeline-production"]["active"] is False

    # 9. Deactivate (delete) the service user. While it has an active token this is a
    # 400 (deactivate-service-user page); once its tokens are revoked it succeeds.
    assert_detail(call(server, "DELETE", f"/users/{user_id}", admin), 400)
    assert_json(call(server, "GET", f"/users/{user_id}", admin), 200)
    revoked = assert_json(call(server, "PUT", f"/user-tokens/{scim['id']}", admin, json={"revoke": True}), 200)
    assert revoked["id"] == scim["id"] and revoked["active"] is False, revoked
    deleted = call(server, "DELETE", f"/users/{user_id}", admin)
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b"", deleted.content

    # Afterwards: none of its tokens authenticates, the user is not found, and the
    # default listing no longer shows it.
    assert_unauthorized(call(server, "GET", "/users", scim["bearer_token"]))
    assert_unauthorized(call(server, "GET", "/users", service))
    assert_detail(call(server, "GET", f"/users/{user_id}", admin), 404)
    assert_detail(call(server, "DELETE", f"/users/{user_id}", admin), 404)
    assert user_id not in [item["id"] for item in list_users(server, admin)["items"]]


def test_qualytics_errors(server: Server):
    admin = admin_token(server)
    user = assert_json(call(server, "POST", "/users", admin, json={"name": "Seed Error Probe", "role": "Member"}), 200)
    assert user["user_id"] == "seed_error_probe@service" and user["role"] == "Member", user
    assert user["user_type"] == "Service" and user["teams"] == ["Public"], user
    user_id = user["id"]

    # No token, or a token that is not one: 401.
    assert_unauthorized(call(server, "GET", "/users"))
    assert_unauthorized(call(server, "POST", "/users", json={"name": "Nobody", "role": "Member"}))
    assert_unauthorized(call(server, "POST", "/user-tokens", json={"name": "x", "user_id": user_id, "expires_in_days": 30}))
    assert_unauthorized(call(server, "GET", "/users", "not-a-token"))

    # Not an administrator: 403 ("Only users with the Administrator role can create
    # and manage Service Accounts", seed; service-token permissions page).
    analyst = admin_token(server, role="analyst")
    assert_detail(call(server, "POST", "/users", analyst, json={"name": "Not Allowed", "role": "Member"}), 403)
    assert_detail(
        call(server, "POST", "/user-tokens", analyst, json={"name": "x", "user_id": user_id, "expires_in_days": 30}), 403
    )
    assert_detail(call(server, "GET", "/user-tokens/service", analyst), 403)
    assert_detail(call(server, "DELETE", f"/users/{user_id}", analyst), 403)
    assert_json(call(server, "GET", f"/users/{user_id}", admin), 200)

    # A body that fails validation: 422 with FastAPI's list-shaped detail.
    # Roles are Admin, Manager, Editor, Member (seed, Step 4).
    assert_validation_error(call(server, "POST", "/users", admin, json={"name": "Bad Role", "role": "Overlord"}), "role")
    assert_validation_error(call(server, "POST", "/users", admin, json={"role": "Member"}), "name")
    # expires_in_days: integer or null, 1–365 (personal-token API page).
    for days in (0, 366):
        assert_validation_error(
            call(server, "POST", "/user-tokens", admin, json={"name": f"days-{days}", "user_id": user_id, "expires_in_days": days}),
            "expires_in_days",
        )
    assert_validation_error(
        call(server, "POST", "/user-tokens", admin, json={"user_id": user_id, "expires_in_days": 30}), "name"
    )

    # Unknown ids: 404.
    assert_detail(call(server, "GET", "/users/987654321", admin), 404)
    assert_detail(
        call(server, "POST", "/user-tokens", admin, json={"name": "ghost", "user_id": 987654321, "expires_in_days": 30}), 404
    )
    assert_detail(call(server, "PUT", "/user-tokens/987654321", admin, json={"revoke": True}), 404)

    # The tenant is the caller's own: another tenant's administrator cannot see this
    # user nor mint a token for it.
    other = admin_token(server, tenant=OTHER_TENANT)
    assert_detail(call(server, "GET", f"/users/{user_id}", other), 404)
    assert_detail(
        call(server, "POST", "/user-tokens", other, json={"name": "cross", "user_id": user_id, "expires_in_days": 30}), 404
    )
    assert user_id not in [item["id"] for item in list_users(server, other)["items"]]
