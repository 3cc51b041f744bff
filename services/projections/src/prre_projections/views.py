"""What every dashboard view shares: its scope, its date and its connection.

A view is asked for by someone whose token names their areas; it may narrow
to one area and setting, to a period, and may ask to be shown "as at" a past
date, in which case it is computed from the events up to the end of that day.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

from prre_projections.queries import Scope
from prre_projections.rebuild import read_models_as_at
from prre_runtime.consumer import Connection
from prre_runtime.identity import ALL_AREAS, Principal
from prre_runtime.service import ServiceRuntime


@dataclass(frozen=True)
class ViewRequest:
    """One view's scope, the day it is seen from, and whether it is as at then."""

    scope: Scope
    today: date
    as_at: date | None

    def query_string(self) -> str:
        """The filters as URL parameters, to carry them from page to page."""
        pairs = {
            "area_id": self.scope.areas[0]
            if self.scope.areas and len(self.scope.areas) == 1
            else None,
            "setting_id": self.scope.setting_id,
            "since": self.scope.since,
            "until": self.scope.until,
            "as_at": self.as_at,
        }
        return "&".join(f"{k}={v}" for k, v in pairs.items() if v is not None)


def area_filter(caller: Principal, area_id: str | None) -> list[str] | None:
    """The areas a query may read: ``None`` means every area (regional view)."""
    if area_id:
        caller.ensure_area(area_id)
        return [area_id]
    return None if ALL_AREAS in caller.areas else sorted(caller.areas)


def view_request(
    caller: Principal,
    runtime: ServiceRuntime,
    area_id: str | None = None,
    setting_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    as_at: date | None = None,
) -> ViewRequest:
    """Check the caller may see the area, and settle the view's scope and day."""
    scope = Scope(area_filter(caller, area_id), setting_id or None, since, until)
    return ViewRequest(scope, as_at or runtime.clock.today(), as_at)


@asynccontextmanager
async def reading(
    runtime: ServiceRuntime, request: ViewRequest
) -> AsyncIterator[Connection]:
    """A connection on the live read models, or on a copy as at the asked date."""
    async with read_models_as_at(
        runtime.pool, request.as_at, request.scope.areas
    ) as connection:
        yield connection
