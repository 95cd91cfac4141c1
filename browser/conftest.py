"""Fixtures of the console's end-to-end suite: one `tessera serve` for the module (the
interop suite's `start_server`), one headless Chromium, a fresh browser context per
console opened, and the screenshot + axe check of every page."""

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from interop.conftest import BIN, Server, service_missing, start_server, stop_server  # noqa: E402

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the `browser` fixture
    expect = sync_playwright = None
try:
    from axe_playwright_python.sync_playwright import Axe
except ImportError:
    Axe = None

CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("TESSERA_SCREENSHOTS", "/tmp/tessera-console-screenshots"))
WIDE, NARROW = 1440, 360
# axe impacts that fail a page.
BLOCKING = {"serious", "critical"}

if expect is not None:
    expect.set_options(timeout=10_000)


# MARK: server and tenants


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(BIN):
        service_missing(f"no tessera binary at {BIN} (swift build -c release, or set TESSERA_BIN)")
    instance = start_server()
    yield instance
    stop_server(instance)


@pytest.fixture(scope="module")
def acme(server: Server) -> dict:
    """The first admin of tenant acme: client_id, client_secret, service_account_id, tenant_id."""
    return server.bootstrap("acme")


@pytest.fixture(scope="module")
def globex(server: Server) -> dict:
    return server.bootstrap("globex")


@pytest.fixture(scope="module")
def root(server: Server) -> dict:
    """A super admin (its own tenant, "root")."""
    return server.bootstrap("root", role="super_admin")


# MARK: the browser


@pytest.fixture(scope="session")
def browser():
    if sync_playwright is None or Axe is None:
        service_missing("playwright and axe-playwright-python are not installed (pip install -r browser/requirements.txt)")
    if not os.path.exists(CHROMIUM):
        service_missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TESSERA_CHROMIUM)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield instance
        instance.close()


class Console:
    """One browser context on the console: its page, what it requested, and what the
    browser complained about."""

    def __init__(self, browser, server: Server, width: int, height: int, clock: bool):
        self.server = server
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=server.issuer, accept_downloads=True
        )
        self.context.set_default_timeout(10_000)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.issuer)
        self.requests: list[str] = []
        self.responses: list[tuple[str, int]] = []
        self.csp_reports: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on("response", lambda response: self.responses.append((response.url, response.status)))
        self.page = self.context.new_page()
        self.page.on("console", self._console_message)
        if clock:
            self.page.clock.install()

    def _console_message(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_reports.append(message.text)

    def open(self, path: str = "/console/"):
        self.page.goto(path)
        return self.page

    # The console's sign-in form (labels "Client ID", "Client secret", button "Sign in").
    def sign_in(self, account: dict):
        page = self.page
        page.get_by_label("Client ID").filter(visible=True).fill(account["client_id"])
        page.get_by_label("Client secret").filter(visible=True).fill(account["client_secret"])
        page.get_by_role("button", name="Sign in").click()
        # Signed in once the form is gone (at 360 px "Sign out" may sit in a collapsed menu).
        expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
        return page

    def signed_in(self, account: dict, path: str = "/console/"):
        self.open(path)
        return self.sign_in(account)

    def nav(self, name: str):
        """Follows a link of the console's navigation."""
        self.page.get_by_role("navigation").get_by_role("link", name=name).first.click()
        return self.page

    def shot(self, name: str, axe: bool = True) -> Path:
        """Saves `<name>-<width>.png` and fails on serious or critical axe violations."""
        page = self.page
        page.wait_for_load_state("networkidle")
        width = page.viewport_size["width"]
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        if axe:
            results = Axe().run(page)
            blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING]
            if blocking:
                report = SCREENSHOTS / f"{name}-{width}.axe.json"
                report.write_text(json.dumps(blocking, indent=2))
                lines = [f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['html'][:200]}"
                         for v in blocking]
                pytest.fail(f"axe on the {name} page at {width} px: {len(blocking)} serious or critical violation(s) "
                            f"(details in {report}):\n" + "\n".join(lines), pytrace=False)
        return path

    def outside_requests(self) -> list[str]:
        origin = urlsplit(self.server.issuer)
        return [url for url in self.requests
                if urlsplit(url).scheme not in ("data", "blob", "about")
                and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)]


@pytest.fixture
def console(browser, server):
    """`console(width=1440, height=900, clock=False)` opens a new browser context (no
    cookies, no storage) on the server. At the end, no page may have loaded anything from
    another origin (no CDN) or been blocked by the Content-Security-Policy."""
    opened: list[Console] = []

    def open_console(width: int = WIDE, height: int = 900, clock: bool = False) -> Console:
        instance = Console(browser, server, width, height, clock)
        opened.append(instance)
        return instance

    yield open_console
    problems = []
    for instance in opened:
        problems += [f"requested from another origin: {url}" for url in instance.outside_requests()]
        problems += [f"blocked by the CSP: {text}" for text in instance.csp_reports]
        instance.context.close()
    assert not problems, "\n".join(problems)


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.is_dir():
        shots = sorted(p.name for p in SCREENSHOTS.glob("*.png"))
        if shots:
            terminalreporter.write_sep("-", f"console screenshots in {SCREENSHOTS}")
            for name in shots:
                terminalreporter.write_line(f"  {SCREENSHOTS / name}")


# MARK: talking to the API directly


class Api:
    """The admin API as `account` (an access token from its client credentials), or as a
    bearer credential given as it is (an API token)."""

    def __init__(self, server: Server, account: dict | None = None, bearer: str | None = None):
        self.server = server
        self.bearer = bearer or server.token(account["client_id"], account["client_secret"])["access_token"]

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.server.issuer + path, timeout=10,
                                headers={"Authorization": f"Bearer {self.bearer}"}, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs) -> dict:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else {}

    def audit(self, tenant: str, after: int = 0, **filters) -> list[dict]:
        """The tenant's audit events newer than id `after`, newest first."""
        page = self.ok("GET", f"/v1/tenants/{tenant}/audit-events", params={"limit": 200, **filters})
        return [event for event in page["items"] if event["id"] > after]

    def last_audit_id(self, tenant: str) -> int:
        items = self.ok("GET", f"/v1/tenants/{tenant}/audit-events", params={"limit": 1})["items"]
        return items[0]["id"] if items else 0


@pytest.fixture(scope="module")
def api(server):
    return lambda account=None, bearer=None: Api(server, account, bearer)
