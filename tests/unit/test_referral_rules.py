"""The rules a referral follows from receipt to closure."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from prre_contracts import Actor, Event, EventEnvelope
from prre_contracts.events.assessment import ActionPlanAgreed
from prre_contracts.events.review import ReviewCompleted
from prre_contracts.events.values import Action, Baseline
from prre_referral.domain import ChildDetails, Referral, child_reference
from prre_referral.programme import Area
from prre_referral.reactions import ReferralReactions
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import (
    AsyncEventStore,
    CommandContext,
    EventStore,
    FactAggregate,
)

PII_KEY = b"k" * 32
BASELINE = Baseline(
    attendance_percent=82.5, suspensions_this_year=2, exclusion_status="at-risk"
)


def recorded_facts(aggregate: FactAggregate) -> list[dict[str, Any]]:
    """The facts an aggregate has recorded and not yet saved, oldest first."""
    facts: list[dict[str, Any]] = []
    for event in aggregate.pending_events:
        assert isinstance(event, FactAggregate.Opened | FactAggregate.Recorded)
        facts.append(event.fact)
    return facts


def memory_store(**env: str) -> EventStore:
    """An event store kept in memory, as the service keeps one in PostgreSQL."""
    return EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo", **env})


def state(referral: Referral) -> dict[str, Any]:
    """What the service knows about a referral, without bookkeeping."""
    return {k: v for k, v in vars(referral).items() if k != "_pending_events"}


def test_a_received_referral_records_the_criteria_version_in_force(
    area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    area.define_criteria(["Revised"], date(2025, 3, 5), context)

    referral = refer(area)

    assert referral.criteria_version == 2
    assert recorded_facts(referral)[0]["data"]["criteria_version"] == 2


def test_a_received_referral_is_open_and_awaits_consent(referral: Referral) -> None:
    assert (referral.stage, referral.consent) == ("open", "pending")
    assert referral.setting_id == "hill-school"
    assert referral.referred_on == date(2025, 3, 10)


def test_the_public_event_names_the_child_only_by_reference(
    referral: Referral, child: ChildDetails
) -> None:
    [fact] = recorded_facts(referral)

    assert fact["type"] == "ReferralReceived"
    assert fact["data"]["child_ref"] == "CH-TESTREF"
    public = repr(fact["data"])
    for personal in ("Robin", "Example", "2013-05-17", "A123456789012"):
        assert personal not in public
    assert fact["private"] == child.as_private()


def test_the_published_envelope_carries_no_personal_data(referral: Referral) -> None:
    store = memory_store()
    store.save(referral)

    [notification] = store.recorder.select_notifications(start=1, limit=10)
    envelope = store.envelope(notification)

    assert envelope.data["child_ref"] == "CH-TESTREF"
    body = envelope.to_json().decode()
    for personal in ("Robin", "Example", "2013-05-17", "1 Test Street", "07700"):
        assert personal not in body


def test_the_child_is_stored_encrypted_when_a_cipher_key_is_set(
    referral: Referral, child: ChildDetails
) -> None:
    key = base64.b64encode(PII_KEY).decode()
    store = memory_store(
        CIPHER_TOPIC="eventsourcing.cryptography:AESCipher", CIPHER_KEY=key
    )
    store.save(referral)

    [notification] = store.recorder.select_notifications(start=1, limit=10)
    rebuilt: object = store.repository.get(referral.id)

    assert b"Robin" not in notification.state
    assert isinstance(rebuilt, Referral)
    assert rebuilt.child == child


def test_consent_is_confirmed_once_only(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)

    with pytest.raises(RuleBroken, match="already confirmed"):
        referral.confirm_consent("carer", date(2025, 3, 13), context)

    assert referral.consent == "confirmed"


def test_refusing_consent_closes_the_case(
    referral: Referral, context: CommandContext
) -> None:
    referral.refuse_consent("parent", date(2025, 3, 12), "Not now", context)

    types = [f["type"] for f in recorded_facts(referral)]
    assert types[-2:] == ["ConsentRefused", "ReferralClosed"]
    assert recorded_facts(referral)[-1]["data"]["reason"] == "consent-refused"
    assert (referral.stage, referral.closed_reason) == ("closed", "consent-refused")


def test_consent_already_confirmed_cannot_be_refused(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)

    with pytest.raises(RuleBroken, match="withdrawn instead"):
        referral.refuse_consent("parent", date(2025, 3, 14), None, context)


def test_withdrawing_consent_needs_consent_confirmed_first(
    referral: Referral, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken, match="has not been confirmed") as refused:
        referral.withdraw_consent("parent", date(2025, 3, 12), None, context)

    assert "refused instead" in str(refused.value)
    assert referral.stage == "open"


def test_withdrawing_confirmed_consent_closes_the_case(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("young-person", date(2025, 3, 12), context)

    referral.withdraw_consent("young-person", date(2025, 4, 2), "Moved", context)

    closed = recorded_facts(referral)[-1]
    assert closed["type"] == "ReferralClosed"
    assert closed["data"]["reason"] == "consent-withdrawn"
    assert closed["data"]["closed_on"] == "2025-04-02"
    assert (referral.consent, referral.closed_reason) == (
        "withdrawn",
        "consent-withdrawn",
    )


@pytest.mark.parametrize(
    "command",
    [
        lambda r, c: r.confirm_consent("parent", date(2025, 5, 1), c),
        lambda r, c: r.refuse_consent("parent", date(2025, 5, 1), None, c),
        lambda r, c: r.withdraw_consent("parent", date(2025, 5, 1), None, c),
    ],
    ids=["confirm", "refuse", "withdraw"],
)
def test_nothing_can_be_recorded_on_a_closed_referral(
    referral: Referral,
    context: CommandContext,
    command: Callable[[Referral, CommandContext], None],
) -> None:
    referral.refuse_consent("carer", date(2025, 3, 12), None, context)
    recorded = len(referral.pending_events)

    with pytest.raises(RuleBroken, match="closed \\(consent-refused\\)") as refused:
        command(referral, context)

    assert "Make a new referral" in str(refused.value)
    assert len(referral.pending_events) == recorded


def test_a_referral_rebuilt_from_its_events_equals_the_original(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)
    referral.withdraw_consent("parent", date(2025, 4, 2), None, context)
    store = memory_store()
    store.save(referral)

    rebuilt: object = store.repository.get(referral.id)

    assert isinstance(rebuilt, Referral)
    assert state(rebuilt) == state(referral)


def test_a_referral_replayed_event_by_event_equals_the_original(
    referral: Referral, context: CommandContext
) -> None:
    referral.confirm_consent("parent", date(2025, 3, 12), context)
    first, *rest = referral.collect_events()

    rebuilt = first.mutate(None)
    for event in rest:
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, Referral)
    assert state(rebuilt) == state(referral)


def test_the_child_reference_is_stable_for_one_child_in_one_area(
    child: ChildDetails,
) -> None:
    again = dataclasses.replace(child, address="2 Other Road")

    assert child_reference(PII_KEY, "north-vale", child) == child_reference(
        PII_KEY, "north-vale", again
    )


def test_the_child_reference_ignores_case_and_spaces_in_the_name(
    child: ChildDetails,
) -> None:
    without_upn = dataclasses.replace(child, upn=None)
    typed_loosely = dataclasses.replace(
        without_upn, given_name=" robin ", family_name="EXAMPLE"
    )

    assert child_reference(PII_KEY, "north-vale", without_upn) == child_reference(
        PII_KEY, "north-vale", typed_loosely
    )


def test_the_child_reference_differs_across_areas(child: ChildDetails) -> None:
    assert child_reference(PII_KEY, "north-vale", child) != child_reference(
        PII_KEY, "south-vale", child
    )


def test_the_child_reference_differs_with_another_key(child: ChildDetails) -> None:
    assert child_reference(PII_KEY, "north-vale", child) != child_reference(
        b"x" * 32, "north-vale", child
    )


def test_the_child_reference_does_not_reveal_the_child(child: ChildDetails) -> None:
    reference = child_reference(
        PII_KEY, "north-vale", dataclasses.replace(child, upn=None)
    )

    assert reference.startswith("CH-")
    for personal in ("robin", "example", "2013"):
        assert personal not in reference.lower()


# The referrer's side of triage, withdrawal and closure ---------------------

REQUEST = uuid.UUID("9d6a2f0e-58c1-4f3b-8a27-5e1d0c4b7a36")
TRIAGE_EVENT = uuid.UUID("1f4e7a2b-6c3d-4e5f-8a9b-0c1d2e3f4a5b")


def reaction(context: CommandContext, cause: uuid.UUID) -> CommandContext:
    """The context of a fact the service records in reaction to event ``cause``."""
    return dataclasses.replace(context, causation_id=cause)


def test_a_referral_records_the_criteria_it_says_it_meets(
    area: Area, child: ChildDetails, context: CommandContext
) -> None:
    referral = Referral.receive(
        area, "hill-school", child, "CH-TESTREF", ["Concern"], BASELINE,
        date(2025, 3, 10), 8, context, None, [" at risk of EXCLUSION"],
    )  # fmt: skip

    assert recorded_facts(referral)[0]["data"]["criteria_met"] == [
        " at risk of EXCLUSION"
    ]


def test_a_referral_naming_a_criterion_the_area_never_wrote_is_refused(
    area: Area, child: ChildDetails, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        Referral.receive(
            area, "hill-school", child, "CH-TESTREF", ["Concern"], BASELINE,
            date(2025, 3, 10), 8, context, None, ["Lives nearby"],
        )  # fmt: skip

    assert str(refused.value) == (
        "The referral names criteria that are not in version 1 of the area's "
        "referral criteria: Lives nearby. Quote the criteria as the area wrote them."
    )


def test_answers_are_refused_until_triage_asks(
    referral: Referral, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        referral.provide_more_information(
            None, ["Yes"], [], None, date(2025, 3, 12), context
        )

    assert "has not asked for more information" in str(refused.value)


def test_answers_add_concerns_and_replace_the_baseline_once_only(
    referral: Referral, context: CommandContext
) -> None:
    newer = Baseline(
        attendance_percent=70, suspensions_this_year=3, exclusion_status="suspended"
    )

    referral.provide_more_information(
        REQUEST, ["Hearing test clear"], ["Withdrawn in class"], newer,
        date(2025, 3, 12), context,
    )  # fmt: skip

    assert referral.concerns[-1] == "Withdrawn in class"
    assert referral.baseline == newer
    assert recorded_facts(referral)[-1]["data"]["request_id"] == str(REQUEST)
    with pytest.raises(RuleBroken, match="already answered"):
        referral.provide_more_information(
            REQUEST, ["Again"], [], None, date(2025, 3, 13), context
        )


def test_withdrawing_a_referral_closes_it(
    referral: Referral, context: CommandContext
) -> None:
    referral.withdraw(date(2025, 3, 14), "Family moved away", context)

    types = [f["type"] for f in recorded_facts(referral)]
    assert types[-2:] == ["ReferralWithdrawn", "ReferralClosed"]
    assert referral.closed_reason == "withdrawn-by-referrer"
    assert referral.closed_on == date(2025, 3, 14)
    with pytest.raises(RuleBroken, match="closed \\(withdrawn-by-referrer\\)"):
        referral.withdraw(date(2025, 3, 15), None, context)


def test_a_reaction_closes_an_open_case_once(
    referral: Referral, context: CommandContext
) -> None:
    cause = reaction(context, TRIAGE_EVENT)

    first = referral.close_in_reaction("declined", date(2025, 3, 12), cause)
    again = referral.close_in_reaction("declined", date(2025, 3, 12), cause)

    assert (first, again) == (True, False)
    assert [f["type"] for f in recorded_facts(referral)].count("ReferralClosed") == 1
    assert referral.closed_reason == "declined"


def test_a_redelivered_event_is_recognised_after_a_rebuild(
    referral: Referral, context: CommandContext
) -> None:
    referral.close_in_reaction(
        "completed", date(2025, 6, 2), reaction(context, TRIAGE_EVENT)
    )
    store = memory_store()
    store.save(referral)
    rebuilt: object = store.repository.get(referral.id)
    assert isinstance(rebuilt, Referral)

    assert rebuilt.has_handled(TRIAGE_EVENT)
    assert not rebuilt.close_in_reaction(
        "completed", date(2025, 6, 2), reaction(context, TRIAGE_EVENT)
    )


def test_a_case_closed_first_keeps_its_first_reason(
    referral: Referral, context: CommandContext
) -> None:
    referral.refuse_consent("parent", date(2025, 3, 11), None, context)

    closed = referral.close_in_reaction(
        "declined", date(2025, 3, 12), reaction(context, TRIAGE_EVENT)
    )

    assert not closed
    assert referral.closed_reason == "consent-refused"


# Closure in reaction to other services' events ------------------------------


class StandInRuntime:
    """The parts of the service runtime the reactions use, on a memory store."""

    def __init__(self) -> None:
        self.store = AsyncEventStore(memory_store(), threads=1)

    def reaction_context(self, cause: EventEnvelope) -> CommandContext:
        return CommandContext(
            actor=Actor(subject="service:referral", role="system"),
            occurred_at=cause.occurred_at,
            causation_id=cause.event_id,
        )

    def events_saved(self) -> None:
        """Nothing to wake: there is no relay here."""


def envelope_of(event: Event, publisher: str) -> EventEnvelope:
    at = datetime(2025, 6, 2, 10, tzinfo=UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(), event_type=event.event_type, schema_version=1,
        source=publisher, area_id=event.area_id, partition_key=event.partition_key(),
        aggregate_id=uuid.uuid4(), aggregate_version=1, occurred_at=at,
        recorded_at=at, actor=Actor(subject=f"service:{publisher}", role="system"),
        correlation_id=uuid.uuid4(), data=event.model_dump(mode="json"),
    )  # fmt: skip


def plan(referral: Referral, review_weeks: int | None) -> ActionPlanAgreed:
    return ActionPlanAgreed(
        area_id=referral.area_id, referral_id=referral.referral_id,
        plan_id=uuid.uuid4(), agreed_on=date(2025, 6, 2),
        actions=[Action(description="Visual timetable", owner_role="setting-lead",
                        due_on=date(2025, 7, 1))],
        review_required=review_weeks is not None, review_after_weeks=review_weeks,
    )  # fmt: skip


def review(referral: Referral, decision: str) -> ReviewCompleted:
    return ReviewCompleted.model_validate(
        {
            "area_id": referral.area_id, "referral_id": referral.referral_id,
            "review_id": uuid.uuid4(), "completed_on": date(2025, 8, 4),
            "baseline": BASELINE, "outcome": BASELINE, "decision": decision,
        }
    )  # fmt: skip


async def react(
    referral: Referral, *events: tuple[Event, str], repeat: int = 1
) -> Referral:
    """Save ``referral``, let the reactions handle ``events``; the saved result."""
    runtime = StandInRuntime()
    reactions = ReferralReactions()
    reactions.runtime = runtime
    await runtime.store.save(referral)
    for event, publisher in events:
        envelope = envelope_of(event, publisher)
        for _ in range(repeat):
            await reactions.handle(envelope, event, NO_CONNECTION)
    return await runtime.store.get(referral.referral_id, Referral, "referral")


NO_CONNECTION: Any = None
"""Closing touches no table; the reactions that do are tested end to end."""


@pytest.mark.parametrize(
    ("make", "publisher", "closed_reason"),
    [
        (lambda r: plan(r, None), "assessment", "completed"),
        (lambda r: plan(r, 8), "assessment", None),
        (lambda r: review(r, "close"), "review-scheduler", "completed"),
        (lambda r: review(r, "re-refer"), "review-scheduler", "re-referred"),
        (lambda r: review(r, "further-support"), "review-scheduler", None),
    ],
    ids=["plan-without-review", "plan-with-review", "review-closes",
         "review-re-refers", "review-further-support"],
)  # fmt: skip
async def test_a_case_closes_when_its_plan_or_review_ends_it(
    referral: Referral,
    make: Callable[[Referral], Event],
    publisher: str,
    closed_reason: str | None,
) -> None:
    after = await react(referral, (make(referral), publisher))

    assert after.closed_reason == closed_reason
    if closed_reason:
        assert after.closed_on is not None


async def test_a_redelivered_closing_event_closes_the_case_once(
    referral: Referral,
) -> None:
    after = await react(referral, (review(referral, "close"), "review-scheduler"),
                        repeat=2)  # fmt: skip

    assert after.closed_reason == "completed"
    assert after.version == 2, "received, then closed once"


async def test_an_event_for_a_case_already_closed_changes_nothing(
    referral: Referral, context: CommandContext
) -> None:
    referral.withdraw(date(2025, 5, 1), None, context)

    after = await react(referral, (plan(referral, None), "assessment"))

    assert after.closed_reason == "withdrawn-by-referrer"
    assert after.version == 3
