"""A private RabbitMQ broker for the end-to-end tests (Debian's
`rabbitmq-server`, which scripts/test.sh installs).

Each broker runs as its own Erlang node (`rabbit-<random>@localhost`) on free
ports — AMQP, distribution, and its own epmd (ERL_EPMD_PORT), so it meets no
system broker — with its database, logs, cookie (HOME) and an empty plugin
list under a temporary directory. `start_broker` waits for
`rabbitmqctl await_startup`, adds a virtual host and a user with every
permission on it; `Broker.stop` stops the node and its epmd.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def installed() -> bool:
    return (RABBITMQ_BIN / "rabbitmq-server").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    base: Path
    port: int
    epmd_port: int
    node: str
    env: dict
    vhost: str = "ignis-vh"
    user: str = "ignis"
    password: str = field(default_factory=lambda: secrets.token_hex(8))
    process: subprocess.Popen | None = None
    tls_port: int | None = None
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        return f"amqp://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener's URL, by the name its certificate carries."""
        return f"amqps://localhost:{self.tls_port}"

    def ctl(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def connection(self, user: str | None = None, password: str | None = None):
        import pika

        params = pika.ConnectionParameters(
            "127.0.0.1",
            self.port,
            self.vhost,
            pika.PlainCredentials(user or self.user, password or self.password),
        )
        return pika.BlockingConnection(params)

    def declare(self, queue: str) -> None:
        conn = self.connection()
        try:
            conn.channel().queue_declare(queue, durable=True)
        finally:
            conn.close()

    def publish(self, queue: str, bodies: list[bytes], properties=None) -> None:
        import pika

        conn = self.connection()
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            for body in bodies:
                ch.basic_publish("", queue, body, properties or pika.BasicProperties(), mandatory=True)
        finally:
            conn.close()

    def counts(self, queue: str) -> tuple[int, int]:
        """(ready, unacknowledged) messages of `queue`, as the broker counts them."""
        out = self.ctl("list_queues", "-p", self.vhost, "name", "messages_ready", "messages_unacknowledged", "--no-table-headers", "--quiet")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == queue:
                return int(parts[1]), int(parts[2])
        raise KeyError(queue)

    def stop(self) -> None:
        try:
            self.ctl("stop", timeout=60)
        except Exception:  # noqa: BLE001 - fall through to kill
            pass
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env, capture_output=True, timeout=30)


def make_certificates(base: Path) -> None:
    """A test CA (ca.pem) and a server certificate it signs for localhost and
    127.0.0.1 (server.pem, server.key), with openssl."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=base, check=True, capture_output=True, timeout=120)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=ignis-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (base / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    os.chmod(base / "server.key", 0o644)


def start_broker(base: Path, timeout: float = 120, tls: bool = False) -> Broker:
    """Starts a broker; with `tls`, also a TLS listener with a certificate of
    a CA of its own (`Broker.ca_file`)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq-env.conf").write_text("")
    tls_port = None
    if tls:
        make_certificates(base)
        tls_port = free_port()
        (base / "rabbitmq.conf").write_text(
            f"listeners.ssl.default = {tls_port}\n"
            f"ssl_options.cacertfile = {base / 'ca.pem'}\n"
            f"ssl_options.certfile = {base / 'server.pem'}\n"
            f"ssl_options.keyfile = {base / 'server.key'}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
        )
    node = f"rabbit-{secrets.token_hex(4)}@localhost"
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base),
        "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
    }
    broker = Broker(base=base, port=port, epmd_port=epmd_port, node=node, env=env, tls_port=tls_port,
                    ca_file=base / "ca.pem" if tls else None)
    out = open(base / "server.out", "wb")
    broker.process = subprocess.Popen(
        [str(RABBITMQ_BIN / "rabbitmq-server")], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    # The AMQP listener opens last in the boot; rabbitmqctl then confirms.
    while time.monotonic() < deadline and broker.process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    while True:
        if broker.process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited: {(base / 'server.out').read_text()[-2000:]}")
        try:
            broker.ctl("await_startup", "--timeout", "30", timeout=60)
            break
        except (RuntimeError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                broker.stop()
                raise
            time.sleep(1)
    broker.ctl("add_vhost", broker.vhost)
    broker.ctl("add_user", broker.user, broker.password)
    broker.ctl("set_permissions", "-p", broker.vhost, broker.user, ".*", ".*", ".*")
    return broker
