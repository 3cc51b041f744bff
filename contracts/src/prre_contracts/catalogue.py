"""The event catalogue: every public event, looked up by type and version.

The catalogue is the single source of truth for what may travel on the PRRE
topics. A consumer reads the type and schema version from the envelope, finds
the class here and validates the data against it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import get_args

from pydantic import ValidationError

from prre_contracts.envelope import EventEnvelope
from prre_contracts.errors import InvalidEventData, UnknownEventType, UnknownPublisher
from prre_contracts.events import assessment, programme, referral, review, triage
from prre_contracts.events.base import Event
from prre_contracts.events.values import Publisher

EVENT_MODULES = (programme, referral, triage, assessment, review)

PUBLISHERS: tuple[Publisher, ...] = get_args(Publisher)


def _subclasses(cls: type[Event]) -> Iterator[type[Event]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _catalogued(cls: type[Event]) -> bool:
    modules = {module.__name__ for module in EVENT_MODULES}
    return not cls.is_abstract and cls.__module__ in modules


def _build() -> Mapping[tuple[str, int], type[Event]]:
    entries: dict[tuple[str, int], type[Event]] = {}
    for cls in filter(_catalogued, _subclasses(Event)):
        key = (cls.event_type, cls.schema_version)
        if key in entries:
            msg = f"{key[0]} v{key[1]} is defined twice: {entries[key]} and {cls}"
            raise TypeError(msg)
        entries[key] = cls
    return MappingProxyType(dict(sorted(entries.items())))


CATALOGUE: Mapping[tuple[str, int], type[Event]] = _build()


def event_class(event_type: str, schema_version: int) -> type[Event]:
    """The class of ``event_type`` at ``schema_version``."""
    try:
        return CATALOGUE[(event_type, schema_version)]
    except KeyError:
        known = sorted(v for t, v in CATALOGUE if t == event_type)
        hint = f"known versions: {known}" if known else "no such event type"
        msg = f"unknown event {event_type!r} v{schema_version} ({hint})"
        raise UnknownEventType(msg) from None


def parse_event(envelope: EventEnvelope) -> Event:
    """Validate an envelope's data as the event its header names.

    Also checks that the envelope's area and partition key agree with the
    event, so a message can't be filed under one case and describe another.
    """
    cls = event_class(envelope.event_type, envelope.schema_version)
    try:
        event = cls.model_validate(envelope.data)
    except ValidationError as err:
        msg = f"{cls.event_type} v{cls.schema_version}: {_reasons(err)}"
        raise InvalidEventData(msg) from err
    _check_header(envelope, event)
    return event


def _reasons(err: ValidationError) -> str:
    """Where and why validation failed, without echoing the (possibly
    personal) values that failed it."""
    parts = []
    for error in err.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "data"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _check_header(envelope: EventEnvelope, event: Event) -> None:
    if envelope.area_id != event.area_id:
        msg = f"envelope area {envelope.area_id!r} != data area {event.area_id!r}"
        raise InvalidEventData(msg)
    if envelope.partition_key != event.partition_key():
        msg = (
            f"envelope partition key {envelope.partition_key!r} != "
            f"{event.key_field} {event.partition_key()!r}"
        )
        raise InvalidEventData(msg)


def topic_for(publisher: str) -> str:
    """The Kafka topic a service publishes to."""
    if publisher not in PUBLISHERS:
        msg = f"{publisher!r} publishes no events; publishers are {PUBLISHERS}"
        raise UnknownPublisher(msg)
    return f"prre.{publisher}.v1"


ALL_TOPICS: tuple[str, ...] = tuple(topic_for(p) for p in PUBLISHERS)
