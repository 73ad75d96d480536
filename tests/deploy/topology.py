"""The production topology as processes: what deploy/compose.yml runs, with the environment it sets,
on this machine's loopback instead of a compose network.

PostgreSQL is a server of its own (the embedded binaries, initialised like the official image:
superuser `harvest` with a password, scram-sha-256 over TCP on 127.0.0.1, no Unix-socket access for
Harvest); MongoDB is nx-27017 on the wire; S3 is moto's server; each Harvest service is a `harvest`
process with exactly the variables compose gives its container, addresses rewritten to loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from harvest.db.embedded import _embedded_postgres
from tests.conftest import free_port, wait_for_port
from tests.deploy.compose_files import DEPLOY, load, services

PG_SYSTEM_USER = "embedded_postgres"  # the embedded binaries refuse to run as root


class TcpPostgres:
    """A PostgreSQL 18 + pgvector server reachable only over TCP with a password."""

    def __init__(self, root: Path, password: str) -> None:
        self.root, self.password = root, password
        self.pgdata, self.sockets = root / "pgdata", root / "sockets"
        self.port = free_port()
        self.module = _embedded_postgres(root / "run")
        self.user: str | None = None

    def _own(self, *paths: Path) -> None:
        if self.user is None:
            return
        import pwd

        entry = pwd.getpwnam(self.user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> None:
        self.pgdata.mkdir(parents=True)
        self.sockets.mkdir()
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            self.user = PG_SYSTEM_USER
            self.module.utils.ensure_user_exists(self.user)
            self.module.utils.ensure_prefix_permissions(self.pgdata)
            self._own(self.pgdata, self.sockets, password_file)
        self.module.initdb(
            ["-U", "harvest", f"--pwfile={password_file}", "--auth-host=scram-sha-256", "--auth-local=trust"],
            pgdata=self.pgdata,
            user=self.user,
        )
        password_file.unlink()
        self.module.pg_ctl(
            [
                "-w",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.sockets}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=self.user,
            timeout=60,
        )
        import psycopg

        # what the official image does with POSTGRES_DB
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE harvest")

    def url(self, database: str = "harvest", *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://harvest{secret}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]

    def tail(self, lines: int = 25) -> str:
        self.handle.flush()
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n" + "\n".join(text)


@dataclass
class Topology:
    root: Path
    env: dict[str, str]  # the deploy/.env of this test's "VPS"
    addresses: dict[str, str]  # compose service host:port → loopback host:port
    raw_store_url: str
    api_port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)

    def compose_services(self) -> dict[str, tuple[list[str], dict[str, str]]]:
        """Each service of deploy/compose.yml that runs Harvest: its command and environment."""
        compose = load(DEPLOY / "compose.yml", self.env)
        return {s.name: (s.command, s.environment) for s in services(compose) if s.ours}

    def localise(
        self, name: str, command: list[str], env: dict[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """Loopback addresses for compose's network names; a data directory per service."""
        local = dict(env)
        for key, value in env.items():
            for remote, here in self.addresses.items():
                value = value.replace(f"@{remote}/", f"@{here}/").replace(f"//{remote}", f"//{here}")
            local[key] = value
        if "HARVEST_RAW_STORE_URL" in env:
            local["HARVEST_RAW_STORE_URL"] = self.raw_store_url  # nx-27017 has no authentication
        if "HARVEST_API_HOST" in env:
            local["HARVEST_API_HOST"], local["HARVEST_API_PORT"] = "127.0.0.1", str(self.api_port)
        local["HARVEST_DATA_DIR"] = str(self.root / name)
        command = [part.replace("0.0.0.0", "127.0.0.1") for part in command]
        if "--port" in command:
            port = command.index("--port") + 1
            command[port] = self.addresses[f"{name}:{command[port]}"].rsplit(":", 1)[1]
        assert set(local) == set(env)
        return command, local

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Process:
        (self.root / name).mkdir(exist_ok=True)
        log = self.root / f"{name}.log"
        handle = log.open("wb")
        base = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
        popen = subprocess.Popen(
            [sys.executable, "-m", "harvest", *command],
            env=base | env | {"COLUMNS": "200"},
            cwd=self.root / name,  # no .env there: only what compose sets
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log, handle)
        self.processes.append(process)
        return process

    def run(self, name: str, command: list[str], env: dict[str, str], timeout_s: float = 180) -> Process:
        process = self.start(name, command, env)
        process.popen.wait(timeout=timeout_s)
        assert process.popen.returncode == 0, process.tail()
        return process

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    def wait_healthy(self, url: str, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        port = int(url.split(":")[2].split("/")[0])
        wait_for_port(port, timeout_s)
        while time.monotonic() < deadline:
            dead = [p for p in self.processes if p.popen.poll() not in (None, 0)]
            assert not dead, self.logs()
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{url} not healthy after {timeout_s:.0f} s\n{self.logs()}")

    def stop(self, *processes: Process) -> None:
        """SIGTERM to all at once (workers hand their jobs back), SIGKILL to what is left after 30 s."""
        running = [p for p in processes if p.popen.poll() is None]
        for process in running:
            os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in running:
            try:
                process.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        for process in processes:
            process.handle.close()

    def stop_all(self) -> None:
        self.stop(*self.processes)
