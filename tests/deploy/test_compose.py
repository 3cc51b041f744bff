"""The compose deployment agrees with the repository it deploys.

No Docker engine is needed: docker-compose.yml and the files under deploy/
are read as text and compared with what the workspace actually holds (the
service packages, the settings they read, the databases and topics the init
scripts create). Compose variables are filled in from deploy/.env.example, as
an operator's deploy/.env would fill them.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"

SERVICE_PORTS = {
    "projections": 8000,
    "referral": 8001,
    "triage": 8002,
    "assessment": 8003,
    "review-scheduler": 8004,
}
SERVICE_TOPICS = {
    "prre.referral.v1",
    "prre.triage.v1",
    "prre.assessment.v1",
    "prre.review-scheduler.v1",
}
DEADLETTER_TOPICS = {
    f"prre.deadletter.{service}.v1"
    for service in (
        "triage",
        "assessment",
        "review-scheduler",
        "projections",
        "referral",
    )
}

Service = dict[str, Any]

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


# ---- reading the files ----


def env_example() -> dict[str, str]:
    """The variables deploy/.env.example documents, each with a stand-in value."""
    names = re.findall(r"^(\w+)=", (DEPLOY / ".env.example").read_text(), re.M)
    return {name: f"example-{name.lower().replace('_', '-')}" for name in names}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Fills in ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``, as compose."""

    def value(match: re.Match[str]) -> str:
        name, op = match["name"], match["op"] or ""
        if name in env:
            return env[name]
        if op.endswith("-"):
            return match["arg"]
        raise KeyError(f"compose variable {name} has no value and no default")

    return _VARIABLE.sub(value, text.replace("$$", "\x00")).replace("\x00", "$")


def resolved(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: resolved(item, env) for key, item in node.items()}
    if isinstance(node, list):
        return [resolved(item, env) for item in node]
    return node


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    result: dict[str, Service] = resolved(compose["services"], env_example())
    return result


@pytest.fixture(scope="module")
def prre_services(services: dict[str, Service]) -> dict[str, Service]:
    """The services built from deploy/Dockerfile, by compose name."""
    return {name: spec for name, spec in services.items() if "build" in spec}


def environment(spec: Service) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def dependencies(spec: Service) -> list[str]:
    return list(spec.get("depends_on") or [])


def host_ports(spec: Service) -> Iterator[tuple[int, int]]:
    """(host port, container port) for each port the service publishes."""
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            yield int(port["published"]), int(port["target"])
            continue
        parts = str(port).split(":")
        if len(parts) > 1:
            yield int(parts[-2]), int(parts[-1])


def bind_sources(spec: Service) -> Iterator[str]:
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                yield str(volume["source"])
            continue
        source = str(volume).split(":")[0]
        if source.startswith((".", "/")):
            yield source


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip()[:1] not in "#"]


def settings_source() -> str:
    sources = [ROOT / "runtime" / "src", *ROOT.glob("services/*/src")]
    files = [path for src in sources for path in src.rglob("*.py")]
    return "\n".join(path.read_text() for path in files)


def shell_list(script: str, name: str) -> set[str]:
    """The words of a multi-line ``name="..."`` assignment in a shell script."""
    match = re.search(rf'^{name}="([^"]*)"', script, re.M)
    assert match, f"no {name}=... list in the script"
    return set(match[1].split())


# ---- builds ----


def test_every_build_uses_an_existing_context_and_dockerfile(
    prre_services: dict[str, Service],
) -> None:
    for name, spec in prre_services.items():
        context = ROOT / spec["build"]["context"]
        assert context.is_dir(), name
        assert (context / spec["build"]["dockerfile"]).is_file(), name


def test_every_workspace_service_is_built(prre_services: dict[str, Service]) -> None:
    built = {spec["build"]["args"]["SERVICE"] for spec in prre_services.values()}
    on_disk = {path.parent.name for path in ROOT.glob("services/*/pyproject.toml")}

    assert built == on_disk == set(SERVICE_PORTS)


def test_every_build_names_a_workspace_package(
    prre_services: dict[str, Service],
) -> None:
    for spec in prre_services.values():
        service = spec["build"]["args"]["SERVICE"]
        assert (ROOT / "services" / service / "pyproject.toml").is_file(), service


def test_every_build_names_a_runnable_module(
    prre_services: dict[str, Service],
) -> None:
    for spec in prre_services.values():
        args = spec["build"]["args"]
        package = ROOT / "services" / args["SERVICE"] / "src" / args["MODULE"]
        assert (package / "__main__.py").is_file(), f"{package} has no __main__.py"


# ---- wiring ----


def test_every_mounted_file_exists(services: dict[str, Service]) -> None:
    for name, spec in services.items():
        for source in bind_sources(spec):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_every_dependency_is_a_defined_service(services: dict[str, Service]) -> None:
    for name, spec in services.items():
        for target in dependencies(spec):
            assert target in services, f"{name} depends on unknown {target}"


def test_services_wait_for_topics_and_a_healthy_database(
    prre_services: dict[str, Service],
) -> None:
    for name, spec in prre_services.items():
        conditions = {key: dep["condition"] for key, dep in spec["depends_on"].items()}
        assert conditions["postgres"] == "service_healthy", name
        assert conditions["kafka-init"] == "service_completed_successfully", name


def test_host_ports_are_unique(services: dict[str, Service]) -> None:
    published = [host for spec in services.values() for host, _ in host_ports(spec)]

    assert len(published) == len(set(published))


def test_services_publish_their_agreed_ports(
    prre_services: dict[str, Service],
) -> None:
    published = {name: list(host_ports(spec)) for name, spec in prre_services.items()}

    assert published == {name: [(port, 8000)] for name, port in SERVICE_PORTS.items()}


def test_jaeger_ui_is_published(services: dict[str, Service]) -> None:
    assert (16686, 16686) in host_ports(services["jaeger"])


# ---- configuration ----


def test_every_prre_variable_is_read_by_the_code(
    services: dict[str, Service],
) -> None:
    """Each PRRE_* name appears in the code, or its field does beside a PRRE_ prefix.

    Typed settings may spell ``PRRE_DATABASE_URL`` as a ``database_url`` field
    under ``env_prefix="PRRE_"``, so either form counts as read.
    """
    source = settings_source()
    prefixed = '"PRRE_"' in source or "'PRRE_'" in source
    for name, spec in services.items():
        for variable in filter(lambda key: key.startswith("PRRE_"), environment(spec)):
            field = variable.removeprefix("PRRE_").lower()
            as_field = prefixed and re.search(rf"\b{field}\b", source) is not None
            assert variable in source or as_field, f"{name} sets unread {variable}"


def test_required_variables_are_documented(services: dict[str, Service]) -> None:
    required = set(re.findall(r"\$\{(\w+):?\?", COMPOSE_FILE.read_text()))

    assert required
    assert required <= set(env_example())


def test_only_referral_holds_the_pii_key(prre_services: dict[str, Service]) -> None:
    holders = {
        name
        for name, spec in prre_services.items()
        if "PRRE_PII_KEY" in environment(spec)
    }

    assert holders == {"referral"}


def test_each_service_uses_its_own_database(prre_services: dict[str, Service]) -> None:
    for name, spec in prre_services.items():
        url = environment(spec)["PRRE_DATABASE_URL"]
        assert url.startswith("postgresql://"), name
        assert url.rsplit("/", 1)[1] == "prre_" + name.replace("-", "_"), name


def test_every_service_database_is_created(prre_services: dict[str, Service]) -> None:
    sql = (DEPLOY / "postgres-init.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+)", sql, re.I))
    for spec in prre_services.values():
        assert environment(spec)["PRRE_DATABASE_URL"].rsplit("/", 1)[1] in created


# ---- Kafka topics ----


def test_every_topic_is_created() -> None:
    script = (DEPLOY / "kafka-topics.sh").read_text()

    assert shell_list(script, "service_topics") == SERVICE_TOPICS
    assert shell_list(script, "deadletter_topics") == DEADLETTER_TOPICS
    assert "--if-not-exists" in script


def test_topics_script_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(DEPLOY / "kafka-topics.sh")], check=True)


def test_topics_job_runs_the_mounted_script(services: dict[str, Service]) -> None:
    init = services["kafka-init"]
    mounted = {volume.split(":")[1] for volume in init["volumes"]}

    assert init["entrypoint"][-1] in mounted


# ---- images ----


def test_infrastructure_images_are_pinned(services: dict[str, Service]) -> None:
    for name, spec in services.items():
        if "build" in spec:
            continue
        repository, _, tag = spec["image"].rpartition(":")
        assert repository, f"{name} image has no tag"
        assert "/" not in tag, f"{name} image has no tag"
        assert tag != "latest", f"{name} image is not pinned"


def test_dockerfile_builds_on_python_311() -> None:
    lines = dockerfile_lines()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)", "\n".join(lines), re.M))
    images = [line.split()[1] for line in lines if line.startswith("FROM ")]
    images = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], i) for i in images]

    assert images
    assert all(image.startswith("python:3.11") for image in images)


def test_dockerfile_installs_the_lock_with_hashes() -> None:
    lines = dockerfile_lines()

    assert any(re.match(r"COPY .*\brequirements\.lock\b", line) for line in lines)
    installs = [line for line in lines if "-r requirements.lock" in line]
    assert installs
    assert all("--require-hashes" in line for line in installs)


def test_dockerfile_runs_unprivileged_with_a_liveness_check() -> None:
    lines = dockerfile_lines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    checks = [line for line in lines if line.startswith("HEALTHCHECK ")]

    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert checks
    assert "/health/live" in checks[-1]


def test_build_context_keeps_what_the_dockerfile_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    copies = [
        line.split()[1:-1] for line in dockerfile_lines() if line.startswith("COPY ")
    ]
    sources = [
        src for srcs in copies if not srcs[0].startswith("--from") for src in srcs
    ]
    for source in sources:
        top = source.split("/")[0]
        assert {f"!{top}", f"!{top}/"} & set(ignore), f"{source} is ignored"


# ---- tracing ----


def test_collector_sends_traces_to_jaeger() -> None:
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    pipelines = config["service"]["pipelines"]
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline.get("processors", [])) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])

    endpoints = {
        config["exporters"][name].get("endpoint")
        for name in pipelines["traces"]["exporters"]
    }
    assert "jaeger:4317" in endpoints
