"""The OpenAPI document matches the server: validated as OpenAPI 3.1, then schemathesis
drives every operation with positive and negative cases and checks each answer."""

import os
import subprocess

import requests
from openapi_spec_validator import validate

from conftest import Server


def test_document_is_valid_openapi_31(server: Server):
    response = requests.get(server.issuer + "/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(server: Server):
    root = server.bootstrap(tenant="root", role="super_admin")
    token = server.token(root["client_id"], root["client_secret"])["access_token"]
    checks = ",".join([
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ])
    result = subprocess.run(
        [
            "schemathesis", "run", server.issuer + "/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", checks,
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", os.environ.get("TESSERA_SCHEMATHESIS_EXAMPLES", "25"),
            "--seed", "1",
            "--workers", "1",
        ],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
