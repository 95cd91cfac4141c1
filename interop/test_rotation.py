"""Key rotation as a verifier that follows the JWKS sees it: no failed verification."""

import json
import time

import jwt
import requests


def test_verifiers_following_the_jwks_survive_a_rotation(server_factory):
    server = server_factory("ES256", "--jwks-max-age", "2")
    admin = server.bootstrap()
    meta = requests.get(server.issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
    jwks_client = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=True, lifespan=2)

    def fresh_token() -> str:
        return server.token(admin["client_id"], admin["client_secret"])["access_token"]

    def verify(token: str) -> str:
        header = jwt.get_unverified_header(token)
        key = jwks_client.get_signing_key_from_jwt(token)
        jwt.decode(token, key, algorithms=["ES256"], audience=server.issuer, issuer=server.issuer)
        return header["kid"]

    old_token = fresh_token()
    old_kid = verify(old_token)

    listed = json.loads(server.tessera("keys", "list").stdout)
    assert [(k["kid"], k["state"]) for k in listed] == [(old_kid, "active")]

    rotated = json.loads(server.tessera("keys", "rotate", "--jwks-max-age", "2").stdout)
    assert rotated["result"] == "scheduled"
    new_kid = rotated["kid"]
    assert new_kid != old_kid

    # Until the running server promotes it (max-age + 10 s of pick-up), tokens keep
    # coming from the old key; every one verifies throughout.
    deadline = time.time() + 40
    kids = []
    while time.time() < deadline:
        kids.append(verify(fresh_token()))
        if kids[-1] == new_kid:
            break
        time.sleep(0.5)
    assert kids[-1] == new_kid, kids
    assert set(kids) <= {old_kid, new_kid}

    # The old key stays published, so tokens it signed still verify.
    assert verify(old_token) == old_kid
    published = {k["kid"] for k in requests.get(meta["jwks_uri"], timeout=10).json()["keys"]}
    assert published == {old_kid, new_kid}
    states = {k["kid"]: k["state"] for k in json.loads(server.tessera("keys", "list").stdout)}
    assert states == {old_kid: "retired", new_kid: "active"}
    result = server.tessera("verify", "--issuer", server.issuer, old_token)
    assert json.loads(result.stdout)["client_id"] == admin["client_id"]
