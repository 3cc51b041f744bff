"""Small Kafka helpers shared by the relay, the consumers and the launcher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from prre_contracts import ALL_TOPICS

logger = logging.getLogger(__name__)

SERVICE_TOPIC_PARTITIONS = 3
CONSUMING_SERVICES = (
    "referral",
    "triage",
    "assessment",
    "review-scheduler",
    "projections",
)


def dead_letter_topic(service: str) -> str:
    """Where a consuming service puts messages it could not process."""
    return f"prre.deadletter.{service}.v1"


def every_topic() -> list[str]:
    return [*ALL_TOPICS, *(dead_letter_topic(name) for name in CONSUMING_SERVICES)]


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int = SERVICE_TOPIC_PARTITIONS,
) -> None:
    """Create each topic that does not exist yet; existing ones are left alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if missing:
            new = [
                NewTopic(name, _partitions_for(name, partitions), 1) for name in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                logger.info("topics %s were created concurrently", missing)
            logger.info("created topics %s", missing)
    finally:
        await admin.close()


def _partitions_for(topic: str, partitions: int) -> int:
    return 1 if topic.startswith("prre.deadletter.") else partitions


async def stop_reader(reader: AIOKafkaConsumer) -> None:
    """Stop a short-lived consumer.

    aiokafka cancels its own committed-offsets task when a consumer without a
    group stops soon after starting, and the cancellation escapes ``stop()``.
    """
    try:
        await reader.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        logger.debug("ignored aiokafka's internal cancellation while stopping")


async def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """The end offset of every partition of ``topic`` (empty if it does not exist)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        if not partitions:
            return {}
        ends = await reader.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {partition.partition: offset for partition, offset in ends.items()}
    finally:
        await stop_reader(reader)
