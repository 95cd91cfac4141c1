"""Durability from the outside: every `201` is on disk when the power goes.

The store runs on an ext4 file system on a loop device. Pulling the power is
modelled by copying the loop device's backing file while the file system is still
mounted and nothing has been synced: the copy holds exactly what the kernel had
handed to the "disk" (every write that was synced, and whatever writeback happened
to send), and none of what only sat in the page cache. The copy is then mounted
(ext4 replays its journal, as after a real power cut) and the SQLite database in it
is opened: every account whose creation was acknowledged must be there.

A control write that was never synced proves the model loses what it should, so
the test cannot pass by syncing everything behind our back. (That each creation
reaches `fdatasync` is counted with strace in test_hardening.py.)

It needs root (mount, loop devices), as CI has; under CI a missing tool fails the
test, elsewhere it skips with the reason.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile

import pytest
import requests

from conftest import start_server, stop_server

IN_CI = bool(os.environ.get("CI"))


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout.strip()


class LoopFileSystem:
    """An ext4 file system in an image file, on a loop device. `commit=60` keeps
    ext4 from committing its journal on its own during the test, so only what is
    synced reaches the device."""

    def __init__(self, size_mb: int = 64):
        self.root = tempfile.mkdtemp(prefix="tessera-power-")
        self.image = os.path.join(self.root, "disk.img")
        self.mountpoint = os.path.join(self.root, "mnt")
        os.mkdir(self.mountpoint)
        with open(self.image, "wb") as image:
            image.truncate(size_mb * 1024 * 1024)
        run("mkfs.ext4", "-q", self.image)
        self.device = run("losetup", "--find", "--show", self.image)
        run("mount", "-o", "commit=60", self.device, self.mountpoint)
        self.mounted = True

    def pull_the_power(self) -> str:
        """Copies what the disk holds now, without syncing anything first."""
        snapshot = os.path.join(self.root, "after-power-loss.img")
        with open(self.image, "rb") as source, open(snapshot, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        return snapshot

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", self.mountpoint], check=False, timeout=60)
            subprocess.run(["losetup", "-d", self.device], check=False, timeout=60)
            self.mounted = False


class Mounted:
    """A disk image mounted read-write (so ext4 replays its journal)."""

    def __init__(self, image: str):
        self.mountpoint = tempfile.mkdtemp(prefix="tessera-recovered-")
        self.device = run("losetup", "--find", "--show", image)
        run("mount", self.device, self.mountpoint)

    def close(self) -> None:
        subprocess.run(["umount", self.mountpoint], check=False, timeout=60)
        subprocess.run(["losetup", "-d", self.device], check=False, timeout=60)
        shutil.rmtree(self.mountpoint, ignore_errors=True)


def create_accounts(server, count: int) -> list[dict]:
    admin = server.bootstrap()
    token = server.token(admin["client_id"], admin["client_secret"])["access_token"]
    created = []
    for index in range(count):
        response = requests.post(
            f"{server.issuer}/v1/tenants/acme/service-accounts",
            json={"name": f"durable-{index}", "roles": ["editor"]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def test_every_acknowledged_creation_survives_pulling_the_power():
    need(os.geteuid() == 0, "mounting a loop device needs root")
    need(all(shutil.which(tool) for tool in ("mkfs.ext4", "losetup", "mount")), "mkfs.ext4, losetup and mount are needed")
    disk = LoopFileSystem()
    recovered = None
    server = None
    try:
        server = start_server(directory=disk.mountpoint)
        created = create_accounts(server, 20)
        # The control: written after the last acknowledged commit and never synced.
        canary = os.path.join(disk.mountpoint, "unsynced-canary")
        with open(canary, "wb") as handle:
            handle.write(b"lost on power loss " * 1000)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        snapshot = disk.pull_the_power()
        disk.close()

        recovered = Mounted(snapshot)
        canary_after = os.path.join(recovered.mountpoint, "unsynced-canary")
        survived = open(canary_after, "rb").read() if os.path.exists(canary_after) else b""
        assert survived != b"lost on power loss " * 1000, "the model kept an unsynced write: it proves nothing"

        database = os.path.join(recovered.mountpoint, "data", "tessera.sqlite")
        connection = sqlite3.connect(database)
        try:
            rows = dict(connection.execute("SELECT id, client_id FROM service_accounts").fetchall())
            secrets = {row[0] for row in connection.execute("SELECT account_id FROM client_secrets").fetchall()}
        finally:
            connection.close()
        for account in created:
            assert rows.get(account["id"]) == account["client_id"], f"acknowledged account {account['id']} was lost"
            assert account["id"] in secrets, f"the secret of acknowledged account {account['id']} was lost"
    finally:
        if server is not None and server.process.poll() is None:
            server.process.kill()
        if recovered is not None:
            recovered.close()
        disk.close()
        shutil.rmtree(disk.root, ignore_errors=True)
