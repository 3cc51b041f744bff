"""Fixtures shared by every test tier.

The suite starts the real servers itself, exactly as ``prre up`` does: one
embedded PostgreSQL and one embedded broker for the whole session, and the five
services as separate processes for the end-to-end tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Tokens
from prre_runtime.clock import FileClock
from prre_runtime.stack import Stack

ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts"
SPANS = ARTEFACTS / "spans"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """PostgreSQL and the broker, started once; services start on demand."""
    home = Path(tempfile.mkdtemp(prefix="prre-test-"))
    spans = SPANS
    shutil.rmtree(spans, ignore_errors=True)
    instance = Stack(
        home=home,
        fixed_ports=False,
        extra_env={
            "PRRE_SPAN_LOG": str(spans / "{service}.jsonl"),
            "PRRE_RELAY_CHECK_INTERVAL_S": "1",
            "PRRE_CLOCK_FILE": str(home / "clock"),
        },
    )
    try:
        instance.start_servers()
        yield instance
    finally:
        instance.stop()
        _keep_logs(home)
        shutil.rmtree(home, ignore_errors=True)


def _keep_logs(home: Path) -> None:
    logs = ARTEFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for log in home.glob("*.log"):
        shutil.copy(log, logs / log.name)


@pytest.fixture(scope="session")
def running(stack: Stack) -> Stack:
    """The whole system: both servers and all five services."""
    if not stack.services:
        stack.start_services()
    return stack


@pytest.fixture
def clock(stack: Stack) -> Iterator[FileClock]:
    """The clock every service process reads; a test moves it to move time.

    Empty means wall-clock time; it is emptied again after the test.
    """
    path = Path(stack.extra_env["PRRE_CLOCK_FILE"])
    yield FileClock(path)
    path.write_text("")


@pytest.fixture(scope="session")
def tokens(stack: Stack) -> Tokens:
    return Tokens(stack.token_secret)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
