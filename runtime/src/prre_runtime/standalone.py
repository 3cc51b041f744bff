"""A relay run on its own process (``prre relay``), outside its service."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from prre_contracts import topic_for
from prre_runtime.eventstore import AsyncEventStore, EventStore
from prre_runtime.relay import OutboxRelay

logger = logging.getLogger(__name__)


async def run_relay(
    database_url: str,
    bootstrap_servers: str,
    service: str,
    topic: str | None,
    cipher_key: str | None,
    check_interval_s: float,
) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    store = await asyncio.to_thread(
        EventStore.for_database, database_url, name=service, cipher_key=cipher_key
    )
    events = AsyncEventStore(store, threads=2)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    relay = OutboxRelay(
        events, pool, database_url, bootstrap_servers, topic or topic_for(service)
    )
    try:
        await relay.run_forever()
    finally:
        await pool.close()
        events.close()
