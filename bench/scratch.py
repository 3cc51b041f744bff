"""A scratch projections database for the read-side benchmarks.

An embedded PostgreSQL of its own, in a temporary directory, on a free port,
with the projections database prepared exactly as the stack prepares it: the
audit trail owned by the administrator, the read models created by the
service's role. No broker and no services: the read-side benchmarks write
rows straight into the tables.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg

from prre_projections.audit import protect_audit_trail
from prre_projections.schema import create_read_models
from prre_runtime.stack import EmbeddedPostgres, free_port, with_database

DATABASE = "prre_projections"


@dataclass(frozen=True)
class Scratch:
    server_url: str
    admin_url: str
    app_url: str


@asynccontextmanager
async def scratch_database(home: Path | None = None) -> AsyncIterator[Scratch]:
    """Start PostgreSQL, prepare the projections database; stop and remove after."""
    directory = home or Path(tempfile.mkdtemp(prefix="prre-bench-read-"))
    server = EmbeddedPostgres(directory / "pgdata", free_port())
    server.start()
    try:
        with psycopg.connect(server.server_url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        admin_url = with_database(server.server_url(), DATABASE)
        app_url = protect_audit_trail(admin_url, "bench-only-password")
        pool = await asyncpg.create_pool(app_url, min_size=1, max_size=2)
        try:
            await create_read_models(pool)
        finally:
            await pool.close()
        yield Scratch(server.server_url(), admin_url, app_url)
    finally:
        server.stop()
        if home is None:
            shutil.rmtree(directory, ignore_errors=True)
