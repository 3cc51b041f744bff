"""The outbox relay: publishes a service's stored events to its Kafka topic.

The event store's notification log is the outbox. The relay follows it in
order and publishes each event, keyed by its case (referral id, or area id for
programme events), with CloudEvents-style headers and the trace context stored
with the event. It sends one event at a time and waits for the broker's
acknowledgement, so the topic always holds a prefix of the log: after a crash
the relay reads the last position on the topic and carries on from there,
neither losing nor repeating an event.

If the topic holds *less* than the relay knows it published, the broker lost
data (the embedded broker keeps nothing across a restart); the relay then
republishes from the start of the log and the consumers' deduplication makes
that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from eventsourcing.persistence import Notification
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from prre_contracts import EventEnvelope
from prre_runtime.eventstore import AsyncEventStore
from prre_runtime.kafka import ensure_topics, stop_reader
from prre_runtime.tracing import context_from, current_trace_headers

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

POSITION_HEADER = "ce_position"
BATCH_SIZE = 200

POSITION_TABLE = """
CREATE TABLE IF NOT EXISTS outbox_relay_position (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


def kafka_headers(envelope: EventEnvelope, position: int) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka-binding attributes plus the W3C trace context."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(envelope.event_id),
        "ce_type": envelope.event_type,
        "ce_source": f"/prre/{envelope.source}",
        "ce_subject": envelope.partition_key,
        "ce_time": envelope.recorded_at.isoformat(),
        "ce_schemaversion": str(envelope.schema_version),
        "ce_areaid": envelope.area_id,
        POSITION_HEADER: str(position),
        "content-type": "application/json",
        **current_trace_headers(),
    }
    return [(name, value.encode()) for name, value in headers.items()]


class OutboxRelay:
    """Follows one event store's notification log and publishes it to ``topic``."""

    def __init__(
        self,
        store: AsyncEventStore,
        pool: asyncpg.Pool,
        database_url: str,
        bootstrap_servers: str,
        topic: str,
        check_interval_s: float = 5.0,
    ) -> None:
        self._store = store
        self._pool = pool
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self.topic = topic
        self._check_interval = check_interval_s
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self.published_position = 0
        self.published_count = 0
        self.standing_by = False

    async def run_forever(self, retry_after_s: float = 1.0) -> None:
        """Publish until cancelled, starting again after any failure.

        A broker restart, a lost connection or a database hiccup stops one run;
        the next run resumes from what the topic and the database say.
        """
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "relay for %s stopped; starting again in %ss",
                    self.topic,
                    retry_after_s,
                )
                await asyncio.sleep(retry_after_s)

    async def run(self) -> None:
        """Publish until cancelled or until the broker or database fails."""
        listener = await self._listen_for_new_events()
        try:
            await self._lead(listener)
            await self._prepare()
            await self._resume()
            last_check = asyncio.get_running_loop().time()
            while True:
                published = await self._publish_batch()
                now = asyncio.get_running_loop().time()
                if now - last_check > self._check_interval:
                    await self._notice_lost_data()
                    last_check = now
                if not published:
                    await self._wait_for_new_events()
        finally:
            await self._close(listener)

    async def _lead(self, listener: asyncpg.Connection) -> None:
        """Wait until this relay is the one that publishes its event store.

        Several processes of one service share its event store; each runs a
        relay, but only the holder of a session advisory lock publishes, so
        the topic does not receive every event once per process. The lock is
        the listener connection's: it is released when the process stops or
        dies, and a standby relay then takes over.
        """
        key = zlib.crc32(self.topic.encode())
        while not await listener.fetchval("SELECT pg_try_advisory_lock($1)", key):
            if not self.standing_by:
                logger.info(
                    "relay for %s stands by: another process publishes", self.topic
                )
            self.standing_by = True
            await asyncio.sleep(1.0)
        self.standing_by = False

    def notify(self) -> None:
        """Wake the relay early: a command in this process saved new events."""
        self._wake.set()

    async def _prepare(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(POSITION_TABLE)
        await ensure_topics(self._bootstrap, [self.topic])
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            enable_idempotence=False,  # the embedded broker refuses InitProducerId
            acks="all",
            linger_ms=0,
        )
        await self._producer.start()

    async def _listen_for_new_events(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(self._database_url)
        channel = self._store.store.recorder.channel_name  # type: ignore[attr-defined]  # Postgres recorder
        await connection.add_listener(channel, lambda *_: self._wake.set())
        return connection

    async def _resume(self) -> None:
        recorded = await self._recorded_position()
        on_topic = await self._position_on_topic()
        if on_topic < recorded:
            logger.warning(
                "topic %s ends at position %s but %s were published: "
                "the broker lost data, republishing from the start",
                self.topic,
                on_topic,
                recorded,
            )
            on_topic = 0
        self.published_position = on_topic
        logger.info("relay for %s resumes after position %s", self.topic, on_topic)

    async def _notice_lost_data(self) -> None:
        on_topic = await self._position_on_topic()
        if on_topic < self.published_position:
            logger.warning(
                "topic %s lost data (ends at %s, published %s): republishing",
                self.topic,
                on_topic,
                self.published_position,
            )
            await ensure_topics(self._bootstrap, [self.topic])
            self.published_position = 0

    async def _publish_batch(self) -> int:
        start = self.published_position
        notifications: Sequence[Notification] = await self._store.run(
            lambda: self._store.store.recorder.select_notifications(
                start=start, limit=BATCH_SIZE, inclusive_of_start=False
            )
        )
        for notification in notifications:
            await self._publish(notification)
        if notifications:
            await self._record_position(self.published_position)
        return len(notifications)

    async def _publish(self, notification: Notification) -> None:
        assert self._producer is not None
        envelope = self._store.store.envelope(notification)
        parent = context_from(
            {
                "traceparent": envelope.traceparent or "",
                "tracestate": envelope.tracestate or "",
            }
        )
        with tracer.start_as_current_span(
            f"publish {self.topic}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": self.topic,
                "messaging.message.id": str(envelope.event_id),
                "prre.event_type": envelope.event_type,
            },
        ):
            await self._producer.send_and_wait(
                self.topic,
                key=envelope.partition_key.encode(),
                value=envelope.to_json(),
                headers=kafka_headers(envelope, notification.id),
            )
        self.published_position = notification.id
        self.published_count += 1

    async def _wait_for_new_events(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=1.0)
        self._wake.clear()

    async def _recorded_position(self) -> int:
        async with self._pool.acquire() as connection:
            position = await connection.fetchval(
                "SELECT position FROM outbox_relay_position WHERE topic = $1",
                self.topic,
            )
        return int(position or 0)

    async def _record_position(self, position: int) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO outbox_relay_position (topic, position) VALUES ($1, $2) "
                "ON CONFLICT (topic) DO UPDATE SET position = EXCLUDED.position, "
                "updated_at = now()",
                self.topic,
                position,
            )

    async def _position_on_topic(self) -> int:
        """The highest log position found at the end of any partition."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False
        )
        await reader.start()
        try:
            partitions = reader.partitions_for_topic(self.topic) or set()
            if not partitions:
                await reader._client.force_metadata_update()
                partitions = reader.partitions_for_topic(self.topic) or set()
            return await _last_positions(reader, self.topic, sorted(partitions))
        finally:
            await stop_reader(reader)

    async def _close(self, listener: asyncpg.Connection) -> None:
        with contextlib.suppress(Exception):
            await listener.close()
        if self._producer is not None:
            await self._producer.stop()


async def _last_positions(
    reader: AIOKafkaConsumer, topic: str, partitions: list[int]
) -> int:
    assigned = [TopicPartition(topic, partition) for partition in partitions]
    if not assigned:
        return 0
    reader.assign(assigned)
    ends = await reader.end_offsets(assigned)
    best = 0
    for partition, end in ends.items():
        if end == 0:
            continue
        reader.seek(partition, end - 1)
        batch = await reader.getmany(partition, timeout_ms=5000)
        for record in batch.get(partition, []):
            headers = dict(record.headers or ())
            best = max(best, int(headers.get(POSITION_HEADER, b"0")))
    return best
