"""Dashboard query benchmark: p95 with one million referrals loaded (DESIGN.md 7).

It generates referrals straight into the read models of a scratch projections
database (``caseload`` and ``stage_times``, with each area's response-time
targets), spread over areas, settings and two school years, most of them
closed, some still open at every stage; then it runs the dashboard's own
queries (``prre_projections.queries``) as the dashboard calls them, for one
area at a time and for the whole region, and prints p50 and p95.

It measures and prints; it asserts nothing about time.
``python -m bench.queries --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.report import percentile
from bench.scratch import scratch_database
from prre_projections import queries
from prre_projections.queries import Scope

FIRST_DAY = date(2024, 9, 2)
TODAY = date(2026, 7, 1)
"""The day the dashboards are read: the last weeks' referrals are still open."""
TARGETS = {"triage": 5, "consent": 10, "assessment": 20, "report": 10,
           "feedback": 10, "review": 10}  # fmt: skip
CHUNK = 50_000

CASELOAD_COLUMNS = (
    "referral_id", "area_id", "setting_id", "child_ref", "criteria_version",
    "stage", "stage_since", "consent", "consented_on", "triage", "priority",
    "triaged_on", "accepted_on", "decline_reason", "assessed_on", "report_on",
    "feedback_on", "plan_on", "review_required", "review_due_on", "reviewed_on",
    "review_decision", "baseline_attendance", "baseline_suspensions",
    "baseline_exclusion", "outcome_attendance", "outcome_suspensions",
    "outcome_exclusion", "received_on", "closed_reason", "closed_on",
    "last_event_type", "last_event_at",
)  # fmt: skip
STAGE_COLUMNS = ("referral_id", "stage", "area_id", "setting_id", "started_on",
                 "ended_on", "working_days", "target_days", "term")  # fmt: skip

OPEN_STAGES = ("awaiting-triage", "awaiting-consent", "to-schedule",
               "assessment-booked", "report-due", "feedback-due",
               "review-scheduled")  # fmt: skip
"""Where an open case can be, in pathway order: each needs one more milestone."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queries",
        description=(
            "Load generated referrals into the read models of a scratch "
            "PostgreSQL and print p50/p95 of the caseload, funnel and "
            "timeliness queries."
        ),
    )
    parser.add_argument(
        "--referrals", type=int, default=1_000_000, metavar="N",
        help="referrals to load (default one million)",
    )  # fmt: skip
    parser.add_argument(
        "--areas", type=int, default=20, metavar="A",
        help="areas they are spread over (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=20, metavar="R",
        help="runs of each one-area query, over the areas in turn (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--region-repeat", type=int, default=3, metavar="R",
        help="runs of each whole-region query (default 3; with so few, p95 is "
        "the slowest run)",
    )  # fmt: skip
    return parser.parse_args(argv)


# ---- generating the read models ----


def milestones(received: date, reached: int) -> list[date]:
    """Triage, consent, assessment, report, feedback, review-due, review dates."""
    offsets = (3, 6, 26, 34, 42, 98, 101)
    return [received + timedelta(days=d) for d in offsets[:reached]]


def case_rows(number: int, areas: int, rng: random.Random) -> tuple[
    tuple[Any, ...], list[tuple[Any, ...]]
]:  # fmt: skip
    """One referral's caseload row and its finished stages' rows."""
    received = FIRST_DAY + timedelta(days=rng.randrange((TODAY - FIRST_DAY).days))
    area, setting = f"area-{number % areas:02d}", f"setting-{number % 10}"
    recent = (TODAY - received).days < 100
    declined = not recent and number % 6 == 5
    if recent:
        reached = min(len(OPEN_STAGES) - 1, (TODAY - received).days // 14)
        stage = OPEN_STAGES[reached]
    else:
        reached, stage = (1, "closed") if declined else (7, "closed")
    days = milestones(received, reached)
    return _caseload_row(number, area, setting, received, stage, days, declined), (
        _stage_rows(number, area, setting, received, days)
    )


def _caseload_row(number: int, area: str, setting: str, received: date,
                  stage: str, days: list[date],
                  declined: bool) -> tuple[Any, ...]:  # fmt: skip
    at = [*days, None, None, None, None, None, None, None]
    accepted = at[0] if not declined else None
    closed = (at[0] if declined else at[6]) if stage == "closed" else None
    reviewed = at[6] is not None
    return (
        uuid.UUID(int=number + 1), area, setting, f"child-{number:07x}", 1, stage,
        days[-1] if days else received, "confirmed" if at[1] else "pending", at[1],
        "declined" if declined else "accepted" if accepted else "pending",
        "routine" if accepted else None, at[0], accepted,
        "Needs met elsewhere" if declined else None, at[2], at[3], at[4], at[4],
        True if at[4] else None, at[5], at[6], "close" if reviewed else None,
        82.5, 2, "at-risk", 91.0 if reviewed else None, 0 if reviewed else None,
        "none" if reviewed else None, received,
        "declined" if declined else "completed" if closed else None, closed,
        "ReferralReceived", datetime.combine(received, datetime.min.time(), UTC),
    )  # fmt: skip


def _stage_rows(number: int, area: str, setting: str, received: date,
                days: list[date]) -> list[tuple[Any, ...]]:  # fmt: skip
    at = [*days, None, None, None, None, None, None, None]
    spans = {
        "triage": (received, at[0]), "consent": (received, at[1]),
        "assessment": (at[1], at[2]), "report": (at[2], at[3]),
        "feedback": (at[3], at[4]), "review": (at[5], at[6]),
    }  # fmt: skip
    return [
        (uuid.UUID(int=number + 1), stage, area, setting, start, end,
         (end - start).days * 5 // 7, TARGETS[stage], calendar_term(end))
        for stage, (start, end) in spans.items() if start and end
    ]  # fmt: skip


def calendar_term(day: date) -> str:
    """What ``term_of`` in schema.py gives an area with no recorded terms, as
    the projection stores it with each stage time: "2025/26 autumn"."""
    year = day.year if day.month >= 9 else day.year - 1
    name = "autumn" if day.month >= 9 else "spring" if day.month <= 4 else "summer"
    return f"{year}/{(year + 1) % 100:02d} {name}"


def chunks(referrals: int, areas: int) -> Iterator[
    tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]
]:  # fmt: skip
    rng = random.Random(7)
    for first in range(0, referrals, CHUNK):
        cases: list[tuple[Any, ...]] = []
        stages: list[tuple[Any, ...]] = []
        for number in range(first, min(referrals, first + CHUNK)):
            case, finished = case_rows(number, areas, rng)
            cases.append(case)
            stages.extend(finished)
        yield cases, stages


async def load(app_url: str, options: argparse.Namespace, console: Console) -> float:
    """Fill the read models; return rows per second loaded (COPY, indexes on)."""
    connection = await asyncpg.connect(app_url)
    rows = 0
    try:
        await _area_policies(connection, options.areas)
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task("loading referrals", total=options.referrals)
            for cases, stages in chunks(options.referrals, options.areas):
                await connection.copy_records_to_table(
                    "caseload", records=cases, columns=CASELOAD_COLUMNS
                )
                await connection.copy_records_to_table(
                    "stage_times", records=stages, columns=STAGE_COLUMNS
                )
                rows += len(cases) + len(stages)
                progress.advance(task, len(cases))
        elapsed = time.perf_counter() - started
        # As autovacuum soon would on a live database: statistics for the
        # planner, and the visibility map that lets a query read an index alone.
        console.log("VACUUM ANALYZE")
        for table in ("caseload", "stage_times"):
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()
    return rows / elapsed


async def _area_policies(connection: asyncpg.Connection, areas: int) -> None:
    for number in range(areas):
        area = f"area-{number:02d}"
        await connection.execute(
            "INSERT INTO areas (area_id, name, phase) VALUES ($1, $1, 'scale')", area
        )
        await connection.executemany(
            """INSERT INTO response_targets (area_id, version, effective_from,
                stage, working_days) VALUES ($1, 1, '2024-01-01', $2, $3)""",
            [(area, stage, days) for stage, days in TARGETS.items()],
        )


# ---- timing the queries ----

Query = Callable[[asyncpg.Connection, str | None], Awaitable[Any]]

SCHOOL_YEAR = (date(2025, 9, 1), date(2026, 8, 31))

QUERIES: dict[str, Query] = {
    "caseload (open cases of one area)":
        lambda db, area: queries.caseload(db, Scope([area] if area else None), TODAY),
    "funnel (one area, one school year)":
        lambda db, area: queries.funnel(db, Scope([area] if area else None,
                                                  None, *SCHOOL_YEAR)),
    "timeliness (one area, one school year)":
        lambda db, area: queries.timeliness(db, Scope([area] if area else None,
                                                      None, *SCHOOL_YEAR)),
    "funnel (whole region, one school year)":
        lambda db, _: queries.funnel(db, Scope(None, None, *SCHOOL_YEAR)),
    "timeliness (whole region, one school year)":
        lambda db, _: queries.timeliness(db, Scope(None, None, *SCHOOL_YEAR)),
}  # fmt: skip


async def time_queries(
    app_url: str, options: argparse.Namespace, console: Console
) -> dict[str, tuple[float, float, int]]:
    """p50 and p95 in milliseconds of each query, and how many rows it returned."""
    connection = await asyncpg.connect(app_url)
    results: dict[str, tuple[float, float, int]] = {}
    try:
        for name, query in QUERIES.items():
            results[name] = await _time_one(connection, query, options, console, name)
    finally:
        await connection.close()
    return results


async def _time_one(connection: asyncpg.Connection, query: Query,
                    options: argparse.Namespace, console: Console,
                    name: str) -> tuple[float, float, int]:  # fmt: skip
    times: list[float] = []
    answer: Any = None
    with Progress(console=console) as progress:
        repeat = options.region_repeat if "region" in name else options.repeat
        task = progress.add_task(name, total=repeat)
        for run in range(repeat):
            area = f"area-{run % options.areas:02d}"
            started = time.perf_counter()
            answer = await query(connection, area)
            times.append((time.perf_counter() - started) * 1000)
            progress.advance(task)
    size = len(answer) if isinstance(answer, list) else len(answer["steps"])
    return percentile(times, 50), percentile(times, 95), size


def show(loaded: float, timings: dict[str, tuple[float, float, int]],
         options: argparse.Namespace, console: Console) -> None:  # fmt: skip
    table = Table(
        title=f"Dashboard queries with {options.referrals:,} referrals loaded "
        f"({options.areas} areas); {options.repeat} runs of each one-area query, "
        f"{options.region_repeat} of each whole-region query"
    )
    table.add_column("query")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("rows returned", justify="right")
    for name, (p50, p95, size) in timings.items():
        table.add_row(name, f"{p50:,.1f}", f"{p95:,.1f}", f"{size:,}")
    console.print(table)
    console.print(
        f"Loading (COPY into caseload and stage_times, indexes on): "
        f"{loaded:,.0f} rows/s. {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}."
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    console = Console()
    console.log(f"load average before: {os.getloadavg()[0]:.2f}")

    async def run() -> tuple[float, dict[str, tuple[float, float, int]]]:
        async with scratch_database() as scratch:
            loaded = await load(scratch.app_url, options, console)
            return loaded, await time_queries(scratch.app_url, options, console)

    loaded, timings = asyncio.run(run())
    show(loaded, timings, options, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
