"""Every seed dialect's changes reach the audit log (docs/dialects.md, "One pipeline"):
one account created through each of the five APIs, each in its own wire format, is
one `service_account.create` event of the native `GET /v1/tenants/{t}/audit-events`,
named by the account's UUID and by the caller; a dialect's delete is one
`service_account.delete` event."""

import requests

from conftest import Server

TENANT = "audit-dialects"


def test_one_creation_per_dialect_in_the_audit_log(server: Server):
    admin = server.bootstrap(TENANT)
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    root = server.bootstrap("audit-root", role="super_admin")
    root_token = server.token(root["client_id"], root["client_secret"])["access_token"]
    tenant = requests.get(f"{server.issuer}/v1/tenants/{TENANT}", headers={"Authorization": f"Bearer {root_token}"}, timeout=10).json()

    def native(face: str) -> str:
        """The UUID of the account any face of its id names."""
        response = requests.get(f"{server.issuer}/v1/tenants/{TENANT}/service-accounts/{face}", headers=bearer, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    created = {}
    response = requests.post(f"{server.issuer}/api/v1/admin/service-account/create", headers={**bearer, "x-tenantid": TENANT}, timeout=10)
    assert response.status_code == 200, response.text
    created["rezolve"] = native(response.json()["data"]["id"])

    response = requests.post(
        f"{server.issuer}/api/app/organizations/{tenant['number']}/service-accounts",
        json={"username": "audited", "role": "consumer"}, auth=(admin["client_id"], admin["client_secret"]), timeout=10,
    )
    assert response.status_code == 201, response.text
    created["mixpanel"] = native(str(response.json()["results"]["id"]))

    response = requests.post(
        f"{server.issuer}/v3/orgs/{admin['tenant_id']}/iam/service-accounts",
        json={"data": {"type": "service-accounts", "attributes": {"name": "audited-ctrl-hub"}}},
        headers={**bearer, "Content-Type": "application/vnd.api+json"}, timeout=10,
    )
    assert response.status_code == 200, response.text
    created["ctrlhub"] = response.json()["data"]["id"]

    response = requests.post(f"{server.issuer}/organizations/{TENANT}/service-accounts", json={"name": "audited-keycard"}, headers=bearer, timeout=10)
    assert response.status_code == 201, response.text
    created["keycard"] = native(response.json()["id"])

    response = requests.post(f"{server.issuer}/api/users", json={"name": "Audited Qualytics", "role": "Member"}, headers=bearer, timeout=10)
    assert response.status_code == 200, response.text
    created["qualytics"] = native(str(response.json()["id"]))

    assert len(set(created.values())) == 5, created
    events = requests.get(
        f"{server.issuer}/v1/tenants/{TENANT}/audit-events", params={"action": "service_account.create", "limit": 200}, headers=bearer, timeout=10
    )
    assert events.status_code == 200, events.text
    mine = [event for event in events.json()["items"] if event["resource_id"] in created.values()]
    # Exactly one event per creation, each a success by the administrator.
    assert sorted(event["resource_id"] for event in mine) == sorted(created.values()), (created, mine)
    assert all(event["outcome"] == "success" and event["actor"] == admin["service_account_id"] for event in mine), mine

    # A delete through a dialect is the native API's delete event.
    response = requests.delete(f"{server.issuer}/organizations/{TENANT}/service-accounts/{created['keycard']}", headers=bearer, timeout=10)
    assert response.status_code == 204, response.text
    deletes = requests.get(
        f"{server.issuer}/v1/tenants/{TENANT}/audit-events",
        params={"action": "service_account.delete", "resource_id": created["keycard"]}, headers=bearer, timeout=10,
    ).json()["items"]
    assert [(event["outcome"], event["status"]) for event in deletes] == [("success", 204)], deletes
