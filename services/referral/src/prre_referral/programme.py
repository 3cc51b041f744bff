"""Areas and their programme: the rules the referral service enforces for them.

An *area* is one local area running PRRE (a Youth Justice Service and its
education partners). It moves through three implementation phases:

- *mobilisation*: the area is set up. It accepts no referrals until its
  readiness checklist is complete (governance, SLT delivery model,
  information-sharing agreement, referral criteria, triage thresholds,
  response times and at least one enrolled pilot setting) and it has moved on;
- *pilot*: one term with a few settings, ending in a recorded evaluation;
- *scale* (and embed): more settings join, each under a service-level
  arrangement (SLA), and the programme becomes business as usual.

Criteria, triage thresholds and response times are *policies*: each change is
a new version with the day it takes effect, never an edit of an earlier one,
so every decision can say which version it was taken under.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar, get_args

from prre_contracts import Event
from prre_contracts.events.programme import (
    AreaPhaseChanged,
    AreaRegistered,
    BriefingDelivered,
    CommissioningCycleOpened,
    GovernanceConfirmed,
    GovernanceReportPresented,
    InformationSharingAgreementSigned,
    PilotEvaluationRecorded,
    ProgrammeSessionDelivered,
    ReferralCriteriaDefined,
    ResponseTimesDefined,
    ServiceLevelArrangementAgreed,
    SettingEnrolled,
    SettingLeadChanged,
    SltDeliveryModelAgreed,
    TermDatesRecorded,
    TriageThresholdsDefined,
)
from prre_contracts.events.values import (
    DeliveryModel,
    ExclusionStatus,
    Nation,
    Phase,
    ResponseTimeTarget,
    SessionKind,
    SettingKind,
    Stage,
    Term,
)
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

AREA_NAMESPACE = uuid.UUID("0b7d3c52-93a4-4b8e-a3f1-6f2b0c9d1e47")
PHASES: tuple[Phase, ...] = get_args(Phase)
STAGES: tuple[Stage, ...] = get_args(Stage)

CHECKLIST: tuple[tuple[str, str], ...] = (
    ("governance", "sponsorship and governance (YJS board and education partnership)"),
    ("slt-delivery-model", "SLT delivery model"),
    ("information-sharing-agreement", "information-sharing agreement"),
    ("referral-criteria", "referral criteria"),
    ("triage-thresholds", "triage thresholds"),
    ("response-times", "response times"),
    ("pilot-settings", "at least one enrolled pilot setting"),
)
"""The mobilisation checklist: (key, what a programme lead reads)."""


def area_aggregate_id(area_id: str) -> uuid.UUID:
    """Areas are addressed by their short code; the store needs a UUID."""
    return uuid.uuid5(AREA_NAMESPACE, area_id)


@dataclass(frozen=True)
class Arrangement:
    """A service-level arrangement: what a setting can expect, for how long."""

    reference: str
    starts_on: date
    ends_on: date
    terms: str
    assessments_per_term: int | None = None


@dataclass(frozen=True)
class Setting:
    setting_id: str
    name: str
    kind: str
    urn: str | None
    lead_name: str
    enrolled_on: date


@dataclass(frozen=True)
class CriteriaVersion:
    """One version of an area's referral criteria and the day it takes effect."""

    version: int
    criteria: list[str]
    effective_from: date


@dataclass(frozen=True)
class ThresholdsVersion:
    """One version of the rules that suggest a referral is urgent.

    A referral is suggested as urgent when the child's attendance is below the
    percentage, they have had at least that many suspensions this year, or
    their exclusion status is one of those listed.
    """

    version: int
    attendance_below_percent: float | None
    suspensions_at_least: int | None
    exclusion_statuses: list[str]
    effective_from: date


@dataclass(frozen=True)
class ResponseTimesVersion:
    """One version of the working days each stage of the pathway may take."""

    version: int
    working_days: dict[str, int]
    effective_from: date


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool


@dataclass(frozen=True)
class Readiness:
    """The mobilisation checklist of one area, item by item."""

    items: list[ChecklistItem]

    @property
    def missing(self) -> list[str]:
        return [item.label for item in self.items if not item.done]

    @property
    def complete(self) -> bool:
        return not self.missing


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> date: ...


V = TypeVar("V", bound=_Versioned)


def in_force(versions: Sequence[V], on: date) -> V | None:
    """The latest version whose effective date is on or before ``on``."""
    candidates = [v for v in versions if v.effective_from <= on]
    return max(candidates, key=lambda v: (v.effective_from, v.version), default=None)


def _month_after(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    return date(day.year + month_index // 12, month_index % 12 + 1, 1)


def _urgent_when(version: ThresholdsVersion) -> list[str]:
    """The thresholds in words, for people reading the event."""
    rules = []
    if version.attendance_below_percent is not None:
        rules.append(f"attendance below {version.attendance_below_percent:g}%")
    if version.suspensions_at_least is not None:
        rules.append(f"at least {version.suspensions_at_least} suspensions this year")
    if version.exclusion_statuses:
        rules.append("exclusion status " + " or ".join(version.exclusion_statuses))
    return rules


class Area(FactAggregate):
    """One local area: its phase, settings, governance and policies.

    State is set only in :meth:`when` (the library reads class annotations as
    constructor fields, so aggregates declare none).
    """

    @classmethod
    def register(
        cls, area_id: str, name: str, nation: Nation, context: CommandContext
    ) -> Area:
        event = AreaRegistered(area_id=area_id, name=name, nation=nation)
        return cls.open(area_aggregate_id(area_id), event, context)

    # Mobilisation -----------------------------------------------------------

    def confirm_governance(
        self,
        sponsor_name: str,
        yjs_board_approved_on: date,
        education_partnership: str,
        education_partnership_approved_on: date,
        context: CommandContext,
    ) -> None:
        """The sponsor, the YJS board and the education partnership signed up."""
        event = GovernanceConfirmed(
            area_id=self.area_id,
            sponsor_name=sponsor_name,
            boards=["YJS Board", education_partnership],
            confirmed_on=max(yjs_board_approved_on, education_partnership_approved_on),
            yjs_board_approved_on=yjs_board_approved_on,
            education_partnership_approved_on=education_partnership_approved_on,
        )
        self.record(event, context)

    def agree_slt_delivery_model(
        self,
        delivery_model: DeliveryModel,
        provider: str,
        clinical_governance_lead_name: str,
        agreed_on: date,
        context: CommandContext,
    ) -> None:
        event = SltDeliveryModelAgreed(
            area_id=self.area_id,
            delivery_model=delivery_model,
            provider=provider,
            clinical_governance_lead_name=clinical_governance_lead_name,
            agreed_on=agreed_on,
        )
        self.record(event, context)

    def sign_information_sharing_agreement(
        self,
        agreement: InformationSharingAgreementSigned,
        context: CommandContext,
    ) -> None:
        """Record the agreement (built by the caller with this area's id)."""
        self.record(agreement.model_copy(update={"area_id": self.area_id}), context)

    def enrol_setting(
        self,
        setting_id: str,
        name: str,
        kind: SettingKind,
        urn: str | None,
        lead_name: str,
        enrolled_on: date,
        context: CommandContext,
        arrangement: Arrangement | None = None,
    ) -> None:
        """Enrol a setting; in scale it joins under a service-level arrangement."""
        if setting_id in self.settings:
            raise RuleBroken(
                f"Setting '{setting_id}' is already enrolled in area '{self.area_id}'."
            )
        if self.phase == "scale" and arrangement is None:
            raise RuleBroken(
                f"Area '{self.area_id}' is in scale, where settings join under a "
                "service-level arrangement; send the arrangement (reference, "
                "start, end and terms) with the enrolment."
            )
        event = SettingEnrolled(
            area_id=self.area_id,
            setting_id=setting_id,
            name=name,
            kind=kind,
            urn=urn,
            lead_name=lead_name,
            enrolled_on=enrolled_on,
        )
        self.record(event, context)
        if arrangement is not None:
            self.agree_arrangement(setting_id, arrangement, context)

    def change_setting_lead(
        self, setting_id: str, lead_name: str, changed_on: date, context: CommandContext
    ) -> None:
        """Another member of staff now owns the setting's part in the programme."""
        self._ensure_enrolled(setting_id)
        if self.settings[setting_id].lead_name == lead_name:
            raise RuleBroken(
                f"{lead_name} is already the lead of setting '{setting_id}'."
            )
        event = SettingLeadChanged(
            area_id=self.area_id, setting_id=setting_id, lead_name=lead_name,
            changed_on=changed_on,
        )  # fmt: skip
        self.record(event, context)

    def agree_arrangement(
        self, setting_id: str, arrangement: Arrangement, context: CommandContext
    ) -> None:
        self._ensure_enrolled(setting_id)
        if self.phase == "mobilisation":
            raise RuleBroken(
                f"Area '{self.area_id}' is still in mobilisation; service-level "
                "arrangements are agreed once its pilot has started."
            )
        event = ServiceLevelArrangementAgreed(
            area_id=self.area_id,
            setting_id=setting_id,
            reference=arrangement.reference,
            starts_on=arrangement.starts_on,
            ends_on=arrangement.ends_on,
            assessments_per_term=arrangement.assessments_per_term,
            terms=arrangement.terms,
        )
        self.record(event, context)

    def record_term_dates(
        self, academic_year: str, terms: list[Term], context: CommandContext
    ) -> None:
        """The school terms of one year; recording a year again supersedes it."""
        event = TermDatesRecorded(
            area_id=self.area_id, academic_year=academic_year, terms=terms
        )
        self.record(event, context)

    # Policies -----------------------------------------------------------------

    def define_criteria(
        self, criteria: list[str], effective_from: date, context: CommandContext
    ) -> int:
        """Record a new version of the referral criteria; earlier ones remain.

        The version governs referrals made on or after ``effective_from``, so
        criteria can be published ahead of the day they apply.
        """
        version = len(self.criteria_versions) + 1
        event = ReferralCriteriaDefined(
            area_id=self.area_id,
            version=version,
            criteria=criteria,
            effective_from=effective_from,
        )
        self.record(event, context)
        return version

    def define_thresholds(
        self,
        attendance_below_percent: float | None,
        suspensions_at_least: int | None,
        exclusion_statuses: list[ExclusionStatus],
        effective_from: date,
        context: CommandContext,
    ) -> int:
        """Record a new version of the triage thresholds; earlier ones remain."""
        version = ThresholdsVersion(
            len(self.threshold_versions) + 1,
            attendance_below_percent,
            suspensions_at_least,
            list(exclusion_statuses),
            effective_from,
        )
        urgent_when = _urgent_when(version)
        if not urgent_when:
            raise RuleBroken(
                "Triage thresholds need at least one rule: an attendance "
                "percentage, a number of suspensions or an exclusion status."
            )
        event = TriageThresholdsDefined(
            area_id=self.area_id,
            version=version.version,
            urgent_when=urgent_when,
            attendance_below_percent=attendance_below_percent,
            suspensions_at_least=suspensions_at_least,
            exclusion_statuses=exclusion_statuses,
            effective_from=effective_from,
        )
        self.record(event, context)
        return version.version

    def define_response_times(
        self,
        working_days: Mapping[Stage, int],
        effective_from: date,
        context: CommandContext,
    ) -> int:
        """Record a new version of the response-time targets for every stage."""
        missing = [stage for stage in STAGES if stage not in working_days]
        if missing:
            raise RuleBroken(
                "Response times need a target for every stage of the pathway; "
                f"missing: {', '.join(missing)}."
            )
        version = len(self.response_time_versions) + 1
        event = ResponseTimesDefined(
            area_id=self.area_id,
            version=version,
            targets=[
                ResponseTimeTarget(stage=stage, working_days=working_days[stage])
                for stage in STAGES
            ],
            effective_from=effective_from,
        )
        self.record(event, context)
        return version

    def criteria_in_force(self, on: date) -> CriteriaVersion | None:
        return in_force(self.criteria_versions, on)

    def thresholds_in_force(self, on: date) -> ThresholdsVersion | None:
        return in_force(self.threshold_versions, on)

    def response_times_in_force(self, on: date) -> ResponseTimesVersion | None:
        return in_force(self.response_time_versions, on)

    @property
    def criteria_version(self) -> int:
        """The latest criteria version the area has defined (0 when none)."""
        latest = self.criteria_versions[-1] if self.criteria_versions else None
        return latest.version if latest else 0

    # Readiness and phases -------------------------------------------------------

    def readiness(self) -> Readiness:
        """Which items of the mobilisation checklist are done."""
        done = {
            "governance": self.governance is not None,
            "slt-delivery-model": self.slt_delivery is not None,
            "information-sharing-agreement": self.information_sharing is not None,
            "referral-criteria": bool(self.criteria_versions),
            "triage-thresholds": bool(self.threshold_versions),
            "response-times": bool(self.response_time_versions),
            "pilot-settings": bool(self.settings),
        }
        return Readiness(
            [ChecklistItem(key, label, done[key]) for key, label in CHECKLIST]
        )

    def move_to(self, to_phase: Phase, on: date, context: CommandContext) -> None:
        """Move on to the next phase, if its entry conditions are met."""
        self._ensure_next_phase(to_phase)
        self._ensure_not_before_phase_began(on, f"move to {to_phase}")
        if to_phase == "pilot":
            self._ensure_ready("move to pilot")
        if to_phase == "scale":
            self._ensure_evaluated_for_scale()
        event = AreaPhaseChanged(
            area_id=self.area_id, from_phase=self.phase, to_phase=to_phase,
            changed_on=on,
        )  # fmt: skip
        self.record(event, context)

    def _ensure_not_before_phase_began(self, on: date, doing: str) -> None:
        """Phases follow one another in time: nothing is dated before the last."""
        if self.phase_history and on < self.phase_history[-1].changed_on:
            began = self.phase_history[-1]
            raise RuleBroken(
                f"Area '{self.area_id}' moved to {began.to_phase} on "
                f"{began.changed_on.isoformat()}; it cannot {doing} on an earlier "
                f"day ({on.isoformat()})."
            )

    def _ensure_next_phase(self, to_phase: Phase) -> None:
        current, target = PHASES.index(self.phase), PHASES.index(to_phase)
        if target == current:
            raise RuleBroken(f"Area '{self.area_id}' is already in {to_phase}.")
        if target < current:
            raise RuleBroken(
                f"Area '{self.area_id}' is in {self.phase}; an area does not go "
                f"back to {to_phase}."
            )
        if target > current + 1:
            raise RuleBroken(
                f"Area '{self.area_id}' is in {self.phase}; it must run a pilot "
                "before it scales, so move it to pilot first."
            )

    def _ensure_ready(self, doing: str) -> None:
        missing = self.readiness().missing
        if missing:
            raise RuleBroken(
                f"Area '{self.area_id}' cannot {doing} until its mobilisation "
                "checklist is complete; its programme lead must define or record: "
                f"{'; '.join(missing)}."
            )

    def _ensure_evaluated_for_scale(self) -> None:
        if not self.evaluations:
            raise RuleBroken(
                f"Area '{self.area_id}' cannot move to scale before its pilot "
                "evaluation is recorded (date, who approved it, summary and the "
                "governance report it was based on)."
            )
        latest = self.evaluations[-1]
        if latest.recommendation != "proceed-to-scale":
            raise RuleBroken(
                f"The latest pilot evaluation of area '{self.area_id}' "
                f"({latest.evaluated_on.isoformat()}) recommends "
                f"'{latest.recommendation}'; record an evaluation that recommends "
                "proceeding to scale first."
            )

    # Pilot, scale and embed --------------------------------------------------

    def deliver_briefing(
        self,
        setting_id: str,
        delivered_on: date,
        attendees: int,
        expected_referrals_per_term: int,
        context: CommandContext,
    ) -> None:
        """The programme was explained to a setting, which set its expectations."""
        self._ensure_enrolled(setting_id)
        event = BriefingDelivered(
            area_id=self.area_id,
            setting_id=setting_id,
            delivered_on=delivered_on,
            attendees=attendees,
            expected_referrals_per_term=expected_referrals_per_term,
        )
        self.record(event, context)

    def deliver_session(
        self,
        kind: SessionKind,
        title: str,
        delivered_on: date,
        attendees_by_setting: Mapping[str, int],
        context: CommandContext,
        other_attendees: int = 0,
    ) -> uuid.UUID:
        """A training, consultation or community-of-practice session took place.

        ``other_attendees`` counts people from outside the enrolled settings
        (YJS staff, therapists).
        """
        for setting_id in attendees_by_setting:
            self._ensure_enrolled(setting_id)
        session_id = uuid.uuid4()
        event = ProgrammeSessionDelivered(
            area_id=self.area_id,
            session_id=session_id,
            kind=kind,
            title=title,
            delivered_on=delivered_on,
            attendees=sum(attendees_by_setting.values()) + other_attendees,
            setting_ids=list(attendees_by_setting),
            attendees_by_setting=dict(attendees_by_setting),
        )
        self.record(event, context)
        return session_id

    def record_pilot_evaluation(
        self, evaluation: PilotEvaluationRecorded, context: CommandContext
    ) -> None:
        if self.phase != "pilot":
            raise RuleBroken(
                f"Area '{self.area_id}' is in {self.phase}; a pilot evaluation is "
                "recorded while the area is in pilot."
            )
        self._ensure_not_before_phase_began(
            evaluation.evaluated_on, "record its pilot evaluation"
        )
        self.record(evaluation.model_copy(update={"area_id": self.area_id}), context)

    def open_commissioning_cycle(
        self,
        commissioner: str,
        starts_on: date,
        length_months: int,
        context: CommandContext,
    ) -> str:
        """Open a funding cycle starting on the first of a month.

        Governance reports follow the cycle: one is due on its last day.
        """
        if self.cycles and starts_on <= self.cycles[-1].ends_on:
            raise RuleBroken(
                f"Commissioning cycle '{self.cycles[-1].cycle_id}' of area "
                f"'{self.area_id}' runs until {self.cycles[-1].ends_on.isoformat()}; "
                "a new cycle starts after it ends."
            )
        ends_on = _month_after(starts_on, length_months) - timedelta(days=1)
        cycle_id = f"{starts_on:%Y-%m}"
        event = CommissioningCycleOpened(
            area_id=self.area_id,
            cycle_id=cycle_id,
            commissioner=commissioner,
            starts_on=starts_on,
            ends_on=ends_on,
            report_due_on=ends_on,
            start_month=starts_on.month,
            length_months=length_months,
        )
        self.record(event, context)
        return cycle_id

    def present_governance_report(
        self, report: GovernanceReportPresented, context: CommandContext
    ) -> None:
        """A cycle's governance report went to a board."""
        cycles = {cycle.cycle_id: cycle for cycle in self.cycles}
        cycle = cycles.get(report.cycle_id)
        if cycle is None:
            known = ", ".join(cycles) or "none yet"
            raise RuleBroken(
                f"Area '{self.area_id}' has no commissioning cycle "
                f"'{report.cycle_id}' (cycles: {known}); open the cycle first."
            )
        if report.presented_on < cycle.starts_on:
            raise RuleBroken(
                f"Commissioning cycle '{cycle.cycle_id}' starts on "
                f"{cycle.starts_on.isoformat()}; its governance report cannot be "
                "presented before then."
            )
        self.record(report.model_copy(update={"area_id": self.area_id}), context)

    # Referrals ------------------------------------------------------------

    def accept_referral(
        self, setting_id: str, referred_on: date, claimed_version: int | None
    ) -> CriteriaVersion:
        """The criteria version a referral made on ``referred_on`` is judged by."""
        self._ensure_ready("accept referrals")
        if self.phase == "mobilisation":
            raise RuleBroken(
                f"Area '{self.area_id}' has completed its mobilisation checklist "
                "but is still in mobilisation; its programme lead must move it to "
                "pilot before referrals can be accepted."
            )
        self._ensure_enrolled(setting_id, "before referring")
        criteria = self.criteria_in_force(referred_on)
        if criteria is None:
            raise RuleBroken(
                f"Area '{self.area_id}' had no referral criteria in force on "
                f"{referred_on.isoformat()}; check the referral date."
            )
        if claimed_version not in (None, criteria.version):
            raise RuleBroken(
                f"The referral was made against criteria version {claimed_version}, "
                f"but version {criteria.version} was in force in area "
                f"'{self.area_id}' on {referred_on.isoformat()}; check the referral "
                "against that version and send it again."
            )
        return criteria

    def _ensure_enrolled(self, setting_id: str, purpose: str = "first") -> None:
        if setting_id not in self.settings:
            raise RuleBroken(
                f"Setting '{setting_id}' is not enrolled in area '{self.area_id}'; "
                f"ask the area's programme lead to enrol it {purpose}."
            )

    # State ------------------------------------------------------------------

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        match event:
            case AreaRegistered():
                self._registered(event)
            case SettingEnrolled():
                self.settings[event.setting_id] = Setting(
                    event.setting_id, event.name, event.kind, event.urn,
                    event.lead_name, event.enrolled_on,
                )  # fmt: skip
            case SettingLeadChanged():
                setting = self.settings[event.setting_id]
                self.settings[event.setting_id] = replace(
                    setting, lead_name=event.lead_name
                )
            case ReferralCriteriaDefined():
                self.criteria_versions.append(
                    CriteriaVersion(
                        event.version, list(event.criteria), event.effective_from
                    )
                )
            case TriageThresholdsDefined():
                self.threshold_versions.append(
                    ThresholdsVersion(
                        event.version,
                        event.attendance_below_percent,
                        event.suspensions_at_least,
                        list(event.exclusion_statuses),
                        event.effective_from,
                    )
                )
            case ResponseTimesDefined():
                days: dict[str, int] = {
                    target.stage: target.working_days for target in event.targets
                }
                self.response_time_versions.append(
                    ResponseTimesVersion(event.version, days, event.effective_from)
                )
            case AreaPhaseChanged():
                self.phase = event.to_phase
                self.phase_history.append(event)
            case _:
                self._record_programme_fact(event)

    def _registered(self, event: AreaRegistered) -> None:
        self.area_id, self.name, self.nation = event.area_id, event.name, event.nation
        initial: Phase = "mobilisation"
        self.phase = initial
        self.phase_history: list[AreaPhaseChanged] = []
        self.settings: dict[str, Setting] = {}
        self.criteria_versions: list[CriteriaVersion] = []
        self.threshold_versions: list[ThresholdsVersion] = []
        self.response_time_versions: list[ResponseTimesVersion] = []
        self.governance: GovernanceConfirmed | None = None
        self.slt_delivery: SltDeliveryModelAgreed | None = None
        self.information_sharing: InformationSharingAgreementSigned | None = None
        self.term_dates: dict[str, list[Term]] = {}
        self.log = ProgrammeLog()
        self.evaluations: list[PilotEvaluationRecorded] = []
        self.cycles: list[CommissioningCycleOpened] = []

    def _record_programme_fact(self, event: Event) -> None:
        match event:
            case GovernanceConfirmed():
                self.governance = event
            case SltDeliveryModelAgreed():
                self.slt_delivery = event
            case InformationSharingAgreementSigned():
                self.information_sharing = event
            case TermDatesRecorded():
                self.term_dates[event.academic_year] = list(event.terms)
            case PilotEvaluationRecorded():
                self.evaluations.append(event)
            case CommissioningCycleOpened():
                self.cycles.append(event)
            case GovernanceReportPresented():
                self.log.reports.append(event)
            case BriefingDelivered():
                self.log.briefings.append(event)
            case ProgrammeSessionDelivered():
                self.log.sessions.append(event)
            case ServiceLevelArrangementAgreed():
                self.log.arrangements[event.setting_id] = event


@dataclass
class ProgrammeLog:
    """What the area has delivered: briefings, sessions, arrangements, reports."""

    briefings: list[BriefingDelivered] = field(default_factory=list)
    sessions: list[ProgrammeSessionDelivered] = field(default_factory=list)
    arrangements: dict[str, ServiceLevelArrangementAgreed] = field(default_factory=dict)
    reports: list[GovernanceReportPresented] = field(default_factory=list)
