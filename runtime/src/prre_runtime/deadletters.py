"""``prre deadletters``: list a consumer's dead letters and replay them.

A *dead letter* is a message a service's consumer gave up on: either it could
not be read as a catalogue event, or the service's handler kept failing on it
after a bounded number of attempts. The consumer copies it, with its key, body
and headers, to the service's dead-letter topic (``prre.deadletter.<service>.v1``)
adding why (``prre_error``), where it came from (``prre_source``,
``topic[partition]@offset``) and who gave up (``prre_consumer``), and moves on
to the next message, so one bad event does not stop a whole service.

Replay once the cause is gone: the handler's bug is fixed and deployed, the
missing reference data is in place, or the service now knows a newer event
type. Replaying publishes the original message again, with its key, body and
headers, at the end of its original topic and partition, with a
``prre_replayed_from`` header naming the dead letter. Every consumer of that
topic sees it again, but the consumers deduplicate by event id, so a service
that already handled the event changes nothing, and the service that failed
gets another chance. Replaying a letter that was unreadable helps only once
the consumers can read it: until then every consumer of its topic
dead-letters the copy again (known shortcoming: replay cannot aim at the one
consumer group that failed, as Kafka delivers a topic's messages to every
group).

What was replayed is recorded as a small marker message on
``prre.deadletter.<service>.replayed.v1`` (key: the dead letter's offset), so
``list`` shows it and a second ``replay --all`` skips it unless ``--again``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias, TypeVar

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from prre_runtime.errors import PrreError
from prre_runtime.kafka import (
    CONSUMING_SERVICES,
    dead_letter_topic,
    ensure_topics,
    stop_reader,
)
from prre_runtime.relay import POSITION_HEADER

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "prre_replayed_from"
DEAD_LETTER_HEADER_PREFIX = "prre_"
READ_TIMEOUT_S = 30.0
SOURCE = re.compile(r"^(?P<topic>.+)\[(?P<partition>\d+)\]@(?P<offset>\d+)$")

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Client = TypeVar("Client", AIOKafkaConsumer, AIOKafkaProducer)
T = TypeVar("T")


class DeadLetterError(PrreError):
    """The broker cannot be reached, or the service or offset is unknown."""


def replayed_topic(service: str) -> str:
    """Where replays of ``service``'s dead letters are recorded."""
    return f"prre.deadletter.{service}.replayed.v1"


# --- what a dead letter says -------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """One replay of a dead letter: where the copy went, and when."""

    dead_letter_offset: int
    to: str
    at: str


@dataclass(frozen=True)
class DeadLetter:
    """One message a consumer gave up on, as the dead-letter topic holds it."""

    offset: int
    event_id: str
    event_type: str
    area_id: str
    source: str
    error: str
    replays: tuple[Replay, ...]

    @property
    def replayed(self) -> bool:
        return bool(self.replays)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "replayed": self.replayed}


def headers_of(record: Record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or ()}


def describe(record: Record, replays: Sequence[Replay]) -> DeadLetter:
    """A dead letter, its event named by the ce_* headers or else by the body."""
    headers = headers_of(record)
    body = _body_fields(record.value)
    return DeadLetter(
        offset=record.offset,
        event_id=headers.get("ce_id") or body.get("event_id") or "?",
        event_type=headers.get("ce_type") or body.get("event_type") or "unreadable",
        area_id=headers.get("ce_areaid") or body.get("area_id") or "?",
        source=headers.get("prre_source", "?"),
        error=headers.get("prre_error", ""),
        replays=tuple(replays),
    )


def _body_fields(value: bytes | None) -> dict[str, str]:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    wanted = ("event_id", "event_type", "area_id")
    return {name: str(body[name]) for name in wanted if body.get(name)}


def replay_headers(record: Record, topic: str) -> list[tuple[str, bytes]]:
    """The original headers, without the dead-letter ones, naming the letter."""
    kept = [
        (name, value)
        for name, value in record.headers or ()
        if not name.startswith(DEAD_LETTER_HEADER_PREFIX) and name != POSITION_HEADER
    ]
    return [*kept, (REPLAYED_HEADER, f"{topic}@{record.offset}".encode())]


def source_of(record: Record) -> tuple[str, int]:
    """The topic and partition the dead letter was first consumed from."""
    match = SOURCE.match(headers_of(record).get("prre_source", ""))
    if match is None:
        raise DeadLetterError(
            f"Dead letter at offset {record.offset} does not say where it came "
            "from (no valid prre_source header); it cannot be replayed."
        )
    return match["topic"], int(match["partition"])


# --- reading and writing the broker ------------------------------------------


async def _started(client: Client, bootstrap: str) -> Client:
    try:
        await client.start()
    except KafkaError as error:
        with contextlib.suppress(Exception):
            await client.stop()
        raise DeadLetterError(
            f"Cannot reach the broker at {bootstrap} ({error}); is the system "
            "running, and is --bootstrap-servers right?"
        ) from error
    return client


async def _reader(bootstrap: str) -> AIOKafkaConsumer:
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        request_timeout_ms=10_000,
    )
    return await _started(reader, bootstrap)


async def known_topics(bootstrap: str) -> set[str]:
    reader = await _reader(bootstrap)
    try:
        return set(await reader.topics())
    finally:
        await stop_reader(reader)


async def check_service(bootstrap: str, service: str) -> None:
    """Fail unless ``service`` is a consuming service or has a dead-letter topic.

    Any consumer (a service, or a second consumer a deployment added) that has
    dead-lettered something has its topic on the broker, so it is accepted.
    """
    if service in CONSUMING_SERVICES:
        return
    if dead_letter_topic(service) not in await known_topics(bootstrap):
        raise DeadLetterError(
            f"No consumer named {service!r}; the services with dead letters are "
            f"{', '.join(CONSUMING_SERVICES)}."
        )


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record on ``topic`` from its start to its current end."""
    reader = await _reader(bootstrap)
    try:
        await reader.topics()
        partitions = reader.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        reader.assign(assigned)
        await reader.seek_to_beginning(*assigned)
        ends = await reader.end_offsets(assigned)
        return await _read_until(reader, ends, topic)
    finally:
        await stop_reader(reader)


async def _read_until(
    reader: AIOKafkaConsumer, ends: dict[TopicPartition, int], topic: str
) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + READ_TIMEOUT_S
    while not await _reached(reader, ends):
        if time.monotonic() > deadline:
            raise DeadLetterError(f"Reading {topic} took over {READ_TIMEOUT_S}s.")
        batch = await reader.getmany(timeout_ms=300)
        for tp, part in batch.items():
            records.extend(record for record in part if record.offset < ends[tp])
    return sorted(records, key=lambda record: (record.partition, record.offset))


async def _reached(reader: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await reader.position(tp) < end:
            return False
    return True


async def read_replays(bootstrap: str, service: str) -> dict[int, list[Replay]]:
    """The replays recorded so far, by the offset of the dead letter replayed."""
    replays: dict[int, list[Replay]] = {}
    for record in await read_all(bootstrap, replayed_topic(service)):
        try:
            marker = Replay(**json.loads(record.value or b""))
        except (ValueError, TypeError):
            logger.warning("ignored an unreadable replay marker at %s", record.offset)
            continue
        replays.setdefault(marker.dead_letter_offset, []).append(marker)
    return replays


async def list_dead_letters(bootstrap: str, service: str) -> list[DeadLetter]:
    """The dead letters of ``service``'s consumer, oldest first."""
    await check_service(bootstrap, service)
    replays = await read_replays(bootstrap, service)
    records = await read_all(bootstrap, dead_letter_topic(service))
    return [describe(record, replays.get(record.offset, [])) for record in records]


async def _topic_position(reader: AIOKafkaConsumer, topic: str) -> int:
    """The highest relay log position at the end of any partition of ``topic``.

    The relay compares this with what it published to notice a broker that
    lost data (see relay.py); a replayed copy must not lower it.
    """
    partitions = reader.partitions_for_topic(topic) or set()
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    reader.assign(assigned)
    best = 0
    for tp, end in (await reader.end_offsets(assigned)).items():
        if end == 0:
            continue
        reader.seek(tp, end - 1)
        for record in (await reader.getmany(tp, timeout_ms=5000)).get(tp, []):
            best = max(best, int(dict(record.headers or ()).get(POSITION_HEADER, b"0")))
    return best


# --- replaying ---------------------------------------------------------------


@dataclass
class ReplaySummary:
    """What ``replay`` did: offsets replayed, and those skipped as done already."""

    replayed: list[int]
    already_replayed: list[int]


ShowProgress = Callable[[int, int], None]


def choose(
    records: Sequence[Record],
    offsets: Sequence[int] | None,
    replays: dict[int, list[Replay]],
    again: bool,
) -> tuple[list[Record], list[int]]:
    """The dead letters to replay (all when ``offsets`` is None), and the skipped."""
    by_offset = {record.offset: record for record in records}
    wanted = list(by_offset) if offsets is None else list(dict.fromkeys(offsets))
    missing = [offset for offset in wanted if offset not in by_offset]
    if missing:
        raise DeadLetterError(
            f"No dead letter at offset {', '.join(map(str, missing))}; "
            "`prre deadletters list` shows the offsets there are."
        )
    skipped = [offset for offset in wanted if offset in replays and not again]
    chosen = [by_offset[offset] for offset in wanted if offset not in skipped]
    return chosen, skipped


async def replay(
    bootstrap: str,
    service: str,
    offsets: Sequence[int] | None = None,
    *,
    again: bool = False,
    progress: ShowProgress | None = None,
) -> ReplaySummary:
    """Publish chosen dead letters back to their original topics and record it.

    ``offsets`` None means every dead letter. One already replayed is skipped
    unless ``again``. Each letter is recorded as replayed right after its copy
    is acknowledged; a crash in between means it may be replayed once more,
    which the consumers' deduplication makes harmless.
    """
    await check_service(bootstrap, service)
    topic = dead_letter_topic(service)
    records = await read_all(bootstrap, topic)
    chosen, skipped = choose(
        records, offsets, await read_replays(bootstrap, service), again
    )
    for record in chosen:
        source_of(record)  # refuse before sending anything, not halfway through
    if chosen:
        await ensure_topics(bootstrap, [replayed_topic(service)])
        await _send_all(bootstrap, service, chosen, progress or (lambda *_: None))
    return ReplaySummary([record.offset for record in chosen], skipped)


async def _send_all(
    bootstrap: str, service: str, chosen: Sequence[Record], progress: ShowProgress
) -> None:
    producer = await _started(
        AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=False,  # the embedded broker refuses InitProducerId
            acks="all",
            linger_ms=0,
        ),
        bootstrap,
    )
    reader = await _reader(bootstrap)
    try:
        await reader.topics()
        for done, record in enumerate(chosen, start=1):
            await _send_one(producer, reader, service, record)
            progress(done, len(chosen))
    finally:
        await stop_reader(reader)
        await producer.stop()


async def _send_one(
    producer: AIOKafkaProducer,
    reader: AIOKafkaConsumer,
    service: str,
    record: Record,
) -> None:
    topic, partition = source_of(record)
    # The copy carries the topic's current relay position, not its old one, so
    # the relay does not mistake it for the end of a topic that lost data.
    # Known shortcoming: if the relay publishes to the same partition between
    # this read and the send, it may still see a lower position and republish
    # its whole log once (harmless: the consumers deduplicate).
    position = await _topic_position(reader, topic)
    headers = [
        *replay_headers(record, dead_letter_topic(service)),
        (POSITION_HEADER, str(position).encode()),
    ]
    sent = await producer.send_and_wait(
        topic, record.value, key=record.key, partition=partition, headers=headers
    )
    to = f"{topic}[{sent.partition}]@{sent.offset}"
    marker = Replay(record.offset, to, datetime.now(UTC).isoformat())
    await producer.send_and_wait(
        replayed_topic(service),
        json.dumps(asdict(marker)).encode(),
        key=str(record.offset).encode(),
    )
    logger.info(
        "replayed dead letter %s@%s (event %s) to %s",
        dead_letter_topic(service),
        record.offset,
        headers_of(record).get("ce_id", "?"),
        to,
    )


# --- the command line ----------------------------------------------------------

deadletters_app = typer.Typer(
    help="List the messages a service's consumer gave up on, and replay them.",
    no_args_is_help=True,
)
errors = Console(stderr=True)

Service = Annotated[
    str,
    typer.Option(help=f"Whose consumer: one of {', '.join(CONSUMING_SERVICES)}."),
]
Bootstrap = Annotated[
    str,
    typer.Option(
        "--bootstrap-servers",
        envvar="PRRE_KAFKA_BOOTSTRAP_SERVERS",
        help="The broker, host:port (default: the one `prre up` starts).",
    ),
]
DEFAULT_BOOTSTRAP = "127.0.0.1:19092"
"""Where `prre up` starts its embedded broker."""


@deadletters_app.command("list")
def list_command(
    service: Service,
    bootstrap_servers: Bootstrap = DEFAULT_BOOTSTRAP,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array, for scripts.")
    ] = False,
) -> None:
    """Show each dead letter: its offset, event, area, source, error, replays."""
    letters = _run(list_dead_letters(bootstrap_servers, service))
    if as_json:
        print(json.dumps([letter.as_json() for letter in letters], indent=2))
        return
    Console().print(_table(service, letters))


def _table(service: str, letters: Sequence[DeadLetter]) -> Table:
    table = Table(title=f"Dead letters of {service} ({len(letters)})")
    for column in ("offset", "event", "area", "source", "error", "replayed"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.offset),
            f"{letter.event_type}\n{letter.event_id}",
            letter.area_id,
            letter.source,
            letter.error[:300],
            "\n".join(f"→ {replay.to}" for replay in letter.replays) or "no",
        )
    return table


@deadletters_app.command("replay")
def replay_command(
    service: Service,
    bootstrap_servers: Bootstrap = DEFAULT_BOOTSTRAP,
    offset: Annotated[
        list[int] | None,
        typer.Option(help="A dead letter's offset (see `list`); repeat for more."),
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Every dead letter of the service.")
    ] = False,
    again: Annotated[
        bool, typer.Option(help="Replay letters that were replayed before, too.")
    ] = False,
) -> None:
    """Publish dead letters back to their original topic, once the cause is fixed."""
    if bool(offset) == replay_all:
        errors.print("[red]Give either --offset N (repeatable) or --all.[/red]")
        raise typer.Exit(2)
    with Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), console=errors
    ) as bar:
        task = bar.add_task("replay", total=None)

        def show(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = _run(
            replay(bootstrap_servers, service, offset, again=again, progress=show)
        )
    errors.print(_said(service, summary))


def _said(service: str, summary: ReplaySummary) -> str:
    said = f"Replayed {len(summary.replayed)} dead letter(s) of {service}"
    if summary.replayed:
        said += f" (offsets {', '.join(map(str, summary.replayed))})"
    if summary.already_replayed:
        offsets = ", ".join(map(str, summary.already_replayed))
        said += f"; skipped {offsets}, replayed before (use --again)"
    return said + "."


def _run(work: Coroutine[Any, Any, T]) -> T:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # errors said below
    try:
        result = asyncio.run(work)
    except PrreError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    return result
