"""The referral service's programme API: areas, their phases and policies.

A programme lead stands an area up through these endpoints (see
docs/programme.md): governance, SLT delivery model, information-sharing
agreement, policies and pilot settings until ``/readiness`` shows nothing
missing; then ``/phase`` moves it to pilot, and on to scale once a pilot
evaluation recommends it. Every route answers 403 before anything else when
the caller's token does not cover the area, so one area's users cannot even
learn whether another area's data exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
from fastapi import APIRouter
from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from prre_contracts.events.programme import (
    GovernanceReportPresented,
    InformationSharingAgreementSigned,
    PilotEvaluationRecorded,
)
from prre_contracts.events.values import (
    DeliveryModel,
    ExclusionStatus,
    Nation,
    Phase,
    PilotRecommendation,
    SessionKind,
    SettingKind,
    Stage,
    Term,
)
from prre_referral.commands import (
    AreaCode,
    Command,
    Name,
    Text,
    context,
    load_area,
    save,
)
from prre_referral.programme import Area, Arrangement, in_force
from prre_runtime.errors import NotFound, RuleBroken
from prre_runtime.eventstore import CommandContext
from prre_runtime.http import Caller, Runtime
from prre_runtime.identity import Principal, Role
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

PROGRAMME_ROLES = (Role.REGIONAL_ADMIN, Role.PROGRAMME_LEAD)
SettingCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
]
T = TypeVar("T")


def _not_before(earlier_field: str) -> Any:
    """A validator: this date field may not be before ``earlier_field``."""

    def check(value: date, info: ValidationInfo) -> date:
        earlier = info.data.get(earlier_field)
        if earlier is not None and value < earlier:
            raise ValueError(f"cannot be before {earlier_field}")
        return value

    return check


# Commands -----------------------------------------------------------------


class RegisterArea(Command):
    area_id: AreaCode = Field(description="Short code, e.g. 'north-yorkshire'.")
    name: Name
    nation: Nation = Field(description="Decides the bank holidays that apply.")


class ConfirmGovernance(Command):
    """Sponsorship and the two boards that approved the programme."""

    sponsor_name: Name
    yjs_board_approved_on: date
    education_partnership: Name = "Education partnership"
    education_partnership_approved_on: date


class AgreeSltDeliveryModel(Command):
    delivery_model: DeliveryModel
    provider: Name
    clinical_governance_lead_name: Name
    agreed_on: date | None = None


class SignInformationSharingAgreement(Command):
    reference: Name
    parties: list[Name] = Field(min_length=2)
    lawful_basis: Text
    retention_months: int = Field(ge=1, le=600)
    signed_on: date
    review_on: date

    _review_after_signing = field_validator("review_on")(_not_before("signed_on"))


class DefineCriteria(Command):
    criteria: list[Text] = Field(min_length=1)
    effective_from: date | None = None


class DefineThresholds(Command):
    """Rules that suggest a referral is urgent (any one is enough)."""

    attendance_below_percent: float | None = Field(default=None, ge=0, le=100)
    suspensions_at_least: int | None = Field(default=None, ge=1)
    exclusion_statuses: list[ExclusionStatus] = Field(default_factory=list)
    effective_from: date | None = None


class DefineResponseTimes(Command):
    working_days: dict[Stage, Annotated[int, Field(ge=1, le=365)]] = Field(
        description="Working days each stage may take, e.g. {'triage': 5}."
    )
    effective_from: date | None = None


class ServiceLevelArrangement(Command):
    reference: Name
    starts_on: date
    ends_on: date
    terms: Text
    assessments_per_term: int | None = Field(default=None, ge=0)

    _ends_after_start = field_validator("ends_on")(_not_before("starts_on"))

    def value(self) -> Arrangement:
        return Arrangement(
            self.reference, self.starts_on, self.ends_on, self.terms,
            self.assessments_per_term,
        )  # fmt: skip


class EnrolSetting(Command):
    setting_id: SettingCode
    name: Name
    kind: SettingKind
    urn: Annotated[str, StringConstraints(pattern=r"^\d{6,7}$")] | None = Field(
        default=None, description="The setting's DfE unique reference number."
    )
    lead_name: Name
    enrolled_on: date | None = None
    service_level_arrangement: ServiceLevelArrangement | None = Field(
        default=None, description="Required once the area is in scale."
    )


class ChangeSettingLead(Command):
    lead_name: Name
    changed_on: date | None = None


class RecordTermDates(Command):
    academic_year: Annotated[str, StringConstraints(pattern=r"^\d{4}/\d{2}$")] = Field(
        description="For example '2025/26'."
    )
    terms: list[Term] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _terms_in_order(cls, terms: list[Term]) -> list[Term]:
        for earlier, later in pairwise(terms):
            if later.starts_on <= earlier.ends_on:
                raise ValueError("terms must be in order and must not overlap")
        return terms


class ChangePhase(Command):
    to_phase: Phase
    changed_on: date | None = None


class DeliverBriefing(Command):
    setting_id: SettingCode
    delivered_on: date
    attendees: int = Field(ge=0)
    expected_referrals_per_term: int = Field(ge=0)


class DeliverSession(Command):
    kind: SessionKind
    topic: Name
    delivered_on: date
    attendees_by_setting: dict[SettingCode, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict
    )
    other_attendees: int = Field(default=0, ge=0)


class RecordPilotEvaluation(Command):
    evaluated_on: date
    approved_by: Name
    summary: Text
    findings: list[Text] = Field(default_factory=list)
    recommendation: PilotRecommendation
    governance_report: Text = Field(
        description="Link to the governance report the evaluation was based on."
    )


class OpenCommissioningCycle(Command):
    commissioner: Name
    starts_on: date = Field(description="The first day of the cycle's first month.")
    length_months: int = Field(ge=1, le=60)

    @field_validator("starts_on")
    @classmethod
    def _first_of_month(cls, starts_on: date) -> date:
        if starts_on.day != 1:
            raise ValueError("a cycle starts on the first of a month")
        return starts_on


class PresentGovernanceReport(Command):
    cycle_id: Name = Field(description="The cycle the report covers, e.g. '2025-09'.")
    board: Name
    presented_on: date
    outcome: Literal["noted", "approved", "actions-set"] = "noted"


# Views --------------------------------------------------------------------


def readiness_view(area: Area) -> dict[str, Any]:
    readiness = area.readiness()
    return {
        "area_id": area.area_id,
        "phase": area.phase,
        "ready": readiness.complete,
        "items": [vars(item) for item in readiness.items],
        "missing": readiness.missing,
    }


def policy_view(area: Area, on: date) -> dict[str, Any]:
    """The criteria, thresholds and response times in force on ``on``."""
    versions = {
        "criteria": in_force(area.criteria_versions, on),
        "triage_thresholds": in_force(area.threshold_versions, on),
        "response_times": in_force(area.response_time_versions, on),
    }
    return {
        "on": on,
        **{name: vars(v) if v else None for name, v in versions.items()},
    }


def area_view(area: Area, today: date) -> dict[str, Any]:
    return {
        "area_id": area.area_id,
        "name": area.name,
        "nation": area.nation,
        "phase": area.phase,
        "phase_history": [event.model_dump() for event in area.phase_history],
        "readiness": readiness_view(area),
        "governance": _dump(area.governance),
        "slt_delivery_model": _dump(area.slt_delivery),
        "information_sharing_agreement": _dump(area.information_sharing),
        "criteria_versions": [vars(version) for version in area.criteria_versions],
        "triage_threshold_versions": [vars(v) for v in area.threshold_versions],
        "response_time_versions": [vars(v) for v in area.response_time_versions],
        "policy_today": policy_view(area, today),
        "settings": settings_view(area),
        "term_dates": {
            year: [term.model_dump() for term in terms]
            for year, terms in area.term_dates.items()
        },
        "briefings": [_dump(event) for event in area.log.briefings],
        "sessions": [_dump(event) for event in area.log.sessions],
        "pilot_evaluations": [_dump(event) for event in area.evaluations],
        "commissioning_cycles": [_dump(event) for event in area.cycles],
        "governance_reports": [_dump(event) for event in area.log.reports],
        "accepting_referrals": area.readiness().complete
        and area.phase != "mobilisation",
    }


def settings_view(area: Area) -> list[dict[str, Any]]:
    return [
        {
            **vars(setting),
            "service_level_arrangement": _dump(
                area.log.arrangements.get(setting.setting_id)
            ),
        }
        for setting in area.settings.values()
    ]


def _dump(event: Any) -> dict[str, Any] | None:
    if event is None:
        return None
    dumped: dict[str, Any] = event.model_dump(exclude={"area_id"})
    return dumped


# Routes -------------------------------------------------------------------

router = APIRouter(tags=["programme"])


async def change_area(
    runtime: ServiceRuntime,
    caller: Principal,
    area_id: str,
    on: date | None,
    change: Callable[[Area, CommandContext], T],
) -> tuple[Area, T]:
    """Load the area, let ``change`` record facts on it, and save it.

    The area check comes first so that a token for another area learns
    nothing, not even whether the area exists.
    """
    caller.ensure_area(area_id)
    caller.ensure_role(*PROGRAMME_ROLES)
    area = await load_area(runtime, area_id)
    result = change(area, context(runtime, caller, on))
    await save(runtime, area)
    logger.info("area %s changed by %s", area_id, caller.subject)
    return area, result


async def read(runtime: ServiceRuntime, caller: Principal, area_id: str) -> Area:
    caller.ensure_area(area_id)
    return await load_area(runtime, area_id)


@router.get("/areas")
async def list_areas(caller: Caller, runtime: Runtime) -> list[dict[str, Any]]:
    """The areas the caller's token covers, with their phase and readiness."""
    known = await _indexed_areas(runtime.pool)
    visible = [a for a in known if caller.may_act_in(a)]
    areas = [await load_area(runtime, area_id) for area_id in visible]
    return [
        {
            "area_id": area.area_id,
            "name": area.name,
            "nation": area.nation,
            "phase": area.phase,
            "ready": area.readiness().complete,
        }
        for area in areas
    ]


@router.post("/areas", status_code=201)
async def register_area(
    body: RegisterArea, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Register a local area; it starts in mobilisation."""
    caller.ensure_role(*PROGRAMME_ROLES)
    caller.ensure_area(body.area_id)
    await _ensure_new_area(runtime, body.area_id)
    area = Area.register(
        body.area_id, body.name, body.nation, context(runtime, caller, None)
    )
    await save(runtime, area)
    await _index_area(runtime.pool, body.area_id)
    logger.info("area %s registered by %s", body.area_id, caller.subject)
    return area_view(area, runtime.clock.today())


async def _ensure_new_area(runtime: ServiceRuntime, area_id: str) -> None:
    try:
        await load_area(runtime, area_id)
    except NotFound:
        return
    await _index_area(runtime.pool, area_id)  # repairs a missed index row
    raise RuleBroken(f"Area '{area_id}' is already registered.")


@router.get("/areas/{area_id}")
async def read_area(area_id: str, caller: Caller, runtime: Runtime) -> dict[str, Any]:
    return area_view(await read(runtime, caller, area_id), runtime.clock.today())


@router.get("/areas/{area_id}/readiness")
async def read_readiness(
    area_id: str, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """The mobilisation checklist: each item done or missing."""
    return readiness_view(await read(runtime, caller, area_id))


@router.get("/areas/{area_id}/policy")
async def read_policy(
    area_id: str, caller: Caller, runtime: Runtime, on: date | None = None
) -> dict[str, Any]:
    """The policy versions in force on ``on`` (default today)."""
    area = await read(runtime, caller, area_id)
    return policy_view(area, on or runtime.clock.today())


@router.get("/areas/{area_id}/settings")
async def list_settings(
    area_id: str, caller: Caller, runtime: Runtime
) -> list[dict[str, Any]]:
    return settings_view(await read(runtime, caller, area_id))


@router.post("/areas/{area_id}/governance", status_code=201)
async def confirm_governance(
    area_id: str, body: ConfirmGovernance, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    area, _ = await change_area(
        runtime, caller, area_id, body.education_partnership_approved_on,
        lambda area, ctx: area.confirm_governance(
            body.sponsor_name, body.yjs_board_approved_on,
            body.education_partnership, body.education_partnership_approved_on, ctx,
        ),
    )  # fmt: skip
    return readiness_view(area)


@router.post("/areas/{area_id}/slt-delivery-model", status_code=201)
async def agree_slt_delivery_model(
    area_id: str, body: AgreeSltDeliveryModel, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    agreed_on = body.agreed_on or runtime.clock.today()
    area, _ = await change_area(
        runtime, caller, area_id, agreed_on,
        lambda area, ctx: area.agree_slt_delivery_model(
            body.delivery_model, body.provider, body.clinical_governance_lead_name,
            agreed_on, ctx,
        ),
    )  # fmt: skip
    return readiness_view(area)


@router.post("/areas/{area_id}/information-sharing-agreement", status_code=201)
async def sign_information_sharing_agreement(
    area_id: str,
    body: SignInformationSharingAgreement,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    agreement = InformationSharingAgreementSigned(area_id=area_id, **body.model_dump())
    area, _ = await change_area(
        runtime, caller, area_id, body.signed_on,
        lambda area, ctx: area.sign_information_sharing_agreement(agreement, ctx),
    )  # fmt: skip
    return readiness_view(area)


@router.post("/areas/{area_id}/criteria", status_code=201)
async def define_criteria(
    area_id: str, body: DefineCriteria, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Define a new version of the area's referral criteria."""
    effective = body.effective_from or runtime.clock.today()
    _, version = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.define_criteria(body.criteria, effective, ctx),
    )  # fmt: skip
    return {
        "area_id": area_id,
        "version": version,
        "criteria": body.criteria,
        "effective_from": effective,
    }


@router.post("/areas/{area_id}/triage-thresholds", status_code=201)
async def define_thresholds(
    area_id: str, body: DefineThresholds, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Define a new version of the thresholds that make a referral urgent."""
    effective = body.effective_from or runtime.clock.today()
    area, version = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.define_thresholds(
            body.attendance_below_percent, body.suspensions_at_least,
            body.exclusion_statuses, effective, ctx,
        ),
    )  # fmt: skip
    return vars(area.threshold_versions[version - 1])


@router.post("/areas/{area_id}/response-times", status_code=201)
async def define_response_times(
    area_id: str, body: DefineResponseTimes, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Define a new version of the working days each stage may take."""
    effective = body.effective_from or runtime.clock.today()
    area, version = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.define_response_times(
            body.working_days, effective, ctx
        ),
    )  # fmt: skip
    return vars(area.response_time_versions[version - 1])


@router.post("/areas/{area_id}/settings", status_code=201)
async def enrol_setting(
    area_id: str, body: EnrolSetting, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Enrol a school, PRU, alternative provision or YJS team with a named lead.

    Once the area is in scale the enrolment must carry a service-level
    arrangement.
    """
    enrolled_on = body.enrolled_on or runtime.clock.today()
    sla = body.service_level_arrangement
    area, _ = await change_area(
        runtime, caller, area_id, body.enrolled_on,
        lambda area, ctx: area.enrol_setting(
            body.setting_id, body.name, body.kind, body.urn, body.lead_name,
            enrolled_on, ctx, sla.value() if sla else None,
        ),
    )  # fmt: skip
    return _setting(area, body.setting_id)


@router.post(
    "/areas/{area_id}/settings/{setting_id}/service-level-arrangement",
    status_code=201,
)
async def agree_arrangement(
    area_id: str,
    setting_id: str,
    body: ServiceLevelArrangement,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    """Put an enrolled setting (e.g. a pilot setting) on a service-level arrangement."""
    area, _ = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.agree_arrangement(setting_id, body.value(), ctx),
    )  # fmt: skip
    return _setting(area, setting_id)


@router.post("/areas/{area_id}/settings/{setting_id}/lead")
async def change_setting_lead(
    area_id: str,
    setting_id: str,
    body: ChangeSettingLead,
    caller: Caller,
    runtime: Runtime,
) -> dict[str, Any]:
    """Name another member of staff as the setting's lead."""
    changed_on = body.changed_on or runtime.clock.today()
    area, _ = await change_area(
        runtime, caller, area_id, body.changed_on,
        lambda area, ctx: area.change_setting_lead(
            setting_id, body.lead_name, changed_on, ctx
        ),
    )  # fmt: skip
    return _setting(area, setting_id)


def _setting(area: Area, setting_id: str) -> dict[str, Any]:
    return next(s for s in settings_view(area) if s["setting_id"] == setting_id)


@router.post("/areas/{area_id}/term-dates", status_code=201)
async def record_term_dates(
    area_id: str, body: RecordTermDates, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record (or replace) the school terms of one academic year."""
    area, _ = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.record_term_dates(body.academic_year, body.terms, ctx),
    )  # fmt: skip
    terms = area.term_dates[body.academic_year]
    return {
        "academic_year": body.academic_year,
        "terms": [term.model_dump() for term in terms],
    }


@router.post("/areas/{area_id}/phase")
async def change_phase(
    area_id: str, body: ChangePhase, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Move the area to pilot (checklist complete) or scale (evaluation recorded)."""
    on = body.changed_on or runtime.clock.today()
    area, _ = await change_area(
        runtime, caller, area_id, body.changed_on,
        lambda area, ctx: area.move_to(body.to_phase, on, ctx),
    )  # fmt: skip
    return {"area_id": area_id, "phase": area.phase, "changed_on": on}


@router.post("/areas/{area_id}/briefings", status_code=201)
async def deliver_briefing(
    area_id: str, body: DeliverBriefing, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """A setting's staff were briefed and said how many referrals to expect."""
    area, _ = await change_area(
        runtime, caller, area_id, body.delivered_on,
        lambda area, ctx: area.deliver_briefing(
            body.setting_id, body.delivered_on, body.attendees,
            body.expected_referrals_per_term, ctx,
        ),
    )  # fmt: skip
    return _dump(area.log.briefings[-1]) or {}


@router.post("/areas/{area_id}/sessions", status_code=201)
async def deliver_session(
    area_id: str, body: DeliverSession, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """A training, consultation or community-of-practice session took place."""
    area, _ = await change_area(
        runtime, caller, area_id, body.delivered_on,
        lambda area, ctx: area.deliver_session(
            body.kind, body.topic, body.delivered_on, body.attendees_by_setting, ctx,
            body.other_attendees,
        ),
    )  # fmt: skip
    return _dump(area.log.sessions[-1]) or {}


@router.post("/areas/{area_id}/pilot-evaluation", status_code=201)
async def record_pilot_evaluation(
    area_id: str, body: RecordPilotEvaluation, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record the pilot's evaluation, which moving to scale requires."""
    evaluation = PilotEvaluationRecorded(area_id=area_id, **body.model_dump())
    area, _ = await change_area(
        runtime, caller, area_id, body.evaluated_on,
        lambda area, ctx: area.record_pilot_evaluation(evaluation, ctx),
    )  # fmt: skip
    return _dump(area.evaluations[-1]) or {}


@router.post("/areas/{area_id}/commissioning-cycles", status_code=201)
async def open_commissioning_cycle(
    area_id: str, body: OpenCommissioningCycle, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Open a funding cycle; its governance report is due on its last day."""
    area, _ = await change_area(
        runtime, caller, area_id, None,
        lambda area, ctx: area.open_commissioning_cycle(
            body.commissioner, body.starts_on, body.length_months, ctx
        ),
    )  # fmt: skip
    return _dump(area.cycles[-1]) or {}


@router.post("/areas/{area_id}/governance-reports", status_code=201)
async def present_governance_report(
    area_id: str, body: PresentGovernanceReport, caller: Caller, runtime: Runtime
) -> dict[str, Any]:
    """Record that a cycle's governance report went to a board, and its outcome."""
    report = GovernanceReportPresented(area_id=area_id, **body.model_dump())
    area, _ = await change_area(
        runtime, caller, area_id, body.presented_on,
        lambda area, ctx: area.present_governance_report(report, ctx),
    )  # fmt: skip
    return _dump(area.log.reports[-1]) or {}


# The list of areas ----------------------------------------------------------

# The event store cannot list aggregates of one kind, so registration also
# writes the area's code to this small table, created on first use.
# Shortcoming: the row is written after the event is saved, not in the same
# transaction; if the process dies between the two, the area exists but is
# missing from GET /areas (it is still reachable by its id) until someone
# tries to register it again, which writes the row before answering 409.
_INDEX = """
CREATE TABLE IF NOT EXISTS programme_area_index (
    area_id text PRIMARY KEY,
    registered_at timestamptz NOT NULL DEFAULT now()
)
"""


async def _index_area(pool: asyncpg.Pool, area_id: str) -> None:
    async with pool.acquire() as connection:
        await connection.execute(_INDEX)
        await connection.execute(
            "INSERT INTO programme_area_index (area_id) VALUES ($1) "
            "ON CONFLICT DO NOTHING",
            area_id,
        )


async def _indexed_areas(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as connection:
        await connection.execute(_INDEX)
        rows = await connection.fetch(
            "SELECT area_id FROM programme_area_index ORDER BY area_id"
        )
    return [str(row["area_id"]) for row in rows]
