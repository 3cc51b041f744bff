"""Rebuild benchmark: events per second rebuilding every read model (DESIGN.md 7).

It fills the audit trail of a scratch projections database with a generated
event history (a few areas set up, then referrals taken along the pathway,
one in six declined), with a valid hash chain, and then measures, in the same
run on the same PostgreSQL:

- raw COPY rows/s: the same rows copied into a plain table with no index,
  the fastest way PostgreSQL takes rows at all;
- audit trail COPY rows/s: the same rows into the audit trail, with its
  indexes and triggers;
- rebuild events/s: ``prre_projections.rebuild.rebuild`` dropping and
  rebuilding every read model from the trail, as the service's role;
- verify rows/s: ``prre projections verify`` walking the hash chain.

It measures and prints; it asserts nothing about time.
``python -m bench.rebuild --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.scratch import Scratch, scratch_database
from prre_contracts import Actor, Event, EventEnvelope, examples
from prre_contracts.events.base import ProgrammeEvent
from prre_projections.audit import verify_chain
from prre_projections.projector import GENESIS_HASH, canonical, chain_hash
from prre_projections.rebuild import rebuild

HAPPY_PATH = (
    "ReferralReceived", "ReferralScreened", "ConsentConfirmed", "ReferralAccepted",
    "AssessmentScheduled", "AssessmentCompleted", "ReportIssued",
    "FeedbackMeetingHeld", "ActionPlanAgreed", "ReviewScheduled", "ReviewDue",
    "ReviewCompleted", "ReferralClosed",
)  # fmt: skip
"""The events of a case taken all the way, in order."""

DECLINED_PATH = (
    "ReferralReceived", "ReferralScreened", "ReferralDeclined", "ReferralClosed",
)  # fmt: skip

AUDIT_COLUMNS = (
    "seq", "event_id", "event_type", "schema_version", "source", "area_id",
    "partition_key", "aggregate_id", "aggregate_version", "occurred_at",
    "recorded_at", "actor_subject", "actor_role", "correlation_id", "envelope",
    "previous_hash", "hash",
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rebuild",
        description=(
            "Fill a scratch audit trail with generated events, then measure the "
            "rebuild of every read model in events/s next to raw COPY rows/s "
            "into the same PostgreSQL."
        ),
    )
    parser.add_argument(
        "--referrals", type=int, default=1000, metavar="N",
        help="referrals in the generated history (default 1000)",
    )  # fmt: skip
    parser.add_argument(
        "--areas", type=int, default=5, metavar="A",
        help="areas the referrals are spread over (default 5)",
    )  # fmt: skip
    return parser.parse_args(argv)


@dataclass
class Figures:
    events: int = 0
    raw_copy_per_s: float = 0.0
    audit_copy_per_s: float = 0.0
    rebuild_per_s: float = 0.0
    rebuild_skipped: int = 0
    verify_per_s: float = 0.0
    read_model_rows: int = 0


def history(referrals: int, areas: int) -> Iterator[Event]:
    """Each area's set-up, then the referrals, interleaved across areas."""
    story = {type(e).__name__: e for e in reversed(examples.all_examples())}
    names = [f"bench-area-{n}" for n in range(areas)]
    for area in names:
        for event in examples.programme_examples():
            yield event.model_copy(update={"area_id": area})
    for number in range(referrals):
        referral_id = uuid.uuid4()
        path = DECLINED_PATH if number % 6 == 5 else HAPPY_PATH
        for name in path:
            update: dict[str, Any] = {"area_id": names[number % areas],
                                      "referral_id": referral_id}  # fmt: skip
            if name == "ReferralClosed":
                update["reason"] = "declined" if path is DECLINED_PATH else "completed"
            yield story[name].model_copy(update=update)


def audit_rows(events: Iterator[Event]) -> list[tuple[Any, ...]]:
    """The audit trail's rows for these events, hash-chained from the start."""
    rows: list[tuple[Any, ...]] = []
    previous = GENESIS_HASH
    started = datetime(2025, 9, 1, tzinfo=UTC)
    versions: dict[str, int] = {}
    for seq, event in enumerate(events, start=1):
        key = event.partition_key()
        versions[key] = versions.get(key, 0) + 1
        envelope = _envelope(event, versions[key], started + timedelta(seconds=seq))
        body = canonical(envelope)
        digest = chain_hash(previous, body)
        rows.append((
            seq, envelope.event_id, envelope.event_type, envelope.schema_version,
            envelope.source, envelope.area_id, envelope.partition_key,
            envelope.aggregate_id, envelope.aggregate_version, envelope.occurred_at,
            envelope.recorded_at, envelope.actor.subject, envelope.actor.role,
            envelope.correlation_id, body, previous, digest,
        ))  # fmt: skip
        previous = digest
    return rows


def _envelope(event: Event, version: int, at: datetime) -> EventEnvelope:
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, event.partition_key())
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        source=event.publisher,
        area_id=event.area_id,
        partition_key=event.partition_key(),
        aggregate_id=aggregate,
        aggregate_version=version,
        occurred_at=at,
        recorded_at=at,
        actor=Actor(
            subject="bench@example.org",
            role="programme-lead" if isinstance(event, ProgrammeEvent) else "clinician",
        ),
        correlation_id=uuid.uuid4(),
        data=event.model_dump(mode="json"),
    )


async def copy_rate(
    connection: asyncpg.Connection, table: str, rows: list[tuple[Any, ...]]
) -> float:
    started = time.perf_counter()
    await connection.copy_records_to_table(table, records=rows, columns=AUDIT_COLUMNS)
    return len(rows) / (time.perf_counter() - started)


async def measure(scratch: Scratch, options: argparse.Namespace,
                  console: Console) -> Figures:  # fmt: skip
    figures = Figures()
    console.log(f"generating {options.referrals} referrals in {options.areas} areas")
    rows = audit_rows(history(options.referrals, options.areas))
    figures.events = len(rows)
    admin = await asyncpg.connect(scratch.admin_url)
    try:
        console.log(f"COPY {len(rows)} rows into a plain table (raw limit)")
        await admin.execute(
            "CREATE TABLE raw_copy (LIKE audit_trail INCLUDING DEFAULTS)"
        )
        figures.raw_copy_per_s = await copy_rate(admin, "raw_copy", rows)
        await admin.execute("DROP TABLE raw_copy")
        console.log("COPY the same rows into the audit trail")
        figures.audit_copy_per_s = await copy_rate(admin, "audit_trail", rows)
        await admin.execute("ANALYZE audit_trail")
    finally:
        await admin.close()
    await _rebuild(scratch, figures)
    await _verify(scratch, figures)
    return figures


async def _rebuild(scratch: Scratch, figures: Figures) -> None:
    pool = await asyncpg.create_pool(scratch.app_url, min_size=1, max_size=2)
    try:
        with Progress() as progress:
            task = progress.add_task("rebuilding the read models", total=figures.events)
            started = time.perf_counter()
            result = await rebuild(
                pool, lambda done, total: progress.update(task, completed=done)
            )
            elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    figures.rebuild_per_s = (result.events + result.skipped) / elapsed
    figures.rebuild_skipped = result.skipped
    figures.read_model_rows = sum(result.rows.values())


async def _verify(scratch: Scratch, figures: Figures) -> None:
    connection = await asyncpg.connect(scratch.app_url)
    try:
        with Progress() as progress:
            task = progress.add_task("verifying the hash chain", total=figures.events)
            started = time.perf_counter()
            result = await verify_chain(
                connection, lambda done, _: progress.update(task, completed=done)
            )
            elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    assert result.intact, f"the generated chain should verify: {result.first_break}"
    figures.verify_per_s = result.rows / elapsed


def show(figures: Figures, console: Console) -> None:
    raw = figures.raw_copy_per_s
    table = Table(title=f"Rebuild of every read model, {figures.events:,} events")
    table.add_column("figure")
    table.add_column("rows or events /s", justify="right")
    table.add_column("next to raw COPY")
    for label, rate in [
        ("raw COPY into a plain table (the raw limit)", raw),
        ("COPY into the audit trail (indexes, triggers)", figures.audit_copy_per_s),
        ("rebuild of all read models", figures.rebuild_per_s),
        ("verify of the hash chain", figures.verify_per_s),
    ]:
        table.add_row(label, f"{rate:,.0f}", f"{rate / raw:.1%}" if raw else "")
    console.print(table)
    console.print(
        f"The rebuild wrote {figures.read_model_rows:,} read-model rows; "
        f"{figures.rebuild_skipped} events skipped as unreadable. "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}."
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    console = Console()
    console.log(f"load average before: {os.getloadavg()[0]:.2f}")

    async def run() -> Figures:
        async with scratch_database() as scratch:
            return await measure(scratch, options, console)

    show(asyncio.run(run()), console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
