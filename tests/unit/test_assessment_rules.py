"""The rules an assessment record follows, from booking to action plan."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from prre_assessment.domain import (
    AssessmentRecord,
    CaseStatus,
    Stakeholder,
    record_id,
)
from prre_assessment.reactions import cancel_pending_work
from prre_contracts import Actor, EventEnvelope
from prre_contracts.events.referral import ConsentWithdrawn
from prre_contracts.events.values import Action
from prre_runtime.clock import FixedClock
from prre_runtime.consumer import Connection
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import (
    AsyncEventStore,
    CommandContext,
    EventStore,
    FactAggregate,
)
from prre_runtime.service import ServiceRuntime

BOOKED_FOR = date(2025, 4, 7)
PEOPLE = [
    Stakeholder("setting-lead", "Sam Lead"),
    Stakeholder("parent-carer", "Pat Carer"),
]
ACTIONS = [
    Action(
        description="Give instructions one step at a time",
        owner_role="setting-lead",
        due_on=date(2025, 5, 1),
    )
]


@pytest.fixture
def clinician() -> CommandContext:
    return CommandContext(
        actor=Actor(subject="slt@example.org", role="clinician"),
        occurred_at=datetime(2025, 4, 1, 9, tzinfo=UTC),
    )


@pytest.fixture
def case() -> CaseStatus:
    """A referral accepted by triage with consent confirmed."""
    return CaseStatus(uuid.uuid4(), "north-vale", "accepted", "confirmed", None)


@pytest.fixture
def record(case: CaseStatus, clinician: CommandContext) -> AssessmentRecord:
    return AssessmentRecord.schedule(
        case, BOOKED_FOR, "Dr Jo Speech", "Hill School", clinician
    )


@pytest.fixture
def completed(
    record: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> AssessmentRecord:
    record.complete(case, BOOKED_FOR, ["Understanding instructions"], clinician)
    return record


@pytest.fixture
def reported(
    completed: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> AssessmentRecord:
    completed.issue_report(
        case, "Findings v1", PEOPLE, date(2025, 4, 14), "Dr Jo Speech", clinician
    )
    return completed


@pytest.fixture
def discussed(
    reported: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> AssessmentRecord:
    reported.hold_feedback_meeting(case, date(2025, 4, 21), PEOPLE, clinician)
    return reported


def facts(aggregate: FactAggregate) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for event in aggregate.pending_events:
        assert isinstance(event, FactAggregate.Opened | FactAggregate.Recorded)
        found.append(event.fact)
    return found


def refused(action: Any, *args: Any) -> str:
    with pytest.raises(RuleBroken) as error:
        action(*args)
    return str(error.value)


def test_an_accepted_consented_referral_can_be_booked(
    record: AssessmentRecord, case: CaseStatus
) -> None:
    [fact] = facts(record)

    assert fact["type"] == "AssessmentScheduled"
    assert fact["data"]["location"] == "Hill School"
    assert record.id == record_id(case.referral_id)
    assert record.booking.status == "booked"


@pytest.mark.parametrize(
    ("triage", "consent", "closed", "expected"),
    [
        ("accepted", "pending", None, "Consent has not been confirmed for this "
         "referral; the assessment can be scheduled once"),
        ("pending", "confirmed", None, "Triage has not accepted this referral "
         "(triage is 'pending')"),
        ("accepted", "withdrawn", "consent-withdrawn", "This referral is closed "
         "(consent-withdrawn)"),
    ],
)  # fmt: skip
def test_booking_waits_for_the_consent_gate(
    case: CaseStatus,
    clinician: CommandContext,
    triage: str,
    consent: str,
    closed: str | None,
    expected: str,
) -> None:
    gated = dataclasses.replace(
        case, triage=triage, consent=consent, closed_reason=closed
    )

    message = refused(
        AssessmentRecord.schedule, gated, BOOKED_FOR, "Jo", None, clinician
    )

    assert message.startswith(expected)


def test_a_second_booking_is_refused_with_a_pointer_to_reschedule(
    record: AssessmentRecord, case: CaseStatus
) -> None:
    message = refused(record.schedule_again, case)

    assert "already scheduled for this referral (for 2025-04-07)" in message
    assert "reschedule it" in message


def test_a_missed_assessment_must_be_rescheduled_before_it_completes(
    record: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    record.record_non_attendance(case, BOOKED_FOR, None, clinician)

    message = refused(record.complete, case, BOOKED_FOR, [], clinician)
    record.reschedule(case, date(2025, 4, 14), "Child was unwell", clinician)
    record.complete(case, date(2025, 4, 14), [], clinician)

    assert message.startswith("The child did not attend the booked assessment")
    assert [entry["what"] for entry in record.booking.history] == [
        "scheduled", "not-attended", "rescheduled", "completed",
    ]  # fmt: skip


def test_a_completed_assessment_cannot_be_rescheduled_or_missed(
    completed: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    moved = refused(completed.reschedule, case, BOOKED_FOR, None, clinician)
    missed = refused(completed.record_non_attendance, case, BOOKED_FOR, None, clinician)

    assert moved.startswith("The assessment has already been completed")
    assert missed.startswith("The assessment was already completed")


def test_a_report_needs_a_completed_assessment(
    record: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    message = refused(
        record.issue_report, case, "Text", PEOPLE, BOOKED_FOR, "Jo", clinician
    )

    assert message.startswith("The assessment has not been completed yet")


def test_the_report_names_roles_in_public_and_keeps_text_and_names_private(
    reported: AssessmentRecord,
) -> None:
    fact = facts(reported)[-1]

    assert fact["data"]["shared_with"] == ["setting-lead", "parent-carer"]
    assert "Pat Carer" not in str(fact["data"])
    assert fact["private"]["text"] == "Findings v1"
    assert fact["private"]["shared_with"][1] == {
        "role": "parent-carer",
        "name": "Pat Carer",
    }


def test_an_amended_report_is_a_new_version_and_the_first_remains(
    reported: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    reported.amend_report(
        case, "Findings v2", "Corrected a date", PEOPLE, date(2025, 4, 15), clinician
    )

    first, second = reported.report(1), reported.report(2)
    assert first is not None
    assert first.text == "Findings v1"
    assert second is not None
    assert (second.text, second.reason) == (
        "Findings v2",
        "Corrected a date",
    )
    assert facts(reported)[-1]["data"]["version"] == 2
    assert reported.report(3) is None


def test_a_report_is_issued_once_then_amended(
    reported: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    message = refused(
        reported.issue_report, case, "Again", PEOPLE, BOOKED_FOR, "Jo", clinician
    )

    assert message.startswith("A report has already been issued")


def test_a_feedback_meeting_needs_an_issued_report(
    completed: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    message = refused(
        completed.hold_feedback_meeting, case, BOOKED_FOR, PEOPLE, clinician
    )

    assert message.startswith("No report has been issued yet")


def test_an_action_plan_needs_a_feedback_meeting(
    reported: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    message = refused(
        reported.agree_action_plan, case, ACTIONS, 8, BOOKED_FOR, 0, clinician
    )

    assert message.startswith("No feedback meeting has been recorded yet")


@pytest.mark.parametrize("weeks", [5, 13, 14])
def test_a_review_outside_six_to_twelve_weeks_is_refused(
    discussed: AssessmentRecord,
    case: CaseStatus,
    clinician: CommandContext,
    weeks: int,
) -> None:
    message = refused(
        discussed.agree_action_plan, case, ACTIONS, weeks, BOOKED_FOR, 0, clinician
    )

    assert message == (
        "A follow-up review must be between 6 and 12 weeks after the feedback "
        f"meeting; {weeks} weeks is outside that window."
    )


def test_the_plan_names_its_feedback_meeting_and_review_timing(
    discussed: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    discussed.agree_action_plan(case, ACTIONS, 8, date(2025, 4, 21), 0, clinician)

    data = facts(discussed)[-1]["data"]
    assert data["review_required"] is True
    assert data["review_after_weeks"] == 8
    assert data["feedback_meeting_on"] == "2025-04-21"


def test_a_second_plan_waits_for_a_review_deciding_on_further_support(
    discussed: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    discussed.agree_action_plan(case, ACTIONS, 8, date(2025, 4, 21), 0, clinician)

    message = refused(
        discussed.agree_action_plan, case, ACTIONS, None, BOOKED_FOR, 0, clinician
    )
    discussed.agree_action_plan(case, ACTIONS, None, date(2025, 6, 20), 1, clinician)

    assert message.startswith("An action plan has already been agreed")
    assert len(discussed.plans) == 2


def test_a_stopped_case_cancels_its_booking_once(
    record: AssessmentRecord, case: CaseStatus, clinician: CommandContext
) -> None:
    first = record.cancel("consent-withdrawn", date(2025, 4, 2), clinician)
    second = record.cancel("consent-withdrawn", date(2025, 4, 2), clinician)

    assert (first, second) == (True, False)
    assert facts(record)[-1]["data"]["reason"] == "consent-withdrawn"
    message = refused(record.reschedule, case, BOOKED_FOR, None, clinician)
    assert message.startswith("This referral is closed (consent-withdrawn)")


def test_a_completed_assessment_has_nothing_to_cancel(
    completed: AssessmentRecord, clinician: CommandContext
) -> None:
    assert not completed.cancel("consent-withdrawn", BOOKED_FOR, clinician)


def test_the_record_is_rebuilt_with_its_reports_from_an_encrypted_store(
    discussed: AssessmentRecord,
) -> None:
    store = EventStore(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
            "CIPHER_KEY": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
        }
    )
    store.save(discussed)

    again: object = store.repository.get(discussed.id)

    assert isinstance(again, AssessmentRecord)
    assert again.report(1) == discussed.report(1)
    assert again.meetings[0]["attendees"] == tuple(PEOPLE)
    stored = store.recorder.select_notifications(start=1, limit=10)
    assert all(b"Findings" not in item.state for item in stored)


class ReactingService:
    """Just enough of a service runtime for the closure reaction: a store."""

    def __init__(self, store: EventStore) -> None:
        self.store = AsyncEventStore(store, threads=1)
        self.clock = FixedClock(datetime(2025, 4, 2, 9, tzinfo=UTC))
        self.saves = 0

    def reaction_context(self, cause: EventEnvelope) -> CommandContext:
        return CommandContext(
            actor=Actor(subject="service:assessment", role="system"),
            occurred_at=cause.occurred_at,
            causation_id=cause.event_id,
        )

    def events_saved(self) -> None:
        self.saves += 1


def withdrawal(case: CaseStatus) -> tuple[EventEnvelope, ConsentWithdrawn]:
    event = ConsentWithdrawn(
        area_id=case.area_id,
        referral_id=case.referral_id,
        withdrawn_by="parent",
        withdrawn_on=date(2025, 4, 2),
    )
    moment = datetime(2025, 4, 2, 9, tzinfo=UTC)
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        source=event.publisher,
        area_id=event.area_id,
        partition_key=event.partition_key(),
        aggregate_id=case.referral_id,
        aggregate_version=3,
        occurred_at=moment,
        recorded_at=moment,
        actor=Actor(subject="referrer@example.org", role="referrer"),
        correlation_id=uuid.uuid4(),
        data=event.model_dump(mode="json"),
    )
    return envelope, event


async def test_a_redelivered_withdrawal_cancels_the_booking_once(
    record: AssessmentRecord, case: CaseStatus
) -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    store.save(record)
    service = ReactingService(store)
    handle = cancel_pending_work(lambda: cast(ServiceRuntime, service))
    envelope, event = withdrawal(case)

    for _ in range(2):
        await handle(envelope, event, cast(Connection, None))

    again: object = store.repository.get(record.id)
    assert isinstance(again, AssessmentRecord)
    assert again.booking.status == "cancelled"
    assert again.cancelled_reason == "consent-withdrawn"
    assert again.has_handled(envelope.event_id)
    assert (again.version, service.saves) == (2, 1)


async def test_a_withdrawal_with_nothing_booked_records_nothing(
    case: CaseStatus,
) -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    service = ReactingService(store)
    handle = cancel_pending_work(lambda: cast(ServiceRuntime, service))
    envelope, event = withdrawal(case)

    await handle(envelope, event, cast(Connection, None))

    assert service.saves == 0
    assert store.recorder.max_notification_id() in (None, 0)
