"""The idempotent consumer: each event changes a service's state exactly once.

Kafka delivers at least once, so the same event may arrive twice (a relay
republishing after the broker lost data, a consumer crashing before it
committed). The consumer records the event id in a ``consumed_events`` table in
the *same* database transaction as the handler's writes; a second delivery
finds the id and writes nothing. The Kafka offset is committed only after that
transaction commits.

A message that cannot be read as a catalogue event is dead-lettered at once. A
handler that fails is retried a bounded number of times; then the message goes
to the service's dead-letter topic with the error, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from prre_contracts import ContractError, Event, EventEnvelope, parse_event
from prre_runtime.kafka import dead_letter_topic
from prre_runtime.tracing import context_from

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

CONSUMED_TABLE = """
CREATE TABLE IF NOT EXISTS consumed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
)
"""

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A database connection inside the consumer's transaction."""

Handler = Callable[[EventEnvelope, Event, Connection], Awaitable[None]]


def chain(*handlers: Handler) -> Handler:
    """One handler that runs ``handlers`` in order, in the same transaction."""

    async def handle(envelope: EventEnvelope, event: Event, db: Connection) -> None:
        for handler in handlers:
            await handler(envelope, event, db)

    return handle


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class UnreadableMessage(Exception):
    """The message is not a valid catalogue event; retrying cannot help."""


class IdempotentConsumer:
    """Subscribes ``handler`` to ``topics`` under the consumer group ``name``."""

    def __init__(
        self,
        name: str,
        topics: Sequence[str],
        handler: Handler,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        *,
        fetch_max_wait_ms: int = 10,
        max_attempts: int = 3,
    ) -> None:
        self.name = name
        self._handler = handler
        self._pool = pool
        self._broker = broker
        self._max_attempts = max_attempts
        self.dead_letter_topic = dead_letter_topic(name)
        self.stats = ConsumerStats()
        subscriber = broker.subscriber(
            *topics,
            group_id=name,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        subscriber(self._on_message)

    async def prepare(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(CONSUMED_TABLE)

    async def _on_message(self, message: KafkaMessage) -> None:
        record = message.raw_message
        headers = {k: v.decode() for k, v in (record.headers or ())}  # type: ignore[union-attr]  # one record, not a batch
        with tracer.start_as_current_span(
            f"process {record.topic}",  # type: ignore[union-attr]
            context=context_from(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": headers.get("ce_id", ""),
                "messaging.kafka.offset": record.offset,  # type: ignore[union-attr]
            },
        ):
            await self._process(message, record.topic, record.partition, record.offset)  # type: ignore[union-attr]
        await message.ack()

    async def _process(
        self, message: KafkaMessage, topic: str, partition: int, offset: int
    ) -> None:
        where = f"{topic}[{partition}]@{offset}"
        try:
            envelope, event = read(message.body)
        except UnreadableMessage as error:
            await self._dead_letter(message, where, str(error))
            return
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._apply_once(envelope, event, topic, partition, offset)
                return
            except Exception as error:
                logger.warning(
                    "consumer %s failed on %s event %s (attempt %s of %s): %s",
                    self.name,
                    where,
                    envelope.event_id,
                    attempt,
                    self._max_attempts,
                    error,
                )
                last_error = f"{type(error).__name__}: {error}"
                await asyncio.sleep(0.05 * attempt)
        await self._dead_letter(message, where, last_error)

    async def _apply_once(
        self,
        envelope: EventEnvelope,
        event: Event,
        topic: str,
        partition: int,
        offset: int,
    ) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            first_time = await connection.fetchval(
                "INSERT INTO consumed_events "
                "(consumer, event_id, topic, kafka_partition, kafka_offset) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                envelope.event_id,
                topic,
                partition,
                offset,
            )
            if not first_time:
                self.stats.duplicates += 1
                return
            await self._handler(envelope, event, connection)
        self.stats.processed += 1

    async def _dead_letter(self, message: KafkaMessage, where: str, error: str) -> None:
        logger.error("consumer %s dead-letters %s: %s", self.name, where, error)
        record = message.raw_message
        original = [(k, v) for k, v in (record.headers or ())]  # type: ignore[union-attr]
        await self._broker.publish(
            message.body,
            topic=self.dead_letter_topic,
            key=record.key,  # type: ignore[union-attr]
            headers={
                **{k: v.decode(errors="replace") for k, v in original},
                "prre_error": error[:2000],
                "prre_source": where,
                "prre_consumer": self.name,
            },
        )
        self.stats.dead_lettered += 1


def read(body: bytes) -> tuple[EventEnvelope, Event]:
    """The envelope and catalogue event in a Kafka message, or ``UnreadableMessage``."""
    try:
        envelope = EventEnvelope.from_json(body)
        return envelope, parse_event(envelope)
    except (ValueError, ContractError) as error:
        raise UnreadableMessage(f"not a valid PRRE event: {error}") from error
