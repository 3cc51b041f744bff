"""Screening, suggested priority and the rules of a triage case."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from prre_contracts.events.values import Baseline
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.eventstore import (
    AsyncEventStore,
    CommandContext,
    EventStore,
    FactAggregate,
)
from prre_triage.commands import ensure_open, load_case
from prre_triage.domain import TriageCase
from prre_triage.screening import Criteria, Thresholds, screen

CRITERIA = Criteria(
    2, ("At risk of exclusion", "Suspected communication need"), date(2025, 1, 6)
)
THRESHOLDS = Thresholds(
    1, date(2025, 1, 6), attendance_below_percent=80, suspensions_at_least=3,
    exclusion_statuses=("suspended", "permanently-excluded"),
)  # fmt: skip
REFERRAL = uuid.UUID("3f0c6a55-0d43-4b8e-9a7e-0c1b2d3e4f50")


def baseline(
    attendance: float = 92, suspensions: int = 0, status: str = "at-risk"
) -> Baseline:
    return Baseline.model_validate(
        {
            "attendance_percent": attendance,
            "suspensions_this_year": suspensions,
            "exclusion_status": status,
        }
    )


def facts(aggregate: FactAggregate) -> list[dict[str, Any]]:
    return [
        e.fact
        for e in aggregate.pending_events
        if isinstance(e, FactAggregate.Opened | FactAggregate.Recorded)
    ]


@pytest.fixture
def case(context: CommandContext) -> TriageCase:
    screening = screen(CRITERIA, list(CRITERIA.criteria), baseline(), THRESHOLDS)
    return TriageCase.screen(
        "north-vale", REFERRAL, screening, date(2025, 3, 3), context
    )


def test_a_referral_naming_every_criterion_meets_them() -> None:
    named = ["at risk of  exclusion", "SUSPECTED communication need"]

    screening = screen(CRITERIA, named, baseline(), THRESHOLDS)

    assert screening.meets_criteria
    assert screening.criteria_met == CRITERIA.criteria
    assert screening.criteria_not_met == ()
    assert screening.criteria_version == 2


def test_criteria_the_referral_does_not_name_are_not_met() -> None:
    screening = screen(CRITERIA, ["At risk of exclusion"], baseline(), THRESHOLDS)

    assert not screening.meets_criteria
    assert screening.criteria_not_met == ("Suspected communication need",)
    assert (screening.suggested_priority, screening.thresholds_version) == (None, None)


@pytest.mark.parametrize(
    ("measures", "priority"),
    [
        ({"attendance": 79.9}, "urgent"),
        ({"attendance": 80}, "routine"),
        ({"suspensions": 3}, "urgent"),
        ({"suspensions": 2}, "routine"),
        ({"status": "suspended"}, "urgent"),
        ({"status": "at-risk"}, "routine"),
    ],
)
def test_a_baseline_crossing_any_threshold_is_suggested_as_urgent(
    measures: dict[str, Any], priority: str
) -> None:
    screening = screen(
        CRITERIA,
        list(CRITERIA.criteria),
        baseline(**measures),
        THRESHOLDS,
    )

    assert screening.suggested_priority == priority
    assert screening.thresholds_version == 1


def test_without_thresholds_no_priority_is_suggested() -> None:
    screening = screen(CRITERIA, list(CRITERIA.criteria), baseline(), None)

    assert screening.meets_criteria
    assert screening.suggested_priority is None


def test_a_screened_case_awaits_a_decision(case: TriageCase) -> None:
    [fact] = facts(case)

    assert fact["type"] == "ReferralScreened"
    assert case.status == "awaiting-decision"
    assert case.screening.suggested_priority == "routine"


def test_accepting_records_the_priority_and_the_thresholds_used(
    case: TriageCase, context: CommandContext
) -> None:
    case.accept("urgent", date(2025, 3, 5), None, context)

    accepted = facts(case)[-1]
    assert accepted["type"] == "ReferralAccepted"
    assert accepted["data"] == {
        "area_id": "north-vale", "referral_id": str(REFERRAL), "priority": "urgent",
        "thresholds_version": 1, "decided_on": "2025-03-05", "meeting_id": None,
    }  # fmt: skip
    assert case.status == "accepted"


@pytest.mark.parametrize(
    "decide",
    [
        lambda c, ctx: c.accept("routine", date(2025, 3, 6), None, ctx),
        lambda c, ctx: c.decline("Late", ["School nurse"], date(2025, 3, 6), None, ctx),
        lambda c, ctx: c.request_more_information(
            ["Why?"], date(2025, 3, 6), None, ctx
        ),
    ],
    ids=["accept", "decline", "more-information"],
)
def test_a_declined_case_cannot_be_decided_again(
    case: TriageCase, context: CommandContext, decide: object
) -> None:
    case.decline("Needs met elsewhere", ["Early help"], date(2025, 3, 5), None, context)

    with pytest.raises(RuleBroken) as refused:
        decide(case, context)  # type: ignore[operator]

    assert str(refused.value) == (
        "Triage already declined this referral on 2025-03-05; a triage decision "
        "cannot be changed."
    )
    assert facts(case)[-1]["type"] == "ReferralDeclined"


def test_answers_return_the_case_to_awaiting_a_decision(
    case: TriageCase, context: CommandContext
) -> None:
    request_id = case.request_more_information(
        ["Has the child had a hearing test?"], date(2025, 3, 4), None, context
    )
    assert case.awaits(request_id)
    assert case.status == "awaiting-information"

    case.receive_information(["Yes, in 2024"], [], None, date(2025, 3, 6), context)

    assert case.status == "awaiting-decision"
    assert not case.awaits(request_id)
    assert case.requests[0].answers == ["Yes, in 2024"]
    received = facts(case)[-1]
    assert received["type"] == "MoreInformationReceived"
    assert received["data"]["request_id"] == str(request_id)


def test_a_second_request_waits_for_the_first_answers(
    case: TriageCase, context: CommandContext
) -> None:
    case.request_more_information(["Hearing test?"], date(2025, 3, 4), None, context)

    with pytest.raises(RuleBroken) as refused:
        case.request_more_information(["Vision?"], date(2025, 3, 5), None, context)

    assert str(refused.value) == (
        "Triage already asked the referrer for more information on 2025-03-04 and "
        "is waiting for the answers; decide the referral or wait."
    )


def test_a_case_rebuilt_from_its_events_equals_the_original(
    case: TriageCase, context: CommandContext
) -> None:
    case.request_more_information(["Hearing test?"], date(2025, 3, 4), None, context)
    case.receive_information(
        ["Yes"], ["Sleeps badly"], baseline(75), date(2025, 3, 6), context
    )
    case.accept("urgent", date(2025, 3, 7), uuid.uuid4(), context)
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    store.save(case)

    rebuilt: object = store.repository.get(case.id)

    assert isinstance(rebuilt, TriageCase)
    assert rebuilt.status == "accepted"
    assert rebuilt.requests == case.requests
    assert rebuilt.decision == case.decision


class StandInRuntime:
    """A memory event store and a referral directory that knows some referrals."""

    def __init__(self, known: dict[uuid.UUID, str | None]) -> None:
        self.store = AsyncEventStore(
            EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), threads=1
        )
        self.known = known
        self.pool = self

    async def fetchrow(self, _: str, referral_id: uuid.UUID) -> dict[str, Any] | None:
        if referral_id not in self.known:
            return None
        return {"referral_id": referral_id, "closed_reason": self.known[referral_id]}


async def test_a_referral_known_but_not_yet_screened_cannot_be_decided() -> None:
    runtime: Any = StandInRuntime({REFERRAL: None})

    with pytest.raises(RuleBroken) as refused:
        await load_case(runtime, REFERRAL)

    assert str(refused.value) == (
        f"Referral {REFERRAL} has reached triage but is not screened yet (the "
        "area's criteria or thresholds it names have not arrived); try again "
        "shortly."
    )


async def test_a_referral_triage_never_heard_of_is_not_found() -> None:
    runtime: Any = StandInRuntime({})

    with pytest.raises(NotFound):
        await load_case(runtime, REFERRAL)


async def test_a_closed_referral_cannot_be_decided() -> None:
    runtime: Any = StandInRuntime({REFERRAL: "consent-refused"})

    with pytest.raises(RuleBroken) as refused:
        await ensure_open(runtime, REFERRAL)

    assert str(refused.value) == (
        f"Referral {REFERRAL} is closed (consent-refused); triage decisions can no "
        "longer be recorded on it."
    )
