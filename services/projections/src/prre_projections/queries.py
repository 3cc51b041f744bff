"""The questions the dashboards ask of the read models.

Every query takes a :class:`Scope` (areas the caller may see, a setting, a
period) and a connection whose ``search_path`` decides whether it reads the
live models or a copy as at a past date. Results are plain dicts, ready for
JSON and for the HTML pages alike.
"""

from __future__ import annotations

import json
import math
import uuid
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from prre_projections.casefile import (
    EXCLUSION_ORDER,
    STAGES,
    CaseFile,
    current_span,
)
from prre_projections.readmodels import area_calendar
from prre_projections.rebuild import end_of_day
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.consumer import Connection

DUE_SOON_WORKING_DAYS = 2
"""A timed stage with this many working days or fewer left is "due soon"."""

FUNNEL = (
    ("received", "Received", "received_on IS NOT NULL"),
    ("triaged", "Triaged", "triaged_on IS NOT NULL"),
    ("accepted", "Accepted", "accepted_on IS NOT NULL"),
    ("consented", "Consented", "accepted_on IS NOT NULL AND consented_on IS NOT NULL"),
    ("assessed", "Assessed", "assessed_on IS NOT NULL"),
    ("reported", "Reported", "report_on IS NOT NULL"),
    ("feedback", "Feedback held", "feedback_on IS NOT NULL"),
    ("reviewed", "Reviewed", "reviewed_on IS NOT NULL"),
    ("closed", "Closed", "closed_on IS NOT NULL"),
)
"""The steps of the funnel, each a condition on a case's milestones."""

TIMED_STAGES = ("triage", "consent", "assessment", "report", "feedback", "review")


@dataclass(frozen=True)
class Scope:
    """What a view covers: areas (``None`` = all), one setting, a period."""

    areas: list[str] | None
    setting_id: str | None = None
    since: date | None = None
    until: date | None = None


class _Filter:
    """A WHERE clause holding only the conditions that apply, values bound.

    Naming only what is asked lets the planner pick the index that fits (for
    instance the partial index of open cases), which conditions of the form
    ``$1 IS NULL OR ...`` can hide once a statement's plan is reused.
    """

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def add(self, condition: str, *values: Any) -> _Filter:
        """Add a condition whose ``{}`` placeholders take the values in turn."""
        numbers = []
        for value in values:
            self.args.append(value)
            numbers.append(f"${len(self.args)}")
        self.conditions.append(condition.format(*numbers))
        return self

    def scope(self, scope: Scope, date_column: str, prefix: str = "") -> _Filter:
        """The areas, setting and period of a view, on ``date_column``."""
        if scope.areas is not None:
            self.add(f"{prefix}area_id = ANY({{}})", scope.areas)
        if scope.setting_id is not None:
            self.add(f"{prefix}setting_id = {{}}", scope.setting_id)
        if scope.since is not None:
            self.add(f"{date_column} >= {{}}", scope.since)
        if scope.until is not None:
            self.add(f"{date_column} <= {{}}", scope.until)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions) or "true"


# --- caseload ----------------------------------------------------------------


async def caseload(
    db: Connection,
    scope: Scope,
    today: date,
    stage: str | None = None,
    include_closed: bool = False,
) -> list[dict[str, Any]]:
    """Cases in scope with their stage, next action, due date and timeliness.

    Known shortcoming: at most 5000 cases are returned (the oldest first) and
    there is no paging yet; a regional view of a large region is cut short.
    """
    where = _Filter().scope(scope, "received_on")
    if stage is not None:
        where.add("stage = {}", stage)
    if not include_closed:
        where.add("stage <> 'closed'")
    rows = await db.fetch(
        f"""SELECT * FROM caseload WHERE {where.sql}
        ORDER BY received_on, referral_id LIMIT 5000""",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    policy = await _policies(db, scope)
    cases = []
    for row in rows:
        case = dict(row)
        await policy.add_timeliness(db, case, today)
        cases.append(case)
    return cases


class _WorkingDays:
    """One calendar's working days counted once over a run of dates.

    ``_counts[i]`` is how many working days there are after ``_first`` up to and
    including the day ``i`` days later, so the working days between two dates
    are a subtraction and the day a target falls due is a binary search,
    instead of a walk through every day for every case.
    """

    def __init__(self, calendar: WorkingDayCalendar) -> None:
        self._calendar = calendar
        self._first = date.max
        self._counts: list[int] = []

    def between(self, start: date, end: date) -> int:
        """As ``WorkingDayCalendar.working_days_between``."""
        if end <= start:
            return 0
        self._cover(start, end)
        return self._counts[self._index(end)] - self._counts[self._index(start)]

    def add(self, start: date, days: int) -> date:
        """As ``WorkingDayCalendar.add_working_days``."""
        if days <= 0:
            return self._calendar.add_working_days(start, days)
        end = start + timedelta(days=days * 2 + 14)
        while True:
            self._cover(start, end)
            wanted = self._counts[self._index(start)] + days
            index = bisect_left(self._counts, wanted, lo=self._index(start) + 1)
            if index < len(self._counts):
                return self._first + timedelta(days=index)
            end += timedelta(days=days * 2 + 14)

    def _index(self, day: date) -> int:
        return (day - self._first).days

    def _cover(self, start: date, end: date) -> None:
        """Count afresh over a run of dates holding the old one and both days."""
        if (
            self._counts
            and self._first <= start
            and self._index(end) < len(self._counts)
        ):
            return
        first, last = start, end
        if self._counts:
            first = min(start, self._first)
            last = max(end, self._first + timedelta(days=len(self._counts) - 1))
        last += timedelta(days=60)  # room for the next cases' due dates
        counts, count = [0], 0
        for offset in range(1, (last - first).days + 1):
            count += self._calendar.is_working_day(first + timedelta(days=offset))
            counts.append(count)
        self._first, self._counts = first, counts


@dataclass
class _Policies:
    """Each area's calendar and response-time targets, loaded once per query."""

    targets: dict[tuple[str, str], list[tuple[date, int]]]
    calendars: dict[str, _WorkingDays]

    def target(self, area_id: str, stage: str, started_on: date) -> int | None:
        """The target of the latest version in force when the stage began."""
        in_force = [
            days
            for effective_from, days in self.targets.get((area_id, stage), [])
            if effective_from <= started_on
        ]
        return in_force[-1] if in_force else None

    async def add_timeliness(self, db: Connection, case: CaseFile, today: date) -> None:
        """Label the case and add its clock: elapsed, target, due date, status."""
        label, action = STAGES.get(case["stage"], (case["stage"], ""))
        since = case["stage_since"]
        review_scheduled = case["stage"] == "review-scheduled"
        case.update(
            stage_label=label,
            next_action=action,
            days_in_stage=(today - since).days if since else None,
            timed_stage=None,
            due_on=case["review_due_on"] if review_scheduled else None,
            elapsed_working_days=None,
            target_days=None,
            status=None,
        )
        span = current_span(case)
        if span is None:
            return
        area_id = case["area_id"]
        if area_id not in self.calendars:
            self.calendars[area_id] = _WorkingDays(await area_calendar(db, area_id))
        calendar = self.calendars[area_id]
        elapsed = calendar.between(span.started_on, today)
        case.update(timed_stage=span.stage, elapsed_working_days=elapsed)
        target = self.target(area_id, span.stage, span.started_on)
        if target is not None:
            case.update(
                target_days=target,
                due_on=calendar.add(span.started_on, target),
                status=_status(case, span.stage, elapsed, target),
            )


async def _policies(db: Connection, scope: Scope) -> _Policies:
    rows = await db.fetch(
        """SELECT area_id, stage, effective_from, working_days FROM response_targets
        WHERE $1::text[] IS NULL OR area_id = ANY($1)
        ORDER BY effective_from, version""",
        scope.areas,
    )
    targets: dict[tuple[str, str], list[tuple[date, int]]] = {}
    for row in rows:
        key = (row["area_id"], row["stage"])
        targets.setdefault(key, []).append((row["effective_from"], row["working_days"]))
    return _Policies(targets, {})


def _status(case: CaseFile, stage: str, elapsed: int, target: int) -> str:
    """On time, due soon (two working days or fewer left) or breached."""
    if elapsed > target or stage in case["breached_stages"]:
        return "breached"
    return "due-soon" if target - elapsed <= DUE_SOON_WORKING_DAYS else "on-time"


def work_queues(cases: list[dict[str, Any]], today: date) -> dict[str, list[Any]]:
    """What a team works through each morning, from the enriched caseload."""
    end_of_week = today + timedelta(days=6 - today.weekday())
    review_stages = ("review-scheduled", "review-due")
    return {
        "awaiting_triage": _ids(
            c for c in cases if c["stage"] in ("awaiting-triage", "more-information")
        ),
        "awaiting_consent": _ids(c for c in cases if c["stage"] == "awaiting-consent"),
        "to_schedule": _ids(c for c in cases if c["stage"] == "to-schedule"),
        "reports_due": _ids(c for c in cases if c["stage"] == "report-due"),
        "reviews_due_this_week": _ids(
            c
            for c in cases
            if c["stage"] in review_stages
            and c["review_due_on"]
            and c["review_due_on"] <= end_of_week
        ),
        "overdue": _ids(c for c in cases if c["status"] == "breached"),
    }


def by_stage(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many of the cases are in each stage, in the order of the pathway."""
    counts = Counter(case["stage"] for case in cases)
    return [{"stage": stage, "label": label, "cases": counts[stage]}
            for stage, (label, _) in STAGES.items() if counts[stage]]  # fmt: skip


def _ids(cases: Any) -> list[str]:
    return [str(case["referral_id"]) for case in cases]


# --- funnel ------------------------------------------------------------------


async def funnel(db: Connection, scope: Scope) -> dict[str, Any]:
    """How many referrals reached each step, and the share that went on."""
    counts = ", ".join(f"count(*) FILTER (WHERE {cond})" for _, _, cond in FUNNEL)
    where = _Filter().scope(scope, "received_on")
    row = await db.fetchrow(
        f"SELECT {counts} FROM caseload WHERE {where.sql}",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    assert row is not None  # an aggregate always returns one row
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for (key, label, _), count in zip(FUNNEL, row, strict=True):
        # Closure ends every branch (declined, consent refused, completed), so
        # it is no share of the step before it.
        carried_on = previous if key != "closed" else None
        conversion = round(count / carried_on, 3) if carried_on else None
        steps.append(
            {"step": key, "label": label, "count": count, "conversion": conversion}
        )
        previous = count
    reasons = await db.fetch(
        f"""SELECT decline_reason AS reason, count(*) AS count FROM caseload
        WHERE triage = 'declined' AND {where.sql}
        GROUP BY decline_reason ORDER BY count DESC, reason""",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    return {"steps": steps, "decline_reasons": [dict(r) for r in reasons]}


# --- timeliness ----------------------------------------------------------------


async def timeliness(db: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per term and stage: cases, median and 90th percentile working days, share
    within the area's target (of the cases that had one).

    The database counts the cases of each number of working days (a few dozen
    rows per term and stage, however many cases), and the percentiles are
    read off those counts here, exactly as ``percentile_cont`` would compute
    them, so no case is sorted. The term was stored with each row when it
    was projected; a row from before that column existed is given its term now.
    """
    where = _Filter().scope(scope, "ended_on")
    rows = await db.fetch(
        f"""SELECT COALESCE(term, term_of(area_id, ended_on)) AS term, stage,
            working_days, count(*) AS cases,
            count(*) FILTER (WHERE target_days IS NOT NULL) AS with_target,
            count(*) FILTER (WHERE working_days <= target_days) AS within_target,
            min(ended_on) AS first_day
        FROM stage_times WHERE {where.sql}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row["term"], row["stage"]), []).append(row)
    order = {stage: i for i, stage in enumerate(TIMED_STAGES)}
    result = [
        _term_stage(term, stage, counts) for (term, stage), counts in groups.items()
    ]
    result.sort(key=lambda r: (r["first_day"], order.get(r["stage"], 9)))
    return _drop_sort_key(result)


def _term_stage(term: str, stage: str, counts: list[Any]) -> dict[str, Any]:
    """One line of the timeliness table from the counts of each working days."""
    histogram = [(row["working_days"], row["cases"]) for row in counts]
    with_target = sum(row["with_target"] for row in counts)
    within = sum(row["within_target"] for row in counts)
    return {
        "term": term,
        "stage": stage,
        "cases": sum(cases for _, cases in histogram),
        "median_working_days": percentile_cont(histogram, 0.5),
        "p90_working_days": round(percentile_cont(histogram, 0.9), 1),
        "within_target_share": _share(within / with_target if with_target else None),
        "first_day": min(row["first_day"] for row in counts),
    }


def percentile_cont(histogram: list[tuple[int, int]], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont`` of values given as (value, how many)
    pairs in ascending order: the value at position ``fraction * (n - 1)`` of
    the sorted values, interpolated between its neighbours, computed the same
    way so the result is the same to the last bit."""
    total = sum(cases for _, cases in histogram)
    position = fraction * (total - 1)
    first_row, second_row = math.floor(position), math.ceil(position)
    first = second = None
    seen = 0
    for value, cases in histogram:
        if first is None and first_row < seen + cases:
            first = value
        if second_row < seen + cases:
            second = value
            break
        seen += cases
    assert first is not None  # both positions lie within the n values
    assert second is not None
    if first_row == second_row:
        return float(first)
    return first + (second - first) * (position - first_row)


def _share(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _drop_sort_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row.pop("first_day")
    return rows


# --- volumes -----------------------------------------------------------------


async def volumes(db: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Referrals per setting per term, next to what the setting expected.

    Known shortcoming: ``term_of`` (a sub-query on ``terms``) runs for every
    case in scope, about 0.3 s for a region of 30,000 cases, so seconds at a
    million; storing the term received with each case, as ``stage_times``
    stores the term a stage ended in, would remove that work.
    """
    where = _Filter().scope(scope, "c.received_on", "c.")
    rows = await db.fetch(
        f"""SELECT c.area_id, c.setting_id, s.name AS setting_name,
            term_of(c.area_id, c.received_on) AS term, count(*) AS referrals,
            s.expected_per_term AS expected, min(c.received_on) AS first_day
        FROM caseload c LEFT JOIN settings s
            ON s.area_id = c.area_id AND s.setting_id = c.setting_id
        WHERE c.received_on IS NOT NULL AND {where.sql}
        GROUP BY 1, 2, 3, 4, 6""",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    result = [dict(r) for r in rows]
    result.sort(key=lambda r: (r["first_day"], r["area_id"], r["setting_id"]))
    return _drop_sort_key(result)


# --- outcomes ----------------------------------------------------------------


async def outcomes(db: Connection, scope: Scope) -> list[dict[str, Any]]:
    """For reviewed cases: measures at review against baseline, per setting."""
    exclusion_rank = "array_position(ARRAY{}::text[], {})"
    order = list(EXCLUSION_ORDER)
    before = exclusion_rank.format(order, "baseline_exclusion")
    after = exclusion_rank.format(order, "outcome_exclusion")
    where = _Filter().scope(scope, "reviewed_on")
    rows = await db.fetch(
        f"""SELECT area_id, setting_id, count(*) AS reviewed,
            avg(baseline_attendance) AS attendance_before,
            avg(outcome_attendance) AS attendance_after,
            avg(baseline_suspensions) AS suspensions_before,
            avg(outcome_suspensions) AS suspensions_after,
            count(*) FILTER (WHERE {after} < {before}) AS exclusion_improved,
            count(*) FILTER (WHERE {after} = {before}) AS exclusion_same,
            count(*) FILTER (WHERE {after} > {before}) AS exclusion_worse
        FROM caseload WHERE reviewed_on IS NOT NULL AND {where.sql}
        GROUP BY area_id, setting_id ORDER BY area_id, setting_id""",  # noqa: S608 (constant names; values bound)
        *where.args,
    )
    return [_rounded(dict(r)) for r in rows]


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(float(v), 1) if k.endswith(("_before", "_after")) else v
            for k, v in row.items()}  # fmt: skip


# --- programme -----------------------------------------------------------------

CHECKLIST = (
    ("governance", "Governance confirmed", "governance_on"),
    ("slt_delivery_model", "SLT delivery model agreed", "slt_model_on"),
    ("information_sharing", "Information-sharing agreement", "isa_signed_on"),
    ("referral_criteria", "Referral criteria", "criteria_version"),
    ("triage_thresholds", "Triage thresholds", "thresholds_version"),
    ("response_times", "Response times", "response_times_version"),
)
"""What an area must have in place before it may take referrals."""


async def programme(db: Connection, areas: list[str] | None) -> list[dict[str, Any]]:
    """Each area's phase, readiness checklist, settings and activity."""
    rows = await db.fetch(
        "SELECT * FROM areas WHERE $1::text[] IS NULL OR area_id = ANY($1) "
        "ORDER BY area_id",
        areas,
    )
    return [await _area_programme(db, dict(row)) for row in rows]


async def _area_programme(db: Connection, area: dict[str, Any]) -> dict[str, Any]:
    settings = [
        dict(r)
        for r in await db.fetch(
            "SELECT setting_id, name, kind, lead_name, enrolled_on, expected_per_term, "
            "briefed_on FROM settings WHERE area_id = $1 ORDER BY setting_id",
            area["area_id"],
        )
    ]
    activity = [
        dict(r)
        for r in await db.fetch(
            "SELECT kind, held_on, title, attendees FROM programme_activity "
            "WHERE area_id = $1 ORDER BY held_on, activity_id",
            area["area_id"],
        )
    ]
    checklist = [
        {"item": key, "label": label, "done": area[column] is not None}
        for key, label, column in CHECKLIST
    ]
    checklist.append(
        {"item": "settings", "label": "At least one setting enrolled",
         "done": bool(settings)}
    )  # fmt: skip
    return {
        "area": area,
        "checklist": checklist,
        "settings": settings,
        "activity": activity,
    }


# --- case timeline -------------------------------------------------------------


async def timeline(
    db: Connection, referral_id: uuid.UUID, until: date | None
) -> list[dict[str, Any]]:
    """Every fact about one referral, from every service, in the order they
    happened; facts dated the same moment in the order they were recorded.

    Triage meetings are keyed by area but list the referrals they considered,
    so they appear in the timelines of those referrals too.
    """
    rows = await db.fetch(
        """SELECT seq, event_type, source, area_id, occurred_at, recorded_at,
            actor_subject, actor_role, envelope->'data' AS data
        FROM audit_trail
        WHERE (partition_key = $1
            OR (event_type = 'TriageMeetingHeld'
                AND envelope->'data'->'referral_ids' ? $1))
          AND ($2::timestamptz IS NULL OR occurred_at <= $2)
        ORDER BY occurred_at, recorded_at, seq""",
        str(referral_id),
        end_of_day(until) if until else None,
    )
    return [{**row, "data": json.loads(row["data"])} for row in rows]
