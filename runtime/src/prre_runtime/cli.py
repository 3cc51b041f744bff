"""``prre``: start the system, issue tokens, run a relay on its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from prre_runtime.clock import SystemClock
from prre_runtime.deadletters import deadletters_app
from prre_runtime.errors import PrreError
from prre_runtime.identity import Role, issue_token
from prre_runtime.stack import SERVICES, Stack, StackError

app = typer.Typer(
    help="PRRE platform: referral to review for children at risk of exclusion.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

Home = Annotated[
    Path,
    typer.Option(
        help="Where the embedded servers keep data, logs and the local secrets.",
        envvar="PRRE_HOME",
    ),
]
DEFAULT_HOME = Path(".prre")


Referrals = Annotated[
    int,
    typer.Option(
        min=0, max=2000, help="Referrals in the largest area (others get fewer)."
    ),
]


@app.command()
def up(
    home: Home = DEFAULT_HOME,
    demo: Annotated[
        bool,
        typer.Option(help="Fill a fresh system with the demo region once started."),
    ] = False,
    referrals: Referrals = 60,
) -> None:
    """Start PostgreSQL, the broker and all five services; Ctrl-C stops them all."""
    stack = Stack(home=home.resolve(), progress=lambda step: console.log(step))
    _stop_on_sigterm()
    try:
        stack.start_servers()
        stack.start_services()
        if demo:
            _fill(stack.token_secret, _service_urls(stack), referrals, seed=2026)
        _print_urls(stack)
        signal.pause()
    except KeyboardInterrupt:
        console.log("stopping")
    except PrreError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    finally:
        stack.stop()
        console.log("stopped")


def _stop_on_sigterm() -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _print_urls(stack: Stack) -> None:
    table = Table(title="PRRE is running")
    table.add_column("service")
    table.add_column("API")
    table.add_column("OpenAPI page")
    for name, service in stack.services.items():
        table.add_row(name, service.url, f"{service.url}/docs")
    Console().print(table)
    Console().print(f"Dashboard: {stack.url('projections')}/")
    Console().print(
        "Get a token:  scripts/prre token --role regional-admin --area '*' "
        "--subject you@example.org"
    )
    Console().print("Logs and data: " + str(stack.home) + "   Stop: Ctrl-C")


@app.command("demo")
def demo_region(
    home: Home = DEFAULT_HOME,
    referrals: Referrals = 60,
    seed: Annotated[int, typer.Option(help="Same seed, same region.")] = 2026,
    prefix: Annotated[
        str, typer.Option(help="Put before each area's code, for a second region.")
    ] = "",
    host: Annotated[str, typer.Option(help="Where the services listen.")] = (
        "127.0.0.1"
    ),
) -> None:
    """Fill a running, empty system with a demo region: three areas in three
    phases and a year of referrals along every branch of the pathway."""
    urls = {spec.name: f"http://{host}:{spec.default_port}" for spec in SERVICES}
    secret = (
        os.environ.get("PRRE_TOKEN_SECRET") or Stack(home=home.resolve()).token_secret
    )
    _fill(secret, urls, referrals, seed, prefix)


def _service_urls(stack: Stack) -> dict[str, str]:
    return {name: service.url for name, service in stack.services.items()}


def _fill(
    secret: str, urls: dict[str, str], referrals: int, seed: int, prefix: str = ""
) -> None:
    from prre_runtime.demo import Demo, Services

    services = Services(urls, secret)
    try:
        with Progress(
            TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console,
        ) as bar:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def show(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done, total=total)
                if not console.is_terminal and done == total:
                    console.log(f"{step}: {total} done")

            demo = Demo(services, SystemClock().today(), seed, prefix, progress=show)
            cases = demo.run(referrals)
    except httpx.TransportError as error:
        raise StackError(
            f"Cannot reach the services ({error}); start them with `prre up` first."
        ) from error
    finally:
        services.close()
    ended = Counter(case.ended or "still open" for case in cases)
    summary = ", ".join(f"{n} {how}" for how, n in sorted(ended.items()))
    console.log(f"demo region loaded: {len(cases)} referrals ({summary})")


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="What the holder does in the system.")],
    area: Annotated[
        list[str],
        typer.Option(help="An area the holder may act in; repeat for more; '*' = all."),
    ],
    subject: Annotated[str, typer.Option(help="Who the holder is, e.g. an email.")],
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 12,
    home: Home = DEFAULT_HOME,
) -> None:
    """Print a signed bearer token for the local system."""
    secret = (
        os.environ.get("PRRE_TOKEN_SECRET") or Stack(home=home.resolve()).token_secret
    )
    print(
        issue_token(
            secret,
            subject=subject,
            role=role,
            areas=area,
            now=SystemClock().now(),
            valid_for=timedelta(hours=hours),
        )
    )


@app.command()
def relay(
    database_url: Annotated[str, typer.Option(envvar="PRRE_DATABASE_URL")],
    kafka_bootstrap_servers: Annotated[
        str, typer.Option(envvar="PRRE_KAFKA_BOOTSTRAP_SERVERS")
    ],
    service: Annotated[str, typer.Option(help="Whose event store to publish.")],
    topic: Annotated[
        str | None, typer.Option(help="Defaults to the service's topic.")
    ] = None,
    pii_key: Annotated[str | None, typer.Option(envvar="PRRE_PII_KEY")] = None,
    check_interval: Annotated[
        float, typer.Option(help="Seconds between checks that the broker kept data.")
    ] = 5.0,
) -> None:
    """Run one service's outbox relay on its own, until interrupted."""
    from prre_runtime.standalone import run_relay

    _stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_relay(
                database_url,
                kafka_bootstrap_servers,
                service,
                topic,
                pii_key,
                check_interval,
            )
        )


app.add_typer(deadletters_app, name="deadletters")

COMMAND_GROUP = "prre.commands"
"""Entry-point group through which service packages add ``prre`` sub-commands.

A package declares, in its pyproject, ``[project.entry-points."prre.commands"]``
``name = "module:typer_app"``; ``prre name --help`` then lists its commands.
The runtime stays free of any service's code.
"""


def add_service_commands() -> None:
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        app.add_typer(entry.load(), name=entry.name)


def main() -> None:
    add_service_commands()
    try:
        app()
    except PrreError as error:
        console.print(f"[red]{error}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
