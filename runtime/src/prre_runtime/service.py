"""One service process: its database pool, event store, relay and consumer.

Every service is composed the same way; a service module supplies its name,
its HTTP routes, and (if it reacts to other services' events) a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from prre_contracts import Actor, EventEnvelope, topic_for
from prre_runtime.clock import Clock, clock_for
from prre_runtime.consumer import Handler, IdempotentConsumer
from prre_runtime.eventstore import AsyncEventStore, CommandContext, EventStore
from prre_runtime.identity import Principal
from prre_runtime.relay import OutboxRelay
from prre_runtime.settings import ServiceSettings
from prre_runtime.tracing import current_trace_headers

logger = logging.getLogger(__name__)


class ServiceRuntime:
    """The plumbing of one service, started and stopped with its HTTP app."""

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        clock: Clock | None = None,
        publishes: bool = True,
        consumes: Sequence[str] = (),
        handler: Handler | None = None,
        cipher_key: str | None = None,
        before_consuming: Callable[[asyncpg.Pool], Awaitable[None]] | None = None,
        tasks: Sequence[Callable[[ServiceRuntime], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.clock = clock or clock_for(settings.clock_file)
        self._publishes = publishes
        self._consumes = list(consumes)
        self._handler = handler
        self._cipher_key = cipher_key
        self._before_consuming = before_consuming
        self._pool: asyncpg.Pool | None = None
        self._store: AsyncEventStore | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: IdempotentConsumer | None = None
        self._broker: KafkaBroker | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._task_makers = list(tasks)
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = False

    @property
    def database_url(self) -> str:
        return self.settings.database_url.get_secret_value()

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the service has not started"
        return self._pool

    @property
    def store(self) -> AsyncEventStore:
        assert self._store is not None, "this service keeps no event store"
        return self._store

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.database_url, min_size=1, max_size=8
        )
        if self._publishes:
            await self._start_store_and_relay()
        if self._consumes:
            await self._start_consumer()
        self._tasks = [asyncio.create_task(make(self)) for make in self._task_makers]
        self.ready = True
        logger.info("service %s is ready", self.name)

    async def _start_store_and_relay(self) -> None:
        store = await asyncio.to_thread(
            EventStore.for_database,
            self.database_url,
            name=self.name,
            cipher_key=self._cipher_key,
        )
        self._store = AsyncEventStore(store, self.settings.store_threads)
        self.relay = OutboxRelay(
            self._store,
            self.pool,
            self.database_url,
            self.settings.kafka_bootstrap_servers,
            topic_for(self.name),
            self.settings.relay_check_interval_s,
        )
        self._relay_task = asyncio.create_task(self.relay.run_forever(), name="relay")

    async def _start_consumer(self) -> None:
        assert self._handler is not None, "a consuming service needs a handler"
        self._broker = KafkaBroker(
            self.settings.kafka_bootstrap_servers, enable_idempotence=False
        )
        self.consumer = IdempotentConsumer(
            self.name,
            self._consumes,
            self._handler,
            self.pool,
            self._broker,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            max_attempts=self.settings.consumer_max_attempts,
        )
        await self.consumer.prepare()
        if self._before_consuming is not None:
            await self._before_consuming(self.pool)
        await self._broker.start()

    async def stop(self) -> None:
        self.ready = False
        for task in [*self._tasks, self._relay_task]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._broker is not None:
            await self._broker.stop()
        if self._store is not None:
            self._store.close()
        if self._pool is not None:
            await self._pool.close()

    def command_context(
        self,
        principal: Principal,
        occurred_at: datetime | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> CommandContext:
        """The context recorded with the events of a command sent by ``principal``."""
        return CommandContext(
            actor=principal.actor,
            occurred_at=occurred_at or self.clock.now(),
            correlation_id=correlation_id or uuid.uuid4(),
            trace=current_trace_headers(),
        )

    def reaction_context(self, cause: EventEnvelope) -> CommandContext:
        """The context of facts this service records in reaction to ``cause``.

        The actor is the service itself; the facts happened when the cause
        did, belong to its correlation, and name it as their causation, which
        is how :meth:`FactAggregate.has_handled` recognises a redelivery.
        """
        return CommandContext(
            actor=Actor(subject=f"service:{self.name}", role="system"),
            occurred_at=cause.occurred_at,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            trace=current_trace_headers(),
        )

    def events_saved(self) -> None:
        """Tell the relay new events are waiting, so it need not wait for NOTIFY."""
        if self.relay is not None:
            self.relay.notify()


def configure_logging(service: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
