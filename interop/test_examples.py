"""Examples/ runs against a real `tessera serve`, and the README's snippets for other
languages (Python with PyJWT, curl introspection) work as written."""

import os
import re
import subprocess
import time

import requests

from conftest import BIN, Server, free_port

RELEASE = os.path.dirname(os.path.abspath(BIN))
README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def readme_block(name: str) -> str:
    text = open(README).read()
    block = re.search(rf"<!-- {name}:start -->\s*```\w+\n(.*?)```\s*<!-- {name}:end -->", text, re.S)
    assert block, f"README has no {name} block"
    return block.group(1)


def test_example_resource_server_and_caller(server: Server):
    admin = server.bootstrap()
    caller = server.create_account(admin, name="example-caller", roles=["analyst"])
    outsider = server.create_account(admin, name="no-scope", roles=["analyst"])
    port = free_port()
    env = dict(os.environ, TESSERA_ISSUER=server.issuer, PORT=str(port),
               INTROSPECT_CLIENT_ID=admin["client_id"], INTROSPECT_CLIENT_SECRET=admin["client_secret"])
    resource = subprocess.Popen([os.path.join(RELEASE, "example-resource-server")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        run_env = dict(os.environ, TESSERA_ISSUER=server.issuer, CLIENT_ID=caller["client_id"],
                       CLIENT_SECRET=caller["client_secret"], RESOURCE_URL=f"http://127.0.0.1:{port}/orders")
        result = subprocess.run([os.path.join(RELEASE, "example-caller")], env=run_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f'200 {{"orders":[],"caller":"{caller["client_id"]}"}}'

        # No token: 401. A token revoked before the resource server saw it: the sensitive
        # route asks the issuer and refuses it, while the offline route still accepts it.
        assert requests.get(f"http://127.0.0.1:{port}/orders", timeout=5).status_code == 401
        token = server.token(outsider["client_id"], outsider["client_secret"])["access_token"]
        revoked = requests.post(server.issuer + "/oauth2/revoke", data={"token": token},
                                auth=(outsider["client_id"], outsider["client_secret"]), timeout=5)
        assert revoked.status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        audit = requests.get(f"http://127.0.0.1:{port}/orders/audit", headers=bearer, timeout=5)
        assert audit.status_code == 401
        assert 'error="invalid_token"' in audit.headers["WWW-Authenticate"]
        assert requests.get(f"http://127.0.0.1:{port}/orders", headers=bearer, timeout=5).status_code == 200
        fresh = server.token(outsider["client_id"], outsider["client_secret"])["access_token"]
        assert requests.get(f"http://127.0.0.1:{port}/orders/audit",
                            headers={"Authorization": f"Bearer {fresh}"}, timeout=5).status_code == 200
    finally:
        resource.terminate()
        resource.wait(timeout=10)


def test_readme_python_snippet_verifies_a_token(server: Server):
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    snippet = readme_block("python-verify").replace("https://auth.example.com", server.issuer)
    namespace = {}
    exec(compile(snippet, "README python-verify", "exec"), namespace)
    claims = namespace["verify"](token, audience=server.issuer)
    assert claims["client_id"] == admin["client_id"]


def test_readme_curl_introspection_snippet(server: Server):
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    script = readme_block("curl-introspect").replace("https://auth.example.com", server.issuer)
    env = dict(os.environ, CLIENT_ID=admin["client_id"], CLIENT_SECRET=admin["client_secret"], TOKEN=token)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert '"active":true' in result.stdout
