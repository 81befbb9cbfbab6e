"""Private RabbitMQ nodes and PostgreSQL clusters for the fault-injection suite (tests/reliability).

A test that restarts a server must own it: the shared RabbitMQ on :5672 and PostgreSQL on :5432
serve every other test running beside it. Each server here lives in its own temporary folder, on
free ports, and is stopped (and its folder removed) when its block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves: /usr/sbin's wrappers su to `rabbitmq`
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} within {timeout} s:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@dataclass
class RabbitNode:
    name: str
    port: int
    home: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    started_in: float = 0.0  # seconds the last start took, until AMQP answered

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        started = time.monotonic()
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        _wait_for_port(self.port, timeout=90, what=f"RabbitMQ node {self.name}", log=self.log)
        self._wait_for_amqp(deadline=time.monotonic() + 60)
        self.started_in = time.monotonic() - started

    def _wait_for_amqp(self, *, deadline: float) -> None:
        from kombu import Connection

        while True:
            try:
                with Connection(self.url, connect_timeout=1) as connection:
                    connection.connect()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def ctl(self, *args: str) -> None:
        subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.name, *args], env=self.env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip

    def stop(self) -> None:
        """Stop the node (its queues and persistent messages stay on disk for the next start)."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.ctl("stop")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        self.process = None

    def restart(self) -> float:
        """Stop the whole node and start it again; the seconds until AMQP answers again."""
        began = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - began


@contextmanager
def private_rabbitmq() -> Iterator[RabbitNode]:
    """A RabbitMQ node of its own (no plugins, guest allowed from loopback), stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="cleanroom-rel-rabbit-"))
    home = folder / "home"
    home.mkdir()
    cookie = home / ".erlang.cookie"  # the CLI tools and the node must share one
    cookie.write_text(f"cleanroomrel{os.getpid()}{time.time_ns()}")
    cookie.chmod(0o400)
    (folder / "enabled_plugins").write_text("[].\n")
    (folder / "rabbitmq.conf").write_text("loopback_users.guest = true\n")
    port = free_port()
    name = f"cleanroom-rel-{os.getpid()}-{port}@localhost"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
        "HOME": str(home),
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
    }
    node = RabbitNode(name=name, port=port, home=home, env=env, log=folder / "server.log")
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class PostgresCluster:
    data: Path
    port: int
    log: Path
    started_in: float = 0.0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
             "-w", "-t", "60", *args],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        began = time.monotonic()
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data} -c fsync=on"
        self.pg_ctl("-o", options, "start")
        _wait_for_port(self.port, timeout=60, what="PostgreSQL", log=self.log)
        self.started_in = time.monotonic() - began

    def restart(self) -> float:
        """A fast restart (`pg_ctl restart -m fast`: open connections are cut); the seconds it took."""
        began = time.monotonic()
        self.pg_ctl("-m", "fast", "restart")
        _wait_for_port(self.port, timeout=60, what="PostgreSQL", log=self.log)
        return time.monotonic() - began


@contextmanager
def private_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL 15 cluster of its own (initdb as the `postgres` OS user, trust on loopback)."""
    folder = Path(tempfile.mkdtemp(prefix="cleanroom-rel-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = PostgresCluster(data=folder / "data", port=free_port(), log=folder / "server.log")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(POSTGRES_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres",
         "-A", "trust", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
