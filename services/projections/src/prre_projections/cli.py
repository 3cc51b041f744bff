"""``prre projections ...``: verify the audit trail, rebuild read models, report.

Every command reads the projections database. By default that is the one
``prre up`` runs: on the server ``PRRE_DATABASE_URL`` names, as ``prre up``
reads it, else the embedded PostgreSQL on port 54329; as the application
role, with its password from the stack's home. ``--database-url`` or
``PRRE_PROJECTIONS_DATABASE_URL`` names the database itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from prre_projections.audit import (
    APP_ROLE,
    Verification,
    anchor_holds,
    protect_audit_trail,
    verify_chain,
    with_user,
)
from prre_runtime.stack import with_database

app = typer.Typer(
    help="The read side: audit trail, read models and the governance report.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
T = TypeVar("T")

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:54329/prre_projections"
"""The projections database of ``prre up`` (embedded PostgreSQL, fixed port)."""
DATABASE = "prre_projections"

Home = Annotated[
    Path,
    typer.Option(help="The stack's home, as given to `prre up`.", envvar="PRRE_HOME"),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="The projections database; default: the one `prre up` runs.",
        envvar="PRRE_PROJECTIONS_DATABASE_URL",
    ),
]


def local_url(home: Path) -> str:
    """The URL the service of ``prre up`` in ``home`` connects with."""
    server = os.environ.get("PRRE_DATABASE_URL")
    database = with_database(server, DATABASE) if server else LOCAL_SERVER
    password_file = home / "projections-db-password"
    if not password_file.exists():
        return database
    return with_user(database, APP_ROLE, password_file.read_text().strip())


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, advanced by calling ``update(done, total)``."""
    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def using(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def run() -> T:
        connection = await asyncpg.connect(url)
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(run())


Anchor = Annotated[
    str | None,
    typer.Option(
        metavar="ROW:HASH",
        help="A row and hash recorded earlier (e.g. in board minutes) that the "
        "trail must still hold.",
    ),
]


@app.command()
def verify(
    database_url: DatabaseUrl = None, home: Home = Path(".prre"), anchor: Anchor = None
) -> None:
    """Check the audit trail's hash chain; exit 1 naming the first broken row."""
    url = database_url or local_url(home.resolve())
    seq, _, expected = (anchor or "0:").partition(":")
    if not seq.isdigit() or (anchor and not expected):
        raise typer.BadParameter("give it as ROW:HASH", param_hint="--anchor")
    with progress_bar("verifying the audit trail") as update:

        async def check(db: asyncpg.Connection) -> tuple[Verification, bool]:
            result = await verify_chain(db, update)
            held = not anchor or await anchor_holds(db, int(seq), expected)
            return result, held

        result, anchored = using(url, check)
    if result.first_break is not None:
        console.print(f"[red]The audit trail is broken at {result.first_break}[/red]")
        console.print(f"{result.rows} rows before it are intact.")
        raise typer.Exit(1)
    if not anchored:
        console.print(
            f"[red]The audit trail no longer holds hash {expected} at row {seq}: "
            "it was rewritten, and its hashes recomputed, since then.[/red]"
        )
        raise typer.Exit(1)
    console.print(
        f"[green]The audit trail is intact:[/green] {result.rows} rows, "
        f"last hash {result.last_hash}"
    )


@app.command()
def protect(
    admin_url: Annotated[
        str,
        typer.Option(
            help="The projections database as its owner (an administrator).",
            envvar="PRRE_DATABASE_ADMIN_URL",
        ),
    ] = LOCAL_SERVER,
    password: Annotated[
        str,
        typer.Option(
            help="Password for the application role.",
            envvar="PRRE_PROJECTIONS_DB_PASSWORD",
            prompt=True,
            hide_input=True,
        ),
    ] = "",
) -> None:
    """Create the application role and the audit trail it may only append to."""
    protect_audit_trail(admin_url, password)
    console.print(
        f"Prepared. Run the projections service as the role {APP_ROLE} "
        "with that password; it can read and append to the audit trail, no more."
    )


@app.command()
def rebuild(database_url: DatabaseUrl = None, home: Home = Path(".prre")) -> None:
    """Drop every read model and build it again from the audit trail's events."""
    from prre_projections.rebuild import RebuildResult
    from prre_projections.rebuild import rebuild as rebuild_read_models

    url = database_url or local_url(home.resolve())

    async def run() -> RebuildResult:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            with progress_bar("replaying events") as update:
                return await rebuild_read_models(pool, update)
        finally:
            await pool.close()

    result = asyncio.run(run())
    console.print(
        f"Rebuilt from {result.events} events ({result.skipped} unreadable, skipped):"
    )
    for table, rows in result.rows.items():
        console.print(f"  {table}: {rows} rows")


@app.command()
def report(
    area: Annotated[str, typer.Option(help="The area's id.")],
    out: Annotated[Path, typer.Option(help="File to write.")],
    start: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"])
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"])] = None,
    term: Annotated[
        str | None, typer.Option(help='A school term, e.g. "2025/26 Autumn".')
    ] = None,
    cycle: Annotated[str | None, typer.Option(help="A commissioning cycle id.")] = None,
    format: Annotated[str, typer.Option(help="html, pdf or csv.")] = "html",
    database_url: DatabaseUrl = None,
    home: Home = Path(".prre"),
) -> None:
    """Write the governance report of an area for a period, a term or a cycle."""
    from prre_projections.report import GovernanceReport, governance_report
    from prre_projections.report_formats import to_csv, to_html, to_pdf

    renderers: dict[str, Callable[[GovernanceReport], str | bytes]] = {
        "html": to_html, "csv": to_csv, "pdf": to_pdf,
    }  # fmt: skip
    if format not in renderers:
        raise typer.BadParameter("use html, pdf or csv", param_hint="--format")
    url = database_url or local_url(home.resolve())
    figures = using(
        url,
        lambda db: governance_report(
            db, area, start and start.date(), end and end.date(), term=term,
            cycle=cycle,
        ),
    )  # fmt: skip
    content = renderers[format](figures)
    out.write_bytes(content if isinstance(content, bytes) else content.encode())
    console.print(
        f"Wrote {out}: {figures.received} referrals received, "
        f"{len(figures.breaches)} breaches, {figures.events} events read."
    )
