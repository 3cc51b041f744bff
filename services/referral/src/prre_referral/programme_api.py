"""The referral service's programme API: areas, settings and their policies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from prre_contracts.events.values import Nation, SettingKind
from prre_referral.commands import (
    AreaCode,
    Command,
    Name,
    Text,
    context,
    load_area,
    save,
)
from prre_referral.programme import Area
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Role
from prre_runtime.service import ServiceRuntime

PROGRAMME_ROLES = (Role.REGIONAL_ADMIN, Role.PROGRAMME_LEAD)


class RegisterArea(Command):
    area_id: AreaCode = Field(description="Short code, e.g. 'north-yorkshire'.")
    name: Name
    nation: Nation


class DefineCriteria(Command):
    criteria: list[Text] = Field(min_length=1)
    effective_from: date | None = None


class EnrolSetting(Command):
    setting_id: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
    ]
    name: Name
    kind: SettingKind
    urn: Annotated[str, StringConstraints(pattern=r"^\d{6,7}$")] | None = Field(
        default=None, description="The setting's DfE unique reference number."
    )
    lead_name: Name
    enrolled_on: date | None = None


def area_view(area: Area) -> dict[str, Any]:
    return {
        "area_id": area.area_id,
        "name": area.name,
        "nation": area.nation,
        "criteria_versions": [vars(version) for version in area.criteria_versions],
        "settings": [vars(setting) for setting in area.settings.values()],
        "accepting_referrals": bool(area.criteria_versions and area.settings),
    }


router = APIRouter(tags=["programme"])


@router.post("/areas", status_code=201)
async def register_area(
    body: RegisterArea, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Register a local area. Its programme lead then enrols settings and criteria."""
    caller.ensure_role(*PROGRAMME_ROLES)
    caller.ensure_area(body.area_id)
    await _ensure_new_area(runtime, body.area_id)
    area = Area.register(
        body.area_id, body.name, body.nation, context(runtime, caller, None)
    )
    await save(runtime, area)
    return area_view(area)


async def _ensure_new_area(runtime: ServiceRuntime, area_id: str) -> None:
    try:
        await load_area(runtime, area_id)
    except NotFound:
        return
    raise RuleBroken(f"Area '{area_id}' is already registered.")


@router.get("/areas/{area_id}")
async def read_area(area_id: str, caller: Caller, runtime: Runtime) -> dict[str, Any]:
    caller.ensure_area(area_id)
    return area_view(await load_area(runtime, area_id))


@router.post("/areas/{area_id}/criteria", status_code=201)
async def define_criteria(
    area_id: str, body: DefineCriteria, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Define a new version of the area's referral criteria."""
    caller.ensure_area(area_id)
    caller.ensure_role(*PROGRAMME_ROLES)
    area = await load_area(runtime, area_id)
    effective = body.effective_from or runtime.clock.today()
    version = area.define_criteria(
        body.criteria, effective, context(runtime, caller, None)
    )
    await save(runtime, area)
    return {"area_id": area_id, "version": version, "criteria": body.criteria}


@router.post("/areas/{area_id}/settings", status_code=201)
async def enrol_setting(
    area_id: str, body: EnrolSetting, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Enrol a school, PRU, alternative provision or YJS team with a named lead."""
    caller.ensure_area(area_id)
    caller.ensure_role(*PROGRAMME_ROLES)
    area = await load_area(runtime, area_id)
    enrolled_on = body.enrolled_on or runtime.clock.today()
    area.enrol_setting(
        body.setting_id, body.name, body.kind, body.urn, body.lead_name, enrolled_on,
        context(runtime, caller, body.enrolled_on),
    )  # fmt: skip
    await save(runtime, area)
    return vars(area.settings[body.setting_id])
