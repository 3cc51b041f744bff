"""Small Kafka helpers shared by the relay, the consumers and the launcher."""

from __future__ import annotations

import logging
from collections.abc import Iterable

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
