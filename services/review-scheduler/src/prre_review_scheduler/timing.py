"""Response-time rules: how long a stage has taken, and whether too long.

A *stage clock* starts when a stage of the pathway begins for a referral
(triage and consent when it arrives; assessment when it is both accepted and
consented; report when the assessment is done; feedback when the report is
issued; review on the review's due date) and stops when the stage ends. The
area's *response times* give each stage a target in working days; a version
of them takes effect from a date, and a referral is timed against the version
in force the day it arrived, even if the area changes its targets later.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from prre_contracts.events.values import Stage
from prre_review_scheduler.domain import Breach
from prre_runtime.calendar import WorkingDayCalendar


@dataclass(frozen=True)
class ResponseTimes:
    """One version of an area's response-time targets, in working days."""

    version: int
    effective_from: date
    targets: Mapping[Stage, int]


def in_force(versions: Sequence[ResponseTimes], on: date) -> ResponseTimes | None:
    """The latest version that had taken effect by ``on``, if any."""
    applicable = [v for v in versions if v.effective_from <= on]
    return max(applicable, key=lambda v: v.version, default=None)


@dataclass(frozen=True)
class StageClock:
    """How long one stage of one referral has been running."""

    stage: Stage
    started_on: date
    ended_on: date | None = None
    review_id: uuid.UUID | None = None


Verdict = Literal["running", "met"] | Breach
"""Still within target and going on; ended in time (or untimed); or breached."""


def judge(
    clock: StageClock,
    policy: ResponseTimes | None,
    calendar: WorkingDayCalendar,
    today: date,
) -> Verdict:
    """Whether ``clock`` has passed its stage's target by ``today``.

    The target is passed once more working days than it allows have gone by
    since the stage began. ``breached_on`` is the first working day beyond the
    target; the elapsed count runs to today, or to the day the stage ended if
    it ended late before anyone checked.
    """
    # Known shortcoming: a stage whose ending event has not been consumed yet
    # still looks open, so a clock moved far ahead (as tests do) can find a
    # breach the late event would have prevented; consumer lag is normally
    # far shorter than a working day.
    target = policy.targets.get(clock.stage) if policy else None
    until = min(clock.ended_on, today) if clock.ended_on else today
    if policy is None or target is None:
        return "met" if clock.ended_on else "running"
    elapsed = calendar.working_days_between(clock.started_on, until)
    if elapsed <= target:
        return "met" if clock.ended_on else "running"
    return Breach(
        stage=clock.stage,
        target_working_days=target,
        elapsed_working_days=elapsed,
        policy_version=policy.version,
        started_on=clock.started_on,
        breached_on=calendar.add_working_days(clock.started_on, target + 1),
        review_id=clock.review_id,
    )
