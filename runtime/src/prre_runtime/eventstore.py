"""The write side: aggregates whose every change is one catalogue event.

Each service keeps its own event store (the ``eventsourcing`` library on
PostgreSQL, in the service's own database). An aggregate records *facts*: a
public event from the contracts catalogue together with the context of the
command that caused it (actor, when it happened, correlation and trace ids) and,
for the referral service only, private details such as the child's personal
data, which never leave the service. The relay publishes the public part.

The library is synchronous; :class:`AsyncEventStore` runs it on a bounded
thread pool so the asyncio loop that serves HTTP never blocks on it.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification

from prre_contracts import Actor, Event, EventEnvelope, event_class, event_id_for
from prre_runtime.errors import ConcurrentChange, NotFound
from prre_runtime.settings import postgres_parts

T = TypeVar("T")


@dataclass(frozen=True)
class CommandContext:
    """Facts about the command being handled, recorded with every event it causes."""

    actor: Actor
    occurred_at: datetime
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    trace: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.model_dump(),
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": str(self.correlation_id),
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "traceparent": self.trace.get("traceparent"),
            "tracestate": self.trace.get("tracestate"),
        }


def make_fact(
    event: Event, context: CommandContext, private: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "type": event.event_type,
        "schema": event.schema_version,
        "publisher": event.publisher,
        "data": event.model_dump(mode="json"),
        "private": dict(private or {}),
        "context": context.as_dict(),
    }


def event_of(fact: Mapping[str, Any]) -> Event:
    """The catalogue event held in a stored fact."""
    return event_class(fact["type"], fact["schema"]).model_validate(fact["data"])


class FactAggregate(Aggregate):
    """Base of every PRRE aggregate.

    Subclasses change state only in :meth:`when`, which receives each catalogue
    event (and the private details stored with it) both when it is first
    recorded and when the aggregate is rebuilt from its history.
    """

    class Opened(Aggregate.Created):
        fact: dict[str, Any]

    class Recorded(Aggregate.Event):
        fact: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, FactAggregate)
            aggregate.apply_fact(self.fact)

    def __init__(self, fact: dict[str, Any]) -> None:
        self.handled_events: set[str] = set()
        self.apply_fact(fact)

    def apply_fact(self, fact: Mapping[str, Any]) -> None:
        """Note which event caused the fact, then let the aggregate apply it."""
        cause = fact["context"].get("causation_id")
        if cause:
            self.handled_events.add(cause)
        self.when(event_of(fact), fact["private"])

    def has_handled(self, event_id: uuid.UUID) -> bool:
        """Whether a fact caused by ``event_id`` is already recorded here.

        A consumer that reacts to another service's event by recording facts
        on an aggregate checks this first: the facts and the note that the
        event was handled are saved in one transaction, so a redelivered event
        changes nothing.
        """
        return str(event_id) in self.handled_events

    @classmethod
    def open(
        cls,
        aggregate_id: uuid.UUID,
        event: Event,
        context: CommandContext,
        private: Mapping[str, Any] | None = None,
    ) -> Self:
        return cls._create(
            cls.Opened, id=aggregate_id, fact=make_fact(event, context, private)
        )

    def record(
        self,
        event: Event,
        context: CommandContext,
        private: Mapping[str, Any] | None = None,
    ) -> None:
        self.trigger_event(self.Recorded, fact=make_fact(event, context, private))

    @abstractmethod
    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        """Apply one event to the aggregate's state (each aggregate's own rules)."""


class EventStore(Application[uuid.UUID]):
    """A service's event store; its notification log is the service's outbox."""

    is_snapshotting_enabled = False
    source: ClassVar[str] = "unnamed"

    @classmethod
    def for_database(
        cls, database_url: str, *, name: str, cipher_key: str | None = None
    ) -> EventStore:
        """An event store in the database at ``database_url``, tables ``<name>_*``."""
        attributes = {"name": name.replace("-", "_"), "source": name}
        store_class: type[EventStore] = type(
            f"{name.title().replace('-', '')}Store", (cls,), attributes
        )
        return store_class(env=_library_environment(database_url, cipher_key))

    def envelope(self, notification: Notification) -> EventEnvelope:
        """The public envelope of one stored event."""
        stored = self.mapper.to_domain_event(notification)
        assert isinstance(stored, FactAggregate.Opened | FactAggregate.Recorded)
        fact = stored.fact
        context = fact["context"]
        data = fact["data"]
        aggregate_id = uuid.UUID(str(stored.originator_id))
        event = event_of(fact)
        return EventEnvelope(
            event_id=event_id_for(self.source, aggregate_id, stored.originator_version),
            event_type=fact["type"],
            schema_version=fact["schema"],
            source=self.source,
            area_id=data["area_id"],
            partition_key=event.partition_key(),
            aggregate_id=aggregate_id,
            aggregate_version=stored.originator_version,
            occurred_at=context["occurred_at"],
            recorded_at=stored.timestamp,
            actor=context["actor"],
            correlation_id=context["correlation_id"],
            causation_id=context["causation_id"],
            traceparent=context["traceparent"],
            tracestate=context["tracestate"],
            data=data,
        )


def _library_environment(database_url: str, cipher_key: str | None) -> dict[str, str]:
    parts = postgres_parts(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts["dbname"],
        "POSTGRES_HOST": parts["host"],
        "POSTGRES_PORT": parts["port"],
        "POSTGRES_USER": parts["user"],
        "POSTGRES_PASSWORD": parts["password"],
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_LOCK_TIMEOUT": "5",
        "CREATE_TABLE": "y",
    }
    if cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = cipher_key
    return env


A = TypeVar("A", bound=FactAggregate)


class AsyncEventStore:
    """Runs the synchronous event store on a bounded pool of threads."""

    def __init__(self, store: EventStore, threads: int) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store")

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def get(self, aggregate_id: uuid.UUID, kind: type[A], what: str) -> A:
        """The aggregate with ``aggregate_id``, or ``NotFound`` naming ``what``."""
        return await self.run(lambda: load(self.store, aggregate_id, kind, what))

    async def save(self, *aggregates: FactAggregate) -> None:
        await self.run(lambda: save(self.store, *aggregates))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()


def load(store: EventStore, aggregate_id: uuid.UUID, kind: type[A], what: str) -> A:
    try:
        aggregate: object = store.repository.get(aggregate_id)
    except AggregateNotFoundError as error:
        raise NotFound(f"No {what} with id {aggregate_id}.") from error
    if not isinstance(aggregate, kind):
        raise NotFound(f"No {what} with id {aggregate_id}.")
    return aggregate


def save(store: EventStore, *aggregates: FactAggregate) -> None:
    """Save new events; a clash with a concurrent change becomes a 409."""
    try:
        store.save(*aggregates)
    except IntegrityError as error:
        raise ConcurrentChange(
            "Someone else changed this record at the same moment; "
            "reload it and try again."
        ) from error
