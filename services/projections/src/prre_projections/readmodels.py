"""How each event changes the read models (everything but the audit trail).

Each function takes (envelope, event, connection) and names its tables
without a schema, so the same code builds the live models, a rebuild, or a
throw-away copy "as at" a past date in another schema (``search_path``).
Events this code does not know are ignored, so a new event type in the
catalogue never stops the stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from prre_contracts import Event, EventEnvelope
from prre_contracts.events import programme as p
from prre_contracts.events.base import CaseEvent
from prre_contracts.events.review import ResponseTimeBreached
from prre_contracts.events.values import Nation, Term
from prre_projections.casefile import (
    CaseFile,
    apply,
    new_case_file,
    stage_of,
    stage_spans,
)
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.consumer import Connection

CASE_COLUMNS = (
    "referral_id", "area_id", "setting_id", "child_ref", "criteria_version",
    "year_group", "stage", "stage_since", "consent", "consent_on", "consented_on",
    "triage", "priority", "suggested_priority", "screened_on",
    "information_requested_on", "triaged_on", "accepted_on", "decline_reason",
    "assessment_booked_for", "assessment_missed", "assessed_on", "report_on",
    "feedback_on", "plan_on", "review_required", "review_due_on", "review_is_due",
    "reviewed_on", "review_decision", "baseline_attendance", "baseline_suspensions",
    "baseline_exclusion", "outcome_attendance", "outcome_suspensions",
    "outcome_exclusion", "breached_stages", "received_on", "withdrawn_on",
    "closed_reason", "closed_on", "last_event_type", "last_event_at",
)  # fmt: skip
_UPSERT_CASE = (
    f"INSERT INTO caseload ({', '.join(CASE_COLUMNS)}) VALUES ("  # noqa: S608 (constant names; values bound)
    + ", ".join(f"${i}" for i in range(1, len(CASE_COLUMNS) + 1))
    + ") ON CONFLICT (referral_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in CASE_COLUMNS[1:])
)


async def project_read_models(
    envelope: EventEnvelope, event: Event, connection: Connection
) -> None:
    """Apply one event to every read model it concerns."""
    if isinstance(event, CaseEvent):
        await project_case(envelope, event, connection)
        return
    programme_rule = _PROGRAMME_RULES.get(type(event))
    if programme_rule is not None:
        await programme_rule(envelope, event, connection)


# --- cases -----------------------------------------------------------------


async def project_case(
    envelope: EventEnvelope, event: CaseEvent, connection: Connection
) -> None:
    """Update the case's row, its finished stage times and its breaches."""
    row = await connection.fetchrow(
        "SELECT * FROM caseload WHERE referral_id = $1 FOR UPDATE", event.referral_id
    )
    case = dict(row) if row else new_case_file(event.referral_id, event.area_id)
    on = apply(case, event)

    # A stage starts on the day of the fact that moved the case into it.
    stage = stage_of(case)
    if stage != case.get("stage"):
        case.update(stage=stage, stage_since=on or envelope.occurred_at.date())
    case.update(last_event_type=envelope.event_type, last_event_at=envelope.occurred_at)
    await connection.execute(_UPSERT_CASE, *(case.get(c) for c in CASE_COLUMNS))

    await record_stage_times(case, connection)
    if isinstance(event, ResponseTimeBreached):
        await _record_breach(event, connection)


async def record_stage_times(case: CaseFile, connection: Connection) -> None:
    """Store, once, how many working days each finished stage took."""
    recorded = {
        row["stage"]
        for row in await connection.fetch(
            "SELECT stage FROM stage_times WHERE referral_id = $1", case["referral_id"]
        )
    }
    finished = [
        span
        for span in stage_spans(case)
        if span.ended_on is not None and span.stage not in recorded
    ]
    if not finished:
        return
    calendar = await area_calendar(connection, case["area_id"])
    for span in finished:
        assert span.ended_on is not None  # filtered above; narrows the type
        target = await target_days(
            connection, case["area_id"], span.stage, span.started_on
        )
        await connection.execute(
            """INSERT INTO stage_times (referral_id, stage, area_id, setting_id,
                started_on, ended_on, working_days, target_days, term)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, term_of($3, $6))
            ON CONFLICT DO NOTHING""",
            case["referral_id"], span.stage, case["area_id"], case.get("setting_id"),
            span.started_on, span.ended_on,
            calendar.working_days_between(span.started_on, span.ended_on), target,
        )  # fmt: skip


async def _record_breach(event: ResponseTimeBreached, connection: Connection) -> None:
    await connection.execute(
        """INSERT INTO breaches (referral_id, stage, area_id, target_days,
            elapsed_days, policy_version, started_on, breached_on)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
        event.referral_id, event.stage, event.area_id, event.target_working_days,
        event.elapsed_working_days, event.policy_version, event.started_on,
        event.breached_on,
    )  # fmt: skip


async def area_calendar(connection: Connection, area_id: str) -> WorkingDayCalendar:
    """The area's working-day calendar as far as the read side knows it."""
    nation = await connection.fetchval(
        "SELECT nation FROM areas WHERE area_id = $1", area_id
    )
    rows = await connection.fetch(
        "SELECT name, starts_on, ends_on FROM terms WHERE area_id = $1 "
        "ORDER BY starts_on",
        area_id,
    )
    terms = tuple(Term(**dict(row)) for row in rows)
    return calendar_for(nation or "england", terms)


@lru_cache(maxsize=256)
def calendar_for(nation: Nation, terms: tuple[Term, ...]) -> WorkingDayCalendar:
    """Calendars are costly to build and never change: one per nation and terms."""
    return WorkingDayCalendar(nation, terms)


async def target_days(
    connection: Connection, area_id: str, stage: str, started_on: date
) -> int | None:
    """The stage's target in the response-times version in force when it began."""
    value: int | None = await connection.fetchval(
        """SELECT working_days FROM response_targets
        WHERE area_id = $1 AND stage = $2 AND effective_from <= $3
        ORDER BY effective_from DESC, version DESC LIMIT 1""",
        area_id,
        stage,
        started_on,
    )
    return value


# --- programme ---------------------------------------------------------------


async def _update_area(connection: Connection, area_id: str, **columns: Any) -> None:
    names = list(columns)
    await connection.execute(
        f"INSERT INTO areas (area_id, {', '.join(names)}) VALUES ($1, "  # noqa: S608 (constant names; values bound)
        + ", ".join(f"${i}" for i in range(2, len(names) + 2))
        + ") ON CONFLICT (area_id) DO UPDATE SET "
        + ", ".join(f"{name} = EXCLUDED.{name}" for name in names),
        area_id,
        *columns.values(),
    )


async def _add_activity(
    connection: Connection,
    envelope: EventEnvelope,
    kind: str,
    held_on: date,
    title: str,
    attendees: int | None = None,
) -> None:
    await connection.execute(
        """INSERT INTO programme_activity (area_id, activity_id, kind, held_on,
            title, attendees) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        envelope.area_id, str(envelope.event_id), kind, held_on, title, attendees,
    )  # fmt: skip


async def _registered(
    envelope: EventEnvelope, event: p.AreaRegistered, db: Connection
) -> None:
    await _update_area(
        db,
        event.area_id,
        name=event.name,
        nation=event.nation,
        registered_on=envelope.occurred_at.date(),
    )


async def _governance(
    envelope: EventEnvelope, event: p.GovernanceConfirmed, db: Connection
) -> None:
    await _update_area(
        db,
        event.area_id,
        sponsor_name=event.sponsor_name,
        governance_on=event.confirmed_on,
    )


async def _slt_model(
    envelope: EventEnvelope, event: p.SltDeliveryModelAgreed, db: Connection
) -> None:
    await _update_area(
        db,
        event.area_id,
        delivery_model=event.delivery_model,
        slt_provider=event.provider,
        slt_model_on=event.agreed_on,
    )


async def _isa(
    envelope: EventEnvelope, event: p.InformationSharingAgreementSigned, db: Connection
) -> None:
    await _update_area(
        db,
        event.area_id,
        isa_reference=event.reference,
        isa_signed_on=event.signed_on,
        isa_review_on=event.review_on,
    )


async def _criteria(
    envelope: EventEnvelope, event: p.ReferralCriteriaDefined, db: Connection
) -> None:
    await _update_area(db, event.area_id, criteria_version=event.version)


async def _thresholds(
    envelope: EventEnvelope, event: p.TriageThresholdsDefined, db: Connection
) -> None:
    await _update_area(db, event.area_id, thresholds_version=event.version)


async def _response_times(
    envelope: EventEnvelope, event: p.ResponseTimesDefined, db: Connection
) -> None:
    await _update_area(db, event.area_id, response_times_version=event.version)
    for target in event.targets:
        await db.execute(
            """INSERT INTO response_targets (area_id, version, effective_from, stage,
                working_days) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            event.area_id, event.version, event.effective_from, target.stage,
            target.working_days,
        )  # fmt: skip


async def _setting_enrolled(
    envelope: EventEnvelope, event: p.SettingEnrolled, db: Connection
) -> None:
    await db.execute(
        """INSERT INTO settings (area_id, setting_id, name, kind, urn, lead_name,
            enrolled_on) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (area_id, setting_id) DO UPDATE SET name = EXCLUDED.name,
            kind = EXCLUDED.kind, urn = EXCLUDED.urn, lead_name = EXCLUDED.lead_name,
            enrolled_on = EXCLUDED.enrolled_on""",
        event.area_id, event.setting_id, event.name, event.kind, event.urn,
        event.lead_name, event.enrolled_on,
    )  # fmt: skip


async def _lead_changed(
    envelope: EventEnvelope, event: p.SettingLeadChanged, db: Connection
) -> None:
    await db.execute(
        "UPDATE settings SET lead_name = $3 WHERE area_id = $1 AND setting_id = $2",
        event.area_id,
        event.setting_id,
        event.lead_name,
    )


async def _terms(
    envelope: EventEnvelope, event: p.TermDatesRecorded, db: Connection
) -> None:
    replaced = await db.fetch(
        "DELETE FROM terms WHERE area_id = $1 AND academic_year = $2 "
        "RETURNING starts_on, ends_on",
        event.area_id,
        event.academic_year,
    )
    await db.executemany(
        "INSERT INTO terms VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [
            (event.area_id, event.academic_year, t.name, t.starts_on, t.ends_on)
            for t in event.terms
        ],
    )
    spans = [(r["starts_on"], r["ends_on"]) for r in replaced]
    spans += [(t.starts_on, t.ends_on) for t in event.terms]
    await _retag_terms(db, event.area_id, spans)


TERM_TAIL_DAYS = 75
"""How long after a recorded term its holiday still counts with it (term_of)."""


async def _retag_terms(
    db: Connection, area_id: str, spans: list[tuple[date, date]]
) -> None:
    """Give the area's finished stages that ended while old or new term dates
    applied the term they fall in now (the term stored with each row)."""
    if not spans:
        return
    await db.execute(
        """UPDATE stage_times SET term = term_of(area_id, ended_on)
        WHERE area_id = $1 AND ended_on BETWEEN $2 AND $3
          AND term IS DISTINCT FROM term_of(area_id, ended_on)""",
        area_id,
        min(start for start, _ in spans),
        max(end for _, end in spans) + timedelta(days=TERM_TAIL_DAYS),
    )


async def _phase(
    envelope: EventEnvelope, event: p.AreaPhaseChanged, db: Connection
) -> None:
    await _update_area(
        db, event.area_id, phase=event.to_phase, phase_since=event.changed_on
    )
    title = f"Moved from {event.from_phase} to {event.to_phase}"
    await _add_activity(db, envelope, "phase", event.changed_on, title)


async def _briefing(
    envelope: EventEnvelope, event: p.BriefingDelivered, db: Connection
) -> None:
    await db.execute(
        """UPDATE settings SET expected_per_term = $3, briefed_on = $4
        WHERE area_id = $1 AND setting_id = $2""",
        event.area_id, event.setting_id, event.expected_referrals_per_term,
        event.delivered_on,
    )  # fmt: skip
    title = f"Briefing for {event.setting_id}"
    await _add_activity(db, envelope, "briefing", event.delivered_on, title)


async def _session(
    envelope: EventEnvelope, event: p.ProgrammeSessionDelivered, db: Connection
) -> None:
    await _add_activity(
        db, envelope, event.kind, event.delivered_on, event.title, event.attendees
    )


async def _pilot_evaluation(
    envelope: EventEnvelope, event: p.PilotEvaluationRecorded, db: Connection
) -> None:
    await _update_area(
        db,
        event.area_id,
        pilot_evaluated_on=event.evaluated_on,
        pilot_recommendation=event.recommendation,
    )
    title = f"Pilot evaluated: {event.recommendation}"
    await _add_activity(db, envelope, "pilot-evaluation", event.evaluated_on, title)


async def _arrangement(
    envelope: EventEnvelope, event: p.ServiceLevelArrangementAgreed, db: Connection
) -> None:
    title = f"Service-level arrangement {event.reference} with {event.setting_id}"
    await _add_activity(db, envelope, "arrangement", event.starts_on, title)


async def _cycle(
    envelope: EventEnvelope, event: p.CommissioningCycleOpened, db: Connection
) -> None:
    title = f"Commissioning cycle {event.cycle_id} ({event.commissioner})"
    await _add_activity(db, envelope, "commissioning", event.starts_on, title)


async def _report_presented(
    envelope: EventEnvelope, event: p.GovernanceReportPresented, db: Connection
) -> None:
    title = f"Governance report {event.cycle_id} to {event.board}: {event.outcome}"
    await _add_activity(db, envelope, "governance-report", event.presented_on, title)


_PROGRAMME_RULES: dict[type[Event], Callable[..., Awaitable[None]]] = {
    p.AreaRegistered: _registered,
    p.GovernanceConfirmed: _governance,
    p.SltDeliveryModelAgreed: _slt_model,
    p.InformationSharingAgreementSigned: _isa,
    p.ReferralCriteriaDefined: _criteria,
    p.TriageThresholdsDefined: _thresholds,
    p.ResponseTimesDefined: _response_times,
    p.SettingEnrolled: _setting_enrolled,
    p.SettingLeadChanged: _lead_changed,
    p.TermDatesRecorded: _terms,
    p.AreaPhaseChanged: _phase,
    p.BriefingDelivered: _briefing,
    p.ProgrammeSessionDelivered: _session,
    p.PilotEvaluationRecorded: _pilot_evaluation,
    p.ServiceLevelArrangementAgreed: _arrangement,
    p.CommissioningCycleOpened: _cycle,
    p.GovernanceReportPresented: _report_presented,
}
"""The programme events the read side keeps, and how."""
