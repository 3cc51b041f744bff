"""The read models, built from a known story of events in the embedded PostgreSQL.

One area, two settings and four referrals in the spring term of 2026:

- A (oak) goes the whole way: accepted, consented, assessed, reported,
  feedback, plan, review and closure, with better measures at review;
- B (oak) is declined after six working days (target five) and closed;
- C (elm) is accepted and waits for consent;
- D (elm) arrives on Monday 23 March and waits for triage.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
import pytest

from helpers import unique
from prre_contracts import Actor, Event, EventEnvelope, event_id_for
from prre_contracts.events import assessment as a
from prre_contracts.events import programme as p
from prre_contracts.events import referral as r
from prre_contracts.events import review as rv
from prre_contracts.events import triage as t
from prre_contracts.events.values import Action, Baseline, ResponseTimeTarget, Term
from prre_projections import queries
from prre_projections.projector import append_to_audit_trail, project
from prre_projections.readmodels import project_read_models
from prre_projections.rebuild import read_models_as_at, rebuild
from prre_projections.schema import READ_MODEL_TABLES, create_read_models
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow

D = date.fromisoformat


class Story:
    """Events in the order a consumer would see them, as envelopes."""

    def __init__(self, area_id: str) -> None:
        self.area_id = area_id
        self.versions: dict[uuid.UUID, int] = {}
        self.told: list[tuple[EventEnvelope, Event]] = []

    def tell(self, event: Event, on: date) -> None:
        key = event.partition_key()
        aggregate = uuid.uuid5(uuid.NAMESPACE_URL, key)
        version = self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        at = datetime.combine(on, time(10), UTC)
        envelope = EventEnvelope(
            event_id=event_id_for(event.publisher, aggregate, version),
            event_type=event.event_type,
            schema_version=event.schema_version,
            source=event.publisher,
            area_id=self.area_id,
            partition_key=key,
            aggregate_id=aggregate,
            aggregate_version=version,
            occurred_at=at,
            recorded_at=at,
            actor=Actor(subject="slt@example.org", role="clinician"),
            correlation_id=uuid.uuid4(),
            data=event.model_dump(mode="json"),
        )
        self.told.append((envelope, event))


def baseline(attendance: float, suspensions: int, status: str) -> Baseline:
    return Baseline.model_validate(
        {
            "attendance_percent": attendance,
            "suspensions_this_year": suspensions,
            "exclusion_status": status,
        }
    )


def programme(story: Story) -> None:
    area = story.area_id
    targets = [
        ResponseTimeTarget(stage=stage, working_days=days)
        for stage, days in (
            ("triage", 5), ("consent", 10), ("assessment", 20), ("report", 10),
            ("feedback", 10), ("review", 5),
        )
    ]  # fmt: skip
    terms = [
        Term(name="Autumn", starts_on=D("2025-09-03"), ends_on=D("2025-12-19")),
        Term(name="Spring", starts_on=D("2026-01-05"), ends_on=D("2026-03-27")),
        Term(name="Summer", starts_on=D("2026-04-13"), ends_on=D("2026-07-22")),
    ]
    for event, on in (
        (p.AreaRegistered(area_id=area, name="North Shire", nation="england"),
         D("2026-01-05")),
        (p.GovernanceConfirmed(area_id=area, sponsor_name="S Ponsor",
         boards=["YJS board"], confirmed_on=D("2026-01-06")), D("2026-01-06")),
        (p.ReferralCriteriaDefined(area_id=area, version=1, criteria=["At risk"],
         effective_from=D("2026-01-01")), D("2026-01-06")),
        (p.ResponseTimesDefined(area_id=area, version=1, targets=targets,
         effective_from=D("2026-01-01")), D("2026-01-06")),
        (p.TermDatesRecorded(area_id=area, academic_year="2025/26", terms=terms),
         D("2026-01-06")),
        (p.SettingEnrolled(area_id=area, setting_id="oak", name="Oak Academy",
         kind="school", lead_name="O Lead", enrolled_on=D("2026-01-07")),
         D("2026-01-07")),
        (p.SettingEnrolled(area_id=area, setting_id="elm", name="Elm PRU",
         kind="pru", lead_name="E Lead", enrolled_on=D("2026-01-07")),
         D("2026-01-07")),
        (p.BriefingDelivered(area_id=area, setting_id="oak",
         delivered_on=D("2026-01-12"), expected_referrals_per_term=3),
         D("2026-01-12")),
        (p.ProgrammeSessionDelivered(area_id=area, session_id=uuid.uuid4(),
         kind="training", title="Spotting communication needs",
         delivered_on=D("2026-01-14"), attendees=18), D("2026-01-14")),
        (p.AreaPhaseChanged(area_id=area, from_phase="mobilisation",
         to_phase="pilot", changed_on=D("2026-02-02")), D("2026-02-02")),
    ):  # fmt: skip
        story.tell(event, on)


def case_a(story: Story, ref: uuid.UUID) -> None:
    area, plan = story.area_id, uuid.uuid4()
    review, assessment = uuid.uuid4(), uuid.uuid4()
    for event, on in (
        (received(area, ref, "oak", "2026-03-02"), D("2026-03-02")),
        (t.ReferralAccepted(area_id=area, referral_id=ref, priority="urgent",
         decided_on=D("2026-03-04")), D("2026-03-04")),
        (r.ConsentConfirmed(area_id=area, referral_id=ref, given_by="parent",
         confirmed_on=D("2026-03-05")), D("2026-03-05")),
        (a.AssessmentScheduled(area_id=area, referral_id=ref,
         assessment_id=assessment, scheduled_for=D("2026-03-16")), D("2026-03-06")),
        (a.AssessmentCompleted(area_id=area, referral_id=ref,
         assessment_id=assessment, completed_on=D("2026-03-16")), D("2026-03-16")),
        (a.ReportIssued(area_id=area, referral_id=ref, report_id=uuid.uuid4(),
         version=1, issued_on=D("2026-03-20"), shared_with=["senco"]),
         D("2026-03-20")),
        (a.FeedbackMeetingHeld(area_id=area, referral_id=ref,
         meeting_id=uuid.uuid4(), held_on=D("2026-03-25"),
         attendee_roles=["senco"]), D("2026-03-25")),
        (a.ActionPlanAgreed(area_id=area, referral_id=ref, plan_id=plan,
         agreed_on=D("2026-03-25"), review_required=True, review_after_weeks=6,
         actions=[Action(description="Visual timetable", owner_role="senco",
                         due_on=D("2026-04-20"))]), D("2026-03-25")),
        (rv.ReviewScheduled(area_id=area, referral_id=ref, review_id=review,
         plan_id=plan, scheduled_on=D("2026-03-25"), due_on=D("2026-05-06")),
         D("2026-03-25")),
        (rv.ReviewDue(area_id=area, referral_id=ref, review_id=review,
         due_on=D("2026-05-06")), D("2026-05-06")),
        (rv.ReviewCompleted(area_id=area, referral_id=ref, review_id=review,
         completed_on=D("2026-05-08"), baseline=baseline(70, 2, "suspended"),
         outcome=baseline(85, 0, "at-risk"), decision="close"), D("2026-05-08")),
        (r.ReferralClosed(area_id=area, referral_id=ref, reason="completed",
         closed_on=D("2026-05-08")), D("2026-05-08")),
    ):  # fmt: skip
        story.tell(event, on)


def received(area: str, ref: uuid.UUID, setting: str, on: str) -> r.ReferralReceived:
    return r.ReferralReceived(
        area_id=area,
        referral_id=ref,
        setting_id=setting,
        child_ref=f"C-{str(ref)[:6]}",
        criteria_version=1,
        referred_on=D(on),
        concerns=["Struggles to follow instructions"],
        baseline=baseline(70, 2, "suspended"),
    )


def other_cases(story: Story, b: uuid.UUID, c: uuid.UUID, d: uuid.UUID) -> None:
    area = story.area_id
    for event, on in (
        (received(area, b, "oak", "2026-03-02"), D("2026-03-02")),
        (received(area, c, "elm", "2026-03-09"), D("2026-03-09")),
        (rv.ResponseTimeBreached(area_id=area, referral_id=b, stage="triage",
         target_working_days=5, elapsed_working_days=6, policy_version=1,
         started_on=D("2026-03-02"), breached_on=D("2026-03-10")), D("2026-03-10")),
        (t.ReferralDeclined(area_id=area, referral_id=b,
         reason="Does not meet the criteria", signposting=["School nurse"],
         decided_on=D("2026-03-10")), D("2026-03-10")),
        (r.ReferralClosed(area_id=area, referral_id=b, reason="declined",
         closed_on=D("2026-03-10")), D("2026-03-10")),
        (t.ReferralAccepted(area_id=area, referral_id=c, priority="routine",
         decided_on=D("2026-03-11")), D("2026-03-11")),
        (received(area, d, "elm", "2026-03-23"), D("2026-03-23")),
    ):  # fmt: skip
        story.tell(event, on)


class Cases:
    def __init__(self) -> None:
        self.a, self.b, self.c, self.d = (uuid.uuid4() for _ in range(4))


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    database = unique("projections").replace("-", "_")
    stack.create_databases([database])
    created = await asyncpg.create_pool(
        with_database(stack.database_server_url, database)
    )
    await create_read_models(created)
    yield created
    await created.close()


@pytest.fixture
def cases() -> Cases:
    return Cases()


@pytest.fixture
def story(cases: Cases) -> Story:
    told = Story(unique("north"))
    programme(told)
    case_a(told, cases.a)
    other_cases(told, cases.b, cases.c, cases.d)
    told.told.sort(key=lambda pair: pair[0].occurred_at)
    return told


async def consume(pool: asyncpg.Pool, story: Story) -> None:
    """Each event in its own transaction, as the consumer applies them."""
    for envelope, event in story.told:
        async with pool.acquire() as db, db.transaction():
            await project(envelope, event, db)


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[str]]:
    tables = {}
    for table in READ_MODEL_TABLES:
        rows = await pool.fetch(f"SELECT * FROM {table}")  # noqa: S608 (constant names)
        tables[table] = sorted(repr(sorted(dict(row).items())) for row in rows)
    return tables


def by_id(rows: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    return {row["referral_id"]: row for row in rows}


async def test_the_caseload_shows_each_open_case_with_its_next_step_and_clock(
    pool: asyncpg.Pool, story: Story, cases: Cases
) -> None:
    await consume(pool, story)
    scope = queries.Scope([story.area_id])

    async with pool.acquire() as db:
        friday = await queries.caseload(db, scope, D("2026-03-27"))
        after_easter = await queries.caseload(db, scope, D("2026-04-14"))

    open_cases = by_id(friday)
    assert set(open_cases) == {cases.c, cases.d}, "closed cases are not open work"
    waiting = open_cases[cases.c]
    assert waiting["stage"] == "awaiting-consent"
    assert waiting["next_action"] == "Obtain consent"
    assert waiting["timed_stage"] == "consent"
    assert waiting["elapsed_working_days"] == 14, "since 9 March"
    assert waiting["status"] == "breached"
    new = open_cases[cases.d]
    assert (new["stage"], new["days_in_stage"]) == ("awaiting-triage", 4)
    assert (new["elapsed_working_days"], new["target_days"]) == (4, 5)
    assert new["due_on"] == D("2026-04-13"), "the Easter holidays do not count"
    assert new["status"] == "due-soon"
    assert by_id(after_easter)[cases.d]["status"] == "breached"

    assert queries.by_stage(friday) == [
        {"stage": "awaiting-triage", "label": "Awaiting triage", "cases": 1},
        {"stage": "awaiting-consent", "label": "Awaiting consent", "cases": 1},
    ]
    queues = queries.work_queues(friday, D("2026-03-27"))
    assert queues["awaiting_triage"] == [str(cases.d)]
    assert queues["awaiting_consent"] == [str(cases.c)]
    assert queues["overdue"] == [str(cases.c)]


async def test_the_funnel_counts_each_step_and_the_decline_reasons(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        result = await queries.funnel(db, queries.Scope([story.area_id]))
        oak_only = await queries.funnel(db, queries.Scope([story.area_id], "oak"))

    counts = {step["step"]: step["count"] for step in result["steps"]}
    assert counts == {
        "received": 4, "triaged": 3, "accepted": 2, "consented": 1, "assessed": 1,
        "reported": 1, "feedback": 1, "reviewed": 1, "closed": 2,
    }  # fmt: skip
    assert result["steps"][1]["conversion"] == 0.75
    assert result["decline_reasons"] == [
        {"reason": "Does not meet the criteria", "count": 1}
    ]
    assert oak_only["steps"][0]["count"] == 2


async def test_timeliness_gives_median_p90_and_share_within_target_per_term(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        rows = await queries.timeliness(db, queries.Scope([story.area_id]))

    by_stage = {(row["term"], row["stage"]): row for row in rows}
    triage = by_stage["2025/26 Spring", "triage"]
    assert triage["cases"] == 3, "A and C took two working days, B six"
    assert triage["median_working_days"] == 2
    assert triage["p90_working_days"] == 5.2
    assert triage["within_target_share"] == 0.667
    assessment = by_stage["2025/26 Spring", "assessment"]
    assert assessment["median_working_days"] == 7, "from consent on 5 March"
    review = by_stage["2025/26 Summer", "review"]
    assert (review["median_working_days"], review["within_target_share"]) == (2, 1)


async def test_volumes_compare_referrals_with_the_briefings_expectation(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        rows = await queries.volumes(db, queries.Scope([story.area_id]))

    shown = {(row["setting_id"], row["term"]): row for row in rows}
    assert shown["oak", "2025/26 Spring"]["referrals"] == 2
    assert shown["oak", "2025/26 Spring"]["expected"] == 3
    assert shown["elm", "2025/26 Spring"]["referrals"] == 2
    assert shown["elm", "2025/26 Spring"]["expected"] is None, "elm had no briefing"


async def test_outcomes_compare_the_review_with_the_baseline(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        rows = await queries.outcomes(db, queries.Scope([story.area_id]))

    assert len(rows) == 1
    oak = rows[0]
    assert (oak["setting_id"], oak["reviewed"]) == ("oak", 1)
    assert (oak["attendance_before"], oak["attendance_after"]) == (70.0, 85.0)
    assert (oak["suspensions_before"], oak["suspensions_after"]) == (2.0, 0.0)
    assert oak["exclusion_improved"] == 1


async def test_programme_shows_phase_checklist_settings_and_activity(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        (area,) = await queries.programme(db, [story.area_id])

    assert area["area"]["phase"] == "pilot"
    done = {item["item"]: item["done"] for item in area["checklist"]}
    assert done == {
        "governance": True, "slt_delivery_model": False,
        "information_sharing": False, "referral_criteria": True,
        "triage_thresholds": False, "response_times": True, "settings": True,
    }  # fmt: skip
    assert [s["setting_id"] for s in area["settings"]] == ["elm", "oak"]
    assert [x["kind"] for x in area["activity"]] == ["briefing", "training", "phase"]


async def test_the_timeline_lists_a_cases_facts_in_order_with_actor(
    pool: asyncpg.Pool, story: Story, cases: Cases
) -> None:
    await consume(pool, story)

    async with pool.acquire() as db:
        facts = await queries.timeline(db, cases.a, None)
        until_march = await queries.timeline(db, cases.a, D("2026-03-31"))

    assert facts[0]["event_type"] == "ReferralReceived"
    assert facts[-1]["event_type"] == "ReferralClosed"
    assert len(facts) == 12
    assert facts[0]["actor_subject"] == "slt@example.org"
    assert len(until_march) == 9, "the review came in May"


async def test_a_redelivered_event_changes_nothing(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)
    before = await snapshot(pool)

    for envelope, event in story.told:
        async with pool.acquire() as db, db.transaction():
            await project_read_models(envelope, event, db)

    assert await snapshot(pool) == before


async def test_a_rebuild_from_the_audit_trail_equals_the_live_models(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)
    live = await snapshot(pool)
    seen: list[tuple[int, int]] = []

    result = await rebuild(
        pool, progress=lambda done, total: seen.append((done, total))
    )

    assert await snapshot(pool) == live
    assert result.events == len(story.told)
    assert result.skipped == 0
    assert result.rows["caseload"] == 4
    assert seen[-1] == (len(story.told), len(story.told))


async def test_as_at_a_past_date_shows_the_earlier_state_and_leaves_live_alone(
    pool: asyncpg.Pool, story: Story, cases: Cases
) -> None:
    await consume(pool, story)
    live = await snapshot(pool)
    scope = queries.Scope([story.area_id])

    async with read_models_as_at(pool, D("2026-03-18"), [story.area_id]) as db:
        then = by_id(await queries.caseload(db, scope, D("2026-03-18")))
        funnel = await queries.funnel(db, scope)

    assert then[cases.a]["stage"] == "report-due"
    assert then[cases.c]["stage"] == "awaiting-consent"
    assert cases.d not in then, "D was referred on 23 March"
    assert funnel["steps"][0]["count"] == 3
    assert await snapshot(pool) == live
    schemas = await pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'as_at_%'"
    )
    assert schemas == 0, "the as-at copy is thrown away"


async def test_further_support_waits_for_the_next_review_and_answers_reopen_triage(
    pool: asyncpg.Pool,
) -> None:
    story = Story(unique("south"))
    programme(story)
    supported, asked = uuid.uuid4(), uuid.uuid4()
    case_a(story, supported)
    story.told = [pair for pair in story.told
                  if pair[0].event_type != "ReferralClosed"]  # fmt: skip
    area, request = story.area_id, uuid.uuid4()
    for event, on in (
        (rv.ReviewScheduled(area_id=area, referral_id=supported,
         review_id=uuid.uuid4(), scheduled_on=D("2026-05-08"),
         due_on=D("2026-06-19")), D("2026-05-08")),
        (received(area, asked, "elm", "2026-05-11"), D("2026-05-11")),
        (t.MoreInformationRequested(area_id=area, referral_id=asked,
         request_id=request, questions=["Attendance this term?"],
         requested_on=D("2026-05-12")), D("2026-05-12")),
    ):  # fmt: skip
        story.tell(event, on)
    await consume(pool, story)
    scope = queries.Scope([area])

    async with pool.acquire() as db:
        while_asking = by_id(await queries.caseload(db, scope, D("2026-05-13")))
        answered = t.MoreInformationReceived(
            area_id=area, referral_id=asked, request_id=request,
            received_on=D("2026-05-14"), answers=["82%"],
        )  # fmt: skip
        story.tell(answered, D("2026-05-14"))
        async with db.transaction():
            await project(*story.told[-1], db)
        after_answers = by_id(await queries.caseload(db, scope, D("2026-05-14")))
        outcomes = await queries.outcomes(db, scope)

    assert while_asking[supported]["stage"] == "review-scheduled"
    assert while_asking[supported]["due_on"] == D("2026-06-19")
    assert while_asking[asked]["stage"] == "more-information"
    assert after_answers[asked]["stage"] == "awaiting-triage"
    assert outcomes[0]["reviewed"] == 1, "the first review's outcome still counts"


async def test_a_rebuild_skips_an_event_this_catalogue_cannot_read(
    pool: asyncpg.Pool, story: Story
) -> None:
    await consume(pool, story)
    live = await snapshot(pool)
    newer, _ = story.told[-1]
    unknown = newer.model_copy(
        update={"event_id": uuid.uuid4(), "event_type": "TeaServed", "data": {}}
    )
    async with pool.acquire() as db, db.transaction():
        await append_to_audit_trail(unknown, db)

    result = await rebuild(pool)

    assert (result.events, result.skipped) == (len(story.told), 1)
    assert await snapshot(pool) == live
