"""Benchmark of the whole system running on this machine (DESIGN.md section 7).

It starts the embedded stack on free ports, drives referral journeys through
the referral service and reads the projections service's database to see
when each one is visible, then prints every figure next to a raw limit
measured on the same PostgreSQL in the same run. It measures; it asserts
nothing about time. Run ``python -m bench.pipeline --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import Progress

from bench import readside
from bench.journeys import (
    JourneyFailed,
    Journeys,
    Outcome,
    Watcher,
    drive_flat_out,
    drive_paced,
)
from bench.memory import PeakSampler, resident_sizes
from bench.rawlimit import inserts_per_second
from bench.report import Failure, Figures, percentile, show, write_json
from prre_runtime.stack import Stack, with_database

VISIBILITY_TIMEOUT = 300.0  # seconds to wait for the read model to catch up
LATENCY_POLL = 0.002  # seconds between polls of the caseload

DriveWithProgress = Callable[[Callable[[], None]], Awaitable[Outcome]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description=(
            "Start the embedded PRRE stack and measure journeys/s, events/s, "
            "latency to the read model and memory, next to raw PostgreSQL "
            "inserts/s measured in the same run."
        ),
    )
    parser.add_argument(
        "--referrals", type=int, default=300, metavar="N", help="journeys per phase"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, metavar="C", help="concurrent clients"
    )
    parser.add_argument(
        "--home", type=Path, help="stack home (default: a new temporary directory)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    console = Console()
    home = options.home or Path(tempfile.mkdtemp(prefix="prre-bench-"))
    stack = Stack(home=home, fixed_ports=False, progress=console.log)
    figures = Figures(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        cpus=os.cpu_count() or 0,
        referrals=options.referrals,
        concurrency=options.concurrency,
        load_average_before=os.getloadavg()[0],
    )
    try:
        stack.start_servers()
        stack.start_services()
        asyncio.run(measure(stack, figures, console))
    except KeyboardInterrupt:
        console.log("interrupted")
        return 130
    finally:
        figures.load_average_after = os.getloadavg()[0]
        console.log("stopping the stack")
        stack.stop()
    _finish(figures, console, options, home)
    return 0


def _finish(
    figures: Figures, console: Console, options: argparse.Namespace, home: Path
) -> None:
    show(figures, console)
    if options.json:
        write_json(figures, options.json)
        console.print(f"Figures written to {options.json}")
    if figures.failures or not figures.all_visible:
        console.print(f"Service logs kept in {home} (<service>.log, postgres.log)")
    elif options.home is None:
        shutil.rmtree(home, ignore_errors=True)


async def measure(stack: Stack, figures: Figures, console: Console) -> None:
    area_id = f"bench-{uuid.uuid4().hex[:8]}"
    journeys = Journeys(stack.url("referral"), stack.token_secret, area_id)
    projections_url = with_database(stack.database_server_url, "prre_projections")
    projections = await asyncpg.connect(projections_url)
    try:
        # Set up the area and let one journey through, so every consumer runs.
        console.log(f"registering area {area_id} and one school")
        await journeys.set_up_area()
        await _warm_up(journeys, projections)
        figures.idle_mib = resident_sizes(stack.services)

        # The raw limit, while the services are idle.
        console.log("measuring raw single-row inserts")
        figures.raw_inserts_per_s = await inserts_per_second(stack.database_server_url)

        await _throughput(stack, journeys, projections, figures, console)
        if figures.journeys_per_s > 0:
            await _latency(journeys, projections, figures, console)
    finally:
        await projections.close()


async def _warm_up(journeys: Journeys, projections: asyncpg.Connection) -> None:
    async with journeys.client() as client:
        referral_id = await journeys.refer(client)
        await journeys.confirm_consent(client, referral_id)
    if await readside.wait_until_confirmed(projections, [referral_id], 120) is None:
        raise JourneyFailed("warm-up", None, "consent never showed in the caseload")


async def _throughput(
    stack: Stack,
    journeys: Journeys,
    projections: asyncpg.Connection,
    figures: Figures,
    console: Console,
) -> None:
    """Journeys flat out, until every one shows consent confirmed in the caseload."""
    events_before = await readside.settled_audit_rows(projections, journeys.area_id)
    sampler = PeakSampler(stack.services)
    sampling = asyncio.create_task(sampler.run())
    try:
        outcome = await _with_bar(
            console,
            "throughput",
            figures.referrals,
            partial(drive_flat_out, journeys, figures.referrals, figures.concurrency),
        )
        console.log("waiting until every consent shows in the caseload")
        visible_at = await readside.wait_until_confirmed(
            projections, outcome.referral_ids, VISIBILITY_TIMEOUT
        )
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    events = await readside.audit_rows(projections, journeys.area_id) - events_before
    _record_throughput(figures, outcome, visible_at, events, sampler.peaks)


def _record_throughput(
    figures: Figures,
    outcome: Outcome,
    visible_at: float | None,
    events: int,
    peaks: dict[str, float],
) -> None:
    elapsed = (visible_at or time.perf_counter()) - outcome.started
    completed = len(outcome.referral_ids)
    figures.journeys_completed = completed
    figures.all_visible = visible_at is not None
    figures.journeys_per_s = completed / elapsed if visible_at else 0.0
    figures.commands_per_s = completed / (outcome.finished - outcome.started)
    figures.events_recorded = events
    figures.events_per_s = events / elapsed
    figures.load_mib = peaks
    figures.failures += [_failure(failed) for failed in outcome.failures]


async def _latency(
    journeys: Journeys,
    projections: asyncpg.Connection,
    figures: Figures,
    console: Console,
) -> None:
    """Journeys paced at half the measured throughput, each change timed."""
    rate = figures.journeys_per_s / 2
    watcher = Watcher(partial(readside.consents, projections))
    done = asyncio.Event()
    watching = asyncio.create_task(watcher.run(done, 60.0, LATENCY_POLL))
    try:
        outcome = await _with_bar(
            console,
            f"latency at {rate:.1f}/s",
            figures.referrals,
            partial(drive_paced, journeys, figures.referrals, rate, watcher),
        )
    except BaseException:
        watching.cancel()
        raise
    done.set()
    await watching
    figures.latency_rate_per_s = rate
    figures.latency_journeys = len(outcome.referral_ids)
    figures.referral_p50_ms = percentile(watcher.row_ms, 50)
    figures.referral_p99_ms = percentile(watcher.row_ms, 99)
    figures.consent_p50_ms = percentile(watcher.consent_ms, 50)
    figures.consent_p99_ms = percentile(watcher.consent_ms, 99)
    figures.latency_unseen = watcher.unseen
    figures.failures += [_failure(failed) for failed in outcome.failures]


async def _with_bar(
    console: Console, label: str, total: int, drive: DriveWithProgress
) -> Outcome:
    with Progress(console=console) as progress:
        task = progress.add_task(label, total=total)
        return await drive(partial(progress.advance, task))


def _failure(failed: JourneyFailed) -> Failure:
    return Failure(failed.step, failed.status, failed.body)


if __name__ == "__main__":
    raise SystemExit(main())
