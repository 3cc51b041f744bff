"""The governance report: what a YJS Board reads about one area and one period.

A *period* is a commissioning period (the months a commissioner pays for and
expects a report on), a school term, or any two dates. The report covers the
referrals *received* in the period (the cohort) and follows each one as far as
it had gone by the period's last day; reviews, breaches and programme
activity count when they *happened* in the period.

The figures come from the audit trail, the source of truth every read model
is built from, so the report for a past period is the same whenever it is
produced. This module computes figures; :mod:`prre_projections.report_formats`
renders them as HTML, PDF and CSV.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from pydantic import ValidationError

from prre_contracts import Event, EventEnvelope
from prre_contracts.catalogue import parse_event
from prre_contracts.events import assessment as a
from prre_contracts.events import programme as p
from prre_contracts.events import referral as r
from prre_contracts.events import review as rv
from prre_contracts.events import triage as t
from prre_contracts.events.base import ProgrammeEvent
from prre_contracts.events.values import Baseline, Nation, Term
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.consumer import Connection
from prre_runtime.errors import NotFound, RuleBroken

STAGES = ("triage", "consent", "assessment", "report", "feedback", "review")
EXCLUSION_ORDER = ("none", "at-risk", "suspended", "permanently-excluded")
"""Exclusion statuses from best to worst, to say whether a child moved on."""


@dataclass(frozen=True)
class Period:
    """The dates a report covers, both included, and how to name them."""

    start: date
    end: date
    label: str

    def covers(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


# ---- facts folded from the events ----


@dataclass
class Case:
    """One referral's dates and data, as far as the events up to the period end."""

    referral_id: uuid.UUID
    setting_id: str
    received_on: date
    baseline: Baseline
    accepted_on: date | None = None
    declined_on: date | None = None
    decline_reason: str | None = None
    consented_on: date | None = None
    assessed_on: date | None = None
    reported_on: date | None = None
    feedback_on: date | None = None
    review_due_on: date | None = None
    reviewed_on: date | None = None
    outcome: Baseline | None = None
    decision: str | None = None
    closed_on: date | None = None
    closed_reason: str | None = None
    delays: list[tuple[date, str]] = field(default_factory=list)


@dataclass
class Setting:
    setting_id: str
    name: str
    kind: str
    lead_name: str
    enrolled_on: date
    expected_per_term: int | None = None


@dataclass(frozen=True)
class Session:
    kind: str
    title: str
    held_on: date
    attendees: int | None


@dataclass(frozen=True)
class Breach:
    """A stage that took longer than the area's target, with what was recorded."""

    referral_id: uuid.UUID
    setting_id: str
    stage: str
    target_days: int
    elapsed_days: int
    breached_on: date
    reasons: tuple[str, ...]


@dataclass
class Area:
    """What the programme events say about the area by the period end."""

    area_id: str
    name: str = ""
    nation: Nation = "england"
    phase: str = "mobilisation"
    phase_since: date | None = None
    settings: dict[str, Setting] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    terms: list[Term] = field(default_factory=list)
    briefings: list[Session] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    evaluation: str | None = None
    cycles: dict[str, Period] = field(default_factory=dict)


@dataclass
class Facts:
    area: Area
    cases: dict[uuid.UUID, Case] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    events: int = 0
    last_seq: int = 0
    last_hash: str = ""


# ---- the figures ----


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    count: int
    of_previous: float | None
    meaning: str


@dataclass(frozen=True)
class StageTime:
    stage: str
    cases: int
    median_days: float | None
    p90_days: int | None
    target_days: int | None
    within_target: float | None


@dataclass(frozen=True)
class SettingVolume:
    setting_id: str
    name: str
    referrals: int
    expected: int | None


@dataclass(frozen=True)
class Outcomes:
    reviewed: int
    attendance_before: float | None
    attendance_after: float | None
    suspensions_before: int
    suspensions_after: int
    exclusion_better: int
    exclusion_same: int
    exclusion_worse: int
    decisions: dict[str, int]


@dataclass(frozen=True)
class GovernanceReport:
    """Every figure of the report, ready to render."""

    area: Area
    period: Period
    generated_at: datetime
    events: int
    last_seq: int
    last_hash: str
    funnel: list[FunnelStep]
    decline_reasons: dict[str, int]
    timeliness: list[StageTime]
    breaches: list[Breach]
    volumes: list[SettingVolume]
    outcomes: Outcomes
    briefings: list[Session]
    sessions: list[Session]

    @property
    def received(self) -> int:
        return self.funnel[0].count

    def sessions_of(self, kind: str) -> list[Session]:
        return [s for s in self.sessions if s.kind == kind]


async def governance_report(
    connection: Connection,
    area_id: str,
    start: date | None = None,
    end: date | None = None,
    *,
    term: str | None = None,
    cycle: str | None = None,
    now: datetime | None = None,
) -> GovernanceReport:
    """Compute the report for ``area_id`` over dates, a school term or a cycle."""
    stored = await _area_events(connection, area_id)
    if not stored:
        raise NotFound(f"No events recorded for area {area_id}.")
    everything = fold(area_id, stored, date.max)
    period = choose_period(everything.area, start, end, term, cycle)
    facts = fold(area_id, stored, period.end)
    return figures(facts, period, now or datetime.now(UTC))


Stored = tuple[int, str, EventEnvelope, Event]


async def _area_events(connection: Connection, area_id: str) -> list[Stored]:
    rows = await connection.fetch(
        """SELECT seq, hash, envelope::text AS body FROM audit_trail
        WHERE area_id = $1 ORDER BY seq""",
        area_id,
    )
    stored: list[Stored] = []
    for row in rows:
        try:
            envelope = EventEnvelope.model_validate_json(row["body"])
            stored.append((row["seq"], row["hash"], envelope, parse_event(envelope)))
        except (ValidationError, LookupError, ValueError):
            continue  # an event this version cannot read counts in no figure
    return stored


def choose_period(
    area: Area,
    start: date | None,
    end: date | None,
    term: str | None,
    cycle: str | None,
) -> Period:
    """The period asked for: two dates, a term ("2025/26 Autumn") or a cycle id."""
    if term is not None:
        return _term_period(area, term)
    if cycle is not None:
        if cycle not in area.cycles:
            known = ", ".join(sorted(area.cycles)) or "none recorded"
            raise NotFound(f"No commissioning cycle {cycle!r} (known: {known}).")
        return area.cycles[cycle]
    if start is None or end is None:
        raise RuleBroken("Give the period: from and to dates, a term or a cycle.")
    if end < start:
        raise RuleBroken("The period ends before it starts: swap from and to.")
    return Period(start, end, f"{start:%d %B %Y} to {end:%d %B %Y}")


def _term_period(area: Area, wanted: str) -> Period:
    for term in area.terms:
        if term.name.casefold() == wanted.casefold():
            return Period(term.starts_on, term.ends_on, term.name)
    known = ", ".join(term.name for term in area.terms) or "none recorded"
    raise NotFound(f"No school term {wanted!r} for this area (known: {known}).")


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, UTC)


def fold(area_id: str, stored: Iterable[Stored], until: date) -> Facts:
    """The area's facts from its events that happened by the end of ``until``."""
    facts = Facts(Area(area_id))
    for seq, hash_, envelope, event in stored:
        if until != date.max and envelope.occurred_at > end_of(until):
            continue
        facts.events, facts.last_seq, facts.last_hash = facts.events + 1, seq, hash_
        if isinstance(event, ProgrammeEvent):
            _apply_programme(facts.area, event)
        else:
            _apply_case(facts, event)
    return facts


def _apply_programme(area: Area, event: Event) -> None:
    match event:
        case p.AreaRegistered():
            area.name, area.nation = event.name, event.nation
        case p.AreaPhaseChanged():
            area.phase, area.phase_since = event.to_phase, event.changed_on
        case p.ResponseTimesDefined():
            area.targets = {x.stage: x.working_days for x in event.targets}
        case p.TermDatesRecorded():
            named = [x.model_copy(update={"name": f"{event.academic_year} {x.name}"})
                     for x in event.terms]  # fmt: skip
            area.terms = [*area.terms, *named]
        case p.SettingEnrolled():
            area.settings[event.setting_id] = Setting(
                event.setting_id, event.name, event.kind, event.lead_name,
                event.enrolled_on,
            )  # fmt: skip
        case p.SettingLeadChanged() if event.setting_id in area.settings:
            area.settings[event.setting_id].lead_name = event.lead_name
        case p.BriefingDelivered():
            _apply_briefing(area, event)
        case p.ProgrammeSessionDelivered():
            area.sessions.append(
                Session(event.kind, event.title, event.delivered_on, event.attendees)
            )
        case p.PilotEvaluationRecorded():
            area.evaluation = f"{event.recommendation}: {event.summary}"
        case p.CommissioningCycleOpened():
            area.cycles[event.cycle_id] = Period(
                event.starts_on, event.ends_on, f"commissioning cycle {event.cycle_id}"
            )


def _apply_briefing(area: Area, event: p.BriefingDelivered) -> None:
    setting = area.settings.get(event.setting_id)
    if setting is not None:
        setting.expected_per_term = event.expected_referrals_per_term
    title = setting.name if setting else event.setting_id
    area.briefings.append(
        Session("briefing", title, event.delivered_on, event.attendees)
    )


def _apply_case(facts: Facts, event: Event) -> None:
    if isinstance(event, r.ReferralReceived):
        facts.cases[event.referral_id] = Case(
            event.referral_id, event.setting_id, event.referred_on, event.baseline
        )
        return
    case = facts.cases.get(getattr(event, "referral_id", None))  # type: ignore[arg-type]  # programme-keyed triage meetings have none
    if case is None:
        return
    if isinstance(event, rv.ResponseTimeBreached):
        facts.breaches.append(_breach(case, event))
    else:
        _apply_step(case, event)


def _apply_step(case: Case, event: Event) -> None:
    match event:
        case t.ReferralAccepted():
            case.accepted_on = event.decided_on
        case t.ReferralDeclined():
            case.declined_on, case.decline_reason = event.decided_on, event.reason
        case t.MoreInformationRequested():
            case.delays.append((event.requested_on, "more information requested"))
        case r.ConsentConfirmed():
            case.consented_on = case.consented_on or event.confirmed_on
        case a.AssessmentRescheduled():
            case.delays.append((event.previous_date, _why("rescheduled", event.reason)))
        case a.AssessmentNotAttended():
            case.delays.append((event.missed_on, _why("not attended", event.reason)))
        case a.AssessmentCompleted():
            case.assessed_on = event.completed_on
        case a.ReportIssued():
            case.reported_on = case.reported_on or event.issued_on
        case a.FeedbackMeetingHeld():
            case.feedback_on = case.feedback_on or event.held_on
        case rv.ReviewScheduled():
            case.review_due_on = event.due_on
        case rv.ReviewCompleted():
            case.reviewed_on, case.outcome = event.completed_on, event.outcome
            case.decision = event.decision
        case r.ReferralClosed():
            case.closed_on, case.closed_reason = event.closed_on, event.reason


def _why(what: str, reason: str | None) -> str:
    return f"assessment {what}: {reason or 'reason not given'}"


def _breach(case: Case, event: rv.ResponseTimeBreached) -> Breach:
    """The breach, with what the case record shows up to that day."""
    reasons = tuple(f"{text} ({day})" for day, text in case.delays
                    if event.started_on <= day <= event.breached_on)  # fmt: skip
    return Breach(
        case.referral_id, case.setting_id, event.stage, event.target_working_days,
        event.elapsed_working_days, event.breached_on, reasons,
    )  # fmt: skip


# ---- from facts to figures ----


def figures(facts: Facts, period: Period, now: datetime) -> GovernanceReport:
    cohort = [c for c in facts.cases.values() if period.covers(c.received_on)]
    calendar = WorkingDayCalendar(facts.area.nation, facts.area.terms)
    reviewed = [c for c in facts.cases.values() if period.covers(c.reviewed_on)]
    return GovernanceReport(
        area=facts.area,
        period=period,
        generated_at=now,
        events=facts.events,
        last_seq=facts.last_seq,
        last_hash=facts.last_hash,
        funnel=funnel(cohort),
        decline_reasons=dict(
            Counter(c.decline_reason for c in cohort if c.decline_reason)
        ),
        timeliness=[stage_time(s, cohort, calendar, facts.area) for s in STAGES],
        breaches=[b for b in facts.breaches if period.covers(b.breached_on)],
        volumes=volumes(cohort, facts.area, period),
        outcomes=outcomes(reviewed),
        briefings=[b for b in facts.area.briefings if period.covers(b.held_on)],
        sessions=[s for s in facts.area.sessions if period.covers(s.held_on)],
    )


FUNNEL: tuple[tuple[str, str, Callable[[Case], bool]], ...] = (
    ("received", "referrals received in the period", lambda c: True),
    ("triaged", "given a triage decision (accepted or declined)",
     lambda c: bool(c.accepted_on or c.declined_on)),
    ("accepted", "accepted for an assessment", lambda c: bool(c.accepted_on)),
    ("consented", "with consent confirmed by a parent, carer or the young person",
     lambda c: bool(c.consented_on)),
    ("assessed", "assessed by a speech and language therapist",
     lambda c: bool(c.assessed_on)),
    ("reported", "with a written report issued", lambda c: bool(c.reported_on)),
    ("feedback held", "with a feedback meeting held", lambda c: bool(c.feedback_on)),
    ("reviewed", "with a follow-up review completed", lambda c: bool(c.reviewed_on)),
    ("closed", "closed, for any reason", lambda c: bool(c.closed_on)),
)  # fmt: skip


def funnel(cohort: Sequence[Case]) -> list[FunnelStep]:
    steps: list[FunnelStep] = []
    for stage, meaning, reached in FUNNEL:
        count = sum(1 for case in cohort if reached(case))
        before = steps[-1].count if steps else None
        share = count / before if before else None
        steps.append(FunnelStep(stage, count, share, meaning))
    return steps


def stage_span(case: Case, stage: str) -> tuple[date | None, date | None]:
    """When a stage began and ended for a case (DESIGN's response-time stages)."""
    decided = case.accepted_on or case.declined_on
    ready = (
        max(case.accepted_on, case.consented_on)
        if case.accepted_on and case.consented_on
        else None
    )
    spans = {
        "triage": (case.received_on, decided),
        "consent": (case.received_on, case.consented_on),
        "assessment": (ready, case.assessed_on),
        "report": (case.assessed_on, case.reported_on),
        "feedback": (case.reported_on, case.feedback_on),
        "review": (case.review_due_on, case.reviewed_on),
    }
    return spans[stage]


def stage_time(
    stage: str, cohort: Sequence[Case], calendar: WorkingDayCalendar, area: Area
) -> StageTime:
    days = sorted(
        calendar.working_days_between(begun, ended)
        for begun, ended in (stage_span(case, stage) for case in cohort)
        if begun and ended
    )
    target = area.targets.get(stage)
    if not days:
        return StageTime(stage, 0, None, None, target, None)
    within = sum(1 for d in days if d <= target) / len(days) if target else None
    return StageTime(
        stage, len(days), statistics.median(days), nearest_rank(days, 0.9), target,
        within,
    )  # fmt: skip


def nearest_rank(ordered: Sequence[int], share: float) -> int:
    """The value at or below which ``share`` of the values lie (nearest rank)."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def terms_in(area: Area, period: Period) -> int:
    """School terms the period spans: recorded terms, else about four months each."""
    recorded = [x for x in area.terms if x.starts_on <= period.end
                and x.ends_on >= period.start]  # fmt: skip
    if recorded:
        return len(recorded)
    days = (period.end - period.start).days + 1
    return max(1, round(days / 122))


def volumes(cohort: Sequence[Case], area: Area, period: Period) -> list[SettingVolume]:
    received = Counter(case.setting_id for case in cohort)
    terms = terms_in(area, period)
    rows = [
        SettingVolume(
            setting.setting_id, setting.name, received.pop(setting.setting_id, 0),
            None if setting.expected_per_term is None
            else setting.expected_per_term * terms,
        )
        for setting in sorted(area.settings.values(), key=lambda s: s.name)
    ]  # fmt: skip
    rows += [SettingVolume(s, s, n, None) for s, n in sorted(received.items())]
    return rows


def outcomes(reviewed: Sequence[Case]) -> Outcomes:
    pairs = [(c.baseline, c.outcome) for c in reviewed if c.outcome is not None]
    moves = Counter(_exclusion_move(before, after) for before, after in pairs)
    return Outcomes(
        reviewed=len(pairs),
        attendance_before=_mean([b.attendance_percent for b, _ in pairs]),
        attendance_after=_mean([o.attendance_percent for _, o in pairs]),
        suspensions_before=sum(b.suspensions_this_year for b, _ in pairs),
        suspensions_after=sum(o.suspensions_this_year for _, o in pairs),
        exclusion_better=moves["better"],
        exclusion_same=moves["same"],
        exclusion_worse=moves["worse"],
        decisions=dict(Counter(c.decision for c in reviewed if c.decision)),
    )


def _exclusion_move(before: Baseline, after: Baseline) -> str:
    change = EXCLUSION_ORDER.index(after.exclusion_status) - EXCLUSION_ORDER.index(
        before.exclusion_status
    )
    return "better" if change < 0 else "worse" if change > 0 else "same"


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def days_late(breach: Breach) -> int:
    return breach.elapsed_days - breach.target_days
