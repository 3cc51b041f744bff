import datetime
import uuid
from typing import Any

import pytest

from prre_contracts import (
    ALL_TOPICS,
    CATALOGUE,
    Actor,
    Event,
    EventEnvelope,
    InvalidEventData,
    UnknownEventType,
    UnknownPublisher,
    event_class,
    event_id_for,
    parse_event,
    topic_for,
)
from prre_contracts.events.assessment import ActionPlanAgreed
from prre_contracts.events.programme import AreaRegistered
from prre_contracts.examples import REFERRAL, all_examples, referral_examples

EXAMPLES = {(type(e).event_type, type(e).schema_version): e for e in all_examples()}
WHEN = datetime.datetime(2025, 9, 15, 9, 30, tzinfo=datetime.UTC)


def envelope_for(event: Event, **overrides: Any) -> EventEnvelope:
    aggregate_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "event_id": event_id_for(event.publisher, aggregate_id, 1),
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "source": event.publisher,
        "area_id": event.area_id,
        "partition_key": event.partition_key(),
        "aggregate_id": aggregate_id,
        "aggregate_version": 1,
        "occurred_at": WHEN,
        "recorded_at": WHEN,
        "actor": Actor(subject="user-1", role="triage-lead"),
        "correlation_id": uuid.uuid4(),
        "data": event.model_dump(mode="json"),
    }
    return EventEnvelope(**(fields | overrides))


def test_every_catalogue_event_has_an_example() -> None:
    assert set(EXAMPLES) == set(CATALOGUE)


@pytest.mark.parametrize("key", sorted(CATALOGUE), ids="{0[0]}.v{0[1]}".format)
def test_event_round_trips_through_an_envelope(key: tuple[str, int]) -> None:
    envelope = envelope_for(EXAMPLES[key])

    received = EventEnvelope.from_json(envelope.to_json())

    assert parse_event(received) == EXAMPLES[key]


def test_programme_events_are_keyed_by_area() -> None:
    event = AreaRegistered(area_id="north-shire", name="North Shire", nation="wales")

    assert event.partition_key() == "north-shire"


def test_case_events_are_keyed_by_referral() -> None:
    keys = {event.partition_key() for event in referral_examples()}

    assert keys == {str(REFERRAL)}


def test_every_event_type_is_past_tense() -> None:
    endings = ("ed", "Withdrawn", "Held", "Due")
    assert [t for t, _ in CATALOGUE if not t.endswith(endings)] == []


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(UnknownEventType, match="ReferralTeleported"):
        event_class("ReferralTeleported", 1)


def test_unknown_version_lists_the_known_ones() -> None:
    with pytest.raises(UnknownEventType, match=r"known versions: \[1\]"):
        event_class("ReferralReceived", 9)


def test_parse_event_rejects_invalid_data() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralReceived", 1)])
    data = envelope.data | {"concerns": []}

    with pytest.raises(InvalidEventData, match="concerns"):
        parse_event(envelope.model_copy(update={"data": data}))


def test_parse_event_rejects_unknown_fields() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralReceived", 1)])
    data = envelope.data | {"child_name": "not allowed"}

    with pytest.raises(InvalidEventData, match="child_name"):
        parse_event(envelope.model_copy(update={"data": data}))


def test_parse_event_rejects_an_envelope_for_another_area() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralClosed", 1)], area_id="elsewhere")

    with pytest.raises(InvalidEventData, match="area"):
        parse_event(envelope)


def test_parse_event_rejects_a_wrong_partition_key() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralClosed", 1)], partition_key="x")

    with pytest.raises(InvalidEventData, match="partition key"):
        parse_event(envelope)


def test_parse_event_rejects_an_unknown_type() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralClosed", 1)], event_type="Nope")

    with pytest.raises(UnknownEventType):
        parse_event(envelope)


def test_each_publisher_has_one_versioned_topic() -> None:
    assert topic_for("review-scheduler") == "prre.review-scheduler.v1"
    assert len(ALL_TOPICS) == 4


def test_projections_have_no_topic() -> None:
    with pytest.raises(UnknownPublisher):
        topic_for("projections")


def test_review_weeks_must_match_review_required() -> None:
    plan = EXAMPLES[("ActionPlanAgreed", 1)].model_dump()

    with pytest.raises(ValueError, match="review_after_weeks"):
        ActionPlanAgreed.model_validate(plan | {"review_after_weeks": None})


def test_review_is_due_within_six_to_twelve_weeks() -> None:
    plan = EXAMPLES[("ActionPlanAgreed", 1)].model_dump()

    with pytest.raises(ValueError, match="less than or equal to 12"):
        ActionPlanAgreed.model_validate(plan | {"review_after_weeks": 13})


def test_invalid_data_is_reported_without_its_values() -> None:
    envelope = envelope_for(EXAMPLES[("ReferralReceived", 1)])
    data = envelope.data | {"child_ref": "", "concerns": "Sensitive words"}

    with pytest.raises(InvalidEventData) as caught:
        parse_event(envelope.model_copy(update={"data": data}))

    assert "Sensitive words" not in str(caught.value)
