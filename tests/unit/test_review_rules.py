"""The rules of a case's schedule: reviews, breaches, cancellation, timing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from prre_contracts import Actor
from prre_contracts.events.values import Baseline
from prre_review_scheduler.domain import (
    Breach,
    CaseSchedule,
    Completion,
    PlanTerms,
    breached,
    open_case,
    review_id_for,
    scheduled,
)
from prre_review_scheduler.timing import ResponseTimes, StageClock, in_force, judge
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

REFERRAL = uuid.UUID("0b7e6a52-8f54-4c1e-9d57-2f4c3f0a9a11")
PLAN = uuid.UUID("5d0f3b9e-1c2a-4e7b-8a6f-9b1d2c3e4f50")
MEETING = date(2026, 1, 12)
DUE = date(2026, 3, 9)  # eight weeks later
BASELINE = Baseline(
    attendance_percent=74, suspensions_this_year=3, exclusion_status="at-risk"
)
OUTCOME = Baseline(
    attendance_percent=91, suspensions_this_year=0, exclusion_status="none"
)


@pytest.fixture
def context() -> CommandContext:
    return CommandContext(
        actor=Actor(subject="service:review-scheduler", role="system"),
        occurred_at=datetime(2026, 1, 12, 10, tzinfo=UTC),
    )


@pytest.fixture
def case(context: CommandContext) -> CaseSchedule:
    """A case whose action plan asked for a review after eight weeks."""
    first = scheduled(REFERRAL, "north-vale", PLAN, MEETING, 8)
    return open_case(first, context)


def facts(case: FactAggregate) -> list[dict[str, Any]]:
    """Type and data of each fact recorded and not yet saved."""
    found = []
    for event in case.collect_events():
        assert isinstance(event, FactAggregate.Opened | FactAggregate.Recorded)
        found.append({"type": event.fact["type"], **event.fact["data"]})
    return found


def completion(on: date = DUE, decision: str = "close") -> Completion:
    return Completion(on, BASELINE, OUTCOME, decision)  # type: ignore[arg-type]  # tests vary the literal


def test_a_review_is_due_the_chosen_number_of_weeks_after_the_meeting(
    case: CaseSchedule,
) -> None:
    [opened] = facts(case)

    assert opened["type"] == "ReviewScheduled"
    assert opened["due_on"] == "2026-03-09"
    assert opened["review_id"] == str(review_id_for(PLAN))


def test_the_same_plan_cannot_schedule_a_second_review(
    case: CaseSchedule, context: CommandContext
) -> None:
    facts(case)

    case.schedule_review(PlanTerms(PLAN, MEETING, MEETING, 8), context)

    assert facts(case) == []


def test_a_review_falls_due_on_its_date_and_only_once(
    case: CaseSchedule, context: CommandContext
) -> None:
    facts(case)

    assert case.fire_due_reviews(date(2026, 3, 8), context) == []
    assert case.fire_due_reviews(DUE, context) == [review_id_for(PLAN)]
    assert case.fire_due_reviews(date(2026, 3, 20), context) == []
    assert [f["type"] for f in facts(case)] == ["ReviewDue"]


def test_a_review_cannot_be_completed_before_it_is_due(
    case: CaseSchedule, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        case.complete_review(
            review_id_for(PLAN), completion(date(2026, 3, 2)), DUE, context
        )

    assert str(refused.value) == (
        f"Review {review_id_for(PLAN)} is not due until 2026-03-09; record it on "
        "or after that date, as the action plan agreed."
    )


def test_a_review_cannot_be_recorded_for_a_day_still_to_come(
    case: CaseSchedule, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken, match="2026-03-12, which is still to come"):
        case.complete_review(
            review_id_for(PLAN), completion(date(2026, 3, 12)), DUE, context
        )


def test_completing_a_review_records_it_due_first_and_keeps_the_baseline(
    case: CaseSchedule, context: CommandContext
) -> None:
    facts(case)

    case.complete_review(review_id_for(PLAN), completion(), DUE, context)

    due, completed = facts(case)
    assert due["type"] == "ReviewDue"
    assert completed["type"] == "ReviewCompleted"
    assert completed["baseline"]["attendance_percent"] == 74
    assert completed["outcome"]["attendance_percent"] == 91
    assert case.reviews[review_id_for(PLAN)].status == "completed"


def test_a_review_is_completed_once(
    case: CaseSchedule, context: CommandContext
) -> None:
    case.complete_review(review_id_for(PLAN), completion(), DUE, context)

    with pytest.raises(RuleBroken) as refused:
        case.complete_review(review_id_for(PLAN), completion(), DUE, context)

    assert str(refused.value) == (
        f"Review {review_id_for(PLAN)} was already completed on 2026-03-09; "
        "a review is recorded once."
    )


def test_further_support_leads_to_a_second_review_for_the_next_plan(
    case: CaseSchedule, context: CommandContext
) -> None:
    case.complete_review(
        review_id_for(PLAN), completion(decision="further-support"), DUE, context
    )
    next_plan = uuid.uuid4()

    case.schedule_review(PlanTerms(next_plan, MEETING, date(2026, 3, 16), 6), context)

    assert case.reviews[review_id_for(next_plan)].due_on == date(2026, 4, 27)
    assert len(case.reviews) == 2


def test_a_cancelled_case_fires_nothing_and_refuses_its_review(
    case: CaseSchedule, context: CommandContext
) -> None:
    timers = case.pending_review_timers()
    assert timers == [f"review-due:{review_id_for(PLAN)}"]
    assert case.cancel_timers(timers, "consent-withdrawn", date(2026, 2, 2), context)
    assert not case.cancel_timers(
        timers, "consent-withdrawn", date(2026, 2, 3), context
    )

    assert case.fire_due_reviews(DUE, context) == []
    with pytest.raises(RuleBroken) as refused:
        case.complete_review(review_id_for(PLAN), completion(), DUE, context)
    assert str(refused.value) == (
        f"The case of referral {REFERRAL} was closed on 2026-02-02 "
        "(consent-withdrawn); its review can no longer be recorded."
    )


def test_a_breach_is_recorded_once_and_a_due_review_is_flagged_overdue(
    case: CaseSchedule, context: CommandContext
) -> None:
    case.fire_due_reviews(DUE, context)
    facts(case)
    breach = Breach("review", 10, 11, 1, DUE, date(2026, 3, 24), review_id_for(PLAN))

    assert case.flag_breach(breach, context)
    assert not case.flag_breach(breach, context)

    breached, flagged = facts(case)
    assert breached["type"] == "ResponseTimeBreached"
    assert breached["review_id"] == str(review_id_for(PLAN))
    assert flagged["type"] == "ReviewOverdueFlagged"
    assert flagged["working_days_overdue"] == 11
    assert case.reviews[review_id_for(PLAN)].status == "overdue"


def test_a_case_rebuilt_from_its_facts_remembers_them(
    case: CaseSchedule, context: CommandContext
) -> None:
    case.fire_due_reviews(DUE, context)
    events = case.collect_events()
    rebuilt: CaseSchedule | None = None
    for event in events:
        rebuilt = event.mutate(rebuilt)

    assert rebuilt is not None
    assert rebuilt.reviews[review_id_for(PLAN)].is_due


# -- timing -----------------------------------------------------------------

ENGLAND = WorkingDayCalendar("england")
POLICIES = [
    ResponseTimes(1, date(2025, 9, 1), {"triage": 5, "consent": 10}),
    ResponseTimes(2, date(2026, 2, 1), {"triage": 3}),
]


def test_a_referral_is_timed_by_the_version_in_force_when_it_arrived() -> None:
    assert in_force(POLICIES, date(2026, 1, 20)) == POLICIES[0]
    assert in_force(POLICIES, date(2026, 2, 1)) == POLICIES[1]
    assert in_force(POLICIES, date(2025, 8, 1)) is None


def test_a_stage_within_its_target_is_still_running() -> None:
    clock = StageClock("triage", date(2026, 3, 2))  # a Monday

    assert judge(clock, POLICIES[0], ENGLAND, date(2026, 3, 9)) == "running"


def test_a_stage_past_its_target_is_breached_on_the_first_day_beyond_it() -> None:
    clock = StageClock("triage", date(2026, 3, 2))

    verdict = judge(clock, POLICIES[0], ENGLAND, date(2026, 3, 12))

    assert verdict == Breach("triage", 5, 8, 1, date(2026, 3, 2), date(2026, 3, 10))


def test_a_stage_that_ended_in_time_met_its_target() -> None:
    clock = StageClock("triage", date(2026, 3, 2), ended_on=date(2026, 3, 6))

    assert judge(clock, POLICIES[0], ENGLAND, date(2026, 4, 30)) == "met"


def test_a_stage_that_ended_late_is_still_a_breach_counted_to_its_end() -> None:
    clock = StageClock("triage", date(2026, 3, 2), ended_on=date(2026, 3, 11))

    verdict = judge(clock, POLICIES[0], ENGLAND, date(2026, 4, 30))

    assert isinstance(verdict, Breach)
    assert verdict.elapsed_working_days == 7


def test_a_stage_without_a_target_is_never_breached() -> None:
    clock = StageClock("report", date(2026, 3, 2))

    assert judge(clock, POLICIES[0], ENGLAND, date(2026, 6, 1)) == "running"
    assert judge(clock, None, ENGLAND, date(2026, 6, 1)) == "running"


def test_a_first_plan_agreed_after_its_meeting_counts_from_the_meeting(
    context: CommandContext,
) -> None:
    late_triage = Breach("triage", 5, 6, 1, date(2025, 11, 3), date(2025, 11, 11))
    case = open_case(breached(REFERRAL, "north-vale", late_triage), context)

    case.schedule_review(PlanTerms(PLAN, MEETING, date(2026, 1, 19), 6), context)

    assert case.reviews[review_id_for(PLAN)].due_on == date(2026, 2, 23)


def test_a_due_review_waits_on_its_response_time_not_its_date(
    case: CaseSchedule, context: CommandContext
) -> None:
    case.fire_due_reviews(DUE, context)

    assert case.pending_review_timers() == [
        f"response-time:review:{review_id_for(PLAN)}"
    ]
    case.complete_review(review_id_for(PLAN), completion(), DUE, context)
    assert case.pending_review_timers() == []
