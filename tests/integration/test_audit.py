"""The audit trail against the embedded PostgreSQL: protected, and verifiable.

Each test prepares a scratch database exactly as the stack prepares the
projections service's (``protect_audit_trail``), appends a known story of
events through the application's role, then plays an attacker.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from typer.testing import CliRunner

from helpers import unique
from prre_contracts import Actor, Event, EventEnvelope, examples
from prre_projections.audit import APP_ROLE, protect_audit_trail, verify_chain
from prre_projections.cli import app as projections_cli
from prre_projections.projector import append_to_audit_trail, chain_hash
from prre_runtime.stack import Stack, with_database

pytestmark = pytest.mark.slow


def envelope_of(event: Event, number: int) -> EventEnvelope:
    """The envelope a service would have published ``event`` in."""
    occurred = datetime(2025, 9, 1, 9, tzinfo=UTC) + timedelta(hours=number)
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, event.partition_key())
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        source=event.publisher,
        area_id=event.area_id,
        partition_key=event.partition_key(),
        aggregate_id=aggregate,
        aggregate_version=number,
        occurred_at=occurred,
        recorded_at=occurred,
        actor=Actor(subject="lead@north-shire.example", role="programme-lead"),
        correlation_id=uuid.uuid4(),
        data=event.model_dump(mode="json"),
    )


@dataclass
class Trail:
    admin: asyncpg.Connection
    app: asyncpg.Connection
    admin_url: str
    envelopes: list[EventEnvelope]

    async def event_id_at(self, seq: int) -> uuid.UUID:
        value: uuid.UUID = await self.admin.fetchval(
            "SELECT event_id FROM audit_trail WHERE seq = $1", seq
        )
        return value

    async def tamper(self, statement: str, *args: object) -> None:
        """Change the trail as a superuser who switched its trigger off."""
        async with self.admin.transaction():
            await self.admin.execute("SET LOCAL session_replication_role = replica")
            await self.admin.execute(statement, *args)


@pytest.fixture
async def trail(stack: Stack) -> AsyncIterator[Trail]:
    database = unique("audit").replace("-", "_")
    stack.create_databases([database])
    admin_url = with_database(stack.database_server_url, database)
    app_url = protect_audit_trail(admin_url, "a-test-password")
    admin = await asyncpg.connect(admin_url)
    app = await asyncpg.connect(app_url)
    envelopes = [
        envelope_of(event, number)
        for number, event in enumerate(examples.all_examples(), start=1)
    ]
    for envelope in envelopes:
        async with app.transaction():
            await append_to_audit_trail(envelope, app)
    try:
        yield Trail(admin, app, admin_url, envelopes)
    finally:
        await app.close()
        await admin.close()


async def test_the_service_runs_as_a_role_that_is_neither_superuser_nor_owner(
    trail: Trail,
) -> None:
    row = await trail.app.fetchrow(
        """SELECT current_user AS me, r.rolsuper,
            pg_get_userbyid(c.relowner) AS owner
        FROM pg_roles r, pg_class c
        WHERE r.rolname = current_user AND c.relname = 'audit_trail'"""
    )
    assert row is not None
    assert row["me"] == APP_ROLE
    assert row["rolsuper"] is False
    assert row["owner"] != APP_ROLE


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_trail SET actor_subject = 'someone-else' WHERE seq = 2",
        "DELETE FROM audit_trail WHERE seq = 2",
        "TRUNCATE audit_trail",
        "DROP TRIGGER audit_trail_append_only ON audit_trail",
        "ALTER TABLE audit_trail DISABLE TRIGGER audit_trail_append_only",
        "DROP TABLE audit_trail",
    ],
)
async def test_the_application_role_cannot_change_or_remove_history(
    trail: Trail, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await trail.app.execute(statement)

    assert await trail.app.fetchval("SELECT count(*) FROM audit_trail") == len(
        trail.envelopes
    )
    assert (await verify_chain(trail.app)).intact


async def test_the_application_role_still_builds_its_read_models(
    trail: Trail,
) -> None:
    await trail.app.execute("CREATE TABLE scratch_model (n integer)")
    await trail.app.execute("INSERT INTO scratch_model VALUES (1)")
    await trail.app.execute("DROP TABLE scratch_model")


async def test_an_untouched_trail_verifies(trail: Trail) -> None:
    seen: list[tuple[int, int]] = []

    result = await verify_chain(
        trail.admin, lambda done, total: seen.append((done, total))
    )

    assert result.intact
    assert result.rows == len(trail.envelopes)
    assert seen[-1] == (len(trail.envelopes), len(trail.envelopes))


async def test_verify_finds_a_row_changed_by_a_superuser(trail: Trail) -> None:
    await trail.tamper(
        """UPDATE audit_trail SET envelope = jsonb_set(envelope,
            '{actor,subject}', '"someone-else@example.org"') WHERE seq = 7"""
    )

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (7, "changed")
    assert found.event_id == trail.envelopes[6].event_id


async def test_verify_finds_a_column_changed_without_its_event(trail: Trail) -> None:
    await trail.tamper("UPDATE audit_trail SET actor_subject = 'nobody' WHERE seq = 4")

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (4, "changed")
    assert "actor_subject" in found.detail


async def test_verify_finds_a_row_removed_by_a_superuser(trail: Trail) -> None:
    await trail.tamper("DELETE FROM audit_trail WHERE seq = 5")

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (5, "removed")
    assert "next row is 6" in found.detail


async def test_verify_finds_a_removed_row_even_when_the_rest_was_renumbered(
    trail: Trail,
) -> None:
    await trail.tamper("DELETE FROM audit_trail WHERE seq = 5")
    await trail.tamper("UPDATE audit_trail SET seq = seq - 1 WHERE seq > 5")

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (5, "removed")
    assert found.event_id == trail.envelopes[5].event_id


async def test_verify_finds_a_reordered_pair(trail: Trail) -> None:
    await trail.tamper("UPDATE audit_trail SET seq = -9 WHERE seq = 9")
    await trail.tamper("UPDATE audit_trail SET seq = 9 WHERE seq = 10")
    await trail.tamper("UPDATE audit_trail SET seq = 10 WHERE seq = -9")

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (9, "reordered")
    assert found.event_id == trail.envelopes[9].event_id
    assert "9 and 10" in found.detail


async def test_verify_finds_the_newest_rows_removed_from_the_consumed_record(
    trail: Trail,
) -> None:
    await trail.admin.execute(
        """CREATE TABLE consumed_events (consumer text, event_id uuid, topic text,
            kafka_partition integer, kafka_offset bigint,
            consumed_at timestamptz DEFAULT now())"""
    )
    for envelope in trail.envelopes:
        await trail.admin.execute(
            "INSERT INTO consumed_events VALUES ('projections', $1, 't', 0, 0)",
            envelope.event_id,
        )
    last = len(trail.envelopes)
    await trail.tamper("DELETE FROM audit_trail WHERE seq = $1", last)

    found = (await verify_chain(trail.admin)).first_break

    assert found is not None
    assert (found.seq, found.problem) == (last, "removed")
    assert found.event_id == trail.envelopes[-1].event_id


async def test_the_verify_command_fails_naming_the_first_broken_row(
    trail: Trail,
) -> None:
    runner = CliRunner()
    arguments = ["verify", "--database-url", trail.admin_url]
    intact = await asyncio.to_thread(runner.invoke, projections_cli, arguments)
    assert intact.exit_code == 0, intact.output
    assert f"{len(trail.envelopes)} rows" in intact.output

    await trail.tamper("DELETE FROM audit_trail WHERE seq = 3")
    broken = await asyncio.to_thread(runner.invoke, projections_cli, arguments)

    assert broken.exit_code == 1
    assert "broken at row 3" in broken.output
    assert "removed" in broken.output


async def rewrite_history(trail: Trail, seq: int) -> None:
    """A superuser changes row ``seq`` and recomputes every hash from there."""
    await trail.tamper(
        """UPDATE audit_trail SET actor_subject = 'someone-else@example.org',
            envelope = jsonb_set(envelope, '{actor,subject}',
                '"someone-else@example.org"') WHERE seq = $1""",
        seq,
    )
    rows = await trail.admin.fetch(
        "SELECT seq, envelope::text AS body, previous_hash FROM audit_trail "
        "WHERE seq >= $1 ORDER BY seq",
        seq,
    )
    previous = rows[0]["previous_hash"]
    for row in rows:
        body = json.dumps(
            json.loads(row["body"]), sort_keys=True, separators=(",", ":")
        )
        digest = chain_hash(previous, body)
        await trail.tamper(
            "UPDATE audit_trail SET previous_hash = $2, hash = $3 WHERE seq = $1",
            row["seq"], previous, digest,
        )  # fmt: skip
        previous = digest


async def test_an_anchor_from_the_minutes_catches_a_rewritten_chain(
    trail: Trail,
) -> None:
    last = len(trail.envelopes)
    minuted = await trail.admin.fetchval(
        "SELECT hash FROM audit_trail WHERE seq = $1", last
    )
    arguments = ["verify", "--database-url", trail.admin_url,
                 "--anchor", f"{last}:{minuted}"]  # fmt: skip
    runner = CliRunner()
    before = await asyncio.to_thread(runner.invoke, projections_cli, arguments)
    assert before.exit_code == 0, before.output

    await rewrite_history(trail, 3)

    assert (await verify_chain(trail.admin)).intact  # the chain alone looks fine
    after = await asyncio.to_thread(runner.invoke, projections_cli, arguments)
    assert after.exit_code == 1
    said = " ".join(after.output.split())  # the console wraps long lines
    assert f"no longer holds hash {minuted} at row {last}" in said


async def test_read_models_an_earlier_version_made_as_superuser_pass_to_the_role(
    stack: Stack,
) -> None:
    database = unique("upgrade").replace("-", "_")
    stack.create_databases([database])
    admin_url = with_database(stack.database_server_url, database)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute("CREATE TABLE caseload (referral_id uuid PRIMARY KEY)")
        await admin.execute(
            "CREATE FUNCTION term_of(area text, day date) RETURNS text "
            "AS $$ SELECT 'autumn' $$ LANGUAGE sql"
        )
    finally:
        await admin.close()

    app = await asyncpg.connect(protect_audit_trail(admin_url, "another-password"))
    try:
        await app.execute("DROP TABLE caseload")
        await app.execute(
            "CREATE OR REPLACE FUNCTION term_of(area text, day date) RETURNS text "
            "AS $$ SELECT 'spring' $$ LANGUAGE sql"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("DROP FUNCTION audit_trail_is_append_only() CASCADE")
    finally:
        await app.close()
