"""Dead letters listed and replayed, against the embedded broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from typer.testing import CliRunner, Result

from helpers import consent_envelope, read_topic, unique
from prre_contracts import Event, EventEnvelope
from prre_runtime.cli import app
from prre_runtime.consumer import Connection, IdempotentConsumer
from prre_runtime.deadletters import (
    DeadLetterError,
    list_dead_letters,
    replay,
    replayed_topic,
)
from prre_runtime.kafka import ensure_topics
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow

BROKEN_AREA = "area-with-a-bug"


def envelope(area_id: str) -> EventEnvelope:
    return consent_envelope(area_id, subject="deadletter-test")


@dataclass
class Harness:
    """A consumer whose handler fails for one area until ``fixed`` is set."""

    consumer: IdempotentConsumer
    broker: KafkaBroker
    pool: asyncpg.Pool
    topic: str
    bootstrap: str
    fixed: list[bool] = field(default_factory=lambda: [False])

    async def publish(self, event: EventEnvelope, position: int = 0) -> None:
        """Publish as the relay would, ``position`` being its log position."""
        key = event.partition_key.encode()
        headers = {"ce_id": str(event.event_id), "ce_position": str(position)}
        await self.broker.publish(
            event.to_json(), topic=self.topic, key=key, headers=headers
        )

    async def written(self) -> list[uuid.UUID]:
        rows = await self.pool.fetch("SELECT event_id FROM written ORDER BY n")
        return [row["event_id"] for row in rows]

    async def settled(self, handled: int) -> None:
        for _ in range(300):
            stats = self.consumer.stats
            if stats.processed + stats.duplicates + stats.dead_lettered >= handled:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the consumer handled only {self.consumer.stats}")

    def cli(self, *args: str) -> Result:
        """``prre deadletters ...`` for this consumer, run as an operator would."""
        command = ["deadletters", *args, "--bootstrap-servers", self.bootstrap]
        return CliRunner().invoke(app, command, env={"COLUMNS": "250"})


@pytest.fixture
async def harness(stack: Stack) -> AsyncIterator[Harness]:
    name = unique("deadletters")
    stack.create_databases([name.replace("-", "_")])
    database = with_database(stack.database_server_url, name.replace("-", "_"))
    pool = await asyncpg.create_pool(database)
    await pool.execute("CREATE TABLE written (n bigserial, event_id uuid NOT NULL)")
    topic = f"prre.{name}.v1"
    consumer_name = f"test-{name}"
    await ensure_topics(
        stack.bootstrap_servers, [topic, f"prre.deadletter.{consumer_name}.v1"]
    )
    fixed = [False]

    async def write_row(envelope: EventEnvelope, _: Event, db: Connection) -> None:
        await db.execute(
            "INSERT INTO written (event_id) VALUES ($1)", envelope.event_id
        )
        if envelope.area_id == BROKEN_AREA and not fixed[0]:
            raise RuntimeError("no criteria version known for this area")

    broker = KafkaBroker(stack.bootstrap_servers, enable_idempotence=False)
    consumer = IdempotentConsumer(
        consumer_name, [topic], write_row, pool, broker, max_attempts=2
    )
    await consumer.prepare()
    await broker.start()
    yield Harness(consumer, broker, pool, topic, stack.bootstrap_servers, fixed)
    await broker.stop()
    await pool.close()


async def test_a_dead_letter_is_listed_then_replayed_once_the_handler_is_fixed(
    harness: Harness,
) -> None:
    service = harness.consumer.name
    failing, good = envelope(BROKEN_AREA), envelope("area-a")

    # The handler fails on one event: it is dead-lettered, the next one goes on.
    await harness.publish(failing)
    await harness.publish(good)
    await harness.settled(2)
    assert await harness.written() == [good.event_id]

    # The operator lists it: the event, its area, where from and why.
    [letter] = await list_dead_letters(harness.bootstrap, service)
    assert letter.event_id == str(failing.event_id)
    assert letter.event_type == "ConsentConfirmed"
    assert letter.area_id == BROKEN_AREA
    assert letter.source.startswith(f"{harness.topic}[")
    assert "no criteria version known" in letter.error
    assert not letter.replayed
    listed = await asyncio.to_thread(harness.cli, "list", "--service", service)
    assert listed.exit_code == 0, listed.output
    assert "no criteria version known" in listed.stdout
    assert str(failing.event_id) in listed.stdout

    # The handler is fixed; the replay sends it back and it is processed once.
    harness.fixed[0] = True
    summary = await replay(harness.bootstrap, service)
    assert summary.replayed == [letter.offset]
    await harness.settled(3)
    assert await harness.written() == [good.event_id, failing.event_id]
    [letter] = await list_dead_letters(harness.bootstrap, service)
    assert letter.replayed
    assert letter.replays[0].to.startswith(harness.topic)

    # A second replay of all dead letters replays nothing.
    again = await asyncio.to_thread(
        harness.cli, "replay", "--service", service, "--all"
    )
    assert again.exit_code == 0, again.output
    assert "Replayed 0 dead letter(s)" in again.stderr
    assert "replayed before (use --again)" in again.stderr
    as_json = await asyncio.to_thread(
        harness.cli, "list", "--service", service, "--json"
    )
    assert json.loads(as_json.stdout)[0]["replayed"] is True


async def test_replaying_again_changes_nothing_for_a_consumer_that_processed_it(
    harness: Harness,
) -> None:
    service = harness.consumer.name
    failing = envelope(BROKEN_AREA)
    await harness.publish(failing, position=1)
    await harness.publish(envelope("area-a"), position=2)
    await harness.settled(2)
    harness.fixed[0] = True
    await replay(harness.bootstrap, service)
    await harness.settled(3)

    summary = await replay(harness.bootstrap, service, [0], again=True)
    await harness.settled(4)

    assert summary.replayed == [0]
    assert (await harness.written()).count(failing.event_id) == 1
    assert harness.consumer.stats.duplicates == 1
    on_topic = await read_topic(harness.bootstrap, harness.topic, 4)
    copies = [r for r in on_topic if dict(r.headers).get("prre_replayed_from")]
    assert len(copies) == 2
    headers = dict(copies[-1].headers)
    assert headers["prre_replayed_from"].decode().endswith("@0")
    assert headers["ce_id"].decode() == str(failing.event_id)
    assert "prre_error" not in headers
    assert headers["ce_position"] == b"2", "the relay must not think data was lost"
    markers = await read_topic(harness.bootstrap, replayed_topic(service), 2)
    assert len(markers) == 2


async def test_an_unknown_offset_or_service_is_refused_with_what_to_do(
    harness: Harness,
) -> None:
    with pytest.raises(DeadLetterError, match="No dead letter at offset 7"):
        await replay(harness.bootstrap, harness.consumer.name, [7])

    unknown = await asyncio.to_thread(harness.cli, "list", "--service", "triag")
    assert unknown.exit_code == 1
    assert "No consumer named 'triag'" in unknown.stderr
    neither = await asyncio.to_thread(harness.cli, "replay", "--service", "triage")
    assert neither.exit_code == 2
    assert "--offset N" in neither.stderr


def test_the_commands_explain_themselves() -> None:
    runner = CliRunner()
    for command in (["deadletters", "--help"], ["deadletters", "replay", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert "replay" in result.stdout
