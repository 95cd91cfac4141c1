"""The web console at /console, driven in headless Chromium from the outside.

Written from the console's issue and docs/admin-api.md only: every locator is a role,
a label or a text a person sees, and every action in the browser is checked again
against the admin API, the token endpoint, the JWKS or the audit log.
"""

import base64
import json
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from interop.conftest import eventually

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture reports it
    expect = None

ACCOUNTS = "/v1/tenants/acme/service-accounts"
SHOWN_ONCE = re.compile(r"(cannot|can't|can not|won't|will not) be (seen|shown|displayed|viewed) again", re.I)
QUALYTICS_ROLES = ["Admin", "Manager", "Editor", "Member"]
EXPIRATIONS = ["30 days", "60 days", "90 days", "1 year", "Never"]


# MARK: helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def normalized(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def about(moment: str | None, days: int) -> bool:
    """`moment` lies `days` days from now, give or take a day."""
    return moment is not None and abs(when(moment) - (datetime.now(timezone.utc) + timedelta(days=days))) < timedelta(days=1)


def jwt_header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def jwt_claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def dialog(page):
    """The open modal: a dialog or an alert dialog."""
    return page.get_by_role("dialog").or_(page.get_by_role("alertdialog"))


def row(scope, text):
    return scope.get_by_role("row").filter(has_text=text)


def alert(page):
    return page.get_by_role("alert").filter(has_text=re.compile(r"\w")).first


def close(page) -> None:
    modal = dialog(page)
    modal.get_by_role("button", name=re.compile(r"^(Close|Done)$", re.I)).first.click()
    expect(modal).to_have_count(0)


def shown_credential(scope, prefix: str) -> str:
    """The secret or token a dialog shows once, as text or in a read-only field."""
    pattern = re.compile(re.escape(prefix) + r"[0-9A-Za-z]{49}")
    deadline = time.monotonic() + 10
    while True:
        texts = [scope.inner_text()]
        # The dialog's content changes while the request runs: a field seen a moment
        # ago may be gone, so each is read with a short timeout and skipped if gone.
        for box in scope.get_by_role("textbox").all():
            try:
                texts.append(box.input_value(timeout=500))
            except Exception:
                continue
        for text in texts:
            found = pattern.search(text)
            if found:
                return found.group(0)
        if time.monotonic() > deadline:
            pytest.fail(f"no {prefix}… credential shown in: {texts}", pytrace=False)
        time.sleep(0.1)


def search(page, text: str) -> None:
    box = page.get_by_label("Search")
    box.fill(text)
    box.press("Enter")


def open_account(page, name: str) -> None:
    """From the service accounts page, to an account's detail page."""
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    search(page, name)
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name).first).to_be_visible()


def confirm_delete(page) -> None:
    modal = dialog(page)
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Delete", exact=True).click()
    expect(modal).to_have_count(0)


def token_endpoint(server, client_id: str, secret: str) -> requests.Response:
    return requests.post(server.issuer + "/oauth2/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=10)


def assert_invalid_client(response: requests.Response, what: str) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
    assert response.json().get("error") == "invalid_client", f"{what}: {response.text}"


def pieces_of(url: str, issuer: str) -> list[str]:
    """The long pieces of a URL after its origin: a sign-in code, wherever it sits."""
    return [piece for piece in re.split(r"[/?#&=;]", url[len(issuer):]) if len(piece) >= 16]


class PageScan(HTMLParser):
    """Scripts, external references and inline handlers of an HTML page."""

    def __init__(self):
        super().__init__()
        self.references: list[str] = []
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False
        self._script_type = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.lower().startswith("on")]
        for name in ("src", "href"):
            if attributes.get(name) and tag in ("script", "link", "img", "iframe", "source", "video", "audio", "embed", "object"):
                self.references.append(attributes[name])
        if tag == "script":
            self._in_script = "src" not in attributes
            self._script_type = (attributes.get("type") or "").lower()

    def handle_data(self, data):
        if self._in_script and data.strip() and self._script_type not in ("application/json", "application/ld+json"):
            self.inline_scripts.append(data.strip()[:120])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def content_security_policy(header: str | None) -> dict[str, list[str]]:
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


# MARK: serving


def test_console_is_served_by_tessera_with_a_strict_csp_and_no_outside_assets(server):
    for path in ("/console/", "/console", "/console/tenants/acme/service-accounts"):
        response = requests.get(server.issuer + path, timeout=10)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:300]}"
        assert response.headers.get("Content-Type", "").startswith("text/html"), (path, response.headers)
        assert response.headers.get("X-Frame-Options", "").upper() == "DENY", (path, response.headers)

        csp = content_security_policy(response.headers.get("Content-Security-Policy"))
        scripts = csp.get("script-src", csp.get("default-src"))
        assert scripts is not None, f"{path}: the CSP restricts no script source: {csp}"
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, f"{path}: script-src {scripts}"
        allowed = re.compile(r"^('self'|'none'|'strict-dynamic'|'wasm-unsafe-eval'|'nonce-[^']+'|'sha(256|384|512)-[^']+')$")
        assert all(allowed.match(source) for source in scripts), f"{path}: script-src allows other origins: {scripts}"

        page = PageScan()
        page.feed(response.text)
        assert not page.inline_scripts, f"{path}: inline scripts {page.inline_scripts}"
        assert not page.handlers, f"{path}: inline event handlers {page.handlers}"
        for reference in page.references:
            absolute = urljoin(response.url, reference)
            assert absolute.startswith(server.issuer + "/") or absolute.startswith("data:"), f"{path}: loads {reference} from elsewhere"
            if absolute.startswith(server.issuer + "/"):
                asset = requests.get(absolute, timeout=10)
                assert asset.status_code == 200, f"{path}: its asset {absolute} answers {asset.status_code}"


# MARK: signing in


def test_a_page_loaded_without_a_token_shows_the_sign_in_form_not_data(server, acme, console):
    hidden = server.create_account(acme, name=unique("hidden-ledger"))
    c = console()
    page = c.open("/console/tenants/acme/service-accounts")
    expect(page.get_by_label("Client ID")).to_be_visible()
    expect(page.get_by_label("Client secret")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert hidden["name"] not in page.content()
    assert not [url for url, status in c.responses if "/v1/" in url and status == 200], c.responses
    c.shot("sign-in")

    # A wrong secret is refused in words, and still shows nothing.
    page.get_by_label("Client ID").fill(hidden["client_id"])
    page.get_by_label("Client secret").fill("tss_" + "0" * 49)
    page.get_by_role("button", name="Sign in").click()
    expect(alert(page)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert hidden["name"] not in page.content()


def test_signing_in_by_keyboard_keeps_the_secret_nowhere_and_the_token_in_memory_or_session(server, acme, console):
    c = console()
    page = c.open()
    page.get_by_label("Client ID").focus()
    page.keyboard.type(acme["client_id"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Client secret")).to_be_focused()
    page.keyboard.type(acme["client_secret"])
    with page.expect_response(lambda r: r.url.startswith(server.issuer + "/oauth2/token")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200, answer.value.text()
    access = answer.value.json()["access_token"]
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()

    navigation = page.get_by_role("navigation")
    for name in ("Service accounts", "Roles", "Audit log", "Settings", "Try it"):
        expect(navigation.get_by_role("link", name=name).first).to_be_visible()
    # Signing keys and tenants are the super admin's.
    expect(navigation.get_by_role("link", name="Tenants")).to_have_count(0)
    expect(navigation.get_by_role("link", name="Signing keys")).to_have_count(0)

    stored = page.evaluate("() => [JSON.stringify({...localStorage}), JSON.stringify({...sessionStorage})]")
    cookies = json.dumps(c.context.cookies())
    assert acme["client_secret"] not in stored[0] + stored[1] + cookies + page.url, "the client secret was kept"
    assert access not in stored[0] + cookies, "the access token was kept beyond memory and sessionStorage"
    leaked = [url for url in c.requests if acme["client_secret"] in url or access in url]
    assert not leaked, f"a credential in a URL: {leaked}"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert access not in page.evaluate("() => JSON.stringify({...sessionStorage})"), "signing out left the token behind"


def test_the_console_signs_out_when_its_token_expires(acme, console):
    c = console(clock=True)
    page = c.signed_in(acme)
    page.clock.fast_forward("01:00:30")  # past the token's 3600 s
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_sign_in_link_from_the_cli_works_once(server, acme, api, console):
    admin = api(acme)
    shown = server.create_account(acme, name=unique("link-visible"))
    before = admin.last_audit_id("acme")

    result = server.tessera("console", "--tenant", "acme", "--issuer", server.issuer, "--json")
    link = json.loads(result.stdout)
    assert {"url", "expires_at", "account_id"} <= set(link), link
    url = link["url"]
    assert url.startswith(server.issuer + "/console"), url
    lifetime = (when(link["expires_at"]) - datetime.now(timezone.utc)).total_seconds()
    assert 0 < lifetime <= 3600, f"the link lives {lifetime} s: not short-lived"
    signer = admin.ok("GET", f"{ACCOUNTS}/{link['account_id']}")
    assert {"admin", "owner"} & set(signer["roles"]), f"the link signs in as {signer['roles']}, not as an admin"

    c = console()
    page = c.open(url)
    # The code leaves the address bar at once, and the link is used only on a click:
    # a link scanner or a preview that runs the page does not spend it.
    for piece in pieces_of(url, server.issuer):
        assert piece not in page.url, f"the sign-in code is still in the URL bar before use: {page.url}"
    use = page.get_by_role("button", name="Use sign-in link")
    expect(use).to_be_visible()
    page.wait_for_load_state("networkidle")
    unused = [e for e in admin.audit("acme", before) if e["action"] == "console.sign_in"]
    assert unused == [], f"opening the link spent it before any click: {unused}"
    use.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    search(page, shown["name"])
    expect(page.get_by_role("link", name=shown["name"], exact=True)).to_be_visible()
    for piece in pieces_of(url, server.issuer):
        assert piece not in page.url, f"the sign-in code is still in the URL bar: {page.url}"

    events = admin.audit("acme", before)
    assert [e for e in events if e["action"].startswith("console")], f"no console.* audit event for the link: {events}"

    again = console()
    page = again.open(url)
    page.get_by_role("button", name="Use sign-in link").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(alert(page)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert shown["name"] not in page.content()

    plain = server.tessera("console", "--tenant", "acme", "--issuer", server.issuer).stdout.strip().splitlines()
    assert len(plain) == 1 and plain[0].startswith(server.issuer + "/console"), plain


def test_another_tenants_admin_cannot_see_this_tenants_pages(server, acme, globex, api, console):
    private = server.create_account(acme, name=unique("acme-only"))
    assert api(globex).call("GET", ACCOUNTS).status_code == 404
    c = console()
    page = c.signed_in(globex)
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    for path in ("/console/tenants/acme/service-accounts", f"/console/tenants/acme/service-accounts/{private['id']}"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        signed = page.get_by_role("button", name="Sign out")
        expect(signed.or_(page.get_by_role("button", name="Sign in"))).to_be_visible()
        if not signed.is_visible():  # the token was held in memory only
            c.sign_in(globex)
        expect(alert(page)).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert private["name"] not in page.content(), f"{path} shows acme's account to globex's admin"
        assert private["client_id"] not in page.content()
    shown = [url for url, status in c.responses if "/v1/tenants/acme" in url and status == 200]
    assert not shown, f"acme's data reached globex's console: {shown}"


# MARK: service accounts


def test_service_accounts_page_searches_filters_pages_and_reads_at_360_px(server, api, console):
    admin = server.bootstrap("paging")
    client = api(admin)
    path = "/v1/tenants/paging/service-accounts"
    names = [f"batch-{i:03d}" for i in range(60)]
    for name in names:
        client.ok("POST", path, 201, json={"name": name})
    client.ok("POST", path, 201, json={"name": "lead-editor", "roles": ["editor"]})
    off = client.ok("POST", path, 201, json={"name": "lead-off"})
    client.ok("PATCH", f"{path}/{off['id']}", json={"status": "disabled"})

    c = console()
    page = c.signed_in(admin)
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    expect(page.get_by_role("columnheader", name="Status")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Last used")).to_be_visible()
    batch_rows = page.get_by_role("row").filter(has_text=re.compile(r"batch-\d{3}"))
    expect(batch_rows.first).to_be_visible()
    c.shot("accounts")

    def batch_names() -> set[str]:
        return set(re.findall(r"batch-\d{3}", "\n".join(page.get_by_role("row").all_inner_texts())))

    # Cursor paging: disjoint pages that together hold every account.
    pages = [batch_names()]
    for _ in range(10):
        following = page.get_by_role("button", name="Next page")
        if following.count() == 0 or following.is_disabled():
            break
        last = sorted(pages[-1])[0] if pages[-1] else None
        following.click()
        if last:
            expect(row(page, last)).to_have_count(0)
        page.wait_for_load_state("networkidle")
        pages.append(batch_names())
    assert len(pages) >= 2, "60 accounts fit on one page: no paging"
    assert set().union(*pages) == set(names), f"missing from the pages: {set(names) - set().union(*pages)}"
    assert sum(len(p) for p in pages) == len(names), "pages overlap"

    # Search by name.
    search(page, "batch-01")
    expect(row(page, "batch-019")).to_be_visible()
    expect(row(page, "batch-020")).to_have_count(0)
    assert batch_names() == {f"batch-01{i}" for i in range(10)}

    # A "Service" badge, the status, and the role and status filters.
    search(page, "lead-")
    expect(row(page, "lead-editor").get_by_text("Service", exact=True).first).to_be_visible()
    expect(row(page, "lead-editor")).to_contain_text(re.compile(r"active", re.I))
    expect(row(page, "lead-off")).to_contain_text(re.compile(r"disabled", re.I))
    page.get_by_label("Role").select_option("editor")
    expect(row(page, "lead-off")).to_have_count(0)
    expect(row(page, "lead-editor")).to_be_visible()
    page.get_by_label("Role").select_option(index=0)
    page.get_by_label("Status").select_option("disabled")
    expect(row(page, "lead-editor")).to_have_count(0)
    expect(row(page, "lead-off")).to_be_visible()

    narrow = console(width=360, height=780)
    page = narrow.signed_in(admin)
    expect(page.get_by_text(re.compile(r"batch-\d{3}")).first).to_be_visible()
    narrow.shot("accounts")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 360, f"the accounts page is {overflow} px wide at 360 px: it scrolls sideways"


def test_the_qualytics_wizard_makes_a_service_user_whose_token_works(server, acme, api, console):
    admin = api(acme)
    before = admin.last_audit_id("acme")
    user = unique("Warehouse Loader")
    token_name = "warehouse-prod"

    c = console()
    page = c.signed_in(acme)
    # 1. Settings, then the Security tab.
    c.nav("Settings")
    page.get_by_role("tab", name="Security").click()
    expect(page.get_by_role("tab", name="Security")).to_have_attribute("aria-selected", "true")
    c.shot("settings-security")
    # 2. Add, then Service User.
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("menuitem", name="Service User").or_(page.get_by_role("button", name="Service User", exact=True)).click()
    # 3. A two-step modal wizard. Step one: Name, Role, Teams (Public always included).
    wizard = dialog(page)
    expect(wizard).to_be_visible()
    wizard.get_by_role("textbox", name="Name", exact=True).fill(user)
    role = wizard.get_by_role("combobox", name="Role")
    offered = [text.strip() for text in role.get_by_role("option").all_inner_texts()]
    assert [o for o in offered if o in QUALYTICS_ROLES] == QUALYTICS_ROLES, offered
    assert set(offered) - set(QUALYTICS_ROLES) <= {"", "Choose a role", "Select a role"}, offered
    role.select_option("Admin")
    expect(wizard.get_by_text("Public").first).to_be_visible()
    wizard.get_by_label("Teams").fill("Data Engineering, Analytics")
    c.shot("wizard-step-1")
    wizard.get_by_role("button", name="Next").click()

    # Step two: the token.
    name_box = wizard.get_by_role("textbox", name="Name", exact=True)
    expect(name_box).to_be_editable()
    name_box.fill(token_name)
    expiration = wizard.get_by_role("combobox", name="Expiration")
    offered = [text.strip() for text in expiration.get_by_role("option").all_inner_texts()]
    assert [o for o in offered if o in EXPIRATIONS] == EXPIRATIONS, offered
    expiration.select_option("90 days")
    kind = wizard.get_by_label("Type", exact=True)
    expect(kind).to_have_value("Service")
    expect(kind).not_to_be_editable()
    service_user = wizard.get_by_label("Service User", exact=True)
    expect(service_user).not_to_be_editable()
    assert normalized(user) in normalized(service_user.input_value()), service_user.input_value()
    scim = wizard.get_by_role("checkbox", name="SCIM Administration Token")
    expect(scim).not_to_be_checked()
    c.shot("wizard-step-2")
    wizard.get_by_role("button", name="Finish").click()

    # 4. The token, once, with copy and download, and the warning.
    token = shown_credential(wizard, "tsa_")
    expect(wizard.get_by_text(SHOWN_ONCE).first).to_be_visible()
    wizard.get_by_role("button", name="Copy").click()
    eventually(lambda: page.evaluate("() => navigator.clipboard.readText()"), token, "the clipboard after Copy")
    with page.expect_download() as download:
        wizard.get_by_role("button", name="Download").click()
    assert token in Path(download.value.path()).read_text(), "the download does not hold the token"
    c.shot("wizard-token")
    close(page)
    assert token not in page.content(), "the token is still on the page after the wizard closed"

    # 5. The users list, with a "Service" badge.
    listed = row(page, user)
    expect(listed.first).to_be_visible()
    expect(listed.first.get_by_text("Service", exact=True).first).to_be_visible()

    # The token is an admin API credential of the new account, as the wizard set it up.
    as_user = api(bearer=token)
    as_user.ok("GET", ACCOUNTS)
    account_id = as_user.ok("GET", "/v1/whoami")["account_id"]
    account = admin.ok("GET", f"{ACCOUNTS}/{account_id}")
    assert account["name"] == user, account
    assert account["roles"] == ["admin"], account
    assert sorted(account["groups"]) == ["Analytics", "Data Engineering", "Public"], account
    tokens = admin.ok("GET", f"{ACCOUNTS}/{account_id}/api-tokens")["items"]
    mine = [t for t in tokens if t["name"] == token_name]
    assert len(mine) == 1 and mine[0]["enabled"], tokens
    assert not mine[0]["scopes"], f"no SCIM box was ticked, yet the token is narrowed: {mine[0]}"
    assert about(mine[0]["expires_at"], 90), mine[0]

    # Each step is in the audit log, by the admin who signed in.
    created = admin.audit("acme", before, action="service_account.create", resource_id=account_id)
    assert [(e["outcome"], e["actor"]) for e in created] == [("success", acme["service_account_id"])], created
    issued = [e for e in admin.audit("acme", before, action="api_token.create")
              if e["resource_id"] in (account_id, mine[0]["id"])]
    assert [(e["outcome"], e["actor"]) for e in issued] == [("success", acme["service_account_id"])], issued

    # And in the service accounts list, with its badge.
    c.nav("Service accounts")
    search(page, user)
    expect(row(page, user).first.get_by_text("Service", exact=True).first).to_be_visible()


def test_disabling_an_account_refuses_its_tokens_and_enabling_restores_them(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("nightly-export"), roles=["admin"])
    path = f"{ACCOUNTS}/{account['id']}"
    access = api(account)
    access.ok("GET", ACCOUNTS)
    api_token = admin.ok("POST", f"{path}/api-tokens", 201, json={"name": "export"})["token"]
    bearer = api(bearer=api_token)
    bearer.ok("GET", ACCOUNTS)
    before = admin.last_audit_id("acme")

    c = console()
    page = c.signed_in(acme)
    open_account(page, account["name"])
    page.get_by_role("button", name="Disable account").click()
    expect(page.get_by_role("button", name="Enable account")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"\bdisabled\b", re.I))

    assert admin.ok("GET", path)["status"] == "disabled"
    eventually(lambda: access.call("GET", ACCOUNTS).status_code, 401, "the disabled account's access token")
    eventually(lambda: bearer.call("GET", ACCOUNTS).status_code, 401, "the disabled account's API token")
    assert_invalid_client(token_endpoint(server, account["client_id"], account["client_secret"]), "the disabled account's secret")

    page.get_by_role("button", name="Enable account").click()
    expect(page.get_by_role("button", name="Disable account")).to_be_visible()
    eventually(lambda: bearer.call("GET", ACCOUNTS).status_code, 200, "the enabled account's API token")
    assert token_endpoint(server, account["client_id"], account["client_secret"]).status_code == 200

    updates = admin.audit("acme", before, action="service_account.update", resource_id=account["id"])
    assert [(e["outcome"], e["actor"]) for e in updates] == [("success", acme["service_account_id"])] * 2, updates


def test_account_detail_manages_lifetime_secrets_api_tokens_and_public_keys(server, acme, api, console):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    admin = api(acme)
    account = server.create_account(acme, name=unique("orders-sync"), roles=["editor"], audiences=["https://orders.example.com"])
    path = f"{ACCOUNTS}/{account['id']}"

    c = console()
    page = c.signed_in(acme)
    open_account(page, account["name"])
    main = page.get_by_role("main")
    for shown in ("editor", "https://orders.example.com", account["client_id"]):
        expect(main).to_contain_text(shown)
    for header in ("Hint", re.compile(r"expir", re.I), "Last used"):
        expect(page.get_by_role("columnheader", name=header).first).to_be_visible()

    lifetime = page.get_by_label("Token lifetime")
    lifetime.fill("900")
    lifetime.press("Enter")
    eventually(lambda: admin.ok("GET", path)["token_lifetime"], 900, "the token lifetime set in the console")

    # A second secret: shown once, usable, then disabled.
    page.get_by_role("button", name="Add secret").click()
    modal = dialog(page)
    modal.get_by_label("Name").fill("rotation-2")
    modal.get_by_label("Expiration").select_option("90 days")
    modal.get_by_role("button", name="Create").click()
    secret = shown_credential(modal, "tss_")
    expect(modal.get_by_text(SHOWN_ONCE).first).to_be_visible()
    close(page)
    server.token(account["client_id"], secret)
    listed = [s for s in admin.ok("GET", f"{path}/secrets")["items"] if s["name"] == "rotation-2"]
    assert len(listed) == 1 and about(listed[0]["expires_at"], 90), listed
    expect(row(page, "rotation-2")).to_contain_text(listed[0]["hint"])
    row(page, "rotation-2").get_by_role("button", name="Disable", exact=True).click()
    eventually(lambda: [s["enabled"] for s in admin.ok("GET", f"{path}/secrets")["items"] if s["name"] == "rotation-2"],
               [False], "the secret disabled in the console")
    assert_invalid_client(token_endpoint(server, account["client_id"], secret), "a disabled secret")

    # An API token: shown once, then revoked.
    page.get_by_role("button", name="Add API token").click()
    modal = dialog(page)
    modal.get_by_label("Name").fill("ci-token")
    modal.get_by_label("Expiration").select_option("Never")
    modal.get_by_role("button", name="Create").click()
    shown_credential(modal, "tsa_")
    close(page)
    tokens = [t for t in admin.ok("GET", f"{path}/api-tokens")["items"] if t["name"] == "ci-token"]
    assert len(tokens) == 1 and tokens[0]["expires_at"] is None and tokens[0]["enabled"], tokens
    expect(row(page, "ci-token")).to_contain_text(tokens[0]["hint"])
    row(page, "ci-token").get_by_role("button", name="Revoke").click()
    eventually(lambda: [t["enabled"] for t in admin.ok("GET", f"{path}/api-tokens")["items"] if t["name"] == "ci-token"] in ([], [False]),
               True, "the API token revoked in the console")

    # A public key for private_key_jwt: registered, used, removed.
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="detail-k1", alg="ES256")
    page.get_by_role("button", name="Add key").click()
    modal = dialog(page)
    modal.get_by_label("Public key").fill(json.dumps(jwk))
    modal.get_by_role("button", name="Create").click()
    expect(modal).to_have_count(0)
    expect(row(page, "detail-k1")).to_be_visible()
    assert [k["kid"] for k in admin.ok("GET", f"{path}/keys")["items"]] == ["detail-k1"]
    now = int(time.time())
    assertion = jwt.encode({"iss": account["client_id"], "sub": account["client_id"], "aud": server.issuer + "/oauth2/token",
                            "iat": now, "exp": now + 60, "jti": secrets.token_hex(8)}, key, algorithm="ES256",
                           headers={"kid": "detail-k1"})
    signed = requests.post(server.issuer + "/oauth2/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": account["client_id"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion})
    assert signed.status_code == 200, signed.text
    c.shot("account-detail")
    row(page, "detail-k1").get_by_role("button", name="Delete", exact=True).click()
    confirm_delete(page)
    expect(row(page, "detail-k1")).to_have_count(0)
    assert admin.ok("GET", f"{path}/keys")["items"] == []


def test_account_detail_edits_token_binding_and_names_the_refused_field(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("bound"), roles=["editor"])
    path = f"{ACCOUNTS}/{account['id']}"
    dn = "CN=orders,O=Example"

    c = console()
    page = c.signed_in(acme)
    open_account(page, account["name"])
    binding = page.get_by_role("form", name="Token binding")
    expect(binding.get_by_label("Require DPoP")).to_have_accessible_description(re.compile(r"bound to a key the client proves it holds"))
    expect(binding.get_by_label("Certificate name")).to_be_disabled()
    binding.get_by_label("Require DPoP").check()
    binding.get_by_label("Name to match").select_option("Subject DN")
    binding.get_by_label("Certificate name").fill(dn)
    binding.get_by_role("button", name="Save token binding").click()
    expect(page.get_by_role("status").filter(has_text="Token binding saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Token binding")).to_be_focused()

    page.reload()
    binding = page.get_by_role("form", name="Token binding")
    expect(binding.get_by_label("Require DPoP")).to_be_checked()
    expect(binding.get_by_label("Require a client certificate")).not_to_be_checked()
    expect(binding.get_by_label("Accept self-signed certificates")).not_to_be_checked()
    expect(binding.get_by_label("Name to match")).to_have_value("tls_client_auth_subject_dn")
    expect(binding.get_by_label("Certificate name")).to_have_value(dn)
    stored = admin.ok("GET", path)
    assert {k: v for k, v in stored.items() if "tls_" in k or "dpop" in k} == {
        "dpop_bound_access_tokens": True, "tls_client_certificate_bound_access_tokens": False, "self_signed_tls_client_auth": False,
        "tls_client_auth_subject_dn": dn, "tls_client_auth_san_dns": None, "tls_client_auth_san_uri": None,
        "tls_client_auth_san_ip": None, "tls_client_auth_san_email": None,
    }, stored

    # An address the server refuses: its words and the field it names, at the value box.
    binding.get_by_label("Name to match").select_option("IP address")
    value = binding.get_by_label("Certificate name")
    value.fill("300.1.2.3")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.url.endswith(path)) as answer:
        binding.get_by_role("button", name="Save token binding").click()
    assert answer.value.status == 400, answer.value.text()
    problem = answer.value.json()
    assert problem.get("field") == "tls_client_auth_san_ip", problem
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_accessible_description(re.compile(re.escape(problem["detail"])))
    expect(value).to_have_accessible_description(re.compile("tls_client_auth_san_ip"))
    expect(value).to_be_focused()
    c.shot("account-binding")
    assert admin.ok("GET", path)["tls_client_auth_subject_dn"] == dn

    # None clears the name that was set, with null.
    binding.get_by_label("Name to match").select_option("None")
    with page.expect_request(lambda r: r.method == "PATCH" and r.url.endswith(path)) as sent:
        binding.get_by_role("button", name="Save token binding").click()
    expect(page.get_by_role("status").filter(has_text="Token binding saved.")).to_be_visible()
    assert sent.value.post_data_json == {"dpop_bound_access_tokens": True, "tls_client_certificate_bound_access_tokens": False,
                                         "self_signed_tls_client_auth": False, "tls_client_auth_subject_dn": None}, sent.value.post_data_json
    stored = admin.ok("GET", path)
    assert stored["dpop_bound_access_tokens"] is True and stored["tls_client_auth_subject_dn"] is None, stored


def test_deleting_an_account_asks_for_confirmation(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("short-lived"))
    path = f"{ACCOUNTS}/{account['id']}"
    before = admin.last_audit_id("acme")

    c = console()
    page = c.signed_in(acme)
    open_account(page, account["name"])
    page.get_by_role("button", name="Delete account").click()
    modal = dialog(page)
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Cancel").click()
    expect(modal).to_have_count(0)
    admin.ok("GET", path)

    page.get_by_role("button", name="Delete account").click()
    confirm_delete(page)
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    assert admin.call("GET", path).status_code == 404
    assert_invalid_client(token_endpoint(server, account["client_id"], account["client_secret"]), "a deleted account")
    deletes = admin.audit("acme", before, action="service_account.delete", resource_id=account["id"])
    assert [(e["outcome"], e["actor"]) for e in deletes] == [("success", acme["service_account_id"])], deletes


# MARK: roles, audit log, try it


def test_roles_page_creates_changes_and_deletes_a_custom_role_and_names_the_field_in_error(acme, api, console):
    admin = api(acme)
    before = admin.last_audit_id("acme")
    name = unique("billing")

    c = console()
    page = c.signed_in(acme)
    c.nav("Roles")
    expect(page.get_by_role("heading", name="Roles").first).to_be_visible()
    expect(row(page, "analyst")).to_contain_text("api:read")
    expect(row(page, "super_admin")).to_contain_text("tessera:super")

    def create_by_keyboard(role: str, scopes: str) -> None:
        page.get_by_role("button", name="Create role").focus()
        page.keyboard.press("Enter")
        expect(dialog(page).get_by_label("Name")).to_be_focused()
        page.keyboard.press("ControlOrMeta+A")
        page.keyboard.type(role)
        page.keyboard.press("Tab")
        expect(dialog(page).get_by_label("Scopes")).to_be_focused()
        page.keyboard.press("ControlOrMeta+A")
        page.keyboard.type(scopes)

    def refused(role: str, scopes: str, status: int) -> dict:
        create_by_keyboard(role, scopes)
        with page.expect_response(lambda r: r.request.method == "POST" and re.search(r"/v1/tenants/[^/]+/roles$", r.url)) as answer:
            page.keyboard.press("Enter")
        assert answer.value.status == status, answer.value.text()
        expect(dialog(page)).to_be_visible()
        return answer.value.json()

    create_by_keyboard(name, "invoices:read")
    page.keyboard.press("Enter")
    expect(dialog(page)).to_have_count(0)
    expect(row(page, name)).to_contain_text("invoices:read")
    roles = {r["name"]: r for r in admin.ok("GET", "/v1/tenants/acme/roles")["items"]}
    assert roles[name]["scopes"] == ["invoices:read"] and not roles[name]["builtin"], roles.get(name)

    # A name the API refuses (400, field "name"): its words, next to the Name field.
    problem = refused("Billing Team", "invoices:read", 400)
    assert problem.get("field") == "name", problem
    name_box = dialog(page).get_by_label("Name")
    expect(name_box).to_have_accessible_description(re.compile(re.escape(problem["detail"])))
    expect(name_box).to_have_attribute("aria-invalid", "true")
    c.shot("roles")
    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)

    # The same name again (409, no field): its words, in the dialog.
    problem = refused(name, "invoices:write", 409)
    expect(dialog(page)).to_contain_text(problem["detail"])
    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)

    row(page, name).get_by_role("button", name="Edit").click()
    scopes = dialog(page).get_by_label("Scopes")
    scopes.fill("invoices:read invoices:write")
    dialog(page).get_by_role("button", name="Save").click()
    expect(row(page, name)).to_contain_text("invoices:write")
    roles = {r["name"]: r for r in admin.ok("GET", "/v1/tenants/acme/roles")["items"]}
    assert sorted(roles[name]["scopes"]) == ["invoices:read", "invoices:write"], roles[name]

    row(page, name).get_by_role("button", name="Delete", exact=True).click()
    confirm_delete(page)
    expect(row(page, name)).to_have_count(0)
    assert name not in {r["name"] for r in admin.ok("GET", "/v1/tenants/acme/roles")["items"]}

    events = [e for e in admin.audit("acme", before) if "role" in e["action"] and e["actor"] == acme["service_account_id"]]
    outcomes = [e["outcome"] for e in events]
    assert outcomes.count("success") >= 3 and outcomes.count("failure") >= 1, events


def test_a_filter_answered_before_the_first_page_is_not_overwritten_by_it(server, acme, console):
    """The audit log's first, unfiltered page and a filter submitted while it loads
    are answered in the other order: the table shows the filter's answer, and keeps
    showing it once the first page's answer arrives."""
    account = server.create_account(acme, name=unique("raced"))
    other = server.create_account(acme, name=unique("unfiltered"))
    c = console()
    page = c.signed_in(acme)
    held = []

    def hold_the_first_page(route):
        if "resource_id=" not in route.request.url and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/audit-events*", hold_the_first_page)
    c.nav("Audit log")
    expect(page.get_by_label("Resource")).to_be_visible()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the audit page did not ask for its first page"
    resource = page.get_by_label("Resource")
    resource.fill(account["id"])
    resource.press("Enter")
    expect(row(page, "service_account.create")).to_have_count(1)
    with page.expect_response(lambda response: "/audit-events" in response.url and "resource_id=" not in response.url):
        held[0].continue_()
    # Past the first page's answer and the script's handling of it.
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 200))")
    expect(row(page, "service_account.create")).to_have_count(1)
    expect(row(page, account["id"])).to_have_count(1)
    expect(row(page, other["id"])).to_have_count(0)


def test_audit_log_page_filters_by_resource_action_and_outcome(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("audited"))
    admin.ok("PATCH", f"{ACCOUNTS}/{account['id']}", json={"description": "touched"})

    c = console()
    page = c.signed_in(acme)
    c.nav("Audit log")
    expect(page.get_by_role("heading", name="Audit log").first).to_be_visible()
    expect(page.get_by_label("Actor")).to_be_visible()
    resource = page.get_by_label("Resource")
    resource.fill(account["id"])
    resource.press("Enter")
    expect(row(page, "service_account.create")).to_have_count(1)
    expect(row(page, "service_account.update")).to_have_count(1)
    action = page.get_by_label("Action")
    action.fill("service_account.update")
    action.press("Enter")
    expect(row(page, "service_account.create")).to_have_count(0)
    expect(row(page, "service_account.update")).to_have_count(1)
    c.shot("audit-log")
    page.get_by_label("Outcome").select_option("failure")
    expect(row(page, "service_account.update")).to_have_count(0)


def test_try_it_obtains_a_token_and_shows_its_decoded_header_and_claims(server, acme, console):
    account = server.create_account(acme, name=unique("try-me"), roles=["analyst"])
    kid = jwt_header(server.token(account["client_id"], account["client_secret"])["access_token"])["kid"]

    c = console()
    page = c.signed_in(acme)
    c.nav("Try it")
    page.get_by_label("Client ID").filter(visible=True).fill(account["client_id"])
    page.get_by_label("Client secret").filter(visible=True).fill(account["client_secret"])
    page.get_by_role("button", name="Get token").click()
    expect(page.get_by_role("heading", name="Header")).to_be_visible()
    expect(page.get_by_role("heading", name="Claims")).to_be_visible()
    main = page.get_by_role("main")
    for shown in ("at+jwt", kid, account["client_id"], account["id"], "analyst", "api:read", server.issuer):
        expect(main).to_contain_text(shown)
    assert account["client_secret"] not in page.url
    c.shot("try-it")


# MARK: super admin


def test_rotate_now_publishes_a_next_signing_key_and_audits_it(server, root, api, console):
    as_root = api(root)

    def published() -> set[str]:
        return {k["kid"] for k in requests.get(server.issuer + "/.well-known/jwks.json", timeout=10).json()["keys"]}

    old = published()
    active = [k for k in json.loads(server.tessera("keys", "list").stdout) if k["state"] == "active"]
    assert len(active) == 1, active
    before = as_root.last_audit_id("root")

    c = console()
    page = c.signed_in(root)
    c.nav("Signing keys")
    expect(page.get_by_role("heading", name="Signing keys").first).to_be_visible()
    expect(row(page, active[0]["kid"])).to_contain_text(re.compile(r"active", re.I))
    expect(row(page, active[0]["kid"])).to_contain_text("ES256")
    page.get_by_role("button", name="Rotate now").click()

    eventually(lambda: len(published() - old), 1, "new keys in the JWKS after Rotate now", budget=15)
    (new,) = published() - old
    states = {k["kid"]: k["state"] for k in json.loads(server.tessera("keys", "list").stdout)}
    assert states[new] == "next", states
    expect(row(page, new)).to_contain_text(re.compile(r"next", re.I))
    c.shot("signing-keys")
    events = [e for e in as_root.audit("root", before) if "key" in e["action"] and e["outcome"] == "success"]
    assert events and {e["actor"] for e in events} == {root["service_account_id"]}, events


def test_tenants_page_shows_limits_and_default_audience(server, root, acme, globex, api, console):
    as_root = api(root)
    as_root.ok("PATCH", "/v1/tenants/globex", json={"account_limit": 100, "default_audience": "https://api.globex.example"})

    c = console()
    page = c.signed_in(root)
    c.nav("Tenants")
    expect(page.get_by_role("heading", name="Tenants").first).to_be_visible()
    expect(row(page, "acme").first).to_be_visible()
    globex_row = row(page, "globex")
    expect(globex_row).to_contain_text("100")
    expect(globex_row).to_contain_text("https://api.globex.example")
    c.shot("tenants")


def test_an_admin_of_a_tenant_with_another_default_audience_signs_in(server, root, api, console):
    # Tokens of such a tenant are for its resource servers unless they ask for the
    # issuer; the console's must be for the admin API.
    admin = server.bootstrap("initech")
    api(root).ok("PATCH", "/v1/tenants/initech", json={"default_audience": "https://api.initech.example"})
    default = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    refused = requests.get(server.issuer + "/v1/whoami", headers={"Authorization": f"Bearer {default}"}, timeout=10)
    assert refused.status_code == 401, "the premise: a token for the default audience is refused by the admin API"

    c = console()
    page = c.signed_in(admin)
    expect(page.get_by_role("heading", name="Service accounts").first).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(alert(page)).to_have_count(0)


# MARK: federated credentials (docs/federation.md)


def ec_signer(kid: str):
    """An EC P-256 key made here: its public JWK (with `kid` and `alg`) and a function
    that signs claims with it as ES256."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update(kid=kid, alg="ES256", use="sig")
    return public, lambda claims: jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def test_account_detail_adds_lists_and_deletes_a_federated_credential(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("deployer"), roles=["editor"])
    path = f"{ACCOUNTS}/{account['id']}/federated-credentials"
    name = "deploy-from-main"
    issuer = "https://token.actions.githubusercontent.com"
    subject = "repo:acme/deploy:ref:refs/heads/main"
    before = admin.last_audit_id("acme")

    c = console()
    page = c.signed_in(acme)
    open_account(page, account["name"])
    section = page.get_by_role("region", name="Federated credentials")
    expect(section).to_contain_text("No federated credentials.")
    section.get_by_role("button", name="Add federated credential").click()
    modal = dialog(page)
    expect(modal.get_by_label("Name", exact=True)).to_be_focused()
    modal.get_by_label("Name", exact=True).fill(name)
    modal.get_by_label("Issuer", exact=True).fill("http://example.com")
    modal.get_by_label("Subject pattern").fill(subject)
    modal.get_by_label("Claim conditions").fill("environment=production\n")
    modal.get_by_label("Scopes", exact=True).fill("deploy")
    c.shot("federated-credential-form")

    # An issuer the server refuses: its words, next to the Issuer field.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/federated-credentials")) as answer:
        modal.get_by_role("button", name="Create").click()
    assert answer.value.status == 400, answer.value.text()
    problem = answer.value.json()
    assert problem.get("field") == "issuer", problem
    issuer_box = modal.get_by_label("Issuer", exact=True)
    expect(issuer_box).to_have_attribute("aria-invalid", "true")
    expect(issuer_box).to_have_accessible_description(re.compile(re.escape(problem["detail"])))
    expect(issuer_box).to_be_focused()
    assert admin.ok("GET", path)["items"] == []

    issuer_box.fill(issuer)
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/federated-credentials")) as sent:
        modal.get_by_role("button", name="Create").click()
    expect(modal).to_have_count(0)
    # Empty optional members are left out, not sent as "".
    assert sent.value.post_data_json == {"name": name, "issuer": issuer, "subject": subject,
                                         "claims": {"environment": "production"}, "scopes": ["deploy"]}, sent.value.post_data_json
    listed = row(section, name)
    expect(listed).to_be_visible()
    for shown in (issuer, subject, "environment=production", "deploy", server.issuer):
        expect(listed).to_contain_text(shown)
    expect(section.get_by_role("status")).to_contain_text("1 federated credential.")

    (stored,) = admin.ok("GET", path)["items"]
    assert {k: v for k, v in stored.items() if k not in ("id", "created_at")} == {
        "service_account_id": account["id"], "name": name, "issuer": issuer, "audience": server.issuer, "subject": subject,
        "claims": {"environment": "production"}, "scopes": ["deploy"], "jwks_uri": None, "jwks": None,
        "allow_without_jti": False,
    }, stored
    assert about(stored["created_at"], 0), stored
    c.shot("account-federated")

    # Delete asks first: Cancel keeps it, Delete removes it.
    listed.get_by_role("button", name="Delete", exact=True).click()
    dialog(page).get_by_role("button", name="Cancel").click()
    expect(dialog(page)).to_have_count(0)
    assert len(admin.ok("GET", path)["items"]) == 1
    listed.get_by_role("button", name="Delete", exact=True).click()
    confirm_delete(page)
    expect(row(section, name)).to_have_count(0)
    expect(section).to_contain_text("No federated credentials.")
    assert admin.ok("GET", path)["items"] == []

    events = admin.audit("acme", before)
    actions = [(e["action"], e["outcome"]) for e in events if e["action"].startswith("federated_credential.")]
    assert sorted(actions) == sorted([("federated_credential.create", "failure"), ("federated_credential.create", "success"),
                                      ("federated_credential.delete", "success")]), actions


def test_federation_test_page_explains_the_match_and_does_not_spend_the_token(server, acme, api, console):
    admin = api(acme)
    account = server.create_account(acme, name=unique("ci-runner"), roles=["analyst"])
    issuer = f"https://ci-{secrets.token_hex(4)}.example.test"
    main_ref, dev_ref = "repo:acme/app:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/dev"
    jwk, sign = ec_signer("ci-k1")
    credential = admin.ok("POST", f"{ACCOUNTS}/{account['id']}/federated-credentials", 201, json={
        "name": "ci-main", "issuer": issuer, "subject": main_ref, "jwks": {"keys": [jwk]}})

    def external(sub: str) -> str:
        now = int(time.time())
        return sign({"iss": issuer, "sub": sub, "aud": server.issuer, "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)})

    matching, other = external(main_ref), external(dev_ref)
    before = admin.last_audit_id("acme")

    c = console()
    page = c.signed_in(acme)
    c.nav("Federation test")
    expect(page.get_by_role("heading", name="Federation test", level=1)).to_be_visible()
    assert page.url.startswith(server.issuer + "/console/"), page.url
    main = page.get_by_role("main")

    # A token that cannot be read: the server's words, next to the Token field.
    box = page.get_by_label("Token", exact=True)
    box.fill("not a token")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_description(re.compile(r"cannot be read"))

    box.fill(matching)
    page.get_by_role("button", name="Test", exact=True).click()
    result = page.get_by_role("region", name="Result", exact=True)
    expect(result).to_contain_text(f"Matches credential ci-main of account {account['client_id']}")
    expect(page.get_by_role("status").filter(has_text="Matches credential ci-main")).to_have_count(1)
    expect(box).not_to_have_attribute("aria-invalid", "true")
    summary = page.get_by_role("region", name="Decoded token")
    for shown in (issuer, main_ref, server.issuer):
        expect(summary).to_contain_text(shown)
    exp = jwt_claims(matching)["exp"]
    expect(summary).to_contain_text(str(exp))
    candidate = row(page, "ci-main")
    expect(candidate).to_have_count(1)
    expect(candidate).to_contain_text(account["client_id"])
    expect(candidate.get_by_role("cell", name="Yes", exact=True)).to_be_visible()
    c.shot("federation-test")

    box.fill(other)
    page.get_by_role("button", name="Test", exact=True).click()
    expect(result).to_contain_text("No credential matches")
    expect(page.get_by_role("status").filter(has_text="No credential matches")).to_have_count(1)
    candidate = row(page, "ci-main")
    expect(candidate.get_by_role("cell", name="No", exact=True)).to_be_visible()
    reasons = candidate.get_by_role("listitem")
    expect(reasons.filter(has_text=dev_ref)).to_have_count(1)
    expect(reasons.filter(has_text=dev_ref)).to_contain_text(main_ref)
    expect(summary).to_contain_text(dev_ref)
    c.shot("federation-test-no-match")

    # Only this tenant's credentials are candidates: the client id of another account narrows them to none.
    page.get_by_label("Client ID", exact=True).fill(acme["client_id"])
    page.get_by_role("button", name="Test", exact=True).click()
    expect(main).to_contain_text(f"{acme['client_id']} has no federated credential that trusts {issuer}")
    expect(row(page, "ci-main")).to_have_count(0)

    # At 360 px the page reads without sideways scrolling.
    narrow = console(width=360, height=780)
    page = narrow.signed_in(acme, "/console/tenants/acme/federation-test")
    page.get_by_label("Token", exact=True).fill(other)
    page.get_by_role("button", name="Test", exact=True).click()
    expect(row(page, "ci-main")).to_contain_text(dev_ref)
    narrow.shot("federation-test")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 360, f"the federation test page is {overflow} px wide at 360 px: it scrolls sideways"

    # The dry runs spent nothing: the matching token is exchanged once, and only once.
    def exchange() -> requests.Response:
        return requests.post(server.issuer + "/oauth2/token", timeout=10, data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "subject_token": matching})

    exchanged = exchange()
    assert exchanged.status_code == 200, exchanged.text
    issued = exchanged.json()
    assert issued["token_type"] == "Bearer" and issued["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token", issued
    assert jwt_claims(issued["access_token"])["client_id"] == account["client_id"], jwt_claims(issued["access_token"])
    again = exchange()
    assert again.status_code == 400 and again.json().get("error") == "invalid_grant", again.text
    events = [e for e in admin.audit("acme", before) if e["action"] == "federation.exchange" and e["resource_id"] == credential["id"]]
    assert [e["outcome"] for e in events] == ["success"], events
