"""The outbox relay publishes every stored event exactly once, in order per case.

The relay runs as its own process (``prre relay``) so the test can kill it
with SIGKILL half-way through and start it again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from area_builders import mobilise
from helpers import eventually, read_topic, unique
from prre_contracts import Actor, EventEnvelope
from prre_contracts.events.values import Baseline
from prre_referral.domain import ChildDetails, Referral
from prre_referral.programme import Area
from prre_runtime.eventstore import CommandContext, EventStore
from prre_runtime.kafka import end_offsets, ensure_topics
from prre_runtime.stack import EmbeddedBroker, Stack, free_port, with_database

pytestmark = pytest.mark.slow

CASES = 500  # each case is two events: received and consent confirmed


def context() -> CommandContext:
    actor = Actor(subject="relay-test@example.org", role="referrer")
    return CommandContext(actor=actor, occurred_at=datetime.now(UTC))


def fill_store(database_url: str, pii_key: str, cases: int) -> int:
    """Record an area and ``cases`` consented referrals; return the event count."""
    store = EventStore.for_database(database_url, name="referral", cipher_key=pii_key)
    area = Area.register(unique("area"), "Relay Test", "england", context())
    area.define_criteria(["at risk of exclusion"], date(2026, 9, 1), context())
    area.enrol_setting(
        "oak", "Oak", "school", None, "Lead", date(2026, 9, 1), context()
    )
    mobilise(area, context())
    store.save(area)
    area_events = area.version
    baseline = Baseline(
        attendance_percent=90, suspensions_this_year=0, exclusion_status="none"
    )
    child = ChildDetails("Sam", "Example", date(2013, 1, 1))
    for _ in range(cases):
        referral = Referral.receive(
            area,
            "oak",
            child,
            "CH-TEST",
            ["speech"],
            baseline,
            date(2026, 10, 1),
            None,
            context(),
        )
        referral.confirm_consent("parent", date(2026, 10, 2), context())
        store.save(referral)
    store.close()
    return area_events + 2 * cases


@pytest.fixture
def relay_database(stack: Stack) -> str:
    name = "relay_" + uuid.uuid4().hex[:8]
    stack.create_databases([name])
    return with_database(stack.database_server_url, name)


def start_relay(
    database_url: str, bootstrap: str, topic: str, pii_key: str, log: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "prre_runtime.cli", "relay", "--service", "referral",
        "--topic", topic, "--check-interval", "0.5",
    ]  # fmt: skip
    env = {
        **os.environ,
        "PRRE_DATABASE_URL": database_url,
        "PRRE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PRRE_PII_KEY": pii_key,
    }
    return subprocess.Popen(
        command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def count_on_topic(bootstrap: str, topic: str) -> int:
    return sum((await end_offsets(bootstrap, topic)).values())


def wait_for_count(
    bootstrap: str, topic: str, at_least: int, timeout: float = 60
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = asyncio.run(count_on_topic(bootstrap, topic))
        if count >= at_least:
            return count
        time.sleep(0.02)
    raise AssertionError(f"only {count} of {at_least} events reached {topic}")


def assert_exactly_once_in_order(records: list[EventEnvelope], expected: int) -> None:
    counts = Counter(envelope.event_id for envelope in records)
    assert len(counts) == expected, "every stored event is on the topic"
    assert max(counts.values()) == 1, "no event is published twice"
    versions: dict[str, list[int]] = defaultdict(list)
    for envelope in records:
        versions[envelope.partition_key].append(envelope.aggregate_version)
    for key, seen in versions.items():
        assert seen == sorted(seen), f"events of {key} are out of order: {seen}"


@pytest.fixture
def relay_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "relay.log"
    yield log
    print(log.read_text(errors="replace")[-3000:] if log.exists() else "")


def test_relay_killed_mid_stream_publishes_every_event_once_in_order(
    stack: Stack, relay_database: str, relay_log: Path
) -> None:
    topic = f"prre.{unique('relaytest')}.v1"
    total = fill_store(relay_database, stack.pii_key, CASES)

    relay = start_relay(
        relay_database, stack.bootstrap_servers, topic, stack.pii_key, relay_log
    )
    published_before_kill = wait_for_count(stack.bootstrap_servers, topic, total // 5)
    relay.send_signal(signal.SIGKILL)
    relay.wait()
    assert published_before_kill < total, "the relay was killed mid-stream"

    relay = start_relay(
        relay_database, stack.bootstrap_servers, topic, stack.pii_key, relay_log
    )
    try:
        wait_for_count(stack.bootstrap_servers, topic, total)
        time.sleep(1.5)  # let a wrongly repeating relay show itself
    finally:
        relay.terminate()
        relay.wait()

    records = asyncio.run(read_topic(stack.bootstrap_servers, topic, total))
    envelopes = [EventEnvelope.from_json(record.value or b"") for record in records]
    assert_exactly_once_in_order(envelopes, total)


def test_relay_republishes_everything_when_the_broker_lost_its_data(
    stack: Stack, relay_database: str, relay_log: Path, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(free_port(), tmp_path / "broker.log")
    broker.start()
    topic = f"prre.{unique('losstest')}.v1"
    total = fill_store(relay_database, stack.pii_key, 20)
    relay = start_relay(
        relay_database, broker.bootstrap_servers, topic, stack.pii_key, relay_log
    )
    try:
        wait_for_count(broker.bootstrap_servers, topic, total)
        broker.restart()  # memory storage: every topic is gone
        asyncio.run(ensure_topics(broker.bootstrap_servers, [topic]))
        wait_for_count(broker.bootstrap_servers, topic, total)
    finally:
        relay.terminate()
        relay.wait()
        broker.stop()


def test_two_relays_of_one_event_store_publish_each_event_once(
    stack: Stack, relay_database: str, tmp_path: Path
) -> None:
    topic = f"prre.{unique('pairtest')}.v1"
    total = fill_store(relay_database, stack.pii_key, 100)
    logs = [tmp_path / f"relay-{n}.log" for n in (1, 2)]
    relays = [
        start_relay(relay_database, stack.bootstrap_servers, topic, stack.pii_key, log)
        for log in logs
    ]
    try:
        wait_for_count(stack.bootstrap_servers, topic, total)
        eventually(lambda: standing_by(logs) is not None)
        standby = standing_by(logs)
        assert standby is not None

        # The publishing relay dies; the one standing by takes over.
        leader = relays[1 - standby]
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        more = fill_store(relay_database, stack.pii_key, 10)
        wait_for_count(stack.bootstrap_servers, topic, total + more)
        time.sleep(1.5)  # let a wrongly repeating relay show itself
    finally:
        for relay in relays:
            relay.terminate()
            relay.wait()

    records = asyncio.run(read_topic(stack.bootstrap_servers, topic, total + more))
    envelopes = [EventEnvelope.from_json(record.value or b"") for record in records]
    assert_exactly_once_in_order(envelopes, total + more)


def standing_by(logs: list[Path]) -> int | None:
    """Which relay (by its log) said it stands by while another publishes."""
    for number, log in enumerate(logs):
        if log.exists() and "stands by" in log.read_text(errors="replace"):
            return number
    return None
