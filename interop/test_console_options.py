"""The console's switches from the outside (docs/console.md): `serve --console` and
TESSERA_CONSOLE, and `tessera console` refusing what it cannot link to."""

import json
import subprocess

import requests

from conftest import BIN, start_server, stop_server


def test_console_off_serves_no_page_and_no_sign_in_route():
    server = start_server("ES256", "--console", "off")
    try:
        assert requests.get(server.issuer + "/console/", timeout=10).status_code == 404
        assert requests.post(server.issuer + "/console/sign-in", json={"code": "tsl_x"}, timeout=10).status_code == 404
        # The admin API is unaffected.
        assert requests.get(server.issuer + "/v1/whoami", timeout=10).status_code == 401
    finally:
        stop_server(server)


def test_the_variable_turns_the_console_on():
    server = start_server("ES256", environment={"TESSERA_CONSOLE": "on"})
    try:
        page = requests.get(server.issuer + "/console/", timeout=10)
        assert page.status_code == 200
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    finally:
        stop_server(server)


def test_a_console_value_that_is_neither_on_nor_off_is_refused():
    result = subprocess.run([BIN, "serve", "--console", "maybe"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 64, result
    assert "--console must be on or off" in result.stderr


def test_tessera_console_refuses_an_unknown_tenant_and_a_non_admin(server):
    missing = server.tessera("console", "--tenant", "nowhere", "--issuer", server.issuer, check=False)
    assert missing.returncode == 64, missing
    assert 'no tenant "nowhere"' in missing.stderr

    admin = server.bootstrap("links")
    member = server.create_account(admin, tenant="links", name="reader", roles=["member"])
    refused = server.tessera("console", "--tenant", "links", "--account", member["id"], "--issuer", server.issuer, check=False)
    assert refused.returncode == 64, refused
    assert "tessera:admin" in refused.stderr

    too_long = server.tessera("console", "--tenant", "links", "--lifetime", "901", check=False)
    assert too_long.returncode == 64 and "--lifetime must be 1–900 seconds" in too_long.stderr

    made = json.loads(server.tessera("console", "--tenant", "links", "--account", admin["service_account_id"], "--json").stdout)
    assert made["account_id"] == admin["service_account_id"]
