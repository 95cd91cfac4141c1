#!/usr/bin/env python3
"""Writes the OpenAPI 3.1 document of Tessera's HTTP API.

The document is served at GET /openapi.json from an embedded copy:
    python3 scripts/openapi.py           # regenerates Sources/TesseraServer/OpenAPI/OpenAPIDocument.swift
    python3 scripts/openapi.py --check   # fails when the committed document is not what it writes (CI)
Keep it in step with the routes; CI runs schemathesis against the live server with it.
"""

import json
import os
import sys

UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
# What an account's tokens must be bound to, and the one certificate name that
# authenticates it with tls_client_auth (docs/binding.md).
BINDING = {
    "dpop_bound_access_tokens": {"type": "boolean", "default": False},
    "tls_client_certificate_bound_access_tokens": {"type": "boolean", "default": False},
    "self_signed_tls_client_auth": {"type": "boolean", "default": False,
                                    "description": "A self-signed certificate with one of the account's registered keys authenticates it."},
    **{f"tls_client_auth_{kind}": {"type": ["string", "null"], "maxLength": 1024, "description": description}
       for kind, description in [("subject_dn", "The subject DN as RFC 4514 writes it."), ("san_dns", "A DNS name."),
                                 ("san_uri", "A URI."), ("san_ip", "An IPv4 or IPv6 address."), ("san_email", "An e-mail address.")]},
}
NAME = {"type": "string", "minLength": 1, "maxLength": 100}
STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200}, "maxItems": 50}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=(), additional=False):
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


def problem(description):
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def json_response(description, schema, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


ERRORS = {
    "400": problem("The request breaks a rule; `field` names the member."),
    "401": problem("No access token, or one that is invalid or expired."),
    "403": problem("The token lacks the scope this needs."),
    "404": problem("No such resource in a tenant the caller may see."),
    "503": problem("The store is unavailable; retry after `Retry-After`."),
}
BODY_ERRORS = {
    "409": problem("A uniqueness rule or a limit would break."),
    "413": problem("The body exceeds 64 KiB."),
    "415": problem("The body is not application/json."),
}


def operation(summary, responses, body=None, parameters=(), secured=True, errors=True, body_errors=False, operation_id=None,
              body_required=True):
    op = {"summary": summary, "operationId": operation_id, "responses": dict(responses)}
    if errors:
        op["responses"].update(ERRORS)
    if body_errors:
        op["responses"].update(BODY_ERRORS)
    op["responses"]["default"] = problem("Any other error.")
    if parameters:
        op["parameters"] = list(parameters)
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    if secured:
        op["security"] = [{"bearer": []}]
    return op


def path_param(name, schema, description):
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TENANT = path_param("tenant", {"type": "string", "minLength": 1}, "The tenant's id or slug.")
ACCOUNT = path_param(
    "id", {"type": "string", "minLength": 1, "maxLength": 100},
    "The service account: its id (a UUID), or any id a seed API gave it: Rezolve's `sa-<uuid>`, Keycard's 26-character id, "
    "Mixpanel's and Qualytics' integer, Qualytics' `<name>@service`.",
)
SECRET = path_param("secret", UUID, "The secret's id.")
API_TOKEN = path_param("secret", UUID, "The API token's id.")
ROLE = path_param("name", {"type": "string", "minLength": 1}, "The role's name.")
PAGING = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size."),
    query("cursor", {"type": "string"}, "The `next_cursor` of the previous page."),
]
NO_CONTENT = {"204": {"description": "Done."}}


def credential(value_member, pattern, description):
    """A client secret or an API token as the admin API shows it; `value_member`
    holds the value itself, in the create response only."""
    return obj(
        {
            "id": UUID,
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "hint": {"type": "string"},
            "enabled": {"type": "boolean"},
            "scopes": {"type": ["array", "null"], "items": {"type": "string"}},
            "created_at": TIME,
            "expires_at": NULLABLE_TIME,
            "last_used_at": NULLABLE_TIME,
            value_member: {"type": "string", "pattern": pattern, "description": description},
        },
        ["id", "name", "description", "hint", "enabled", "scopes", "created_at", "expires_at", "last_used_at"],
    )


TOKEN_TYPES = ["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:id_token",
               "urn:ietf:params:oauth:token-type:jwt"]
PATTERN = {"type": "string", "minLength": 1, "maxLength": 512, "description": "Matched whole; `*` stands for any run of characters."}
FEDERATED = {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    "issuer": {"type": "string", "maxLength": 512, "description": "Exactly the tokens' iss: https, or http on a loopback host when allowed."},
    "audience": {"type": "string", "maxLength": 512, "description": "What the token's aud must contain; by default Tessera's issuer URL."},
    "subject": PATTERN,
    "claims": {"type": "object", "additionalProperties": PATTERN, "maxProperties": 16,
               "description": "Claim name (a dotted path through nested objects, e.g. kubernetes.io.namespace) to pattern."},
    "scopes": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
    "jwks_uri": {"type": "string", "maxLength": 512},
    "jwks": ref("JWKSet"),
    "allow_without_jti": {"type": "boolean"},
}
FEDERATED_READ = {
    **FEDERATED,
    "id": UUID, "service_account_id": UUID, "created_at": TIME,
    "audience": {"type": "string"}, "subject": {"type": ["string", "null"]},
    "claims": {"type": "object", "additionalProperties": {"type": "string"}},
    "scopes": {"type": ["array", "null"], "items": {"type": "string"}},
    "jwks_uri": {"type": ["string", "null"]}, "jwks": {"oneOf": [ref("JWKSet"), {"type": "null"}]},
}
FEDERATION_MATCH = {"service_account_id": UUID, "client_id": {"type": ["string", "null"]}, "credential_id": UUID,
                    "credential_name": {"type": "string"}}


def page(item):
    return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": {"type": ["string", "null"]}}, ["items", "next_cursor"])


schemas = {
    "Problem": obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": "string"},
        },
        ["type", "title", "status", "detail"],
    ),
    "OAuthError": obj({"error": {"type": "string"}, "error_description": {"type": "string"}}, ["error"]),
    "Project": obj({"project": {"type": "string", "minLength": 1, "maxLength": 200}, "role": {"type": "string"}}, ["project", "role"]),
    "Account": obj(
        {
            "id": UUID,
            "tenant_id": UUID,
            "number": {"type": "integer"},
            "client_id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "roles": {"type": "array", "items": {"type": "string"}},
            "groups": {"type": "array", "items": {"type": "string"}},
            "projects": {"type": "array", "items": ref("Project")},
            "audiences": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": ["active", "disabled"]},
            "expires_at": NULLABLE_TIME,
            "token_lifetime": {"type": ["integer", "null"]},
            "created_at": TIME,
            "updated_at": TIME,
            "created_by": {"type": ["string", "null"]},
            "last_used_at": NULLABLE_TIME,
            "client_secret": {"type": "string", "pattern": "^tss_[0-9A-Za-z]{49}$", "description": "Only in the create response."},
            **BINDING,
        },
        ["id", "tenant_id", "number", "client_id", "name", "description", "roles", "groups", "projects", "audiences",
         "status", "expires_at", "token_lifetime", "created_at", "updated_at", "created_by", "last_used_at", *BINDING]
    ),
    "AccountCreate": obj(
        {
            "name": NAME,
            "description": {"type": "string", "maxLength": 500},
            "roles": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
            "groups": STRINGS,
            "projects": {"type": "array", "items": ref("Project"), "maxItems": 50},
            "audiences": STRINGS,
            "expires_at": TIME,
            "issue_secret": {"type": "boolean", "default": True,
                             "description": "false: the account is made without a first client secret (add secrets or API tokens later)."},
            **BINDING,
        }
    ),
    "AccountPatch": obj(
        {
            "name": NAME,
            "description": {"type": ["string", "null"], "maxLength": 500},
            "roles": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
            "groups": STRINGS,
            "projects": {"type": "array", "items": ref("Project"), "maxItems": 50},
            "audiences": STRINGS,
            "status": {"type": "string", "enum": ["active", "disabled"]},
            "expires_at": NULLABLE_TIME,
            "token_lifetime": {"type": ["integer", "null"], "minimum": 60, "maximum": 86400},
            **BINDING,
        }
    ),
    "Secret": credential("client_secret", "^tss_[0-9A-Za-z]{49}$", "Only in the create response."),
    "SecretCreate": obj(
        {
            "name": NAME,
            "description": {"type": "string", "maxLength": 500},
            "expires_in_days": {"type": "integer", "enum": [30, 60, 90, 365]},
            "expires_at": TIME,
            "scopes": {"type": "array", "items": {"type": "string", "pattern": "^[!#-\\[\\]-~]{1,100}$"}, "minItems": 1, "maxItems": 50},
        },
        ["name"],
    ),
    "SecretPatch": obj({"enabled": {"type": "boolean"}}, ["enabled"]),
    "SigningKey": obj(
        {
            "kid": {"type": "string"},
            "alg": {"type": "string", "enum": ["ES256", "EdDSA", "RS256", "PS256"]},
            "state": {"type": "string", "enum": ["next", "active", "retired"]},
            "created_at": TIME,
            "activates_at": NULLABLE_TIME,
            "activated_at": NULLABLE_TIME,
            "retired_at": NULLABLE_TIME,
        },
        ["kid", "alg", "state", "created_at", "activates_at", "activated_at", "retired_at"],
    ),
    "KeyChange": obj(
        {
            "kid": {"type": "string"},
            "result": {"type": "string", "enum": ["scheduled", "pending", "promoted", "removed"]},
            "activates_at": NULLABLE_TIME,
        },
        ["kid", "result", "activates_at"],
    ),
    "ConsoleSignIn": obj({"code": {"type": "string", "maxLength": 256}}, ["code"]),
    "ConsoleToken": obj(
        {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "issued_token_type": {"type": "string", "enum": [TOKEN_TYPES[0]], "description": "Token exchange only."},
            "expires_in": {"type": "integer"},
            "scope": {"type": "string"},
        },
        ["access_token", "token_type", "expires_in", "scope"],
    ),
    "APIToken": credential("token", "^tsa_[0-9A-Za-z]{49}$", "Only in the create response: the bearer credential itself."),
    "Role": obj({"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}, "builtin": {"type": "boolean"}},
                ["name", "scopes", "builtin"]),
    "RoleCreate": obj(
        {
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.:-]{0,63}$"},
            "scopes": {"type": "array", "items": {"type": "string", "pattern": "^[!#-\\[\\]-~]{1,100}$"}, "maxItems": 50},
        },
        ["name", "scopes"],
    ),
    "RolePut": obj(
        {"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string", "pattern": "^[!#-\\[\\]-~]{1,100}$"}, "maxItems": 50}},
        ["scopes"],
    ),
    "ClientKey": obj({"kid": {"type": "string"}, "jwk": {"type": "object"}, "created_at": TIME, "expires_at": NULLABLE_TIME},
                     ["kid", "jwk", "created_at", "expires_at"]),
    "ClientKeyCreate": obj({"jwk": {"type": "object", "required": ["kty", "kid"], "properties": {"kty": {"type": "string"}, "kid": {"type": "string"}}},
                            "expires_at": TIME}, ["jwk"]),
    "Tenant": obj(
        {
            "id": UUID,
            "slug": {"type": "string"},
            "number": {"type": "integer"},
            "name": {"type": "string"},
            "account_limit": {"type": ["integer", "null"]},
            "token_lifetime": {"type": ["integer", "null"]},
            "default_audience": {"type": ["string", "null"]},
            "created_at": TIME,
            "updated_at": TIME,
        },
        ["id", "slug", "number", "name", "account_limit", "token_lifetime", "default_audience", "created_at", "updated_at"],
    ),
    "TenantCreate": obj(
        {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
            "name": NAME,
            "account_limit": {"type": "integer", "minimum": 0, "maximum": 1000000},
            "token_lifetime": {"type": "integer", "minimum": 60, "maximum": 86400},
        },
        ["slug"],
    ),
    "TenantPatch": obj(
        {
            "name": NAME,
            "account_limit": {"type": ["integer", "null"], "minimum": 0, "maximum": 1000000},
            "token_lifetime": {"type": ["integer", "null"], "minimum": 60, "maximum": 86400},
            "default_audience": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
        }
    ),
    "AuditEvent": obj(
        {
            "id": {"type": "integer"},
            "tenant_id": {"type": ["string", "null"], "format": "uuid"},
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "resource_type": {"type": "string"},
            "resource_id": {"type": ["string", "null"]},
            "outcome": {"type": "string", "enum": ["success", "failure"]},
            "status": {"type": "integer"},
            "request_id": {"type": ["string", "null"]},
            "at": TIME,
            "detail": {"type": ["string", "null"], "description": "Why, in words, when the outcome needs explaining (a refused federated token)."},
        },
        ["id", "tenant_id", "actor", "action", "resource_type", "resource_id", "outcome", "status", "request_id", "at", "detail"],
    ),
    "WhoAmI": obj(
        {
            "account_id": UUID,
            "client_id": {"type": "string"},
            "name": {"type": "string"},
            "tenant": ref("Tenant"),
            "roles": {"type": "array", "items": {"type": "string"}},
            "scopes": {"type": "array", "items": {"type": "string"}},
        },
        ["account_id", "client_id", "name", "tenant", "roles", "scopes"],
    ),
    "TokenRequest": obj(
        {
            "grant_type": {"type": "string", "enum": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]},
            "scope": {"type": "string"},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "client_assertion_type": {"type": "string", "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]},
            "client_assertion": {"type": "string"},
            "resource": {"type": "string"},
            "audience": {"type": "string"},
            "subject_token": {"type": "string", "description": "Token exchange: the token exchanged (docs/federation.md)."},
            "subject_token_type": {"type": "string", "enum": TOKEN_TYPES},
            "actor_token": {"type": "string", "description": "Token exchange: a Tessera access token of the party acting (RFC 8693 §4.1)."},
            "actor_token_type": {"type": "string", "enum": TOKEN_TYPES[::2]},
            "requested_token_type": {"type": "string", "enum": TOKEN_TYPES[::2]},
        },
        ["grant_type"],
    ),
    "TokenResponse": obj(
        {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "issued_token_type": {"type": "string", "enum": [TOKEN_TYPES[0]], "description": "Token exchange only."},
            "expires_in": {"type": "integer"},
            "scope": {"type": "string"},
        },
        ["access_token", "token_type", "expires_in", "scope"],
    ),
    "Introspection": obj(
        {
            "active": {"type": "boolean"}, "scope": {"type": "string"}, "client_id": {"type": "string"}, "sub": {"type": "string"},
            "aud": {"type": "array", "items": {"type": "string"}}, "iss": {"type": "string"}, "exp": {"type": "integer"},
            "iat": {"type": "integer"}, "nbf": {"type": "integer"}, "jti": {"type": "string"}, "token_type": {"type": "string"},
            "tenant": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}},
        },
        ["active"],
    ),
    "JWKSet": obj({"keys": {"type": "array", "items": {"type": "object"}}}, ["keys"], additional=True),
    "FederatedCredential": obj(FEDERATED_READ, list(FEDERATED_READ)),
    "FederatedCredentialCreate": obj(FEDERATED, ["name", "issuer"]),
    "FederationTest": obj({"token": {"type": "string"}, "client_id": {"type": "string"}}, ["token"]),
    "FederationTestResult": obj(
        {
            "matched": {"oneOf": [obj(FEDERATION_MATCH, list(FEDERATION_MATCH)), {"type": "null"}]},
            "token": obj({"iss": {"type": "string"}, "sub": {"type": ["string", "null"]}, "aud": {"type": "array", "items": {"type": "string"}},
                          "exp": {"type": ["integer", "null"]}, "iat": {"type": ["integer", "null"]}, "jti": {"type": ["string", "null"]}},
                         ["iss", "sub", "aud", "exp", "iat", "jti"]),
            "candidates": {"type": "array", "items": obj(
                {**FEDERATION_MATCH, "matches": {"type": "boolean"}, "reasons": {"type": "array", "items": {"type": "string"}}},
                [*FEDERATION_MATCH, "matches", "reasons"])},
        },
        ["matched", "token", "candidates"],
    ),
    "Metadata": obj({"issuer": {"type": "string"}, "token_endpoint": {"type": "string"}, "jwks_uri": {"type": "string"}},
                    ["issuer", "token_endpoint", "jwks_uri"], additional=True),
    "Health": obj({"status": {"type": "string"}, "checks": {"type": "object", "additionalProperties": {"type": "string"}}}, ["status"]),
}

LOCATION = {"Location": {"schema": {"type": "string"}}}
THROTTLED = {
    "description": "Too many failed client authentications from this address, or tokens too fast for the account; wait `Retry-After` seconds.",
    "headers": {"Retry-After": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": ref("OAuthError")}},
}
paths = {
    "/oauth2/token": {
        "post": {
            "summary": "Client-credentials grant (RFC 6749 §4.4) and token exchange (RFC 8693)",
            "operationId": "token",
            "security": [{"basic": []}, {}],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": ref("TokenRequest")}}},
            "responses": {
                "200": json_response("An access token (RFC 9068).", ref("TokenResponse")),
                "400": {"description": "RFC 6749 §5.2 error.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "401": {"description": "invalid_client.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "413": {"description": "The body exceeds 16 KiB.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "429": THROTTLED,
                "503": {"description": "temporarily_unavailable.", "content": {"application/json": {"schema": ref("OAuthError")}}},
            },
        }
    },
    "/oauth2/introspect": {
        "post": {
            "summary": "Token introspection (RFC 7662)",
            "operationId": "introspect",
            "security": [{"basic": []}, {}],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": obj(
                {"token": {"type": "string"}, "token_type_hint": {"type": "string"}, "client_id": {"type": "string"},
                 "client_secret": {"type": "string"}}, ["token"])}}},
            "responses": {
                "200": json_response("`{\"active\": false}` or the token's claims.", ref("Introspection")),
                "400": {"description": "RFC 6749 §5.2 error.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "401": {"description": "invalid_client.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "403": {"description": "The client may not introspect.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "413": {"description": "The body is too large.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "429": THROTTLED,
                "503": {"description": "temporarily_unavailable.", "content": {"application/json": {"schema": ref("OAuthError")}}},
            },
        }
    },
    "/oauth2/revoke": {
        "post": {
            "summary": "Token revocation (RFC 7009)",
            "operationId": "revoke",
            "security": [{"basic": []}, {}],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": obj(
                {"token": {"type": "string"}, "token_type_hint": {"type": "string"}, "client_id": {"type": "string"},
                 "client_secret": {"type": "string"}}, ["token"])}}},
            "responses": {
                "200": {"description": "Revoked, or not a token of this issuer."},
                "400": {"description": "RFC 6749 §5.2 error.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "401": {"description": "invalid_client.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "413": {"description": "The body is too large.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "429": THROTTLED,
                "503": {"description": "temporarily_unavailable.", "content": {"application/json": {"schema": ref("OAuthError")}}},
            },
        }
    },
    "/.well-known/jwks.json": {"get": {"summary": "Public signing keys (RFC 7517)", "operationId": "jwks",
                                       "responses": {"200": {"description": "The JWK Set.", "content": {"application/jwk-set+json": {"schema": ref("JWKSet")}}},
                                                     "503": problem("No signing key is loaded.")}}},
    "/.well-known/oauth-authorization-server": {"get": {"summary": "Authorization server metadata (RFC 8414)", "operationId": "metadata",
                                                        "responses": {"200": json_response("Metadata.", ref("Metadata"))}}},
    "/.well-known/openid-configuration": {"get": {"summary": "The same metadata", "operationId": "openidConfiguration",
                                                  "responses": {"200": json_response("Metadata.", ref("Metadata"))}}},
    "/health/alive": {"get": {"summary": "Liveness", "operationId": "alive", "responses": {"200": json_response("Alive.", ref("Health"))}}},
    "/health/ready": {"get": {"summary": "Readiness", "operationId": "ready",
                              "responses": {"200": json_response("Ready.", ref("Health")), "503": json_response("Not ready.", ref("Health"))}}},
    "/v1/whoami": {"get": operation("The calling principal", {"200": json_response("The caller.", ref("WhoAmI"))}, operation_id="whoami")},
    "/v1/tenants": {
        "get": operation("List tenants (super admin)", {"200": json_response("A page.", page("Tenant"))}, parameters=PAGING, operation_id="listTenants"),
        "post": operation("Create a tenant (super admin)", {"201": json_response("Created.", ref("Tenant"), LOCATION)}, body=ref("TenantCreate"),
                          body_errors=True, operation_id="createTenant"),
    },
    "/v1/tenants/{tenant}": {
        "get": operation("Get a tenant (super admin)", {"200": json_response("The tenant.", ref("Tenant"))}, parameters=[TENANT], operation_id="getTenant"),
        "patch": operation("Update a tenant (super admin)", {"200": json_response("Updated.", ref("Tenant"))}, body=ref("TenantPatch"),
                           parameters=[TENANT], body_errors=True, body_required=False, operation_id="updateTenant"),
    },
    "/v1/tenants/{tenant}/service-accounts": {
        "get": operation(
            "List service accounts", {"200": json_response("A page.", page("Account"))},
            parameters=[TENANT, *PAGING,
                        query("status", {"type": "string", "enum": ["active", "disabled"]}, "Only this status."),
                        query("role", {"type": "string"}, "Only accounts holding this role."),
                        query("group", {"type": "string"}, "Only accounts in this group."),
                        query("name_prefix", {"type": "string"}, "Only names starting with this.")],
            operation_id="listServiceAccounts",
        ),
        "post": operation("Create a service account", {"201": json_response("Created; `client_secret` is shown this once.", ref("Account"), LOCATION)},
                          body=ref("AccountCreate"), parameters=[TENANT], body_errors=True, body_required=False, operation_id="createServiceAccount"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}": {
        "get": operation("Get a service account", {"200": json_response("The account.", ref("Account"))}, parameters=[TENANT, ACCOUNT],
                         operation_id="getServiceAccount"),
        "patch": operation("Update a service account", {"200": json_response("Updated.", ref("Account"))}, body=ref("AccountPatch"),
                           parameters=[TENANT, ACCOUNT], body_errors=True, body_required=False, operation_id="updateServiceAccount"),
        "delete": operation("Delete a service account", NO_CONTENT, parameters=[TENANT, ACCOUNT], operation_id="deleteServiceAccount"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/secrets": {
        "get": operation("List an account's secrets (never their values)", {"200": json_response("All secrets.", page("Secret"))},
                         parameters=[TENANT, ACCOUNT], operation_id="listSecrets"),
        "post": operation("Create a secret", {"201": json_response("Created; `client_secret` is shown this once.", ref("Secret"), LOCATION)},
                          body=ref("SecretCreate"), parameters=[TENANT, ACCOUNT], body_errors=True, operation_id="createSecret"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/secrets/{secret}": {
        "patch": operation("Enable or disable a secret", {"200": json_response("Updated.", ref("Secret"))}, body=ref("SecretPatch"),
                           parameters=[TENANT, ACCOUNT, SECRET], body_errors=True, operation_id="updateSecret"),
        "delete": operation("Delete a secret", NO_CONTENT, parameters=[TENANT, ACCOUNT, SECRET], operation_id="deleteSecret"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/api-tokens": {
        "get": operation("List an account's API tokens (never their values)", {"200": json_response("All API tokens.", page("APIToken"))},
                         parameters=[TENANT, ACCOUNT], operation_id="listAPITokens"),
        "post": operation("Create an API token", {"201": json_response("Created; `token` is shown this once.", ref("APIToken"), LOCATION)},
                          body=ref("SecretCreate"), parameters=[TENANT, ACCOUNT], body_errors=True, operation_id="createAPIToken"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/api-tokens/{secret}": {
        "patch": operation("Enable or disable (revoke) an API token", {"200": json_response("Updated.", ref("APIToken"))},
                           body=ref("SecretPatch"), parameters=[TENANT, ACCOUNT, API_TOKEN], body_errors=True, operation_id="updateAPIToken"),
        "delete": operation("Delete an API token", NO_CONTENT, parameters=[TENANT, ACCOUNT, API_TOKEN], operation_id="deleteAPIToken"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/keys": {
        "get": operation("List an account's public keys for private_key_jwt", {"200": json_response("All keys.", page("ClientKey"))},
                         parameters=[TENANT, ACCOUNT], operation_id="listClientKeys"),
        "post": operation("Register a public key for private_key_jwt", {"201": json_response("Registered.", ref("ClientKey"))},
                          body=ref("ClientKeyCreate"), parameters=[TENANT, ACCOUNT], body_errors=True, operation_id="createClientKey"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/keys/{kid}": {
        "delete": operation("Delete a public key", NO_CONTENT,
                            parameters=[TENANT, ACCOUNT, path_param("kid", {"type": "string", "minLength": 1}, "The key's kid.")],
                            operation_id="deleteClientKey"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/federated-credentials": {
        "get": operation("List an account's federated credentials (docs/federation.md)",
                         {"200": json_response("All of them.", page("FederatedCredential"))},
                         parameters=[TENANT, ACCOUNT], operation_id="listFederatedCredentials"),
        "post": operation("Trust an outside issuer's tokens for this account", {"201": json_response("Created.", ref("FederatedCredential"), LOCATION)},
                          body=ref("FederatedCredentialCreate"), parameters=[TENANT, ACCOUNT], body_errors=True,
                          operation_id="createFederatedCredential"),
    },
    "/v1/tenants/{tenant}/service-accounts/{id}/federated-credentials/{credential}": {
        "delete": operation("Delete a federated credential", NO_CONTENT,
                            parameters=[TENANT, ACCOUNT, path_param("credential", UUID, "The credential's id.")],
                            operation_id="deleteFederatedCredential"),
    },
    "/v1/tenants/{tenant}/federated-credentials:test": {
        "post": operation("Which of the tenant's federated credentials a token matches, and why not the others; issues nothing",
                          {"200": json_response("The verdicts.", ref("FederationTestResult"))}, body=ref("FederationTest"),
                          parameters=[TENANT], body_errors=True, operation_id="testFederatedToken"),
    },
    "/v1/tenants/{tenant}/roles": {
        "get": operation("List the role catalogue", {"200": json_response("All roles.", page("Role"))}, parameters=[TENANT], operation_id="listRoles"),
        "post": operation("Create a custom role", {"201": json_response("Created.", ref("Role"), LOCATION)}, body=ref("RoleCreate"),
                          parameters=[TENANT], body_errors=True, operation_id="createRole"),
    },
    "/v1/tenants/{tenant}/roles/{name}": {
        "put": operation("Replace a custom role's scopes", {"200": json_response("Updated.", ref("Role"))}, body=ref("RolePut"),
                         parameters=[TENANT, ROLE], body_errors=True, operation_id="updateRole"),
        "delete": operation("Delete a custom role (409 while held)", {**NO_CONTENT, "409": problem("The role is built in or held.")},
                            parameters=[TENANT, ROLE], operation_id="deleteRole"),
    },
    "/v1/signing-keys": {
        "get": operation("List the signing keys, never their key material (super admin)",
                         {"200": json_response("Next first, then active, then retired.", page("SigningKey"))}, operation_id="listSigningKeys"),
    },
    "/v1/signing-keys/rotate": {
        "post": operation(
            "Rotate the signing key (super admin): without a next key, publish one that signs after the JWKS max-age plus 10 s; "
            "with a next key published that long, promote it",
            {"200": json_response("What happened.", ref("KeyChange"))}, operation_id="rotateSigningKey"),
    },
    "/console/sign-in": {
        "post": operation(
            "Redeem a one-time console sign-in link's code (`tessera console`) for an access token",
            {"200": json_response("An access token for the admin API.", ref("ConsoleToken")),
             "400": problem("Not a link of this server, expired, already used, or its account is disabled or no longer an admin."),
             "413": problem("The body exceeds 64 KiB."),
             "415": problem("The body is not application/json."),
             "429": problem("Too many tokens for this account."),
             "503": problem("The store is unavailable; retry after `Retry-After`.")},
            body=ref("ConsoleSignIn"), secured=False, errors=False, operation_id="consoleSignIn"),
    },
    "/v1/tenants/{tenant}/audit-events": {
        "get": operation(
            "List admin actions, newest first", {"200": json_response("A page.", page("AuditEvent"))},
            parameters=[TENANT, *PAGING,
                        query("action", {"type": "string"}, "Only this action, e.g. service_account.create."),
                        query("actor", {"type": "string"}, "Only this actor's account id."),
                        query("resource_id", {"type": "string"}, "Only this resource."),
                        query("outcome", {"type": "string", "enum": ["success", "failure"]}, "Only this outcome.")],
            operation_id="listAuditEvents",
        ),
    },
}

document = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tessera",
        "version": "1.0.0",
        "description": "OAuth 2.0 client-credentials token issuer: the OAuth endpoints and the native admin API.",
    },
    "paths": paths,
    "components": {
        "schemas": schemas,
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API token",
                       "description": "An access token of this issuer with tessera:admin (its tenant) or tessera:super, or an API token (`tsa_…`) of an account whose roles grant it."},
            "basic": {"type": "http", "scheme": "basic", "description": "client_secret_basic (RFC 6749 §2.3.1)."},
        },
    },
}

text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False)
assert '"""#' not in text
target = os.path.join(os.path.dirname(__file__), "..", "Sources", "TesseraServer", "OpenAPI", "OpenAPIDocument.swift")
swift = (
    "// swift-format-ignore-file\n"
    "// Generated by scripts/openapi.py; edit that script, not this file.\n\n"
    "/// The OpenAPI 3.1 document served at `GET /openapi.json`.\n"
    "enum OpenAPIDocument {\n    static let json = #\"\"\"\n" + text + "\n\"\"\"#\n}\n"
)
if "--check" in sys.argv[1:]:
    # CI: the committed document must be what this script writes.
    with open(target) as current:
        if current.read() != swift:
            sys.exit("OpenAPIDocument.swift differs from what scripts/openapi.py writes: run python3 scripts/openapi.py")
    print("OpenAPIDocument.swift is what scripts/openapi.py writes")
else:
    with open(target, "w") as out:
        out.write(swift)
