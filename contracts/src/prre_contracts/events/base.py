"""The base class of every event in the catalogue.

An event is a fact that has happened, named in the past tense. Its class
variables describe it to the platform rather than to the reader of one
occurrence: the type name and schema version that go in the envelope, the
service that publishes it, and the field whose value becomes the Kafka key.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from prre_contracts.events.values import Label, Publisher


class Event(BaseModel):
    """A past-tense fact, published by exactly one service.

    A concrete subclass takes its ``event_type`` from its class name unless it
    sets one (a second schema version needs a class of its own, say
    ``ReferralReceivedV2``, with ``event_type = "ReferralReceived"``).
    Intermediate bases are declared with ``abstract=True`` and stay out of the
    catalogue.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    publisher: ClassVar[Publisher]
    key_field: ClassVar[str] = "referral_id"

    is_abstract: ClassVar[bool] = True

    area_id: Label

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.is_abstract = abstract
        if not abstract and "event_type" not in vars(cls):
            cls.event_type = cls.__name__

    def partition_key(self) -> str:
        """The Kafka message key, which keeps one case's events in order."""
        return str(getattr(self, self.key_field))


class ProgrammeEvent(Event, abstract=True):
    """A fact about how an area runs the programme, keyed by the area."""

    publisher: ClassVar[Publisher] = "referral"
    key_field: ClassVar[str] = "area_id"


class CaseEvent(Event, abstract=True):
    """A fact about one referral (a case), keyed by the referral id."""

    referral_id: uuid.UUID
