"""PRRE contracts: the envelope, the event catalogue and its errors.

Event classes live in ``prre_contracts.events.<publisher>``; this package
exposes what every producer and consumer needs to look them up.
"""

from prre_contracts.catalogue import (
    ALL_TOPICS,
    CATALOGUE,
    event_class,
    parse_event,
    topic_for,
)
from prre_contracts.envelope import Actor, EventEnvelope, event_id_for
from prre_contracts.errors import (
    BreakingSchemaChange,
    ContractError,
    InvalidEventData,
    UnknownEventType,
    UnknownPublisher,
)
from prre_contracts.events.base import Event

__all__ = [
    "ALL_TOPICS",
    "CATALOGUE",
    "Actor",
    "BreakingSchemaChange",
    "ContractError",
    "Event",
    "EventEnvelope",
    "InvalidEventData",
    "UnknownEventType",
    "UnknownPublisher",
    "event_class",
    "event_id_for",
    "parse_event",
    "topic_for",
]
