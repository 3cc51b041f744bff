"""Typed settings from the environment, read once when a service starts."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from prre_runtime.errors import ConfigurationError

ENV_PREFIX = "PRRE_"


class ServiceSettings(BaseSettings):
    """What every service needs to start. Each field is read from ``PRRE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: SecretStr = Field(
        description="postgresql://user:password@host:port/database of this service"
    )
    kafka_bootstrap_servers: str = Field(description="host:port[,host:port]")
    token_secret: SecretStr = Field(description="Key that signs bearer tokens")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector, e.g. http://collector:4318"
    )
    span_log: str | None = Field(
        default=None,
        description="File that receives finished spans as JSON lines; "
        "'{service}' in the path becomes the service's name",
    )
    consumer_fetch_max_wait_ms: int = Field(default=10, ge=1, le=5000)
    consumer_max_attempts: int = Field(default=3, ge=1, le=20)
    relay_check_interval_s: float = Field(default=5.0, gt=0)
    store_threads: int = Field(default=4, ge=1, le=64)
    clock_file: Path | None = Field(
        default=None,
        description="File holding the current date-time for every service "
        "(tests and demonstrations move time with it); unset means wall-clock time",
    )


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_class: type[S]) -> S:
    """Read ``settings_class`` from the environment or fail naming what is wrong."""
    try:
        return settings_class()
    except ValidationError as error:
        problems = [
            f"{ENV_PREFIX}{'_'.join(str(p) for p in issue['loc']).upper()}: "
            f"{issue['msg']}"
            for issue in error.errors()
        ]
        raise ConfigurationError("Cannot start: " + "; ".join(problems)) from error


def postgres_parts(url: str) -> dict[str, str]:
    """Split a PostgreSQL URL into host, port, user, password and database name."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"} or not parts.path.strip("/"):
        raise ConfigurationError(
            f"{ENV_PREFIX}DATABASE_URL must look like "
            "postgresql://user:password@host:port/database"
        )
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.strip("/"),
    }
