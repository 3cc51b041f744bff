"""Rebuild the read models from the events, and build them as at a past date.

The audit trail holds every event the projections service has consumed, in
the order it consumed them (``seq``), so replaying it through the same
projection functions gives the same read models. Time travel replays only
the events that had happened by the end of a given day into a throw-away
schema inside a transaction that is rolled back when the view is rendered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
from pydantic import ValidationError

from prre_contracts import EventEnvelope
from prre_contracts.catalogue import parse_event
from prre_contracts.errors import ContractError
from prre_projections.projector import AUDIT_CHAIN_LOCK
from prre_projections.readmodels import project_read_models
from prre_projections.schema import READ_MODEL_TABLES, READ_MODELS
from prre_runtime.consumer import Connection

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while events are replayed."""

BATCH = 2000


@dataclass(frozen=True)
class RebuildResult:
    """How many events were replayed, skipped, and rows each read model holds."""

    events: int
    skipped: int
    rows: dict[str, int]


async def rebuild(
    pool: asyncpg.Pool, progress: Progress | None = None
) -> RebuildResult:
    """Drop every read model and build it again from the audit trail.

    Runs in one transaction holding the audit trail's lock, so the live
    consumer waits (and then carries on) rather than interleaving; readers
    see the old models until the new ones are committed.
    """
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_CHAIN_LOCK)
        await _act_as_owner(connection)
        tables = ", ".join(READ_MODEL_TABLES)
        await connection.execute(f"DROP TABLE IF EXISTS {tables} CASCADE")
        await connection.execute(READ_MODELS)
        replayed, skipped = await replay(connection, progress=progress)
        rows = await count_rows(connection)
    log.info("rebuilt the read models from %d events (%d skipped)", replayed, skipped)
    return RebuildResult(replayed, skipped, rows)


async def _act_as_owner(connection: Connection) -> None:
    """Recreate the tables as the role that owns them now (the service's role),
    so that a rebuild run by an administrator leaves them writable by the service."""
    owner = await connection.fetchval(
        "SELECT tableowner FROM pg_tables "
        "WHERE tablename = 'caseload' AND schemaname = current_schema()"
    )
    if owner and owner != await connection.fetchval("SELECT current_user"):
        quoted = '"' + owner.replace('"', '""') + '"'
        await connection.execute(f"SET LOCAL ROLE {quoted}")


async def count_rows(connection: Connection) -> dict[str, int]:
    return {
        table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 (constant names; values bound)
        for table in READ_MODEL_TABLES
    }


async def replay(
    connection: Connection,
    until: datetime | None = None,
    areas: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Apply the audit trail's events (to ``until``, in ``areas``) in order.

    Returns how many were applied and how many were skipped because this
    version of the catalogue cannot read them.
    """
    where = """WHERE ($1::timestamptz IS NULL OR occurred_at <= $1)
        AND ($2::text[] IS NULL OR area_id = ANY($2))"""
    total = await connection.fetchval(
        f"SELECT count(*) FROM audit_trail {where}",  # noqa: S608 (constant names; values bound)
        until,
        areas,
    )
    done = skipped = 0
    after = 0
    while True:
        rows = await connection.fetch(
            f"SELECT seq, envelope::text AS body FROM audit_trail {where} "  # noqa: S608 (constant names; values bound)
            "AND seq > $3 ORDER BY seq LIMIT $4",
            until, areas, after, BATCH,
        )  # fmt: skip
        if not rows:
            break
        for row in rows:
            skipped += not await _apply_stored(connection, row["body"])
            done += 1
        after = rows[-1]["seq"]
        if progress is not None:
            progress(done, total)
    return done - skipped, skipped


async def _apply_stored(connection: Connection, body: str) -> bool:
    try:
        envelope = EventEnvelope.model_validate_json(body)
        event = parse_event(envelope)
    except (ValidationError, ContractError) as error:
        log.warning("replay skipped an event it cannot read: %s", type(error).__name__)
        return False
    await project_read_models(envelope, event, connection)
    return True


def end_of_day(day: date) -> datetime:
    """The last moment of ``day``: facts up to it count as at that date.

    Known shortcoming: the day ends at midnight UTC, not UK local time, so in
    summer a fact dated between midnight and 01:00 BST counts on the day before.
    """
    return datetime.combine(day + timedelta(days=1), time.min, UTC) - timedelta(
        microseconds=1
    )


@asynccontextmanager
async def read_models_as_at(
    pool: asyncpg.Pool, as_at: date | None, areas: Sequence[str] | None
) -> AsyncIterator[Connection]:
    """A connection whose unqualified table names read the models as at a date.

    ``as_at=None`` reads the live models. Otherwise the models are built in a
    temporary schema from the events of ``areas`` (``None``: all) that had
    happened by the end of that day, and thrown away afterwards.

    Known shortcoming: every as-at request replays its areas' events again
    (seconds for an area's few thousand events, far longer for a region's
    years); keeping built schemas per (day, areas) until a newer event
    arrives would remove the cost.
    """
    async with pool.acquire() as connection:
        if as_at is None:
            yield connection
            return
        transaction = connection.transaction()
        await transaction.start()
        try:
            await _build_as_at(connection, as_at, areas)
            yield connection
        finally:
            await transaction.rollback()


async def _build_as_at(
    connection: Connection, as_at: date, areas: Sequence[str] | None
) -> None:
    schema = f"as_at_{uuid.uuid4().hex[:12]}"
    await connection.execute(f"CREATE SCHEMA {schema}")
    await connection.execute(f"SET LOCAL search_path TO {schema}, public")
    await connection.execute(READ_MODELS)
    applied, _ = await replay(connection, until=end_of_day(as_at), areas=areas)
    log.info("built the read models as at %s from %d events", as_at, applied)
