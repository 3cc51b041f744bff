"""Service settings: read from the environment, failing with names."""

from __future__ import annotations

import pytest

from prre_runtime.errors import ConfigurationError
from prre_runtime.settings import ServiceSettings, load_settings, postgres_parts

REQUIRED = {
    "PRRE_DATABASE_URL": "postgresql://prre:s3cret-pw@db.example:5433/referral",
    "PRRE_KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092",
    "PRRE_TOKEN_SECRET": "token-signing-secret",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Every required variable set; tests remove or change what they need."""
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_missing_variables_are_each_named(environment: pytest.MonkeyPatch) -> None:
    for name in REQUIRED:
        environment.delenv(name)

    with pytest.raises(ConfigurationError) as refused:
        load_settings(ServiceSettings)

    message = str(refused.value)
    assert message.startswith("Cannot start: ")
    for name in REQUIRED:
        assert name in message


def test_one_missing_variable_is_the_only_one_named(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.delenv("PRRE_TOKEN_SECRET")

    with pytest.raises(ConfigurationError) as refused:
        load_settings(ServiceSettings)

    message = str(refused.value)
    assert "PRRE_TOKEN_SECRET" in message
    assert "PRRE_DATABASE_URL" not in message


def test_a_malformed_value_is_named(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PRRE_HTTP_PORT", "eighty")

    with pytest.raises(ConfigurationError, match="PRRE_HTTP_PORT"):
        load_settings(ServiceSettings)


def test_settings_are_read_with_their_defaults(
    environment: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(ServiceSettings)

    assert settings.kafka_bootstrap_servers == "kafka.example:9092"
    assert settings.database_url.get_secret_value() == REQUIRED["PRRE_DATABASE_URL"]
    assert (settings.http_port, settings.consumer_fetch_max_wait_ms) == (8000, 10)


def test_secrets_are_hidden_in_the_repr(environment: pytest.MonkeyPatch) -> None:
    settings = load_settings(ServiceSettings)

    shown = repr(settings) + str(settings)

    assert "s3cret-pw" not in shown
    assert "token-signing-secret" not in shown
    assert "kafka.example:9092" in shown


def test_postgres_parts_splits_a_url() -> None:
    parts = postgres_parts("postgresql://prre:p%40ss@db.example:5433/referral")

    assert parts == {
        "host": "db.example",
        "port": "5433",
        "user": "prre",
        "password": "p@ss",
        "dbname": "referral",
    }


def test_postgres_parts_fills_in_the_usual_defaults() -> None:
    parts = postgres_parts("postgres:///triage")

    assert (parts["host"], parts["port"], parts["user"]) == (
        "127.0.0.1",
        "5432",
        "postgres",
    )


@pytest.mark.parametrize(
    "url", ["mysql://u:p@db/referral", "postgresql://u:p@db:5432/", "not a url"]
)
def test_postgres_parts_rejects_what_is_not_a_postgres_database(url: str) -> None:
    with pytest.raises(ConfigurationError, match="PRRE_DATABASE_URL must look like"):
        postgres_parts(url)
