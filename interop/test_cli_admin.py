"""`tessera accounts|secrets|roles|audit` from the outside: the CLI calls a running
server's admin API, takes credentials only from the environment or a file, prints the
API's JSON with `--json`, and exits 0 / 1 (the API refused: `error: <status> <detail>`
on stderr) / 64 (usage). Every outcome is checked through the API with `requests` too."""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
import requests
from conftest import BIN, Server, free_port

# Options that would put a credential into argv, where `ps` shows it.
SECRET_OPTIONS = ("--client-secret", "--token", "--secret")
SECRET_OPTION_IN_HELP = re.compile(r"--(client-secret|token|secret)(?![\w-])")
# A whole client secret (a hint such as `tss_…4scl` does not match).
CLIENT_SECRET = re.compile(r"tss_[0-9A-Za-z]{49}")
CRASH_MARKS = ("Fatal error", "Current stack trace", "Stack dump", "Traceback", "panic", "💣")
CREDENTIAL_VARIABLES = ("TESSERA_TOKEN", "TESSERA_CLIENT_ID", "TESSERA_CLIENT_SECRET", "TESSERA_CREDENTIALS")
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"

# Every command of the contract, with arguments that parse.
COMMANDS = {
    "accounts list": ["accounts", "list"],
    "accounts get": ["accounts", "get", NO_SUCH_ID],
    "accounts create": ["accounts", "create", "--name", "argv-probe"],
    "accounts disable": ["accounts", "disable", NO_SUCH_ID],
    "accounts enable": ["accounts", "enable", NO_SUCH_ID],
    "accounts delete": ["accounts", "delete", NO_SUCH_ID],
    "secrets list": ["secrets", "list", NO_SUCH_ID],
    "secrets add": ["secrets", "add", NO_SUCH_ID, "--name", "argv-probe"],
    "secrets revoke": ["secrets", "revoke", NO_SUCH_ID, NO_SUCH_ID],
    "secrets delete": ["secrets", "delete", NO_SUCH_ID, NO_SUCH_ID],
    "roles list": ["roles", "list"],
    "roles create": ["roles", "create", "argv-probe", "--scope", "x:read"],
    "roles update": ["roles", "update", "argv-probe", "--scope", "x:read"],
    "roles delete": ["roles", "delete", "argv-probe"],
    "audit": ["audit"],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def describe(result: subprocess.CompletedProcess) -> str:
    return f"{result.args!r} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def assert_no_crash(result: subprocess.CompletedProcess) -> None:
    assert result.returncode >= 0, "killed by a signal: " + describe(result)
    for mark in CRASH_MARKS:
        assert mark not in result.stderr, f"a crash ({mark!r}), not a message: " + describe(result)


def assert_refused(result: subprocess.CompletedProcess, status: int, detail: str | None = None, field: str | None = None) -> None:
    """The API refused: exit 1, nothing on stdout, `error: ` + status (+ detail) on stderr."""
    assert_no_crash(result)
    assert result.returncode == 1, describe(result)
    assert result.stdout == "", describe(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, "no line starting with `error: `: " + describe(result)
    assert any(re.search(rf"\b{status}\b", line) for line in lines), f"no {status} after `error: `: " + describe(result)
    if detail is not None:
        assert any(str(status) in line and detail in line for line in lines), f"detail {detail!r} missing: " + describe(result)
    if field is not None:
        assert field in result.stderr, f"field {field!r} missing: " + describe(result)


def assert_usage_error(result: subprocess.CompletedProcess) -> None:
    assert_no_crash(result)
    assert result.returncode == 64, describe(result)
    assert result.stdout == "", describe(result)
    assert result.stderr.strip(), describe(result)


class Api:
    """The admin API as `admin` (a `tessera bootstrap --json` answer) calls it."""

    def __init__(self, server: Server, admin: dict):
        self.server = server
        self.admin = admin
        self.tenant = admin["tenant_slug"]
        self.session = requests.Session()
        token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str, tenant: str | None = None) -> str:
        return f"{self.server.issuer}/v1/tenants/{tenant or self.tenant}{path}"

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=10)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=10)

    def patch(self, path: str, body: dict) -> requests.Response:
        return self.session.patch(self.url(path), json=body, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=10)

    def all(self, path: str, limit: int | None = None, **params) -> list[dict]:
        """Every item of every page (at most `limit`)."""
        items, cursor = [], None
        while True:
            query = dict(params, limit=50, **({"cursor": cursor} if cursor else {}))
            response = self.get(path, **query)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor or (limit is not None and len(items) >= limit):
                return items if limit is None else items[:limit]

    def account(self, account_id: str) -> requests.Response:
        return self.get(f"/service-accounts/{account_id}")

    def problem(self, response: requests.Response) -> dict:
        assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
        return response.json()


@dataclass
class Cli:
    server: Server
    home: str

    def env(self, admin: dict | None = None, **variables: str | None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.pop("XDG_CONFIG_HOME", None)
        env["HOME"] = self.home
        env["TESSERA_URL"] = self.server.issuer
        if admin is not None:
            env["TESSERA_CLIENT_ID"] = admin["client_id"]
            env["TESSERA_CLIENT_SECRET"] = admin["client_secret"]
        for name, value in variables.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def __call__(self, *args: str, admin: dict | None = None, **variables: str | None) -> subprocess.CompletedProcess:
        """Runs `tessera ARGS` outside the server's folder, credentials from the
        environment (`admin`'s client id and secret, or `variables`)."""
        return subprocess.run(
            [BIN, *args], cwd=self.home, env=self.env(admin, **variables), capture_output=True, text=True, timeout=60, check=False
        )

    def json(self, *args: str, admin: dict | None = None, **variables: str | None):
        result = self(*args, "--json", admin=admin, **variables)
        assert_no_crash(result)
        assert result.returncode == 0, describe(result)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            pytest.fail(f"--json printed no single JSON document ({error}): " + describe(result), pytrace=False)

    def items(self, *args: str, admin: dict | None = None, **variables: str | None) -> list[dict]:
        document = self.json(*args, admin=admin, **variables)
        assert isinstance(document, dict) and isinstance(document.get("items"), list), document
        return document["items"]


def token_answer(server: Server, client_id: str, secret: str, **form: str) -> requests.Response:
    return requests.post(
        server.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client_id, secret),
        timeout=10,
    )


def assert_invalid_client(server: Server, client_id: str, secret: str) -> None:
    response = token_answer(server, client_id, secret)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client", response.text


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def cli_has_admin_commands():
    """Fails every test at once, with one clear reason, while `tessera` lacks the commands."""
    result = subprocess.run([BIN, "accounts", "--help"], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0 or "tessera accounts" not in result.stdout + result.stderr:
        pytest.fail(f"{BIN} has no `accounts` command yet: `tessera accounts --help` " + describe(result), pytrace=False)


@pytest.fixture(scope="module")
def cli(server, tmp_path_factory) -> Cli:
    return Cli(server, str(tmp_path_factory.mktemp("cli-home")))


@pytest.fixture(scope="module")
def acme(server) -> dict:
    return server.bootstrap("acme")


@pytest.fixture(scope="module")
def acme_api(server, acme) -> Api:
    return Api(server, acme)


@pytest.fixture(scope="module")
def globex(server) -> dict:
    return server.bootstrap("globex")


@pytest.fixture(scope="module")
def paging(server) -> tuple[dict, list[str]]:
    """A tenant with its admin and 60 accounts made through the API."""
    admin = server.bootstrap("paging")
    api = Api(server, admin)
    made = []
    for n in range(60):
        response = api.post("/service-accounts", {"name": f"bulk-{n:02d}", "issue_secret": False})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    return admin, made


# --- no secret in argv ----------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_help_names_no_secret_taking_option(cli, command):
    result = cli(*command.split(), "--help")
    assert_no_crash(result)
    assert result.returncode == 0, describe(result)
    text = result.stdout + result.stderr
    assert f"tessera {command}" in text, "not this command's help: " + describe(result)
    for option in ("--json", "--url", "--credentials", "--tenant"):
        assert option in text, f"{option} missing from the help: " + describe(result)
    assert not SECRET_OPTION_IN_HELP.search(text), describe(result)


@pytest.mark.parametrize("option", SECRET_OPTIONS)
@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_secret_taking_option_is_a_usage_error(cli, acme, command, option):
    assert_usage_error(cli(*COMMANDS[command], option, "tss_" + "A" * 49, "--json", admin=acme))


def test_refused_secret_option_changes_nothing(cli, acme, acme_api):
    name = unique("argv-create")
    result = cli("accounts", "create", "--name", name, "--client-secret", acme["client_secret"], "--json", admin=acme)
    assert_usage_error(result)
    assert acme_api.all("/service-accounts", name_prefix=name) == []


def test_no_secret_reaches_any_process_argv_or_the_request_line(cli, acme):
    """While the CLI waits on a server that never answers, no process on the machine
    shows the secret in its command line, and the request line it sent has none."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    received: list[bytes] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)
            connection.settimeout(2)
            try:
                received.append(connection.recv(65536))
            except OSError:
                received.append(b"")

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    secret = acme["client_secret"]
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    process = subprocess.Popen(
        [BIN, "accounts", "list", "--json"],
        cwd=cli.home,
        env=cli.env(acme, TESSERA_URL=url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    leaks, scans = [], 0
    try:
        deadline = time.monotonic() + 5
        seen_request_at = None
        while time.monotonic() < deadline and process.poll() is None:
            scans += 1
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read()
                except OSError:
                    continue
                if secret.encode() in cmdline:
                    leaks.append((pid, cmdline.replace(b"\0", b" ").decode(errors="replace")))
            if received and seen_request_at is None:
                seen_request_at = time.monotonic()
            if seen_request_at is not None and time.monotonic() - seen_request_at > 0.5:
                break
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for connection in held:
            connection.close()
    assert not leaks, f"the client secret is in a command line: {leaks}"
    assert received, f"the CLI sent nothing to {url} (exit {process.returncode}) in {scans} scans"
    request_line = received[0].split(b"\r\n", 1)[0].decode(errors="replace")
    assert secret not in request_line, request_line


def test_no_credentials_is_a_usage_error_naming_the_variables(cli):
    result = cli("accounts", "list", "--json")
    assert_usage_error(result)
    for variable in CREDENTIAL_VARIABLES:
        assert variable in result.stderr, describe(result)


# --- accounts ---------------------------------------------------------------------


def test_account_life_through_the_cli(server, cli, acme, acme_api):
    name = unique("life")
    created = cli.json(
        "accounts", "create", "--name", name, "--description", "nightly ETL",
        "--role", "editor", "--role", "analyst", "--group", "etl", "--group", "batch",
        "--audience", "https://api.example.com", admin=acme,
    )  # fmt: skip
    account_id, client_id, secret = created["id"], created["client_id"], created["client_secret"]
    assert CLIENT_SECRET.fullmatch(secret), created
    assert created["name"] == name and created["description"] == "nightly ETL"
    assert sorted(created["roles"]) == ["analyst", "editor"]
    assert sorted(created["groups"]) == ["batch", "etl"]
    assert created["audiences"] == ["https://api.example.com"]
    assert created["status"] == "active"

    # The API holds what the CLI said it made, and never shows the secret again.
    stored = acme_api.account(account_id)
    assert stored.status_code == 200, stored.text
    stored = stored.json()
    assert "client_secret" not in stored and secret not in json.dumps(stored)
    for member in ("id", "client_id", "name", "description", "status", "tenant_id"):
        assert stored[member] == created[member], member
    for member in ("roles", "groups", "audiences"):
        assert sorted(stored[member]) == sorted(created[member]), member
    assert stored["created_by"] == acme["service_account_id"]

    # The printed secret works at the token endpoint, with the roles' scopes.
    granted = server.token(client_id, secret)
    assert set(granted["scope"].split()) == {"api:read", "api:write"}

    # list finds it; without --json a line names it.
    listed = cli.items("accounts", "list", "--name-prefix", name, admin=acme)
    assert ids(listed) == [account_id]
    assert all("client_secret" not in item for item in listed)
    text = cli("accounts", "list", "--name-prefix", name, admin=acme)
    assert text.returncode == 0, describe(text)
    assert name in text.stdout and account_id in text.stdout
    assert secret not in text.stdout

    # get prints the API's account.
    got = cli.json("accounts", "get", account_id, admin=acme)
    for member in ("id", "client_id", "name", "description", "status", "roles", "groups", "audiences", "created_at"):
        assert got[member] == stored[member], member
    assert "client_secret" not in got
    text = cli("accounts", "get", account_id, admin=acme)
    assert text.returncode == 0, describe(text)
    assert name in text.stdout and account_id in text.stdout

    # disable: the API says disabled, the secret is refused at once.
    disabled = cli.json("accounts", "disable", account_id, admin=acme)
    assert disabled["id"] == account_id and disabled["status"] == "disabled"
    assert acme_api.account(account_id).json()["status"] == "disabled"
    assert_invalid_client(server, client_id, secret)
    assert ids(cli.items("accounts", "list", "--name-prefix", name, "--status", "disabled", admin=acme)) == [account_id]
    assert cli.items("accounts", "list", "--name-prefix", name, "--status", "active", admin=acme) == []

    # enable: works again.
    enabled = cli.json("accounts", "enable", account_id, admin=acme)
    assert enabled["id"] == account_id and enabled["status"] == "active"
    assert acme_api.account(account_id).json()["status"] == "active"
    server.token(client_id, secret)

    # delete: gone from the API and the token endpoint; a second delete is a 404.
    deleted = cli.json("accounts", "delete", account_id, admin=acme)
    assert deleted == {"id": account_id, "deleted": True}
    assert acme_api.account(account_id).status_code == 404
    assert_invalid_client(server, client_id, secret)
    assert cli.items("accounts", "list", "--name-prefix", name, admin=acme) == []
    again = cli("accounts", "delete", account_id, "--json", admin=acme)
    assert_refused(again, 404, acme_api.problem(acme_api.account(account_id))["detail"])


def test_create_with_no_secret(cli, acme, acme_api):
    name = unique("nosecret")
    created = cli.json("accounts", "create", "--name", name, "--no-secret", admin=acme)
    assert "client_secret" not in created, created
    assert created["roles"] == ["consumer"]  # the API's default
    secrets = acme_api.get(f"/service-accounts/{created['id']}/secrets")
    assert secrets.status_code == 200 and secrets.json()["items"] == [], secrets.text


def test_accounts_list_filters(cli, acme, acme_api):
    prefix = unique("filter")
    editor = cli.json("accounts", "create", "--name", f"{prefix}-a", "--role", "editor", "--no-secret", admin=acme)
    analyst = cli.json("accounts", "create", "--name", f"{prefix}-b", "--role", "analyst", "--no-secret", admin=acme)
    dormant = cli.json("accounts", "create", "--name", f"{prefix}-c", "--role", "analyst", "--no-secret", admin=acme)
    assert acme_api.patch(f"/service-accounts/{dormant['id']}", {"status": "disabled"}).status_code == 200

    def listed(*options: str) -> set[str]:
        items = cli.items("accounts", "list", "--name-prefix", prefix, *options, admin=acme)
        assert len(items) == len(set(ids(items))), "duplicates"
        return set(ids(items))

    def api(**filters: str) -> set[str]:
        return set(ids(acme_api.all("/service-accounts", name_prefix=prefix, **filters)))

    assert listed() == api() == {editor["id"], analyst["id"], dormant["id"]}
    assert listed("--role", "analyst") == api(role="analyst") == {analyst["id"], dormant["id"]}
    assert listed("--role", "editor") == {editor["id"]}
    assert listed("--status", "disabled") == api(status="disabled") == {dormant["id"]}
    assert listed("--status", "active") == {editor["id"], analyst["id"]}
    assert listed("--role", "analyst", "--status", "active") == {analyst["id"]}
    assert listed("--role", "owner") == set()
    assert listed("--limit", "2") <= api() and len(listed("--limit", "2")) == 2


def test_accounts_list_follows_every_page(server, cli, paging):
    admin, made = paging
    api = Api(server, admin)
    everything = api.all("/service-accounts")
    assert len(everything) == 61  # the API itself pages (default 50)

    items = cli.items("accounts", "list", admin=admin)
    assert len(items) == 61, f"{len(items)} items"
    assert len(set(ids(items))) == 61, "duplicates across pages"
    assert set(ids(items)) == set(ids(everything)) == {*made, admin["service_account_id"]}

    bulk = cli.items("accounts", "list", "--name-prefix", "bulk-", admin=admin)
    assert sorted(ids(bulk)) == sorted(made)

    first_55 = cli.items("accounts", "list", "--limit", "55", admin=admin)
    assert len(first_55) == 55 and len(set(ids(first_55))) == 55
    assert set(ids(first_55)) <= set(made) | {admin["service_account_id"]}
    assert len(cli.items("accounts", "list", "--limit", "5", admin=admin)) == 5


def test_audit_pages_and_defaults_to_50(server, cli, paging):
    admin, _ = paging
    api = Api(server, admin)
    newest = cli.items("audit", admin=admin)
    assert newest == api.all("/audit-events", limit=50)
    assert len(newest) == 50
    first_55 = cli.items("audit", "--limit", "55", admin=admin)
    assert first_55 == api.all("/audit-events", limit=55)
    assert len({item["id"] for item in first_55}) == 55


# --- secrets ----------------------------------------------------------------------


def test_secret_life_through_the_cli(server, cli, acme, acme_api):
    account = cli.json("accounts", "create", "--name", unique("secrets"), "--role", "editor", admin=acme)
    account_id, client_id, first = account["id"], account["client_id"], account["client_secret"]

    # add: the value is shown once and works, beside the first secret.
    added = cli.json("secrets", "add", account_id, "--name", "rotation-2", "--expires-in-days", "30", admin=acme)
    assert CLIENT_SECRET.fullmatch(added["client_secret"]) and added["client_secret"] != first
    assert added["name"] == "rotation-2" and added["enabled"] is True
    expires = datetime.datetime.fromisoformat(added["expires_at"])
    in_30_days = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    assert abs(expires - in_30_days) < datetime.timedelta(hours=1), added["expires_at"]
    server.token(client_id, added["client_secret"])
    server.token(client_id, first)

    # A secret restricted by --scope never yields more.
    scoped = cli.json("secrets", "add", account_id, "--name", "read-only", "--scope", "api:read", admin=acme)
    assert scoped["scopes"] == ["api:read"]
    assert server.token(client_id, scoped["client_secret"])["scope"] == "api:read"

    # An API token is not a client secret: `secrets list` leaves it out.
    api_token = acme_api.post(f"/service-accounts/{account_id}/api-tokens", {"name": "tok", "expires_in_days": 30})
    assert api_token.status_code == 201, api_token.text

    # list: the API's client secrets, never a value.
    listed = cli.items("secrets", "list", account_id, admin=acme)
    from_api = acme_api.get(f"/service-accounts/{account_id}/secrets").json()["items"]
    assert sorted(ids(listed)) == sorted(ids(from_api))
    assert {added["id"], scoped["id"]} <= set(ids(listed))
    assert api_token.json()["id"] not in ids(listed)
    result = cli("secrets", "list", account_id, "--json", admin=acme)
    text = cli("secrets", "list", account_id, admin=acme)
    assert text.returncode == 0, describe(text)
    for output in (result.stdout, text.stdout):
        assert not CLIENT_SECRET.search(output), output
        assert api_token.json()["token"] not in output
    assert "rotation-2" in text.stdout and added["id"] in text.stdout

    # revoke: disabled at once, refused at the token endpoint; the others still work.
    revoked = cli.json("secrets", "revoke", account_id, added["id"], admin=acme)
    assert revoked["id"] == added["id"] and revoked["enabled"] is False
    assert "client_secret" not in revoked
    state = {s["id"]: s["enabled"] for s in acme_api.get(f"/service-accounts/{account_id}/secrets").json()["items"]}
    assert state[added["id"]] is False
    assert_invalid_client(server, client_id, added["client_secret"])
    server.token(client_id, first)

    # delete: gone.
    deleted = cli.json("secrets", "delete", account_id, added["id"], admin=acme)
    assert deleted == {"id": added["id"], "deleted": True}
    remaining = ids(acme_api.get(f"/service-accounts/{account_id}/secrets").json()["items"])
    assert added["id"] not in remaining and scoped["id"] in remaining

    # An unknown secret is the API's 404.
    missing = acme_api.patch(f"/service-accounts/{account_id}/secrets/{NO_SUCH_ID}", {"enabled": False})
    assert missing.status_code == 404
    assert_refused(cli("secrets", "revoke", account_id, NO_SUCH_ID, "--json", admin=acme), 404, acme_api.problem(missing)["detail"])


# --- roles ------------------------------------------------------------------------


def test_role_life_through_the_cli(server, cli, acme, acme_api):
    role = unique("billing")
    created = cli.json("roles", "create", role, "--scope", "invoices:read", admin=acme)
    assert created["name"] == role and created["scopes"] == ["invoices:read"]

    def catalogue() -> dict:
        response = acme_api.get("/roles")
        assert response.status_code == 200, response.text
        return {r["name"]: r for r in response.json()["items"]}

    assert catalogue()[role]["scopes"] == ["invoices:read"]
    listed = {r["name"]: r for r in cli.items("roles", "list", admin=acme)}
    assert listed.keys() >= {"admin", "owner", "editor", "analyst", "consumer", role}
    assert listed[role]["scopes"] == ["invoices:read"]
    text = cli("roles", "list", admin=acme)
    assert text.returncode == 0 and role in text.stdout and "consumer" in text.stdout, describe(text)

    # update replaces the scopes.
    updated = cli.json("roles", "update", role, "--scope", "invoices:read", "--scope", "invoices:write", admin=acme)
    assert sorted(updated["scopes"]) == ["invoices:read", "invoices:write"]
    assert sorted(catalogue()[role]["scopes"]) == ["invoices:read", "invoices:write"]
    narrowed = cli.json("roles", "update", role, "--scope", "invoices:write", admin=acme)
    assert narrowed["scopes"] == ["invoices:write"] and catalogue()[role]["scopes"] == ["invoices:write"]

    # A role still held cannot go: exit 1, the 409 and its detail on stderr.
    holder = cli.json("accounts", "create", "--name", unique("holder"), "--role", role, admin=acme)
    assert server.token(holder["client_id"], holder["client_secret"])["scope"] == "invoices:write"
    held = cli("roles", "delete", role, "--json", admin=acme)
    assert_refused(held, 409, f'role "{role}" is held by a service account')
    assert role in catalogue()

    cli.json("accounts", "delete", holder["id"], admin=acme)
    gone = cli("roles", "delete", role, "--json", admin=acme)
    assert gone.returncode == 0, describe(gone)
    if gone.stdout.strip():  # a 204 has no body: --json prints nothing or one JSON document
        json.loads(gone.stdout)
    assert role not in catalogue()
    assert role not in {r["name"] for r in cli.items("roles", "list", admin=acme)}
    assert_refused(cli("roles", "delete", role, "--json", admin=acme), 404, "role not found")


# --- audit ------------------------------------------------------------------------


def test_audit_shows_the_cli_actions_and_filters_narrow_them(server, cli, acme, acme_api):
    second = server.bootstrap("acme")  # another admin of the same tenant, to filter by actor
    role = unique("audited")
    cli.json("roles", "create", role, "--scope", "reports:read", admin=acme)
    cli.json("roles", "update", role, "--scope", "reports:write", admin=acme)
    account = cli.json("accounts", "create", "--name", unique("audited"), "--role", role, admin=acme)
    account_id = account["id"]
    assert_refused(cli("roles", "delete", role, admin=acme), 409)
    cli.json("accounts", "disable", account_id, admin=acme)
    cli.json("accounts", "enable", account_id, admin=acme)
    secret = cli.json("secrets", "add", account_id, "--name", "extra", admin=second)
    cli.json("secrets", "revoke", account_id, secret["id"], admin=second)
    cli.json("secrets", "delete", account_id, secret["id"], admin=second)
    cli.json("accounts", "delete", account_id, admin=acme)
    assert cli("roles", "delete", role, admin=acme).returncode == 0

    def actions(*filters: str) -> list[tuple[str, str]]:
        items = cli.items("audit", *filters, admin=acme)
        return [(item["action"], item["outcome"]) for item in items]

    # Everything, newest first, as the API answers it.
    newest = cli.items("audit", "--limit", "30", admin=acme)
    assert newest == acme_api.all("/audit-events", limit=30)
    assert [e["id"] for e in newest] == sorted((e["id"] for e in newest), reverse=True)

    assert actions("--resource-id", account_id) == [
        ("service_account.delete", "success"),
        ("service_account.update", "success"),  # enable
        ("service_account.update", "success"),  # disable
        ("service_account.create", "success"),
    ]
    assert actions("--resource-id", secret["id"]) == [
        ("secret.delete", "success"),
        ("secret.update", "success"),  # revoke
        ("secret.create", "success"),
    ]
    assert actions("--resource-id", role) == [
        ("role.delete", "success"),
        ("role.delete", "failure"),  # still held: 409
        ("role.update", "success"),
        ("role.create", "success"),
    ]

    refused = cli.items("audit", "--action", "role.delete", "--outcome", "failure", "--resource-id", role, admin=acme)
    assert len(refused) == 1 and refused[0]["status"] == 409
    failures = cli.items("audit", "--outcome", "failure", admin=acme)
    assert failures and all(e["outcome"] == "failure" for e in failures)
    creates = cli.items("audit", "--action", "service_account.create", admin=acme)
    assert creates and all(e["action"] == "service_account.create" for e in creates)
    assert account_id in {e["resource_id"] for e in creates}

    by_second = cli.items("audit", "--actor", second["service_account_id"], admin=acme)
    assert [e["action"] for e in by_second] == ["secret.delete", "secret.update", "secret.create"]
    by_first = cli.items("audit", "--actor", acme["service_account_id"], admin=acme)
    assert by_first and all(e["actor"] == acme["service_account_id"] for e in by_first)
    assert secret["id"] not in {e["resource_id"] for e in by_first}

    assert len(cli.items("audit", "--limit", "2", admin=acme)) == 2
    assert all(secret["client_secret"] not in json.dumps(e) for e in newest)

    text = cli("audit", "--resource-id", account_id, admin=acme)
    assert text.returncode == 0, describe(text)
    assert "service_account.create" in text.stdout and "service_account.delete" in text.stdout


# --- where the credentials come from ---------------------------------------------------


@pytest.mark.parametrize("how", ["--credentials", "TESSERA_CREDENTIALS", "minimal file"])
def test_credentials_from_a_file(cli, acme, tmp_path, how):
    path = tmp_path / "admin.json"
    document = acme if how != "minimal file" else {k: acme[k] for k in ("client_id", "client_secret")}
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    if how == "TESSERA_CREDENTIALS":
        items = cli.items("accounts", "list", TESSERA_CREDENTIALS=str(path))
    else:
        items = cli.items("accounts", "list", "--credentials", str(path))
    assert acme["service_account_id"] in ids(items)


def test_access_token_from_the_environment(server, cli, acme, acme_api):
    token = server.token(acme["client_id"], acme["client_secret"])["access_token"]
    items = cli.items("accounts", "list", TESSERA_TOKEN=token)
    assert acme["service_account_id"] in ids(items)
    created = cli.json("accounts", "create", "--name", unique("via-token"), "--no-secret", TESSERA_TOKEN=token)
    assert acme_api.account(created["id"]).json()["created_by"] == acme["service_account_id"]


def test_api_token_from_the_environment(cli, acme, acme_api):
    made = acme_api.post(f"/service-accounts/{acme['service_account_id']}/api-tokens", {"name": unique("cli"), "expires_in_days": 30})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("tsa_")
    items = cli.items("accounts", "list", TESSERA_TOKEN=token)
    assert acme["service_account_id"] in ids(items)
    role = unique("via-api-token")
    cli.json("roles", "create", role, "--scope", "x:read", TESSERA_TOKEN=token)
    assert role in {r["name"] for r in acme_api.get("/roles").json()["items"]}

    # Revoked through the API, the same token is refused: exit 1 with the 401.
    assert acme_api.patch(f"/service-accounts/{acme['service_account_id']}/api-tokens/{made.json()['id']}", {"enabled": False}).status_code == 200
    result = cli("accounts", "list", "--json", TESSERA_TOKEN=token)
    assert_refused(result, 401)


def test_first_credential_found_wins(server, cli, acme, globex, tmp_path):
    """TESSERA_TOKEN before TESSERA_CLIENT_ID/SECRET before a credentials file; each
    acts in its own tenant, so the listing shows whose credential was used."""
    globex_token = server.token(globex["client_id"], globex["client_secret"])["access_token"]
    listed = ids(cli.items("accounts", "list", admin=acme, TESSERA_TOKEN=globex_token))
    assert globex["service_account_id"] in listed and acme["service_account_id"] not in listed

    acme_file = tmp_path / "acme.json"
    acme_file.write_text(json.dumps(acme))
    listed = ids(cli.items("accounts", "list", admin=globex, TESSERA_CREDENTIALS=str(acme_file)))
    assert globex["service_account_id"] in listed and acme["service_account_id"] not in listed
    listed = ids(cli.items("accounts", "list", "--credentials", str(acme_file), admin=globex))
    assert globex["service_account_id"] in listed and acme["service_account_id"] not in listed

    # The first one found is used even when it is wrong: no silent fallback.
    result = cli("accounts", "list", "--json", admin=acme, TESSERA_TOKEN="tsa_" + "0" * 49)
    assert_refused(result, 401)


def test_bad_credentials_are_refused(cli, acme):
    result = cli("accounts", "list", "--json", TESSERA_CLIENT_ID=acme["client_id"], TESSERA_CLIENT_SECRET="tss_" + "A" * 49)
    assert_no_crash(result)
    assert result.returncode == 1 and result.stdout == "", describe(result)
    assert "401" in result.stderr or "invalid_client" in result.stderr, describe(result)
    assert_refused(cli("accounts", "list", "--json", TESSERA_TOKEN="not-a-token"), 401)


# --- where to connect, which tenant ----------------------------------------------------


def test_url_option_and_variable(server, cli, acme):
    dead = f"http://127.0.0.1:{free_port()}"
    # --url wins over TESSERA_URL (chosen: an option overrides the environment).
    items = cli.items("accounts", "list", "--url", server.issuer, admin=acme, TESSERA_URL=dead)
    assert acme["service_account_id"] in ids(items)
    items = cli.items("accounts", "list", "--url", server.issuer, admin=acme, TESSERA_URL=None)
    assert acme["service_account_id"] in ids(items)


def test_unreachable_url_is_a_message_not_a_crash(cli, acme):
    dead = f"http://127.0.0.1:{free_port()}"
    for result in (cli("accounts", "list", "--json", "--url", dead, admin=acme), cli("audit", admin=acme, TESSERA_URL=dead)):
        assert_no_crash(result)
        assert result.returncode == 1, describe(result)
        assert result.stdout == "", describe(result)
        assert result.stderr.strip(), describe(result)
        assert len(result.stderr.splitlines()) <= 5, "more than a message: " + describe(result)


def test_tenant_isolation(server, cli, acme, acme_api, globex):
    acme_account = acme_api.post("/service-accounts", {"name": unique("acme-only"), "issue_secret": False}).json()
    # The API's answer for a tenant the caller may not see.
    denied = Api(server, globex).session.get(acme_api.url("/service-accounts"), timeout=10)
    assert denied.status_code == 404
    detail = denied.json()["detail"]

    for result in (
        cli("accounts", "list", "--tenant", "acme", "--json", admin=globex),
        cli("accounts", "get", acme_account["id"], "--tenant", "acme", "--json", admin=globex),
        cli("roles", "list", "--tenant", "acme", "--json", admin=globex),
        cli("audit", "--tenant", "acme", "--json", admin=globex),
        cli("accounts", "list", "--json", admin=globex, TESSERA_TENANT="acme"),
    ):
        assert_refused(result, 404, detail)
        assert acme_account["name"] not in result.stderr, describe(result)

    # In its own tenant globex sees none of acme's accounts, even by id.
    own = ids(cli.items("accounts", "list", admin=globex))
    assert globex["service_account_id"] in own
    assert acme_account["id"] not in own and acme["service_account_id"] not in own
    assert_refused(cli("accounts", "get", acme_account["id"], "--json", admin=globex), 404)
    assert_refused(cli("accounts", "disable", acme_account["id"], "--json", admin=globex), 404)
    assert acme_api.account(acme_account["id"]).json()["status"] == "active"
    # globex's audit holds globex's events only (its refused attempts above among them).
    audit = cli.items("audit", "--limit", "200", admin=globex)
    assert audit and all(event["tenant_id"] == globex["tenant_id"] for event in audit)
    assert acme["service_account_id"] not in {event["actor"] for event in audit}
    assert ("service_account.create", acme_account["id"]) not in {(e["action"], e["resource_id"]) for e in audit}

    # Its own tenant by slug works.
    assert globex["service_account_id"] in ids(cli.items("accounts", "list", "--tenant", "globex", admin=globex))


def test_super_admin_reaches_another_tenant_with_tenant(server, cli, acme):
    root = server.bootstrap("root", role="super_admin")
    in_acme = ids(cli.items("accounts", "list", "--tenant", "acme", admin=root))
    assert acme["service_account_id"] in in_acme and root["service_account_id"] not in in_acme
    assert acme["service_account_id"] in ids(cli.items("accounts", "list", admin=root, TESSERA_TENANT="acme"))
    own = ids(cli.items("accounts", "list", admin=root))  # default: the caller's own tenant
    assert root["service_account_id"] in own and acme["service_account_id"] not in own


def test_an_admin_of_a_tenant_with_another_default_audience_is_served(server, cli):
    # Its tokens are for its resource servers unless they ask for the issuer; the CLI's
    # must be for the admin API.
    root = server.bootstrap("root-audience", role="super_admin")
    admin = server.bootstrap("initech")
    patched = requests.patch(
        f"{server.issuer}/v1/tenants/initech",
        json={"default_audience": "https://api.initech.example"},
        headers={"Authorization": "Bearer " + server.token(root["client_id"], root["client_secret"])["access_token"]},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    assert admin["service_account_id"] in ids(cli.items("accounts", "list", admin=admin))


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["accounts", "get", NO_SUCH_ID],
        ["accounts", "disable", NO_SUCH_ID],
        ["accounts", "enable", NO_SUCH_ID],
        ["accounts", "delete", NO_SUCH_ID],
        ["secrets", "list", NO_SUCH_ID],
        ["secrets", "add", NO_SUCH_ID, "--name", "x"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_unknown_account_is_the_apis_404(cli, acme, acme_api, command):
    detail = acme_api.problem(acme_api.account(NO_SUCH_ID))["detail"]
    assert_refused(cli(*command, "--json", admin=acme), 404, detail)
    text = cli(*command, admin=acme)  # the same without --json
    assert_refused(text, 404, detail)


@pytest.mark.parametrize(
    "command, about",
    [
        (["accounts", "list", "--status", "sleeping"], "status"),
        (["audit", "--outcome", "maybe"], "outcome"),
        (["secrets", "add", "ADMIN", "--name", "x", "--expires-in-days", "45"], "expires"),
        (["accounts", "list", "--limit", "zero"], "limit"),
    ],
    ids=["status", "outcome", "expires-in-days", "limit"],
)
def test_invalid_values_are_refused_clearly(cli, acme, command, about):
    """Either the CLI refuses the value (64) or the API does (1, naming the field)."""
    command = [acme["service_account_id"] if word == "ADMIN" else word for word in command]
    result = cli(*command, "--json", admin=acme)
    assert_no_crash(result)
    assert result.returncode in (1, 64), describe(result)
    assert result.stdout == "", describe(result)
    assert about in result.stderr.lower().replace("_", "-"), describe(result)


def test_api_validation_error_names_the_field(cli, acme, acme_api):
    name = unique("badrole")
    problem = acme_api.problem(acme_api.post("/service-accounts", {"name": name, "roles": ["no-such-role"]}))
    assert problem["status"] == 400 and problem["field"] == "roles"
    result = cli("accounts", "create", "--name", name, "--role", "no-such-role", "--json", admin=acme)
    assert_refused(result, 400, problem["detail"], field="roles")
    assert acme_api.all("/service-accounts", name_prefix=name) == []
