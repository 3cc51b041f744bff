"""The questions the dashboards ask of the read models.

Every query takes a :class:`Scope` (areas the caller may see, a setting, a
period) and a connection whose ``search_path`` decides whether it reads the
live models or a copy as at a past date. Results are plain dicts, ready for
JSON and for the HTML pages alike.
"""

from __future__ import annotations

import json
import uuid
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

    def args(self) -> tuple[Any, ...]:
        return (self.areas, self.setting_id, self.since, self.until)


def _where(date_column: str, prefix: str = "") -> str:
    """SQL that applies a scope given as parameters $1-$4."""
    return f"""({prefix}area_id = ANY($1) OR $1::text[] IS NULL)
        AND ($2::text IS NULL OR {prefix}setting_id = $2)
        AND ($3::date IS NULL OR {date_column} >= $3)
        AND ($4::date IS NULL OR {date_column} <= $4)"""


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
    rows = await db.fetch(
        f"""SELECT * FROM caseload WHERE {_where("received_on")}
            AND ($5::text IS NULL OR stage = $5) AND ($6 OR stage <> 'closed')
        ORDER BY received_on, referral_id LIMIT 5000""",  # noqa: S608 (constant names; values bound)
        *scope.args(), stage, include_closed,
    )  # fmt: skip
    policy = await _policies(db, scope)
    cases = []
    for row in rows:
        case = dict(row)
        await policy.add_timeliness(db, case, today)
        cases.append(case)
    return cases


@dataclass
class _Policies:
    """Each area's calendar and response-time targets, loaded once per query."""

    targets: dict[tuple[str, str], list[tuple[date, int]]]
    calendars: dict[str, WorkingDayCalendar]

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
            self.calendars[area_id] = await area_calendar(db, area_id)
        calendar = self.calendars[area_id]
        elapsed = calendar.working_days_between(span.started_on, today)
        case.update(timed_stage=span.stage, elapsed_working_days=elapsed)
        target = self.target(area_id, span.stage, span.started_on)
        if target is not None:
            case.update(
                target_days=target,
                due_on=calendar.add_working_days(span.started_on, target),
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
    row = await db.fetchrow(
        f"SELECT {counts} FROM caseload WHERE {_where('received_on')}",  # noqa: S608 (constant names; values bound)
        *scope.args(),
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
        WHERE triage = 'declined' AND {_where("received_on")}
        GROUP BY decline_reason ORDER BY count DESC, reason""",  # noqa: S608 (constant names; values bound)
        *scope.args(),
    )
    return {"steps": steps, "decline_reasons": [dict(r) for r in reasons]}


# --- timeliness ----------------------------------------------------------------


async def timeliness(db: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per term and stage: cases, median and 90th percentile working days, share
    within the area's target (of the cases that had one)."""
    rows = await db.fetch(
        f"""SELECT term_of(area_id, ended_on) AS term, stage, count(*) AS cases,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY working_days) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY working_days) AS p90,
            avg(CASE WHEN working_days <= target_days THEN 1.0 ELSE 0.0 END)
                FILTER (WHERE target_days IS NOT NULL) AS within_target,
            min(ended_on) AS first_day
        FROM stage_times WHERE {_where("ended_on")}
        GROUP BY 1, 2""",  # noqa: S608 (constant names; values bound)
        *scope.args(),
    )
    order = {stage: i for i, stage in enumerate(TIMED_STAGES)}
    result = [
        {
            "term": r["term"],
            "stage": r["stage"],
            "cases": r["cases"],
            "median_working_days": r["median"],
            "p90_working_days": round(r["p90"], 1),
            "within_target_share": _share(r["within_target"]),
            "first_day": r["first_day"],
        }
        for r in rows
    ]
    result.sort(key=lambda r: (r["first_day"], order.get(r["stage"], 9)))
    return _drop_sort_key(result)


def _share(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _drop_sort_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row.pop("first_day")
    return rows


# --- volumes -----------------------------------------------------------------


async def volumes(db: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Referrals per setting per term, next to what the setting expected."""
    rows = await db.fetch(
        f"""SELECT c.area_id, c.setting_id, s.name AS setting_name,
            term_of(c.area_id, c.received_on) AS term, count(*) AS referrals,
            s.expected_per_term AS expected, min(c.received_on) AS first_day
        FROM caseload c LEFT JOIN settings s
            ON s.area_id = c.area_id AND s.setting_id = c.setting_id
        WHERE c.received_on IS NOT NULL AND {_where("c.received_on", "c.")}
        GROUP BY 1, 2, 3, 4, 6""",  # noqa: S608 (constant names; values bound)
        *scope.args(),
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
    rows = await db.fetch(
        f"""SELECT area_id, setting_id, count(*) AS reviewed,
            avg(baseline_attendance) AS attendance_before,
            avg(outcome_attendance) AS attendance_after,
            avg(baseline_suspensions) AS suspensions_before,
            avg(outcome_suspensions) AS suspensions_after,
            count(*) FILTER (WHERE {after} < {before}) AS exclusion_improved,
            count(*) FILTER (WHERE {after} = {before}) AS exclusion_same,
            count(*) FILTER (WHERE {after} > {before}) AS exclusion_worse
        FROM caseload WHERE reviewed_on IS NOT NULL AND {_where("reviewed_on")}
        GROUP BY area_id, setting_id ORDER BY area_id, setting_id""",  # noqa: S608 (constant names; values bound)
        *scope.args(),
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
