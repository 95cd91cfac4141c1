"""Examples/ runs against a real `tessera serve`, and the snippets for other
languages in docs/verifier.md (Python with PyJWT, curl introspection) work as written."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import jwt
import pytest
import requests

from conftest import BIN, Server, free_port, service_missing

RELEASE = os.path.dirname(os.path.abspath(BIN))
# How long the resource server may take to answer /health on a busy machine.
READY_BUDGET = 20
README = os.path.join(os.path.dirname(__file__), "..", "README.md")


# Where each marked block lives: the README, except the snippets for other languages,
# which are in docs/verifier.md ("Other languages").
VERIFIER_DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "verifier.md")
BLOCK_DOCUMENTS = {"python-verify": VERIFIER_DOC, "curl-introspect": VERIFIER_DOC}


def readme_block(name: str) -> str:
    """The block marked `<!-- name:start -->` … `<!-- name:end -->`, from its document."""
    path = BLOCK_DOCUMENTS.get(name, README)
    text = open(path).read()
    block = re.search(rf"<!-- {name}:start -->\s*```\w+\n(.*?)```\s*<!-- {name}:end -->", text, re.S)
    assert block, f"{os.path.basename(path)} has no {name} block"
    return block.group(1)


def example(name: str) -> str:
    """A built example's path, next to the release `tessera` (`swift build -c release --product NAME`)."""
    path = os.path.join(RELEASE, name)
    if not os.access(path, os.X_OK):
        service_missing(f"the example {name} is not built at {path} (swift build -c release --product {name}, as .ci/run does)")
    return path


def wait_until_ready(process: subprocess.Popen, url: str, log_path: str) -> None:
    """Polls `url` until it answers 200, at most READY_BUDGET seconds; fails with the
    process's log if it exits first or is not ready in time. Until it listens, refused
    (or slow) connections are expected; they are kept for the message."""
    def log() -> str:
        with open(log_path, errors="replace") as handle:
            return handle.read()[-4000:] or "(empty)"

    deadline = time.monotonic() + READY_BUDGET
    last = "no answer yet"
    for _ in range(READY_BUDGET * 10 + 1):
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode} before it was ready; its log:\n{log()}", pytrace=False)
        try:
            answer = requests.get(url, timeout=1)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except (requests.ConnectionError, requests.Timeout) as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    pytest.fail(f"{process.args[0]} was not ready at {url} within {READY_BUDGET} s (last: {last}); its log:\n{log()}", pytrace=False)


def test_example_resource_server_and_caller(server: Server):
    resource_server, example_caller = example("example-resource-server"), example("example-caller")
    admin = server.bootstrap()
    caller = server.create_account(admin, name="example-caller", roles=["analyst"])
    outsider = server.create_account(admin, name="no-scope", roles=["analyst"])
    port = free_port()
    env = dict(os.environ, TESSERA_ISSUER=server.issuer, PORT=str(port),
               INTROSPECT_CLIENT_ID=admin["client_id"], INTROSPECT_CLIENT_SECRET=admin["client_secret"])
    log_directory = tempfile.mkdtemp(prefix="tessera-example-")
    log_path = os.path.join(log_directory, "resource-server.log")
    with open(log_path, "w") as log:
        resource = subprocess.Popen([resource_server], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(resource, f"http://127.0.0.1:{port}/health", log_path)
        run_env = dict(os.environ, TESSERA_ISSUER=server.issuer, CLIENT_ID=caller["client_id"],
                       CLIENT_SECRET=caller["client_secret"], RESOURCE_URL=f"http://127.0.0.1:{port}/orders")
        result = subprocess.run([example_caller], env=run_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f'200 {{"orders":[],"caller":"{caller["client_id"]}"}}'

        # No token: 401. A token revoked before the resource server saw it: the sensitive
        # route asks the issuer and refuses it, while the offline route still accepts it.
        anonymous = requests.get(f"http://127.0.0.1:{port}/orders", timeout=5)
        assert anonymous.status_code == 401
        # Two challenges (RFC 9449 §7.1), which requests joins into one value.
        assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA RS256 PS256"'
        token = server.token(outsider["client_id"], outsider["client_secret"])["access_token"]
        revoked = requests.post(server.issuer + "/oauth2/revoke", data={"token": token},
                                auth=(outsider["client_id"], outsider["client_secret"]), timeout=5)
        assert revoked.status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        audit = requests.get(f"http://127.0.0.1:{port}/orders/audit", headers=bearer, timeout=5)
        assert audit.status_code == 401
        assert audit.headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="invalid_token", error_description="the access token is invalid or expired"'
        )
        offline = requests.get(f"http://127.0.0.1:{port}/orders", headers=bearer, timeout=5)
        assert (offline.status_code, offline.text) == (200, f'{{"orders":[],"caller":"{outsider["client_id"]}"}}')
        fresh = server.token(outsider["client_id"], outsider["client_secret"])["access_token"]
        audited = requests.get(f"http://127.0.0.1:{port}/orders/audit", headers={"Authorization": f"Bearer {fresh}"}, timeout=5)
        assert (audited.status_code, audited.text) == (200, f'{{"audited":true,"caller":"{outsider["client_id"]}"}}')
    finally:
        resource.terminate()
        try:
            resource.wait(timeout=10)
        except subprocess.TimeoutExpired:
            resource.kill()
            resource.wait(timeout=10)
        shutil.rmtree(log_directory, ignore_errors=True)


def test_readme_python_snippet_verifies_a_token(server: Server):
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    snippet = readme_block("python-verify").replace("https://auth.example.com", server.issuer)
    namespace = {}
    exec(compile(snippet, "README python-verify", "exec"), namespace)
    claims = namespace["verify"](token, audience=server.issuer)
    assert claims["client_id"] == admin["client_id"]
    assert claims == jwt.decode(token, options={"verify_signature": False})


def test_readme_curl_introspection_snippet(server: Server):
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    script = readme_block("curl-introspect").replace("https://auth.example.com", server.issuer)
    env = dict(os.environ, CLIENT_ID=admin["client_id"], CLIENT_SECRET=admin["client_secret"], TOKEN=token)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    # The token's claims (aud as a list), with "active":true and the token type.
    claims = jwt.decode(token, options={"verify_signature": False})
    assert json.loads(result.stdout) == claims | {"active": True, "token_type": "Bearer", "aud": [claims["aud"]]}
