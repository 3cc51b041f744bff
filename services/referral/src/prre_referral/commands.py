"""What every command handler of the referral service shares.

Request bodies are commands (imperative names); each handler loads an
aggregate, asks it to record facts, and saves it. Dates a person gives are the
days facts happened, which may be earlier than the day they are recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from prre_referral.domain import Referral
from prre_referral.programme import Area, area_aggregate_id
from prre_runtime.eventstore import CommandContext
from prre_runtime.identity import Principal
from prre_runtime.service import ServiceRuntime

AreaCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


def occurred(runtime: ServiceRuntime, on: date | None) -> datetime:
    """When a fact dated ``on`` happened: now if today, else that day at noon."""
    today = runtime.clock.today()
    if on is None or on >= today:
        return runtime.clock.now()
    return datetime.combine(on, time(12), tzinfo=UTC)


def context(
    runtime: ServiceRuntime, caller: Principal, on: date | None
) -> CommandContext:
    return runtime.command_context(caller, occurred(runtime, on))


async def load_area(runtime: ServiceRuntime, area_id: str) -> Area:
    return await runtime.store.get(
        area_aggregate_id(area_id), Area, f"area '{area_id}'"
    )


async def save(runtime: ServiceRuntime, *aggregates: Area | Referral) -> None:
    await runtime.store.save(*aggregates)
    runtime.events_saved()
