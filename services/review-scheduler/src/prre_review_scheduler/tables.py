"""The scheduler's local tables (asyncpg): area policy, cases, clocks, reviews.

Area policy (nation, response-time versions, term dates), each case's
baseline and its stage clocks are written by the idempotent consumer in its
transaction. ``reviews`` and the clocks' outcomes are a projection of the
:class:`CaseSchedule` aggregates, rewritten after every save; the aggregate
stays the truth, so a projection missed by a crash is repaired the next time
the timer loop loads that case.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg

from prre_contracts.events.values import Baseline, Nation, Term
from prre_review_scheduler.domain import CaseSchedule, Review, response_timer
from prre_review_scheduler.timing import ResponseTimes, StageClock
from prre_runtime.calendar import WorkingDayCalendar
from prre_runtime.consumer import Connection
from prre_runtime.referral_directory import create_directory

Db = Connection | asyncpg.Pool

TABLES = """
CREATE TABLE IF NOT EXISTS scheduler_areas (
    area_id text PRIMARY KEY,
    nation text NOT NULL
);
CREATE TABLE IF NOT EXISTS scheduler_response_times (
    area_id text NOT NULL,
    version integer NOT NULL,
    effective_from date NOT NULL,
    targets jsonb NOT NULL,
    PRIMARY KEY (area_id, version)
);
CREATE TABLE IF NOT EXISTS scheduler_terms (
    area_id text NOT NULL,
    academic_year text NOT NULL,
    terms jsonb NOT NULL,
    PRIMARY KEY (area_id, academic_year)
);
CREATE TABLE IF NOT EXISTS scheduler_cases (
    referral_id uuid PRIMARY KEY,
    area_id text NOT NULL,
    received_on date NOT NULL,
    baseline jsonb NOT NULL,
    cancelled_on date
);
CREATE TABLE IF NOT EXISTS stage_clocks (
    referral_id uuid NOT NULL,
    timer text NOT NULL,
    stage text NOT NULL,
    review_id uuid,
    started_on date,
    ended_on date,
    outcome text,
    PRIMARY KEY (referral_id, timer)
);
CREATE TABLE IF NOT EXISTS consent_gate (
    referral_id uuid PRIMARY KEY,
    accepted_on date,
    consented_on date
);
CREATE TABLE IF NOT EXISTS reviews (
    review_id uuid PRIMARY KEY,
    referral_id uuid NOT NULL,
    area_id text NOT NULL,
    plan_id uuid,
    scheduled_on date NOT NULL,
    due_on date NOT NULL,
    status text NOT NULL,
    overdue_on date,
    completed_on date,
    baseline jsonb,
    outcome jsonb,
    decision text,
    notes text
);
CREATE INDEX IF NOT EXISTS reviews_by_area ON reviews (area_id, due_on)
"""


async def create_tables(pool: asyncpg.Pool) -> None:
    await create_directory(pool)
    async with pool.acquire() as connection:
        await connection.execute(TABLES)


# -- area policy ---------------------------------------------------------------


async def calendar_of(db: Db, area_id: str) -> WorkingDayCalendar | None:
    """The area's working-day calendar, or ``None`` before its nation is known."""
    nation: Nation | None = await db.fetchval(
        "SELECT nation FROM scheduler_areas WHERE area_id = $1", area_id
    )
    if nation is None:
        return None
    rows = await db.fetch(
        "SELECT terms FROM scheduler_terms WHERE area_id = $1", area_id
    )
    terms = [Term.model_validate(t) for row in rows for t in json.loads(row["terms"])]
    return WorkingDayCalendar(nation, terms)


async def response_times_of(db: Db, area_id: str) -> list[ResponseTimes]:
    rows = await db.fetch(
        "SELECT version, effective_from, targets FROM scheduler_response_times "
        "WHERE area_id = $1",
        area_id,
    )
    return [
        ResponseTimes(row["version"], row["effective_from"], json.loads(row["targets"]))
        for row in rows
    ]


# -- cases and clocks ------------------------------------------------------------


async def start_clock(db: Db, referral_id: uuid.UUID, clock: StageClock) -> None:
    """Start a stage clock; a clock already started keeps its first start."""
    await db.execute(
        "INSERT INTO stage_clocks (referral_id, timer, stage, review_id, started_on) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (referral_id, timer) DO UPDATE "
        "SET started_on = COALESCE(stage_clocks.started_on, EXCLUDED.started_on)",
        referral_id, response_timer(clock.stage, clock.review_id), clock.stage,
        clock.review_id, clock.started_on,
    )  # fmt: skip


async def stop_clock(db: Db, referral_id: uuid.UUID, clock: StageClock) -> None:
    """Stop a stage clock on ``clock.ended_on`` (the first end counts).

    Events from different topics may arrive in any order, so a stage can
    end before the scheduler hears it began: the row then waits, without a
    start, for the event that starts it.
    """
    await db.execute(
        "INSERT INTO stage_clocks (referral_id, timer, stage, review_id, ended_on) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (referral_id, timer) DO UPDATE "
        "SET ended_on = COALESCE(stage_clocks.ended_on, EXCLUDED.ended_on)",
        referral_id, response_timer(clock.stage, clock.review_id), clock.stage,
        clock.review_id, clock.ended_on,
    )  # fmt: skip


async def pass_gate(db: Db, referral_id: uuid.UUID, side: str, on: date) -> date | None:
    """Note acceptance or consent; the later date once both are in, else None."""
    column = {"accepted": "accepted_on", "consented": "consented_on"}[side]
    row = await db.fetchrow(
        f"INSERT INTO consent_gate (referral_id, {column}) VALUES ($1, $2) "  # noqa: S608  # column from a fixed map
        f"ON CONFLICT (referral_id) DO UPDATE SET {column} = $2 "
        "RETURNING accepted_on, consented_on",
        referral_id, on,
    )  # fmt: skip
    assert row is not None
    if row["accepted_on"] and row["consented_on"]:
        opened_on: date = max(row["accepted_on"], row["consented_on"])
        return opened_on
    return None


async def settle_clock(
    db: Db, referral_id: uuid.UUID, timer: str, outcome: str
) -> None:
    await db.execute(
        "UPDATE stage_clocks SET outcome = $3 WHERE referral_id = $1 AND timer = $2",
        referral_id, timer, outcome,
    )  # fmt: skip


async def running_timers(db: Db, referral_id: uuid.UUID) -> list[str]:
    """Stage clocks of a case that have neither stopped nor been judged."""
    rows = await db.fetch(
        "SELECT timer FROM stage_clocks WHERE referral_id = $1 "
        "AND started_on IS NOT NULL AND ended_on IS NULL AND outcome IS NULL "
        "ORDER BY started_on, timer",
        referral_id,
    )
    return [row["timer"] for row in rows]


async def open_clocks(db: Db) -> list[asyncpg.Record]:
    """Every clock not yet judged, of cases that are still open."""
    return await db.fetch(
        "SELECT c.*, k.area_id, k.received_on FROM stage_clocks c "
        "JOIN scheduler_cases k USING (referral_id) "
        "WHERE c.outcome IS NULL AND c.started_on IS NOT NULL "
        "AND k.cancelled_on IS NULL"
    )


async def baseline_of(db: Db, referral_id: uuid.UUID) -> Baseline | None:
    """The child's latest baseline: from the referral or more information."""
    text = await db.fetchval(
        "SELECT baseline FROM scheduler_cases WHERE referral_id = $1", referral_id
    )
    return Baseline.model_validate_json(text) if text else None


# -- the projection of case schedules ----------------------------------------------


async def project(db: Db, case: CaseSchedule) -> None:
    """Write what the aggregate says into ``reviews``, clocks and cases."""
    for review in case.reviews.values():
        await _project_review(db, case, review)
    for timer in case.breached:
        await settle_clock(db, case.referral_id, timer, "breached")
    if case.cancelled_on:
        await db.execute(
            "UPDATE scheduler_cases SET cancelled_on = $2 WHERE referral_id = $1",
            case.referral_id, case.cancelled_on,
        )  # fmt: skip


async def _project_review(db: Db, case: CaseSchedule, review: Review) -> None:
    done = review.completion
    status = "cancelled" if case.cancelled_on and not done else review.status
    await db.execute(
        "INSERT INTO reviews (review_id, referral_id, area_id, plan_id, scheduled_on, "
        "due_on, status, overdue_on, completed_on, baseline, outcome, decision, notes) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13) "
        "ON CONFLICT (review_id) DO UPDATE SET status = $7, overdue_on = $8, "
        "completed_on = $9, baseline = $10::jsonb, outcome = $11::jsonb, "
        "decision = $12, notes = $13",
        review.review_id, case.referral_id, case.area_id, review.plan_id,
        review.scheduled_on, review.due_on, status, review.overdue_on,
        done.completed_on if done else None,
        done.baseline.model_dump_json() if done else None,
        done.outcome.model_dump_json() if done else None,
        done.decision if done else None, done.notes if done else None,
    )  # fmt: skip
    if review.is_due:
        clock = StageClock("review", review.due_on, review_id=review.review_id)
        await start_clock(db, case.referral_id, clock)
    if done:
        clock = StageClock(
            "review", review.due_on, done.completed_on, review_id=review.review_id
        )
        await stop_clock(db, case.referral_id, clock)


async def reviews_to_fire(db: Db, today: date) -> list[uuid.UUID]:
    """Referrals of open cases with a review whose due date has come."""
    rows = await db.fetch(
        "SELECT DISTINCT r.referral_id FROM reviews r "
        "LEFT JOIN scheduler_cases k USING (referral_id) "
        "WHERE r.status = 'scheduled' AND r.due_on <= $1 AND k.cancelled_on IS NULL",
        today,
    )
    return [row["referral_id"] for row in rows]


def review_view(row: asyncpg.Record) -> dict[str, Any]:
    """A review as the API shows it: dates, status, baseline against outcome."""
    view = dict(row)
    for measures in ("baseline", "outcome"):
        view[measures] = json.loads(row[measures]) if row[measures] else None
    return view
