"""The idempotent consumer against the embedded broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from helpers import consent_envelope, read_topic, unique
from prre_contracts import Event, EventEnvelope
from prre_runtime.consumer import Connection, IdempotentConsumer
from prre_runtime.kafka import ensure_topics
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow


def envelope(referral_id: uuid.UUID, version: int, area_id: str) -> EventEnvelope:
    return consent_envelope(area_id, referral_id, version, "consumer-test")


@dataclass
class Harness:
    consumer: IdempotentConsumer
    broker: KafkaBroker
    pool: asyncpg.Pool
    topic: str
    bootstrap: str

    async def publish(self, body: bytes, key: str = "k") -> None:
        await self.broker.publish(body, topic=self.topic, key=key.encode())

    async def written(self) -> list[uuid.UUID]:
        rows = await self.pool.fetch("SELECT event_id FROM written ORDER BY n")
        return [row["event_id"] for row in rows]


FAIL_AREA = "always-fails"


async def write_row(envelope: EventEnvelope, _: Event, connection: Connection) -> None:
    """A handler that writes one row per event, and fails for one area."""
    await connection.execute(
        "INSERT INTO written (event_id) VALUES ($1)", envelope.event_id
    )
    if envelope.area_id == FAIL_AREA:
        raise RuntimeError("this area's events cannot be handled")


@pytest.fixture
async def harness(stack: Stack) -> AsyncIterator[Harness]:
    name = unique("consumer")
    database = name.replace("-", "_")
    stack.create_databases([database])
    pool = await asyncpg.create_pool(with_database(stack.database_server_url, database))
    await pool.execute("CREATE TABLE written (n bigserial, event_id uuid NOT NULL)")
    topic = f"prre.{name}.v1"
    consumer_name = f"test-{name}"
    await ensure_topics(
        stack.bootstrap_servers, [topic, f"prre.deadletter.{consumer_name}.v1"]
    )
    broker = KafkaBroker(stack.bootstrap_servers, enable_idempotence=False)
    consumer = IdempotentConsumer(
        consumer_name, [topic], write_row, pool, broker, max_attempts=2
    )
    await consumer.prepare()
    await broker.start()
    yield Harness(consumer, broker, pool, topic, stack.bootstrap_servers)
    await broker.stop()
    await pool.close()


async def settled(harness: Harness, handled: int) -> None:
    import asyncio

    for _ in range(300):
        stats = harness.consumer.stats
        if stats.processed + stats.duplicates + stats.dead_lettered >= handled:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the consumer handled only {harness.consumer.stats}")


async def test_the_same_event_delivered_twice_is_written_once(harness: Harness) -> None:
    event = envelope(uuid.uuid4(), 2, "area-a")

    await harness.publish(event.to_json())
    await harness.publish(event.to_json())
    await settled(harness, 2)

    assert await harness.written() == [event.event_id]
    assert harness.consumer.stats.duplicates == 1


async def test_a_poison_message_is_dead_lettered_and_the_next_one_processed(
    harness: Harness,
) -> None:
    good = envelope(uuid.uuid4(), 2, "area-a")

    await harness.publish(b'{"not": "an event"}', key="poison")
    await harness.publish(good.to_json())
    await settled(harness, 2)

    assert await harness.written() == [good.event_id]
    dead = await read_topic(harness.bootstrap, harness.consumer.dead_letter_topic, 1)
    assert len(dead) == 1
    headers = {name: value.decode() for name, value in dead[0].headers}
    assert "not a valid PRRE event" in headers["prre_error"]
    assert headers["prre_source"].startswith(harness.topic)
    assert dead[0].value == b'{"not": "an event"}'


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(
    harness: Harness,
) -> None:
    failing = envelope(uuid.uuid4(), 2, FAIL_AREA)
    good = envelope(uuid.uuid4(), 2, "area-a")

    await harness.publish(failing.to_json())
    await harness.publish(good.to_json())
    await settled(harness, 2)

    assert await harness.written() == [good.event_id], "the failed attempts rolled back"
    dead = await read_topic(harness.bootstrap, harness.consumer.dead_letter_topic, 1)
    headers = {name: value.decode() for name, value in dead[0].headers}
    assert "cannot be handled" in headers["prre_error"]
    assert EventEnvelope.from_json(dead[0].value or b"").event_id == failing.event_id
