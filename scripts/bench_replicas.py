"""Two Tessera replicas on one PostgreSQL behind nginx, a scenario group of scripts/bench.

A throwaway PostgreSQL cluster (scripts/test-postgres: default settings, so fsync and
synchronous_commit are on and every commit waits for its WAL flush) holds one database;
two release `tessera serve` processes share it, with one master key and one issuer URL,
as docs/operations.md "Several replicas on PostgreSQL" asks; nginx on loopback balances
round robin over the two, with kept-alive connections to them. Measured:

- tokens (ES256, client_secret_basic) through nginx to the two replicas, and from one
  replica directly, the runs in turn (direct, balanced, direct, ...) as the VM drifts;
- durable admin creates (`POST /v1/tenants/{t}/service-accounts`) the same two ways, with
  scripts/bench's wrk script for the SQLite durable-create scenario;
- disable propagation: an account disabled on replica A through the admin API, then
  replica B asked for a token in a tight loop on one kept-alive connection until it
  answers 401 invalid_client; the time from A's 200 to B's first refusal, per trial,
  and the account enabled again and B seen accepting it before the next trial.

While the direct runs go to replica A, replica B runs idle beside it (it follows the
change feed, nothing more), so "one replica" is one server doing the work on PostgreSQL.
The CPU time of each process (the replicas, nginx, PostgreSQL, wrk) is read from /proc
before and after each run and given per request, since they all share the machine, with
the clients each replica read from the database (its client cache's loads) and the share
of the cores that other processes took meanwhile. The group has no thresholds; it fails
only on error responses (scripts/bench's rule), a trial that outlasts TRIAL_TIMEOUT, or a
missing nginx.
"""

import base64
import http.client
import json
import math
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

GROUP = "two replicas on PostgreSQL"
TOKEN_BALANCED = "POST /oauth2/token, PostgreSQL, 2 replicas behind nginx"
TOKEN_DIRECT = "POST /oauth2/token, PostgreSQL, 1 replica"
CREATE_BALANCED = "POST /v1/tenants/{t}/service-accounts (durable), PostgreSQL, 2 replicas behind nginx"
CREATE_DIRECT = "POST /v1/tenants/{t}/service-accounts (durable), PostgreSQL, 1 replica"
PROPAGATION = "disable on replica A refused on replica B"
# The names `--only` takes; GROUP selects all of them.
NAMES = (TOKEN_DIRECT, TOKEN_BALANCED, CREATE_DIRECT, CREATE_BALANCED, PROPAGATION)
# The longest a trial waits for B to refuse (or to accept again) before the run fails.
TRIAL_TIMEOUT = 10.0
TOKEN_BODY = b"grant_type=client_credentials"

NGINX_CONF = """
# A round-robin balancer over two replicas, on loopback, run by scripts/bench.
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/client-body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    # wrk's connections stay open for the whole run, however many requests they carry.
    keepalive_requests 1000000;
    upstream tessera {
        server 127.0.0.1:%(a)d;
        server 127.0.0.1:%(b)d;
        # Idle connections to the replicas kept open per worker (RFC 9112 §9.3), so that
        # a request does not pay for a new upstream connection.
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://tessera;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
        }
    }
}
"""


def wanted(only: set | None) -> list[str]:
    """The scenarios of this group that `--only` asks for (all without it)."""
    if not only or GROUP in only:
        return list(NAMES)
    return [name for name in NAMES if name in only]


def check(only: set | None):
    """Fails at once, before any scenario runs, if a wanted scenario needs nginx and it is missing."""
    if TOKEN_BALANCED in wanted(only) or CREATE_BALANCED in wanted(only):
        nginx_binary()


def nginx_binary() -> str:
    """nginx's path; a clear failure if it is not installed."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if not found:
        raise RuntimeError(
            f"the scenarios '{GROUP}' balance with nginx, which is not installed "
            "(apt-get install nginx; .ci/run installs it): no nginx on PATH or in /usr/sbin"
        )
    return found


def process_cpu(pids: list[int]) -> float:
    """The CPU time (user and system) the processes `pids` have used so far, in seconds;
    one that has ended counts nothing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """The CPU time the processes of this machine have used so far (user and system), and
    the time the hypervisor took from its virtual CPUs (steal), in seconds (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(field) for field in stat.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / os.sysconf("SC_CLK_TCK"), fields[7] / os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """`pid` and its children now running (nginx's workers, PostgreSQL's backends)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Postgres:
    """A throwaway PostgreSQL cluster from scripts/test-postgres, in its own folder."""

    def __init__(self, bench):
        self.directory = tempfile.mkdtemp(prefix="tessera-bench-pg-")
        # As root the cluster runs as `postgres`, which must reach its folder.
        os.chmod(self.directory, 0o755)
        self.script = os.path.join(bench.ROOT, "scripts", "test-postgres")
        started = subprocess.run([self.script, "start", self.directory], capture_output=True, text=True, check=False)
        if started.returncode != 0:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise RuntimeError(f"scripts/test-postgres could not start PostgreSQL: {started.stderr.strip()}")
        self.url = started.stdout.strip().splitlines()[-1]

    def pids(self) -> list[int]:
        with open(os.path.join(self.directory, "data", "postmaster.pid")) as pid_file:
            return with_children(int(pid_file.readline()))

    def settings(self) -> str:
        """fsync and synchronous_commit as the server reports them (psql, if installed)."""
        psql = shutil.which("psql")
        if not psql:
            return "not checked (no psql)"
        query = ("SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings"
                 " WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')")
        shown = subprocess.run([psql, self.url, "-Atc", query], capture_output=True, text=True, check=False)
        return shown.stdout.strip() if shown.returncode == 0 else f"not checked ({shown.stderr.strip()})"

    def stop(self):
        subprocess.run([self.script, "stop", self.directory], capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


class Replica:
    """A release `tessera serve` on the shared database, in a folder of its own."""

    def __init__(self, bench, environment: dict, name: str):
        self.bench, self.name = bench, name
        self.directory = tempfile.mkdtemp(prefix=f"tessera-bench-replica-{name}-")
        self.port = bench.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self.env.update({"TESSERA_SIGNING_ALG": "ES256", "LOG_LEVEL": "warning", **environment})
        # Behind the balancer every caller has its address: the failure limits stay off,
        # as in the other scenarios (every refusal of the propagation trials is one).
        with open(os.path.join(self.directory, "serve.log"), "w") as log:
            self.process = subprocess.Popen(
                [bench.TESSERA, "serve", "--port", str(self.port), "--auth-failure-limit", "0", "--auth-address-failure-limit", "0"],
                cwd=self.directory, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
            )
        try:
            bench.wait_ready(self.url + "/health/ready")
        except RuntimeError:
            self.stop()
            raise

    def cli(self, *args: str) -> str:
        command = [self.bench.TESSERA, *args]
        return subprocess.run(command, cwd=self.directory, env=self.env, capture_output=True, text=True, check=True).stdout

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        with open(os.path.join(self.directory, "serve.log"), errors="replace") as log:
            lines = log.read().splitlines()
        # LOG_LEVEL is warning: every line is worth a look.
        if lines:
            print(f"  server log (replica {self.name}, {self.url}): {len(lines)} line(s), the first: {lines[0][:300]}", file=sys.stderr)
        shutil.rmtree(self.directory, ignore_errors=True)


class Balancer:
    """nginx on a loopback port, round robin over `replicas`, in a folder of its own."""

    def __init__(self, replicas: list[Replica], port: int, bench):
        binary = nginx_binary()
        self.directory = tempfile.mkdtemp(prefix="tessera-bench-nginx-")
        # As root nginx's workers run as nobody, and create their temporary folders here.
        os.chmod(self.directory, 0o755)
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        config = os.path.join(self.directory, "nginx.conf")
        with open(config, "w") as out:
            # One worker: on two cores shared with wrk, two replicas and PostgreSQL, more
            # workers only compete for them.
            out.write(NGINX_CONF % {"dir": self.directory, "port": port, "a": replicas[0].port, "b": replicas[1].port, "workers": 1})
        self.process = subprocess.Popen(
            [binary, "-p", self.directory, "-c", config, "-e", os.path.join(self.directory, "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            bench.wait_ready(self.url + "/health/ready")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"nginx did not answer on {self.url}: {self.error_log()}")

    def error_log(self) -> str:
        try:
            with open(os.path.join(self.directory, "error.log"), errors="replace") as log:
                return log.read().strip()[-2000:] or "(its error log is empty)"
        except FileNotFoundError:
            return "(no error log)"

    def pids(self) -> list[int]:
        return with_children(self.process.pid)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        # Its error log has warnings and worse only: every line is worth a look.
        if lines := [line for line in self.error_log().splitlines() if not line.startswith("(")]:
            print(f"  nginx error log ({self.url}): {len(lines)} line(s), the first: {lines[0][:300]}", file=sys.stderr)
        shutil.rmtree(self.directory, ignore_errors=True)


class Connection:
    """One kept-alive HTTP/1.1 connection, opened again if the server closed it."""

    def __init__(self, port: int):
        self.port, self.reopened = port, 0
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TRIAL_TIMEOUT)

    def send(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body, headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt == 2:
                    raise
                self.connection.close()
                self.reopened += 1
        raise AssertionError("unreachable")


class Poller:
    """Token requests on one kept-alive connection with as little client work as
    possible (one prepared request, a socket without Nagle's delay, the head parsed
    for its status and Content-Length), so that a poll's round trip, the resolution
    of the propagation figure, is mostly the server's."""

    def __init__(self, port: int, authorization: str):
        self.port, self.reopened = port, 0
        self.request = (
            f"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(TOKEN_BODY)}\r\n\r\n"
        ).encode() + TOKEN_BODY
        self.socket, self.buffer = None, b""

    def connect(self):
        self.socket = socket.create_connection(("127.0.0.1", self.port), timeout=TRIAL_TIMEOUT)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def poll(self) -> tuple[int, bytes]:
        """One token request; answers the status and the body."""
        for attempt in (1, 2):
            try:
                if self.socket is None:
                    self.connect()
                self.socket.sendall(self.request)
                return self.read_response()
            except (ConnectionError, EOFError):
                if attempt == 2:
                    raise
                self.socket.close()
                self.socket = None
                self.reopened += 1
        raise AssertionError("unreachable")

    def read_response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self.receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), None)
        if length is None:
            raise RuntimeError(f"replica B answered without Content-Length: {head[:300]!r}")
        while len(self.buffer) < length:
            self.receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if any(line.lower().replace(" ", "") == "connection:close" for line in lines[1:]):
            self.socket.close()
            self.socket = None
            self.reopened += 1
        return status, body

    def receive(self):
        data = self.socket.recv(65536)
        if not data:
            raise EOFError("replica B closed the connection")
        self.buffer += data


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * share) - 1))]


def propagation_trials(a: Replica, b: Replica, admin_token: str, account: dict, trials: int, bench) -> dict:
    """`trials` times: disable `account` on A, poll B with the account's token request
    until it answers 401 invalid_client, enable the account on A again, poll B until it
    issues a token. Answers the delays and the polls' round trips, in seconds."""
    admin_headers = {"Authorization": "Bearer " + admin_token, "Content-Type": "application/json"}
    path = f"/v1/tenants/bench/service-accounts/{account['id']}"
    admin, poller = Connection(a.port), Poller(b.port, bench.basic(account["client_id"], account["client_secret"]))

    def set_status(status: str) -> float:
        """PATCHes the account's status on A; answers the time A's 200 was read."""
        code, body = admin.send("PATCH", path, json.dumps({"status": status}).encode(), admin_headers)
        if code != 200 or json.loads(body)["status"] != status:
            raise RuntimeError(f"replica A answered {code} to setting the account {status}: {body[:300]!r}")
        return time.perf_counter()

    def poll_until(refused: bool, since: float, what: str) -> tuple[float, float, int]:
        """Asks B for a token until it refuses (or issues) one; answers the seconds from
        `since` to the answer that did and to the sending of that request, and the number
        of requests. While B still issues tokens to a disabled account, it answers from
        its client cache: those round trips are the resolution of the trial."""
        polls = 0
        while True:
            started = time.perf_counter()
            code, body = poller.poll()
            now = time.perf_counter()
            polls += 1
            if refused and code == 401:
                if json.loads(body).get("error") != "invalid_client":
                    raise RuntimeError(f"replica B refused with {body[:300]!r}, not invalid_client")
                refusals.append(now - started)
                return now - since, started - since, polls
            if refused and code == 200:
                cached.append(now - started)
            if not refused and code == 200:
                return now - since, started - since, polls
            if code not in (200, 401):
                raise RuntimeError(f"replica B answered {code} to a token request: {body[:300]!r}")
            if now - since > TRIAL_TIMEOUT:
                raise RuntimeError(f"replica B still {what} {now - since:.1f} s after replica A's 200")

    cached, refusals, delays, sent, polls, patches, enabled = [], [], [], [], [], [], []
    # B issues the account a token (and so has it cached) before the first trial.
    poll_until(False, time.perf_counter(), "refuses the account")
    loads = bench.client_cache_loads(b.url)
    for _ in range(trials):
        patched = time.perf_counter()
        acknowledged = set_status("disabled")
        patches.append(acknowledged - patched)
        delay, refused_poll, count = poll_until(True, acknowledged, "issues tokens to the disabled account")
        delays.append(delay)
        sent.append(refused_poll)
        polls.append(count)
        delay, _, _ = poll_until(False, set_status("active"), "refuses the account enabled again")
        enabled.append(delay)
        # One more token, from B's cache now: a sample of the resolution for every trial.
        started = time.perf_counter()
        code, body = poller.poll()
        if code != 200:
            raise RuntimeError(f"replica B answered {code} to the account enabled again: {body[:300]!r}")
        cached.append(time.perf_counter() - started)
    return {"delays": delays, "sent": sent, "polls": polls, "cached": cached, "refusals": refusals, "patches": patches, "enabled": enabled,
            "reopened": admin.reopened + poller.reopened, "loads": bench.client_cache_loads(b.url) - loads}


def propagation_note(result: dict) -> str:
    """The paragraph of the propagation trials, times in ms."""

    def ms(values: list[float]) -> list[float]:
        return [value * 1000 for value in values]

    def spread(values: list[float]) -> str:
        return f"p50 {percentile(values, 0.5):.2f} ms, p99 {percentile(values, 0.99):.2f} ms, max {max(values):.2f} ms"

    delays, sent, enabled = ms(result["delays"]), ms(result["sent"]), ms(result["enabled"])
    first = sum(1 for count in result["polls"] if count == 1)
    goal = "met" if percentile(delays, 0.99) < 1000 else "NOT met"
    return "\n".join([
        f"{PROPAGATION} (PostgreSQL's change feed), {len(delays):,} trials:",
        (f"- from A's 200 to the PATCH disabling the account to B's first 401 invalid_client: {spread(delays)} "
         f"(goal p99 < 1 s: {goal})"),
        f"- to the sending of that refused request instead: {spread(sent)}",
        (f"- resolution: B polled on one kept-alive connection, each token request sent as soon as the last was "
         f"answered; a token from B's client cache took {spread(ms(result['cached']))}, the refusal (which reads the "
         f"account from the database) {spread(ms(result['refusals']))}; polls per trial p50 "
         f"{percentile(result['polls'], 0.5)}, max {max(result['polls'])}; {first:,} of {len(delays):,} trials refused "
         f"at the first poll"),
        (f"- the PATCH on A took {spread(ms(result['patches']))}; B issued tokens again {spread(enabled)} after A's 200 "
         f"to enabling the account"),
        (f"- B read the account from the database {result['loads']:,.0f} times in all (its client cache: about two a "
         f"trial, one after each change; one a poll would mean no cache); connections opened again: {result['reopened']}"),
    ])


def run(options, only: set | None, record, bench) -> list[str]:
    """Measures the scenarios of this group that `only` selects (all without it):
    table rows through `record` (scripts/bench's), and answers the paragraphs to
    print under the table. `bench` is the scripts/bench module, for its wrk runner,
    wrk scripts and HTTP helpers."""
    names = wanted(only)
    if not names:
        return []
    trials = options.propagation_trials or (20 if options.quick else 1000)
    balanced = TOKEN_BALANCED in names or CREATE_BALANCED in names
    work = tempfile.mkdtemp(prefix="tessera-bench-replicas-")
    postgres = Postgres(bench)
    started, notes = [], []
    try:
        balancer_port = bench.free_port()
        environment = {
            "TESSERA_DATABASE_URL": postgres.url,
            "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            # One public URL for both, the balancer's: tokens from either name the same issuer.
            "TESSERA_ISSUER": f"http://127.0.0.1:{balancer_port}",
        }
        # A migrates the database as it starts; B starts on it once A is ready.
        a = Replica(bench, environment, "A")
        started.append(a)
        b = Replica(bench, environment, "B")
        started.append(b)
        balancer = Balancer([a, b], balancer_port, bench) if balanced else None
        if balancer:
            started.append(balancer)
        admin = json.loads(a.cli("bootstrap", "--tenant", "bench", "--json"))

        def token(url: str, client_id: str, secret: str) -> str:
            headers = {"Authorization": bench.basic(client_id, secret), "Content-Type": "application/x-www-form-urlencoded"}
            return bench.request("POST", url + "/oauth2/token", TOKEN_BODY, headers)["access_token"]

        admin_token = token(a.url, admin["client_id"], admin["client_secret"])

        def create_account(name: str) -> dict:
            return bench.request(
                "POST", f"{a.url}/v1/tenants/bench/service-accounts", json.dumps({"name": name, "roles": ["editor"]}).encode(),
                {"Authorization": "Bearer " + admin_token, "Content-Type": "application/json"},
            )

        class Peak:
            """What scripts/bench's record reads for the table's peak RSS column."""

            def __init__(self, replicas):
                self.replicas = replicas

            def peak_rss_mb(self):
                return max(peak_rss_mb(replica.process.pid) for replica in self.replicas)

        processes = {"replica A": lambda: [a.process.pid], "replica B": lambda: [b.process.pid],
                     "nginx": balancer.pids if balancer else list, "PostgreSQL": postgres.pids}

        def one_run(url: str, script: str, duration: int) -> dict:
            """A wrk run, with the CPU time per request of each process meanwhile, in µs,
            and the clients each replica read from the database per request."""
            before = {name: process_cpu(pids()) for name, pids in processes.items()}
            loads = [bench.client_cache_loads(replica.url) for replica in (a, b)]
            (busy, steal), started = machine_cpu(), time.monotonic()
            result = bench.wrk(url, script, duration, options.connections, options.threads)
            elapsed = time.monotonic() - started
            busy, steal = (after - before for after, before in zip(machine_cpu(), (busy, steal)))
            requests = max(result["requests"], 1)
            ours = result["wrk_cpu"] * requests / 1e6
            for name, pids in processes.items():
                used = process_cpu(pids()) - before[name]
                ours += used
                result[name + "_cpu"] = used / requests * 1e6
            # The cores' time the rest of the machine took meanwhile (other work, this
            # script itself), as a number of cores on average.
            result["others"], result["steal"] = max(busy - ours, 0) / elapsed, steal / elapsed
            result["loads"] = [(bench.client_cache_loads(replica.url) - old) / requests for replica, old in zip((a, b), loads)]
            return result

        def in_turn(pair: tuple[str, str], direct_script, balanced_script, what: str):
            """The direct and balanced scenarios of `pair` that are wanted, run in turn
            (direct, balanced, direct, ...): rows for the table and a paragraph."""
            scenarios = [(name, url, script) for name, url, script in
                         zip(pair, (a.url, balancer and balancer.url), (direct_script, balanced_script)) if name in names]
            if not scenarios:
                return
            if not options.quick:
                for _, url, script in scenarios:
                    one_run(url + path_of[what], script(-1), 1)
            runs = {name: [] for name, _, _ in scenarios}
            for run in range(options.runs):
                for name, url, script in scenarios:
                    runs[name].append(one_run(url + path_of[what], script(run), options.duration))
            lines = []
            for name, _, _ in scenarios:
                result = record(name, runs[name], Peak([a, b] if name == pair[1] else [a]))
                # wrk's CPU time per request comes from scripts/bench's runner.
                cpu = {key: statistics.median(run[key + "_cpu"] for run in runs[name]) for key in [*processes, "wrk"]}
                rates = ", ".join(f"{run['rps']:,.0f}" for run in runs[name])
                loads = [statistics.median(run["loads"][index] for run in runs[name]) for index in (0, 1)]
                lines.append(f"{name}: runs {rates}/s, p99 {result['p99']:.2f} ms; CPU per {what} (medians): "
                             + ", ".join(f"{key} {value:.0f} µs" for key, value in cpu.items())
                             + f"; clients read from the database per {what}: A {loads[0]:.2f}, B {loads[1]:.2f}; "
                             + "other processes used " + ", ".join(f"{run['others']:.2f}" for run in runs[name])
                             + f" of the {os.cpu_count()} cores in the runs (the hypervisor took "
                             + ", ".join(f"{run['steal']:.2f}" for run in runs[name]) + ")")
            if len(scenarios) == 2:
                ratios = [through["rps"] / direct["rps"] for direct, through in zip(*runs.values())]
                lines.append(f"balanced / direct, runs in turn: {', '.join(f'{ratio * 100:.0f} %' for ratio in ratios)} "
                             f"(median {statistics.median(ratios) * 100:.0f} %)")
            notes.append("\n".join(lines))

        path_of = {"token": "/oauth2/token", "create": "/v1/tenants/bench/service-accounts"}
        if TOKEN_DIRECT in names or TOKEN_BALANCED in names:
            account = create_account("bench-client")
            file = os.path.join(work, "one.txt")
            with open(file, "w") as out:
                out.write(bench.basic(account["client_id"], account["client_secret"]) + "\n")
            # B issues the account a token once, so both replicas have it cached before the runs.
            token(b.url, account["client_id"], account["client_secret"])
            script = bench.LUA_TOKEN % {"file": file}
            in_turn((TOKEN_DIRECT, TOKEN_BALANCED), lambda run: script, lambda run: script, "token")
        if CREATE_DIRECT in names or CREATE_BALANCED in names:
            # Names unique per run and scenario (the admin token is valid on both replicas).
            def create(prefix: str):
                return lambda run: bench.LUA_CREATE % {
                    "authorization": "Bearer " + admin_token, "run": f"{prefix}{run}-{secrets.token_hex(4)}"}

            in_turn((CREATE_DIRECT, CREATE_BALANCED), create("a"), create("lb"), "create")
            notes.append(f"PostgreSQL for the durable creates: {postgres.settings()} (each create commits one transaction)")
        if PROPAGATION in names:
            account = create_account("bench-propagation")
            result = propagation_trials(a, b, admin_token, account, trials, bench)
            notes.append(propagation_note(result))
    finally:
        for process in reversed(started):
            process.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    header = f"{GROUP}: replicas A ({a.url}) and B ({b.url}) on one database of a throwaway PostgreSQL"
    if balancer:
        header += (f", nginx ({balancer.url}, 1 worker, round robin, kept-alive upstream connections); wrk -t{options.threads} "
                   f"-c{options.connections} -d{options.duration}s against {balancer.url} (balanced) or {a.url} (one replica, B idle)")
    return [header, *notes]
