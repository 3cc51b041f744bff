"""The referral service's HTTP API: areas, settings, referrals and consent."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from prre_contracts.events.values import Baseline, ConsentParty, Nation, SettingKind
from prre_referral.domain import (
    Area,
    ChildDetails,
    Referral,
    area_aggregate_id,
    child_reference,
)
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.eventstore import CommandContext
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Principal, Role
from prre_runtime.service import ServiceRuntime

AreaCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]

PROGRAMME_ROLES = (Role.REGIONAL_ADMIN, Role.PROGRAMME_LEAD)
REFERRING_ROLES = (Role.REFERRER, Role.PROGRAMME_LEAD, Role.REGIONAL_ADMIN)
CONSENT_ROLES = (Role.REFERRER, Role.PROGRAMME_LEAD, Role.TRIAGE_LEAD, Role.CLINICIAN)
PERSONAL_DATA_ROLES = (
    Role.REFERRER,
    Role.TRIAGE_LEAD,
    Role.CLINICIAN,
    Role.PROGRAMME_LEAD,
)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class Child(Command):
    given_name: Name
    family_name: Name
    date_of_birth: date
    upn: Annotated[str, StringConstraints(pattern=r"^[A-Z]\d{11}[0-9A-Z]$")] | None = (
        None
    )
    address: Text | None = None
    parent_carer_contact: Text | None = None

    @field_validator("date_of_birth")
    @classmethod
    def school_age(cls, value: date) -> date:
        age = (date.today() - value).days / 365.25
        if not 3 <= age <= 19:
            raise ValueError("the child must be between 3 and 19 years old")
        return value


class ReceiveReferral(Command):
    area_id: AreaCode
    setting_id: Name
    child: Child
    concerns: list[Text] = Field(min_length=1)
    baseline: Baseline
    year_group: int | None = Field(default=None, ge=0, le=14)
    referred_on: date | None = None
    criteria_version: int | None = Field(default=None, ge=1)


class ConsentDecision(Command):
    by: ConsentParty
    on: date | None = None
    reason: Text | None = None


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


def area_view(area: Area) -> dict[str, Any]:
    return {
        "area_id": area.area_id,
        "name": area.name,
        "nation": area.nation,
        "criteria_versions": [vars(version) for version in area.criteria_versions],
        "settings": [vars(setting) for setting in area.settings.values()],
        "accepting_referrals": bool(area.criteria_versions and area.settings),
    }


def referral_view(referral: Referral, caller: Principal) -> dict[str, Any]:
    view: dict[str, Any] = {
        "referral_id": str(referral.referral_id),
        "area_id": referral.area_id,
        "setting_id": referral.setting_id,
        "child_ref": referral.child_ref,
        "criteria_version": referral.criteria_version,
        "referred_on": referral.referred_on.isoformat(),
        "consent": referral.consent,
        "stage": referral.stage,
        "closed_reason": referral.closed_reason,
        "version": referral.version,
    }
    if caller.role in PERSONAL_DATA_ROLES:
        view["child"] = referral.child.as_private()
    return view


router = APIRouter(tags=["programme"])
referrals = APIRouter(prefix="/referrals", tags=["referrals"])


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
    await _save(runtime, area)
    return area_view(area)


async def _ensure_new_area(runtime: ServiceRuntime, area_id: str) -> None:
    try:
        await _area(runtime, area_id)
    except NotFound:
        return
    raise RuleBroken(f"Area '{area_id}' is already registered.")


@router.get("/areas/{area_id}")
async def read_area(area_id: str, caller: Caller, runtime: Runtime) -> dict[str, Any]:
    caller.ensure_area(area_id)
    return area_view(await _area(runtime, area_id))


@router.post("/areas/{area_id}/criteria", status_code=201)
async def define_criteria(
    area_id: str, body: DefineCriteria, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Define a new version of the area's referral criteria."""
    caller.ensure_area(area_id)
    caller.ensure_role(*PROGRAMME_ROLES)
    area = await _area(runtime, area_id)
    effective = body.effective_from or runtime.clock.today()
    version = area.define_criteria(
        body.criteria, effective, context(runtime, caller, None)
    )
    await _save(runtime, area)
    return {"area_id": area_id, "version": version, "criteria": body.criteria}


@router.post("/areas/{area_id}/settings", status_code=201)
async def enrol_setting(
    area_id: str, body: EnrolSetting, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Enrol a school, PRU, alternative provision or YJS team with a named lead."""
    caller.ensure_area(area_id)
    caller.ensure_role(*PROGRAMME_ROLES)
    area = await _area(runtime, area_id)
    enrolled_on = body.enrolled_on or runtime.clock.today()
    area.enrol_setting(
        body.setting_id, body.name, body.kind, body.urn, body.lead_name, enrolled_on,
        context(runtime, caller, body.enrolled_on),
    )  # fmt: skip
    await _save(runtime, area)
    return vars(area.settings[body.setting_id])


@referrals.post("", status_code=201)
async def receive_referral(
    body: ReceiveReferral, caller: Caller, runtime: Runtime, request: Request
) -> dict[str, Any]:
    """Refer a child for a speech and language therapy assessment."""
    caller.ensure_area(body.area_id)
    caller.ensure_role(*REFERRING_ROLES)
    area = await _area(runtime, body.area_id)
    child = ChildDetails(**body.child.model_dump())
    referral = Referral.receive(
        area,
        body.setting_id,
        child,
        child_reference(_pii_key(request), body.area_id, child),
        body.concerns,
        body.baseline,
        body.referred_on or runtime.clock.today(),
        body.year_group,
        context(runtime, caller, body.referred_on),
        body.criteria_version,
    )
    await _save(runtime, referral)
    return referral_view(referral, caller)


@referrals.get("/{referral_id}")
async def read_referral(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    referral = await _referral(runtime, referral_id, caller)
    return referral_view(referral, caller)


Decision = Callable[[Referral, ConsentDecision, date, CommandContext], None]


async def _decide_consent(
    referral_id: uuid.UUID,
    body: ConsentDecision,
    caller: Principal,
    runtime: ServiceRuntime,
    decide: Decision,
) -> dict[str, Any]:
    """Load the referral, record one consent decision on it and save it."""
    caller.ensure_role(*CONSENT_ROLES)
    referral = await _referral(runtime, referral_id, caller)
    on = body.on or runtime.clock.today()
    decide(referral, body, on, context(runtime, caller, body.on))
    await _save(runtime, referral)
    return referral_view(referral, caller)


@referrals.post("/{referral_id}/consent/confirm")
async def confirm_consent(
    referral_id: uuid.UUID, body: ConsentDecision, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record that the parent, carer or competent young person consented."""
    return await _decide_consent(
        referral_id, body, caller, runtime,
        lambda referral, body, on, ctx: referral.confirm_consent(body.by, on, ctx),
    )  # fmt: skip


@referrals.post("/{referral_id}/consent/refuse")
async def refuse_consent(
    referral_id: uuid.UUID, body: ConsentDecision, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record that consent was refused; the case closes."""
    return await _decide_consent(
        referral_id, body, caller, runtime,
        lambda referral, body, on, ctx: referral.refuse_consent(
            body.by, on, body.reason, ctx
        ),
    )  # fmt: skip


@referrals.post("/{referral_id}/consent/withdraw")
async def withdraw_consent(
    referral_id: uuid.UUID, body: ConsentDecision, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record that consent was withdrawn; the case stops and closes."""
    return await _decide_consent(
        referral_id, body, caller, runtime,
        lambda referral, body, on, ctx: referral.withdraw_consent(
            body.by, on, body.reason, ctx
        ),
    )  # fmt: skip


async def _area(runtime: ServiceRuntime, area_id: str) -> Area:
    return await runtime.store.get(
        area_aggregate_id(area_id), Area, f"area '{area_id}'"
    )


async def _referral(
    runtime: ServiceRuntime, referral_id: uuid.UUID, caller: Principal
) -> Referral:
    referral = await runtime.store.get(referral_id, Referral, "referral")
    caller.ensure_area(referral.area_id)
    return referral


async def _save(runtime: ServiceRuntime, *aggregates: Area | Referral) -> None:
    await runtime.store.save(*aggregates)
    runtime.events_saved()


def _pii_key(request: Request) -> bytes:
    return base64.b64decode(request.app.state.pii_key)
