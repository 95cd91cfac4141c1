"""The README walk-through, run as pasted against a release build."""

import json
import os
import re
import subprocess

from conftest import BIN, Server

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def walkthrough() -> str:
    text = open(README).read()
    block = re.search(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert block, "README has no walk-through block"
    return block.group(1)


def test_readme_walkthrough_runs_as_pasted(server: Server):
    script = walkthrough()
    # Only two substitutions: the release binary for `swift run tessera`, and this
    # test server's port for the default one.
    assert "swift run tessera" in script and "127.0.0.1:8080" in script
    script = script.replace("swift run tessera", '"$TESSERA_BIN"').replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    env = dict(server.env, TESSERA_BIN=os.path.abspath(BIN))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=server.directory, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    billing = json.load(open(os.path.join(server.directory, "billing.json")))
    assert claims["client_id"] == billing["client_id"]
    assert claims["sub"] == billing["id"]
    assert claims["scope"] == "api:read"
    assert claims["roles"] == ["analyst"]
    assert claims["iss"] == server.issuer
