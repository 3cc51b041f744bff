"""The referral service's HTTP API for referrals and consent."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints, field_validator

from prre_contracts.events.values import Baseline, ConsentParty
from prre_referral.commands import (
    AreaCode,
    Command,
    Name,
    Text,
    context,
    load_area,
    save,
)
from prre_referral.domain import (
    ChildDetails,
    Referral,
    child_reference,
)
from prre_referral.reactions import triage_of
from prre_runtime.eventstore import CommandContext
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Principal, Role
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

REFERRING_ROLES = (Role.REFERRER, Role.PROGRAMME_LEAD, Role.REGIONAL_ADMIN)
CONSENT_ROLES = (Role.REFERRER, Role.PROGRAMME_LEAD, Role.TRIAGE_LEAD, Role.CLINICIAN)
PERSONAL_DATA_ROLES = (
    Role.REFERRER,
    Role.TRIAGE_LEAD,
    Role.CLINICIAN,
    Role.PROGRAMME_LEAD,
)


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
    criteria_met: list[Text] = Field(default_factory=list)
    """The area's criteria the child meets, quoted as the area wrote them."""


class ConsentDecision(Command):
    by: ConsentParty
    on: date | None = None
    reason: Text | None = None


class ProvideMoreInformation(Command):
    """The referrer's answers to triage's questions."""

    answers: list[Text] = Field(min_length=1)
    concerns_added: list[Text] = Field(default_factory=list)
    baseline: Baseline | None = None
    on: date | None = None


class WithdrawReferral(Command):
    on: date | None = None
    reason: Text | None = None


def referral_view(
    referral: Referral, caller: Principal, triage: dict[str, Any] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "referral_id": str(referral.referral_id),
        "area_id": referral.area_id,
        "setting_id": referral.setting_id,
        "child_ref": referral.child_ref,
        "criteria_version": referral.criteria_version,
        "criteria_met": referral.criteria_met,
        "referred_on": referral.referred_on.isoformat(),
        "concerns": referral.concerns,
        "baseline": referral.baseline.model_dump(),
        "consent": referral.consent,
        "stage": referral.stage,
        "closed_reason": referral.closed_reason,
        "closed_on": referral.closed_on.isoformat() if referral.closed_on else None,
        "triage": triage or {"status": "pending"},
        "version": referral.version,
    }
    if caller.role in PERSONAL_DATA_ROLES:
        view["child"] = referral.child.as_private()
    return view


referrals = APIRouter(prefix="/referrals", tags=["referrals"])


@referrals.post("", status_code=201)
async def receive_referral(
    body: ReceiveReferral, caller: Caller, runtime: Runtime, request: Request
) -> dict[str, Any]:
    """Refer a child for a speech and language therapy assessment."""
    caller.ensure_area(body.area_id)
    caller.ensure_role(*REFERRING_ROLES)
    area = await load_area(runtime, body.area_id)
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
        body.criteria_met,
    )
    await save(runtime, referral)
    return referral_view(referral, caller)


@referrals.get("/{referral_id}")
async def read_referral(
    referral_id: uuid.UUID, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    referral = await _referral(runtime, referral_id, caller)
    return referral_view(referral, caller, await triage_of(runtime.pool, referral_id))


@referrals.post("/{referral_id}/more-information")
async def provide_more_information(
    referral_id: uuid.UUID,
    body: ProvideMoreInformation,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    """Answer the questions triage asked; the referral goes back to triage."""
    caller.ensure_role(*REFERRING_ROLES)
    referral = await _referral(runtime, referral_id, caller)
    triage = await triage_of(runtime.pool, referral_id)
    waiting = triage is not None and triage["status"] == "more-information"
    asked = triage["request_id"] if triage and waiting else None
    referral.provide_more_information(
        asked, body.answers, body.concerns_added, body.baseline,
        body.on or runtime.clock.today(), context(runtime, caller, body.on),
    )  # fmt: skip
    await save(runtime, referral)
    logger.info("referral %s: answers to request %s provided", referral_id, asked)
    return referral_view(referral, caller, triage)


@referrals.post("/{referral_id}/withdraw")
async def withdraw_referral(
    referral_id: uuid.UUID, body: WithdrawReferral, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """The referrer takes the referral back; the case closes."""
    caller.ensure_role(*REFERRING_ROLES)
    referral = await _referral(runtime, referral_id, caller)
    referral.withdraw(
        body.on or runtime.clock.today(), body.reason,
        context(runtime, caller, body.on),
    )  # fmt: skip
    await save(runtime, referral)
    logger.info("referral %s withdrawn by the referrer", referral_id)
    return referral_view(referral, caller, await triage_of(runtime.pool, referral_id))


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
    await save(runtime, referral)
    return referral_view(referral, caller, await triage_of(runtime.pool, referral_id))


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


async def _referral(
    runtime: ServiceRuntime, referral_id: uuid.UUID, caller: Principal
) -> Referral:
    referral = await runtime.store.get(referral_id, Referral, "referral")
    caller.ensure_area(referral.area_id)
    return referral


def _pii_key(request: Request) -> bytes:
    return base64.b64decode(request.app.state.pii_key)
