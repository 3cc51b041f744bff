"""Screening: the automatic first look at a referral, before a person decides.

An area publishes *referral criteria*: short statements of which children the
service is for ("at risk of exclusion", "a suspected communication need").
Criteria are free text, so the system cannot judge a child against them on its
own. Instead the referrer says which of them the child meets, quoting each one
as the area wrote it (``criteria_met`` on the referral). Screening compares
that list with the version of the criteria that was in force when the referral
arrived: every criterion named is *met*, every other one is *not met*, and the
referral *meets the criteria* only when none is left unmet.

An area also publishes *triage thresholds*: measures that make a case urgent
(attendance below a percentage, at least so many suspensions this year, an
exclusion status such as a suspension). When a referral meets the criteria,
screening suggests ``urgent`` if its baseline crosses any threshold of the
version in force on the referral date (the referral names it), otherwise
``routine``. Screening only advises; the triage
lead or panel makes the decision and chooses the priority.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from prre_contracts.events.values import Baseline, Priority


@dataclass(frozen=True)
class Criteria:
    """One version of an area's referral criteria."""

    version: int
    criteria: tuple[str, ...]
    effective_from: date


@dataclass(frozen=True)
class Thresholds:
    """One version of an area's triage thresholds (any one crossed = urgent)."""

    version: int
    effective_from: date
    attendance_below_percent: float | None = None
    suspensions_at_least: int | None = None
    exclusion_statuses: tuple[str, ...] = ()

    def crossed_by(self, baseline: Baseline) -> bool:
        attendance = self.attendance_below_percent
        suspensions = self.suspensions_at_least
        return (
            (attendance is not None and baseline.attendance_percent < attendance)
            or (
                suspensions is not None
                and baseline.suspensions_this_year >= suspensions
            )
            or baseline.exclusion_status in self.exclusion_statuses
        )


@dataclass(frozen=True)
class Screening:
    """The outcome of screening one referral."""

    criteria_version: int
    criteria_met: tuple[str, ...]
    criteria_not_met: tuple[str, ...]
    suggested_priority: Priority | None
    thresholds_version: int | None

    @property
    def meets_criteria(self) -> bool:
        return not self.criteria_not_met


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def screen(
    criteria: Criteria,
    named: Sequence[str],
    baseline: Baseline,
    thresholds: Thresholds | None,
) -> Screening:
    """Screen a referral that names ``named`` criteria and has ``baseline``."""
    wanted = {_normalised(text) for text in named}
    met = tuple(c for c in criteria.criteria if _normalised(c) in wanted)
    not_met = tuple(c for c in criteria.criteria if c not in met)
    priority: Priority | None = None
    if not not_met and thresholds is not None:
        priority = "urgent" if thresholds.crossed_by(baseline) else "routine"
    return Screening(
        criteria_version=criteria.version,
        criteria_met=met,
        criteria_not_met=not_met,
        suggested_priority=priority,
        thresholds_version=thresholds.version if priority and thresholds else None,
    )
