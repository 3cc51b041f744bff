"""The audit trail: every event of every service, append-only and tamper-evident.

Two things protect it. First, the projections service connects to its
database as an application role (``prre_projections_app``) that may read the
audit trail and add rows to it, and nothing else: it does not own the table,
so it can neither update, delete or truncate rows nor drop the trigger that
refuses such changes. An administrator prepares the database once, before the
service starts (:func:`protect_audit_trail`; the embedded stack does it, and
``deploy/postgres-init.sql`` does it for docker-compose).

Second, each row carries a hash of the previous row's hash and its own event,
so a row changed, removed or moved by someone who bypasses the role (a
database superuser) breaks the chain; :func:`verify_chain` walks the whole
chain and names the first row where it breaks.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from pydantic import ValidationError

from prre_contracts import EventEnvelope
from prre_projections.projector import GENESIS_HASH, chain_hash
from prre_runtime.consumer import Connection
from prre_runtime.errors import ConfigurationError

logger = logging.getLogger(__name__)

APP_ROLE = "prre_projections_app"
"""The database role the projections service runs as."""

CONSUMER = "projections"
"""The service's consumer group, as named in ``consumed_events``."""

Row = asyncpg.Record
Admin = psycopg.Connection[Any]

AUDIT_TRAIL = (resources.files(__package__) / "audit_trail.sql").read_text()
"""The table, its search indexes, the triggers that refuse changes, and what
the application's role may do with it (``audit_trail.sql``, shared with
``deploy/postgres-init.sql``)."""


def protect_audit_trail(admin_url: str, password: str) -> str:
    """Prepare a projections database; return the URL the service connects with.

    Run as an administrator of the database server (the owner of the
    database). Creates the application role, creates the audit trail owned by
    the administrator, and lets the role read it and append to it only. The
    role may create and own the read models (tables it builds from events).
    Safe to run again: an existing role gets the new password.
    """
    with psycopg.connect(admin_url, autocommit=True) as admin:
        _ensure_role(admin, password)
        admin.execute(AUDIT_TRAIL)
        _hand_over_read_models(admin)
    logger.info("audit trail protected; the service connects as %s", APP_ROLE)
    return with_user(admin_url, APP_ROLE, password)


def with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    login = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{login}@{host}{port}"))


def _ensure_role(admin: Admin, password: str) -> None:
    role = sql.Identifier(APP_ROLE)
    exists = admin.execute(
        "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
    ).fetchone()
    verb = "ALTER" if exists else "CREATE"
    admin.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            "NOBYPASSRLS PASSWORD {}"
        ).format(role, sql.Literal(password))
    )


def _hand_over_read_models(admin: Admin) -> None:
    """Give the role the read models (tables, SQL functions) that an earlier
    version created as the administrator, so it can rebuild them."""
    rows = admin.execute(
        """SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND c.relname <> 'audit_trail'
          AND pg_get_userbyid(c.relowner) <> %s""",
        (APP_ROLE,),
    ).fetchall()
    for (table,) in rows:
        admin.execute(
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                sql.Identifier(table), sql.Identifier(APP_ROLE)
            )
        )
    functions = admin.execute(
        """SELECT p.oid::regprocedure::text FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname <> 'audit_trail_is_append_only'
          AND pg_get_userbyid(p.proowner) <> %s""",
        (APP_ROLE,),
    ).fetchall()
    for (signature,) in functions:  # e.g. term_of(text,date), read-model helpers
        admin.execute(
            sql.SQL("ALTER FUNCTION " + signature + " OWNER TO {}").format(
                sql.Identifier(APP_ROLE)
            )
        )


async def ensure_audit_trail(connection: Connection) -> None:
    """At start-up: use the prepared audit trail, or create it if we may.

    A database prepared by :func:`protect_audit_trail` already has it. A
    superuser (a developer's scratch database) may create it here, unprotected;
    any other role is refused with what to do.
    """
    exists = await connection.fetchval("SELECT to_regclass('audit_trail')")
    superuser = await connection.fetchval("SELECT rolsuper FROM pg_roles "
                                          "WHERE rolname = current_user")  # fmt: skip
    if exists is None and not superuser:
        raise ConfigurationError(
            "The audit trail table is missing and this database role may not "
            "create it: prepare the database as its owner first with "
            "`prre projections protect --admin-url postgresql://...`."
        )
    if exists is None:
        await connection.execute(AUDIT_TRAIL)
    owns = await connection.fetchval(
        "SELECT pg_get_userbyid(relowner) = current_user FROM pg_class "
        "WHERE oid = to_regclass('audit_trail')"
    )
    if superuser or owns:
        logger.warning(
            "the projections service runs as a superuser or the audit trail's "
            "owner: the trail is not protected from it (run `prre projections "
            "protect` as the database's owner)"
        )


# ---- verifying the chain ----

BATCH = 2000
Progress = Callable[[int, int], None]
"""Called with (rows checked, rows in the chain) as verification proceeds."""

ENVELOPE_COLUMNS = (
    "event_id", "event_type", "schema_version", "source", "area_id",
    "partition_key", "aggregate_id", "aggregate_version", "occurred_at",
    "recorded_at", "correlation_id",
)  # fmt: skip
"""Columns copied from the envelope, which the hash covers: they must agree."""


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the audit trail is not what was appended."""

    seq: int
    event_id: uuid.UUID | None
    problem: Literal["changed", "removed", "reordered"]
    detail: str

    def __str__(self) -> str:
        event = f", event {self.event_id}" if self.event_id else ""
        return f"row {self.seq}{event}: {self.problem} — {self.detail}"


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_chain` found: rows checked and the first break, if any."""

    rows: int
    first_break: ChainBreak | None
    last_hash: str

    @property
    def intact(self) -> bool:
        return self.first_break is None


@dataclass
class _Walk:
    expected_seq: int = 1
    previous_hash: str = GENESIS_HASH
    rows: int = 0


async def verify_chain(
    connection: asyncpg.Connection, progress: Progress | None = None
) -> Verification:
    """Walk the whole audit trail in order and report the first broken row.

    Reads one consistent snapshot, so rows appended meanwhile wait for the
    next run. After the chain, checks that every event the service consumed
    is in the trail: removing the newest rows leaves a valid but shorter
    chain, which only that comparison shows.
    """
    walk = _Walk()
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        total = await connection.fetchval("SELECT count(*) FROM audit_trail")
        found = await _walk_chain(connection, walk, total, progress or _silent)
        found = found or await _first_unrecorded(connection, walk)
    return Verification(walk.rows, found, walk.previous_hash)


def _silent(done: int, total: int) -> None:
    """No progress shown."""


async def _walk_chain(
    connection: asyncpg.Connection, walk: _Walk, total: int, progress: Progress
) -> ChainBreak | None:
    rows = await _batch(connection, 0)
    while rows:
        following = await _batch(connection, rows[-1]["seq"])
        afters = [*rows[1:], following[0] if following else None]
        for row, after in zip(rows, afters, strict=True):
            found = _check_row(row, after, walk)
            if found:
                return found
            walk.expected_seq, walk.previous_hash = row["seq"] + 1, row["hash"]
            walk.rows += 1
        progress(walk.rows, total)
        rows = following
    return None


async def _batch(connection: asyncpg.Connection, after_seq: int) -> list[Row]:
    rows: list[Row] = await connection.fetch(
        """SELECT seq, event_id, event_type, schema_version, source, area_id,
            partition_key, aggregate_id, aggregate_version, occurred_at,
            recorded_at, actor_subject, actor_role, correlation_id,
            envelope::text AS envelope, previous_hash, hash
        FROM audit_trail WHERE seq > $1 ORDER BY seq LIMIT $2""",
        after_seq, BATCH,
    )  # fmt: skip
    return rows


def _check_row(row: Row, after: Row | None, walk: _Walk) -> ChainBreak | None:
    """The first thing wrong with ``row``, given the intact chain before it."""
    if row["seq"] != walk.expected_seq:
        return _removed_before(row, walk)
    envelope = json.loads(row["envelope"])
    if chain_hash(row["previous_hash"], _canonical(envelope)) != row["hash"]:
        return _changed(row, "its event or hashes no longer match its hash")
    mismatch = _column_mismatch(row, envelope)
    if mismatch:
        return _changed(row, mismatch)
    if row["previous_hash"] != walk.previous_hash:
        return _out_of_place(row, after, walk)
    return None


def _canonical(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"))


def _column_mismatch(row: Row, data: dict[str, Any]) -> str | None:
    try:
        envelope = EventEnvelope.model_validate(data)
    except ValidationError:
        return "its stored event is not a valid event envelope"
    copied = {name: getattr(envelope, name) for name in ENVELOPE_COLUMNS}
    copied |= {
        "actor_subject": envelope.actor.subject,
        "actor_role": envelope.actor.role,
    }
    for name, value in copied.items():
        if row[name] != value:
            return f"column {name} does not match the event it was hashed with"
    return None


def _changed(row: Row, detail: str) -> ChainBreak:
    return ChainBreak(row["seq"], row["event_id"], "changed", detail)


def _removed_before(row: Row, walk: _Walk) -> ChainBreak:
    first, last = walk.expected_seq, row["seq"] - 1
    missing = f"row {first}" if first == last else f"rows {first} to {last}"
    return ChainBreak(
        first, None, "removed", f"{missing} missing; the next row is {row['seq']}"
    )


def _out_of_place(row: Row, after: Row | None, walk: _Walk) -> ChainBreak:
    """The row is intact but does not follow the row before it."""
    if (
        after is not None
        and after["previous_hash"] == walk.previous_hash
        and row["previous_hash"] == after["hash"]
    ):
        return ChainBreak(
            row["seq"],
            row["event_id"],
            "reordered",
            f"rows {row['seq']} and {after['seq']} have swapped places",
        )
    return ChainBreak(
        row["seq"],
        row["event_id"],
        "removed",
        "the row it was chained to is no longer before it "
        "(removed, or the rows were renumbered)",
    )


async def _first_unrecorded(
    connection: asyncpg.Connection, walk: _Walk
) -> ChainBreak | None:
    """An event the service consumed (and so appended) that the trail lacks."""
    if await connection.fetchval("SELECT to_regclass('consumed_events')") is None:
        return None
    missing = await connection.fetchval(
        """SELECT c.event_id FROM consumed_events c
        WHERE c.consumer = $1 AND NOT EXISTS
            (SELECT 1 FROM audit_trail a WHERE a.event_id = c.event_id)
        ORDER BY c.consumed_at LIMIT 1""",
        CONSUMER,
    )
    if missing is None:
        return None
    return ChainBreak(
        walk.expected_seq,
        missing,
        "removed",
        "this event was consumed and appended but is no longer in the trail",
    )


async def anchor_holds(connection: asyncpg.Connection, seq: int, hash_: str) -> bool:
    """Whether row ``seq`` still has the hash someone wrote down earlier.

    An intact chain whose row ``seq`` has that hash has every row up to
    ``seq`` exactly as it was then, even against someone who rewrote a row
    and recomputed every hash after it (which :func:`verify_chain` alone
    cannot tell from the truth). Board minutes record such an anchor.
    """
    found = await connection.fetchval(
        "SELECT hash FROM audit_trail WHERE seq = $1", seq
    )
    return bool(found == hash_)
