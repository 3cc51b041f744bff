"""The raw limit: what the same PostgreSQL does with nothing of PRRE in the way.

One asyncpg connection inserts single rows into a scratch table of a scratch
database, each INSERT its own transaction (asyncpg commits a statement sent
outside a transaction), so every row waits for its own durable commit.
"""

from __future__ import annotations

import time

import asyncpg

from prre_runtime.stack import with_database

SCRATCH_DATABASE = "prre_bench_scratch"


async def inserts_per_second(server_url: str, rows: int = 3000) -> float:
    """Single-row transactional inserts per second into a scratch table."""
    await _recreate_scratch_database(server_url)
    try:
        connection = await asyncpg.connect(with_database(server_url, SCRATCH_DATABASE))
        try:
            return await _insert_rows(connection, rows)
        finally:
            await connection.close()
    finally:
        await _drop_scratch_database(server_url)


async def _insert_rows(connection: asyncpg.Connection, rows: int) -> float:
    await connection.execute(
        """CREATE TABLE raw_insert (id bigserial PRIMARY KEY, payload text NOT NULL,
            inserted_at timestamptz NOT NULL DEFAULT now())"""
    )
    insert = "INSERT INTO raw_insert (payload) VALUES ($1)"
    started = time.perf_counter()
    for number in range(rows):
        await connection.execute(insert, f"row {number}")
    return rows / (time.perf_counter() - started)


async def _recreate_scratch_database(server_url: str) -> None:
    await _drop_scratch_database(server_url)
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE DATABASE {SCRATCH_DATABASE}")
    finally:
        await connection.close()


async def _drop_scratch_database(server_url: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE}")
    finally:
        await connection.close()
