"""The scheduler's record of one case: its reviews, breaches and cancellation.

A *follow-up review* checks, 6 to 12 weeks after the feedback meeting, how the
child is doing against the measures taken at referral (the *baseline*):
attendance, suspensions and exclusion status. Its *due date* is the meeting
date plus the weeks the action plan asked for; from that day the clinician
should carry it out.

A *timer* is anything the scheduler waits for on a case: a review's due date,
or a stage's response-time target. Every fact the scheduler records about one
case goes on one :class:`CaseSchedule` aggregate, so two scheduler processes
that notice the same due date at once both try to append to the same version
of it: the event store keeps the first and refuses the second. That, not
timing, is what makes each fact happen exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from prre_contracts import Event
from prre_contracts.events.review import (
    ResponseTimeBreached,
    ReviewCompleted,
    ReviewDue,
    ReviewOverdueFlagged,
    ReviewScheduled,
    TimersCancelled,
)
from prre_contracts.events.values import Baseline, ReviewDecision, Stage
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

NAMESPACE = uuid.UUID("6f1d2c9e-5b0a-4c71-9a43-3e8f0b7d21c5")
"""Namespace of the scheduler's deterministic ids."""


def case_schedule_id(referral_id: uuid.UUID) -> uuid.UUID:
    """The id of a case's schedule aggregate: the same in every process."""
    return uuid.uuid5(NAMESPACE, f"case-schedule:{referral_id}")


def review_id_for(plan_id: uuid.UUID) -> uuid.UUID:
    """One review per action plan, so a redelivered plan cannot add a second."""
    return uuid.uuid5(NAMESPACE, f"review:{plan_id}")


def review_timer(review_id: uuid.UUID) -> str:
    """The name of the timer that waits for a review's due date."""
    return f"review-due:{review_id}"


def response_timer(stage: Stage, review_id: uuid.UUID | None = None) -> str:
    """The name of the timer that watches a stage's response-time target."""
    suffix = f":{review_id}" if review_id else ""
    return f"response-time:{stage}{suffix}"


@dataclass
class Review:
    """One follow-up review of the case, as far as it has gone."""

    review_id: uuid.UUID
    plan_id: uuid.UUID | None
    scheduled_on: date
    due_on: date
    is_due: bool = False
    overdue_on: date | None = None
    completion: ReviewCompleted | None = None

    @property
    def status(self) -> str:
        """scheduled, due, overdue or completed (cancelled is the case's)."""
        if self.completion:
            return "completed"
        if self.overdue_on:
            return "overdue"
        return "due" if self.is_due else "scheduled"


@dataclass(frozen=True)
class PlanTerms:
    """What an agreed action plan says about its review."""

    plan_id: uuid.UUID
    meeting_on: date
    agreed_on: date
    weeks: int


@dataclass(frozen=True)
class Breach:
    """A stage found past its target: what the scheduler knows when it checks."""

    stage: Stage
    target_working_days: int
    elapsed_working_days: int
    policy_version: int
    started_on: date
    breached_on: date
    review_id: uuid.UUID | None = None


class CaseSchedule(FactAggregate):
    """Every timer-driven fact about one referral, in the order it happened."""

    def _start(self, event: Event) -> None:
        assert isinstance(
            event, ReviewScheduled | ResponseTimeBreached | TimersCancelled
        )
        self.referral_id = event.referral_id
        self.area_id = event.area_id
        self.reviews: dict[uuid.UUID, Review] = {}
        self.breached: set[str] = set()
        self.cancelled_on: date | None = None
        self.cancel_reason: str | None = None

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        if not hasattr(self, "reviews"):
            self._start(event)
        match event:
            case ReviewScheduled():
                self.reviews[event.review_id] = Review(
                    event.review_id, event.plan_id, event.scheduled_on, event.due_on
                )
            case ReviewDue():
                self.reviews[event.review_id].is_due = True
            case ReviewOverdueFlagged():
                self.reviews[event.review_id].overdue_on = event.flagged_on
            case ReviewCompleted():
                self.reviews[event.review_id].completion = event
            case ResponseTimeBreached():
                self.breached.add(response_timer(event.stage, event.review_id))
            case TimersCancelled():
                self.cancelled_on = event.cancelled_on
                self.cancel_reason = event.reason

    # -- reviews -------------------------------------------------------------

    def schedule_review(self, plan: PlanTerms, context: CommandContext) -> None:
        """Set the review an action plan asks for (once per plan).

        The first plan's review counts from the feedback meeting. A plan
        agreed after a review decided on further support has no new meeting
        of its own, so its review counts from the day it was agreed.
        """
        review_id = review_id_for(plan.plan_id)
        if review_id in self.reviews or self.cancelled_on:
            return
        after_review = any(r.completion for r in self.reviews.values())
        counted_from = plan.agreed_on if after_review else plan.meeting_on
        self.record(
            scheduled(
                self.referral_id, self.area_id, plan.plan_id, counted_from, plan.weeks
            ),
            context,
        )

    def fire_due_reviews(self, today: date, context: CommandContext) -> list[uuid.UUID]:
        """Record ReviewDue for every review whose date has come; return them."""
        if self.cancelled_on:
            return []
        fired = [
            review.review_id
            for review in self.reviews.values()
            if not review.is_due and review.due_on <= today
        ]
        for review_id in fired:
            self._record_due(review_id, context)
        return fired

    def _record_due(self, review_id: uuid.UUID, context: CommandContext) -> None:
        review = self.reviews[review_id]
        self.record(
            ReviewDue(
                area_id=self.area_id,
                referral_id=self.referral_id,
                review_id=review_id,
                due_on=review.due_on,
            ),
            context,
        )

    def complete_review(
        self,
        review_id: uuid.UUID,
        completion: Completion,
        today: date,
        context: CommandContext,
    ) -> None:
        """Record the review's outcome against the baseline, and the decision.

        A review can be completed from its due date on, never before (it
        would fall outside the 6 to 12 weeks the action plan agreed), and only
        once. Its due date may have come without the scheduler noticing yet;
        then ReviewDue is recorded first, so every completed review was due.
        """
        review = self.review(review_id)
        self.check_completion(review_id, completion.completed_on, today)
        if not review.is_due:
            self._record_due(review_id, context)
        self.record(completion.event(self, review_id), context)

    def check_completion(self, review_id: uuid.UUID, on: date, today: date) -> None:
        """Refuse (RuleBroken) a completion the rules of a review do not allow."""
        review = self.review(review_id)
        if self.cancelled_on:
            raise RuleBroken(
                f"The case of referral {self.referral_id} was closed on "
                f"{self.cancelled_on} ({self.cancel_reason}); its review can no "
                "longer be recorded."
            )
        if review.completion:
            raise RuleBroken(
                f"Review {review.review_id} was already completed on "
                f"{review.completion.completed_on}; a review is recorded once."
            )
        if on > today:
            raise RuleBroken(
                f"A review cannot be recorded for {on}, which is still to come; "
                "record it on the day it took place."
            )
        if on < review.due_on:
            raise RuleBroken(
                f"Review {review.review_id} is not due until {review.due_on}; "
                "record it on or after that date, as the action plan agreed."
            )

    def review(self, review_id: uuid.UUID) -> Review:
        try:
            return self.reviews[review_id]
        except KeyError:
            raise RuleBroken(
                f"Review {review_id} does not belong to referral {self.referral_id}."
            ) from None

    # -- response times ------------------------------------------------------

    def flag_breach(self, breach: Breach, context: CommandContext) -> bool:
        """Record a breach once per timer; a review's also flags it overdue."""
        timer = response_timer(breach.stage, breach.review_id)
        if timer in self.breached or self.cancelled_on:
            return False
        self.record(breached(self.referral_id, self.area_id, breach), context)
        review = self.reviews.get(breach.review_id) if breach.review_id else None
        if review and not review.completion:
            self.record(overdue(self, review, breach), context)
        return True

    # -- closure -------------------------------------------------------------

    def cancel_timers(
        self, timers: list[str], reason: str, on: date, context: CommandContext
    ) -> bool:
        """Stop every pending timer of the case (once); false if nothing to do."""
        if self.cancelled_on:
            return False
        self.record(
            cancellation(self.referral_id, self.area_id, timers, reason, on), context
        )
        return True

    def pending_review_timers(self) -> list[str]:
        """Review timers still waiting: due dates not reached, reviews not done."""
        waiting = [r for r in self.reviews.values() if not r.completion]
        due_timers = [review_timer(r.review_id) for r in waiting if not r.is_due]
        stage_timers = [
            response_timer("review", r.review_id)
            for r in waiting
            if r.is_due and response_timer("review", r.review_id) not in self.breached
        ]
        return due_timers + stage_timers


@dataclass(frozen=True)
class Completion:
    """What a clinician records when a review is done."""

    completed_on: date
    baseline: Baseline
    outcome: Baseline
    decision: ReviewDecision
    notes: str | None = None

    def event(self, case: CaseSchedule, review_id: uuid.UUID) -> ReviewCompleted:
        return ReviewCompleted(
            area_id=case.area_id,
            referral_id=case.referral_id,
            review_id=review_id,
            completed_on=self.completed_on,
            baseline=self.baseline,
            outcome=self.outcome,
            decision=self.decision,
            notes=self.notes,
        )


def scheduled(
    referral_id: uuid.UUID,
    area_id: str,
    plan_id: uuid.UUID,
    counted_from: date,
    weeks: int,
) -> ReviewScheduled:
    """The review an action plan asks for, due ``weeks`` after ``counted_from``."""
    return ReviewScheduled(
        area_id=area_id,
        referral_id=referral_id,
        review_id=review_id_for(plan_id),
        plan_id=plan_id,
        scheduled_on=counted_from,
        due_on=counted_from + timedelta(weeks=weeks),
    )


def open_case(
    first: ReviewScheduled | ResponseTimeBreached | TimersCancelled,
    context: CommandContext,
) -> CaseSchedule:
    """A case's schedule, begun by the first fact the scheduler records on it."""
    return CaseSchedule.open(case_schedule_id(first.referral_id), first, context)


def breached(
    referral_id: uuid.UUID, area_id: str, breach: Breach
) -> ResponseTimeBreached:
    return ResponseTimeBreached(
        area_id=area_id,
        referral_id=referral_id,
        stage=breach.stage,
        target_working_days=breach.target_working_days,
        elapsed_working_days=breach.elapsed_working_days,
        policy_version=breach.policy_version,
        started_on=breach.started_on,
        breached_on=breach.breached_on,
        review_id=breach.review_id,
    )


def overdue(case: CaseSchedule, review: Review, breach: Breach) -> ReviewOverdueFlagged:
    return ReviewOverdueFlagged(
        area_id=case.area_id,
        referral_id=case.referral_id,
        review_id=review.review_id,
        due_on=review.due_on,
        flagged_on=breach.breached_on,
        working_days_overdue=breach.elapsed_working_days,
    )


def cancellation(
    referral_id: uuid.UUID, area_id: str, timers: list[str], reason: str, on: date
) -> TimersCancelled:
    return TimersCancelled(
        area_id=area_id,
        referral_id=referral_id,
        cancelled_on=on,
        timers=timers,
        reason=reason,
    )
