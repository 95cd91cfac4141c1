"""Scale and connection scenarios of scripts/bench (imported by it; not run alone).

Two groups, each chosen by `--only` with its name or the name of one of its rows:

- "1,000,000 accounts" (1,000 with --quick): the store seeded straight into SQLite
  (`seed_accounts`, which the 100,000-account scenario of scripts/bench uses too),
  then on one server: the token rate spread across 10,000 of the accounts (100 with
  --quick) after the same warm-up as the 100,000-account scenario, measured in turn
  with the token rate of one account on a second, fresh server (the ratio is the
  median of the ratios of the runs taken in turn); the server's peak RSS (VmHWM);
  `GET /v1/tenants/{t}/service-accounts?limit=50` with an admin bearer token, on the
  first page and on a page reached by following `next_cursor` 300 times (10 with
  --quick), each under the script's wrk load and on one connection; and the start-up time of `tessera serve` on that database: from the exec
  to the first 200 from `/health/ready` (docs/operations.md), median of 3.
- "idle connections": 10,000 concurrent keep-alive HTTP/1.1 connections to one
  server (200 with --quick), each having sent `GET /.well-known/jwks.json` and read
  the answer, then left idle: the server's RSS before and after, and per connection.
  Every connection then sends a second request, which proves none was closed meanwhile.

Each group adds rows to the table of scripts/bench and lines under it; the targets
(token ratio >= 0.9, peak RSS <= 300 MB, list p99 <= 20 ms, start-up <= 2 s) are
judged only without --quick, and only printed: a miss does not fail the run; an error
response, a refused or dropped connection does.
"""

import asyncio
import base64
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

SCALE = "1,000,000 accounts"
IDLE = "idle connections"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Pages followed by next_cursor before the deep page is measured.
DEEP_PAGES, DEEP_PAGES_QUICK = 300, 10
# Seconds a connection may stay idle in the idle-connection scenario (`--idle-timeout`):
# far longer than the scenario holds them (about 6 s at 10,000; the default, 75 s, would do too).
IDLE_TIMEOUT = 600
# Connections being opened (connect, request, answer) at once.
OPENING = 200


# MARK: Seeding


class Seeder:
    """Writes `count` accounts with one secret each straight into the database, in one
    transaction of prepared rows. `spread` of them, evenly spaced over the numbers,
    get a real secret (Tessera's format, SHA-256 digest as the server stores it) whose
    Basic header goes to `credentials_file`, one a line; the others get the digest
    of a secret nobody knows (random bytes, which is what a digest looks like).

    The ids, client ids and unknown digests are random, but each begins with a
    prefix that grows with the account's number (a random point in the account's
    slot of the 32-bit range), so every index is appended to instead of written at
    random (in a trial on the 2-core VM, 1,000,000 accounts: inserts 15 s instead of
    27), and the database has no journal while it is seeded (commit 4 s instead of 7).
    The rows are otherwise those of the admin API: roles `["editor"]`, status active,
    secret `default`.
    After a call, `seconds` is how long it took and `credentials` the (client id,
    secret) pairs written to the file."""

    def __init__(self, count: int, credentials_file: str, spread: int, make_secret, basic):
        self.count, self.credentials_file, self.spread = count, credentials_file, min(spread, count)
        self.make_secret, self.basic = make_secret, basic
        self.seconds, self.credentials, self.size = float("nan"), [], 0

    def __call__(self, path: str, tenant_id: str):
        started = time.perf_counter()
        count, now = self.count, time.time()
        used = {index * count // self.spread for index in range(self.spread)}
        slot = (1 << 32) // max(count, 1)
        width = len(str(count))
        db = sqlite3.connect(path, isolation_level=None)
        # Nothing else has the file open (bootstrap has ended, serve has not started):
        # no journal and no syncs while seeding, WAL again (as serve keeps it) after.
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -1000000")
        start = db.execute("SELECT COALESCE(MAX(number), 0) FROM service_accounts").fetchone()[0] + 1
        accounts_sql = (
            "INSERT INTO service_accounts (id, tenant_id, number, client_id, name, roles, groups, projects, audiences, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        secrets_sql = "INSERT INTO client_secrets (id, account_id, name, hint, digest, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        credentials = []
        db.execute("BEGIN")
        chunk = 50_000
        for base in range(0, count, chunk):
            size = min(chunk, count - base)
            # 16 random bytes for the account id, 16 for the secret id, 6 for the client
            # id, 28 for a digest, 4 for offsets in the slots and 4 for a hint, per row.
            noise = os.urandom(74 * size)
            accounts, secret_rows = [], []
            for row in range(size):
                index = base + row
                r = noise[74 * row: 74 * row + 74]
                prefix = index * slot + int.from_bytes(r[70:74], "big") % slot
                head = f"{prefix:08x}"
                account_id = uuid_text(head, r[0:16].hex())
                secret_id = uuid_text(head, r[16:32].hex())
                client_id = "tsc_bench" + head + r[32:38].hex()
                if index in used:
                    secret = self.make_secret()
                    digest, hint = hashlib.sha256(secret.encode()).digest(), "tss_…" + secret[-4:]
                    credentials.append((client_id, secret))
                else:
                    digest = prefix.to_bytes(4, "big") + r[38:66]
                    hint = "tss_…" + "".join(ALPHABET[b % 62] for b in r[66:70])
                accounts.append((account_id, tenant_id, start + index, client_id, f"scale-{index:0{width}d}",
                                 '["editor"]', "[]", "[]", "[]", "active", now, now))
                secret_rows.append((secret_id, account_id, "default", hint, digest, 1, now))
            db.executemany(accounts_sql, accounts)
            db.executemany(secrets_sql, secret_rows)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")
        db.close()
        with open(self.credentials_file, "w") as out:
            out.write("\n".join(self.basic(client_id, secret) for client_id, secret in credentials) + "\n")
        self.credentials = credentials
        self.seconds = time.perf_counter() - started
        self.size = os.path.getsize(path)


def uuid_text(head: str, hexdigits: str) -> str:
    """A version-4 UUID beginning with the 8 hex digits `head`, the rest from `hexdigits` (32)."""
    return f"{head}-{hexdigits[8:12]}-4{hexdigits[13:16]}-{'89ab'[int(hexdigits[16], 16) & 3]}{hexdigits[17:20]}-{hexdigits[20:32]}"


def seed_accounts(count: int, credentials_file: str, spread: int, make_secret, basic) -> Seeder:
    """The `seed` argument of scripts/bench's Server: see Seeder."""
    return Seeder(count, credentials_file, spread, make_secret, basic)


# MARK: The scenarios


class Outcome:
    """What the scenarios print under the table, and what failed."""

    def __init__(self):
        self.notes: list[str] = []
        self.failed: list[str] = []

    def note(self, text: str):
        self.notes.append(text)
        print("  " + text.replace("\n", "\n  "), file=sys.stderr)


def run(bench, options, only, record, work: str) -> Outcome:
    """Runs the groups `only` selects (all when it is None). `bench` is scripts/bench's
    module, `record` its function that adds a row to the table."""
    outcome = Outcome()
    accounts, spread, connections = (1_000, 100, 200) if options.quick else (1_000_000, 10_000, 10_000)
    scale_rows = scale_names(accounts, spread)
    if not only or SCALE in only or only & set(scale_rows.values()):
        scale(bench, options, record, work, outcome, accounts, spread, scale_rows)
    idle_row = idle_name(connections)
    if not only or IDLE in only or idle_row in only:
        idle(bench, options, record, outcome, connections, idle_row)
    return outcome


def scale_names(accounts: int, spread: int) -> dict:
    return {
        "one": f"POST /oauth2/token, one account (in turn with {accounts:,} accounts)",
        "token": f"POST /oauth2/token, {accounts:,} accounts, {spread:,} used",
        "list": f"GET /v1/tenants/{{t}}/service-accounts?limit=50, {accounts:,} accounts",
        "deep": f"GET /v1/tenants/{{t}}/service-accounts?limit=50&cursor=…, {accounts:,} accounts, deep page",
        "list1": f"GET /v1/tenants/{{t}}/service-accounts?limit=50, {accounts:,} accounts, one connection",
        "deep1": f"GET /v1/tenants/{{t}}/service-accounts?limit=50&cursor=…, {accounts:,} accounts, deep page, one connection",
    }


def idle_name(connections: int) -> str:
    return f"{connections:,} idle connections (GET /.well-known/jwks.json each, then kept open)"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def scale(bench, options, record, work, outcome: Outcome, accounts: int, spread: int, names: dict):
    credentials = os.path.join(work, "scale-large.txt")
    seeder = seed_accounts(accounts, credentials, spread, bench.make_secret, bench.basic)
    server = bench.Server("ES256", seed=seeder)
    baseline = None
    try:
        outcome.note(f"{accounts:,} accounts: seeded {accounts:,} accounts and as many secrets in {seeder.seconds:.1f} s "
                     f"(one transaction, executemany of prepared rows); database {seeder.size / 1e6:,.0f} MB")
        rss_started = status_kb(server.process.pid)
        # A seeded account really authenticates: its token names it.
        client_id, secret = seeder.credentials[-1]
        token = server.token(client_id, secret)
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        if claims.get("client_id") != client_id:
            raise RuntimeError(f"the token of seeded account {client_id} names {claims.get('client_id')}")

        # The token rate, after the warm-up of the 100,000-account scenario: every one of
        # the spread clients loaded once, until the server's counter says so.
        warmed = time.perf_counter()
        deadline = time.time() + 300
        while bench.client_cache_loads(server.url) <= spread:
            if time.time() > deadline:
                raise RuntimeError("the warm-up did not load every client within 5 minutes")
            bench.wrk(server.url + "/oauth2/token", bench.LUA_WALK % {"file": credentials, "threads": 2}, max(1, spread // 1000), 8, 2)
        warmed = time.perf_counter() - warmed
        rss_warm = status_kb(server.process.pid)

        baseline = bench.Server("ES256")
        account = baseline.create_account("bench-client")
        one = os.path.join(work, "scale-one.txt")
        with open(one, "w") as out:
            out.write(bench.basic(account["client_id"], account["client_secret"]) + "\n")
        pairs = [(baseline, bench.LUA_TOKEN % {"file": one}), (server, bench.LUA_TOKEN % {"file": credentials})]
        if not options.quick:
            for target, script in pairs:
                bench.wrk(target.url + "/oauth2/token", script, 1, options.connections, options.threads)
        runs = ([], [])
        for _ in range(options.runs):
            for (target, script), into in zip(pairs, runs):
                cpu = target.cpu_seconds()
                into.append(bench.wrk(target.url + "/oauth2/token", script, options.duration, options.connections, options.threads))
                into[-1]["server_cpu"] = (target.cpu_seconds() - cpu) / max(into[-1]["requests"], 1) * 1e6
        record(names["one"], runs[0], baseline)
        record(names["token"], runs[1], server)
        ratios = [many["rps"] / single["rps"] for single, many in zip(*runs)]
        ratio = statistics.median(ratios)
        text = ", ".join(f"{single['rps']:,.0f} / {many['rps']:,.0f} = {many['rps'] / single['rps']:.2f}" for single, many in zip(*runs))
        outcome.note(f"{accounts:,} accounts: tokens spread across {spread:,} of them against one account on a fresh server, "
                     f"runs in turn (one / spread): {text}; median ratio {ratio:.2f}"
                     + ("" if options.quick else f" (target >= 0.90: {verdict(ratio >= 0.9)})")
                     + f"; server CPU per token (medians) {statistics.median(r['server_cpu'] for r in runs[0]):.0f} µs one account, "
                       f"{statistics.median(r['server_cpu'] for r in runs[1]):.0f} µs spread")
        outcome.note(f"{accounts:,} accounts: warm-up (every used client loaded once) took {warmed:.1f} s; server RSS "
                     f"{rss_started['VmRSS'] / 1024:.0f} MB after its start, {rss_warm['VmRSS'] / 1024:.0f} MB after the warm-up "
                     f"(RssAnon {rss_warm['RssAnon'] / 1024:.0f} MB, RssFile {rss_warm['RssFile'] / 1024:.0f} MB)")

        # The admin list, first page and deep page.
        authorization = "Bearer " + server.admin_token
        base = f"{server.url}/v1/tenants/bench/service-accounts?limit=50"
        page = bench.request("GET", base, headers={"Authorization": authorization})
        if len(page["items"]) != 50 or not page.get("next_cursor"):
            raise RuntimeError(f"the first page holds {len(page['items'])} accounts and next_cursor {page.get('next_cursor')!r}")
        script = f'wrk.method = "GET"\nwrk.headers["Authorization"] = "{authorization}"\n'
        pages, cursor, walked = DEEP_PAGES_QUICK if options.quick else DEEP_PAGES, page["next_cursor"], time.perf_counter()
        followed = 1
        while followed < pages:
            page = bench.request("GET", f"{base}&cursor={cursor}", headers={"Authorization": authorization})
            if not page.get("next_cursor"):
                break
            cursor, followed = page["next_cursor"], followed + 1
        walked = (time.perf_counter() - walked) / max(followed - 1, 1)
        deep = f"{base}&cursor={cursor}"
        first = bench.request("GET", deep, headers={"Authorization": authorization})["items"][0]
        outcome.note(f"{accounts:,} accounts: the deep page is page {followed + 1} (next_cursor followed {followed} times, "
                     f"{walked * 1000:.1f} ms a page one at a time), from account {first['name']}")
        # Each page under the script's load (wrk -t2 -c32 by default), then on one
        # connection, which gives the latency of a page without queueing.
        listed, cpu_per = {}, {}
        for key, url in (("list", base), ("deep", deep)):
            for suffix, connections, threads in (("", options.connections, options.threads), ("1", 1, 1)):
                cpu, runs = server.cpu_seconds(), []
                for _ in range(options.runs):
                    runs.append(bench.wrk(url, script, options.duration, connections, threads))
                listed[key + suffix] = record(names[key + suffix], runs, server)
                cpu_per[key + suffix] = (server.cpu_seconds() - cpu) / max(sum(run["requests"] for run in runs), 1) * 1e6
        outcome.note(f"{accounts:,} accounts: server CPU per list request: first page {cpu_per['list']:,.0f} µs, deep page "
                     f"{cpu_per['deep']:,.0f} µs (under load); {cpu_per['list1']:,.0f} and {cpu_per['deep1']:,.0f} µs on one connection")
        outcome.note(f"{accounts:,} accounts: the list query's plan (EXPLAIN QUERY PLAN): "
                     + query_plan(os.path.join(server.directory, "data", "tessera.sqlite")))
        peak = server.peak_rss_mb()
        outcome.note(f"{accounts:,} accounts: server peak RSS (VmHWM) after all its runs {peak:.0f} MB"
                     + ("" if options.quick else f" (target <= 300 MB: {verdict(peak <= 300)})"))

        # Start-up on that database, then on the one-account database for comparison.
        server.process.terminate()
        server.process.wait(timeout=30)
        large = [startup_seconds(bench, server, run) for run in range(3)]
        baseline.process.terminate()
        baseline.process.wait(timeout=30)
        small = [startup_seconds(bench, baseline, run) for run in range(3)]
        median = statistics.median(large)
        outcome.note(f"{accounts:,} accounts: start-up, exec of `tessera serve` to the first 200 from /health/ready: "
                     f"{', '.join(f'{s * 1000:.0f}' for s in large)} ms, median {median * 1000:.0f} ms"
                     + ("" if options.quick else f" (target <= 2 s: {verdict(median <= 2)})")
                     + f"; on the one-account database: {', '.join(f'{s * 1000:.0f}' for s in small)} ms, "
                       f"median {statistics.median(small) * 1000:.0f} ms")
        if not options.quick:
            for label, key in (("first page", "list"), ("deep page", "deep")):
                outcome.note(f"{accounts:,} accounts: list p99, {label}: {listed[key]['p99']:.2f} ms under load (target <= 20 ms: "
                             f"{verdict(listed[key]['p99'] <= 20)}), {listed[key + '1']['p99']:.2f} ms on one connection")
    finally:
        server.stop()
        if baseline:
            baseline.stop()


def query_plan(path: str) -> str:
    """EXPLAIN QUERY PLAN of the list query of SQLiteStorage.listServiceAccounts, first page."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tenant = db.execute("SELECT id FROM tenants WHERE slug = 'bench'").fetchone()[0]
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM service_accounts WHERE tenant_id = ? AND number > ? ORDER BY number LIMIT ?", (tenant, 0, 51)
        ).fetchall()
        return "; ".join(row[-1] for row in plan)
    finally:
        db.close()


def startup_seconds(bench, server, run: int) -> float:
    """Seconds from starting `tessera serve` (as `server` was started, on its database,
    on a new port) to the first 200 from /health/ready; the server is stopped after."""
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}/health/ready"
    with open(os.path.join(server.directory, f"startup-{port}.log"), "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [bench.TESSERA, "serve", "--port", str(port), "--auth-failure-limit", "0", "--auth-address-failure-limit", "0"],
            cwd=server.directory, env=server.env, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            deadline = started + 60
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"tessera serve exited with {process.returncode} before it was ready (start-up run {run + 1})")
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{url} never answered 200")
                time.sleep(0.002)
        finally:
            process.terminate()
            process.wait(timeout=30)


def status_kb(pid: int) -> dict:
    """The kB figures of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile, ...)."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                figures[name] = int(value.split()[0])
    return figures


# MARK: Idle connections


def raise_file_limit(needed: int) -> tuple[int, int]:
    """Raises this process's open-file limit (soft and hard: root may raise the hard one)
    to at least `needed`, for itself and the server it starts; answers the old limits."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    if old[0] >= needed:
        return old
    try:
        target = max(needed, old[1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
    except (ValueError, OSError):
        if old[1] < needed:
            raise RuntimeError(f"the open-file limit is {old[1]} and cannot be raised to {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (old[1], old[1]))
    return old


def file_limit(pid: int) -> str:
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return "/".join(line.split()[3:5])
    return "?"


async def exchange(reader, writer, request: bytes) -> int:
    """Sends `request` and reads the whole answer; answers its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def hold_idle(server, count: int, settle: float) -> dict:
    """Opens `count` connections (OPENING at a time), each with one request answered;
    waits `settle` s; reads the server's memory; sends a second request on each;
    closes them and waits `settle` s again."""
    request = f"GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    gate = asyncio.Semaphore(OPENING)
    held, latencies, statuses, failures = [], [], {}, []

    async def open_one():
        async with gate:
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port, limit=1 << 16), 30)
                status = await asyncio.wait_for(exchange(reader, writer, request), 30)
            except Exception as error:  # noqa: BLE001 - counted and shown
                failures.append(repr(error))
                return
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            held.append((reader, writer))

    async def again(reader, writer):
        async with gate:
            try:
                return await asyncio.wait_for(exchange(reader, writer, request), 30)
            except Exception as error:  # noqa: BLE001
                return repr(error)

    pid = server.process.pid
    result = {"before": status_kb(pid), "fds_before": len(os.listdir(f"/proc/{pid}/fd"))}
    opened = time.perf_counter()
    await asyncio.gather(*(open_one() for _ in range(count)))
    result["open_seconds"] = time.perf_counter() - opened
    await asyncio.sleep(settle)
    result["after"] = status_kb(pid)
    result["fds_after"] = len(os.listdir(f"/proc/{pid}/fd"))
    result["established"] = established(server.port)
    result["closed_meanwhile"] = sum(1 for reader, _ in held if reader.at_eof())
    result["idle_seconds"] = time.perf_counter() - opened
    answers = await asyncio.gather(*(again(reader, writer) for reader, writer in held))
    result["second_ok"] = sum(1 for answer in answers if answer == 200)
    result["second_failures"] = [answer for answer in answers if answer != 200]
    for _, writer in held:
        writer.close()
    await asyncio.sleep(settle)
    result["closed"] = status_kb(pid)
    result.update(held=len(held), latencies=sorted(latencies), statuses=statuses, failures=failures)
    return result


def established(port: int) -> int:
    """Established TCP connections on the server's side of `port`."""
    listing = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, check=True).stdout
    return len(listing.splitlines())


def idle(bench, options, record, outcome: Outcome, count: int, name: str):
    # The server's limit 1,000 above the connections (`--max-connections`, default 10,000;
    # it keeps 128 descriptors below its open-file limit, which it raises to the hard limit).
    limit = count + 1_000
    old = raise_file_limit(max(limit + 1_024, count + 1_024))
    try:
        server = bench.Server("ES256", extra=["--max-connections", str(limit), "--idle-timeout", str(IDLE_TIMEOUT)])
        try:
            for _ in range(20):
                bench.request("GET", server.url + "/.well-known/jwks.json")
            time.sleep(0.5)
            result = asyncio.run(hold_idle(server, count, 0.5 if options.quick else 3.0))
            latencies = result["latencies"] or [float("nan")]
            errors = len(result["failures"]) + result["closed_meanwhile"] + len(result["second_failures"])
            run = {
                "rps": result["held"] / result["open_seconds"],
                "p50": latencies[len(latencies) // 2] * 1000, "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
                "non2xx": sum(n for status, n in result["statuses"].items() if not 200 <= status < 300), "errors": errors,
            }
            record(name, [run], server)
            before, after, closed = result["before"], result["after"], result["closed"]
            held = max(result["held"], 1)
            per = (after["VmRSS"] - before["VmRSS"]) / held
            outcome.note(
                f"{IDLE}: {result['held']:,} of {count:,} connections opened and answered in {result['open_seconds']:.1f} s "
                f"({OPENING} at a time; requests/s in the table is connections opened a second, p50/p99 connect + request + answer), "
                f"server `--max-connections {limit}` `--idle-timeout {IDLE_TIMEOUT}`, its open-file limit {file_limit(server.process.pid)}\n"
                f"server RSS before {before['VmRSS'] / 1024:.1f} MB (RssAnon {before['RssAnon'] / 1024:.1f}), with them idle "
                f"{after['VmRSS'] / 1024:.1f} MB (RssAnon {after['RssAnon'] / 1024:.1f}): {per:.1f} KiB per idle connection "
                f"(RssAnon {(after['RssAnon'] - before['RssAnon']) / held:.1f} KiB); VmHWM {after['VmHWM'] / 1024:.1f} MB; "
                f"{0.5 if options.quick else 3:g} s after closing them all {closed['VmRSS'] / 1024:.1f} MB\n"
                f"open descriptors of the server {result['fds_before']:,} before, {result['fds_after']:,} with them; "
                f"established on its side {result['established']:,}; closed while idle {result['closed_meanwhile']:,}; "
                f"after {result['idle_seconds']:.1f} s, {result['second_ok']:,} answered a second request with 200"
            )
            if result["failures"] or result["second_failures"]:
                shown = (result["failures"] + [str(f) for f in result["second_failures"]])[:3]
                outcome.note(f"{IDLE}: {len(result['failures'])} failed to open, {len(result['second_failures'])} failed the second request: {shown}")
            if result["held"] < count or result["closed_meanwhile"] or result["second_ok"] < result["held"]:
                outcome.failed.append(f"{name} (connections refused, dropped or closed)")
        finally:
            server.stop()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
