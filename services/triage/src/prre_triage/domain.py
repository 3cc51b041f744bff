"""Triage cases and triage panels: the rules the triage service enforces.

A *triage case* follows one referral through triage. It opens when the
referral is screened and then waits for a person's decision: accept it (with
a priority: urgent cases are seen first), decline it (with a reason the
referrer will read and *signposting*, other services that may help the child
instead), or ask the referrer for more information. Once answers arrive the
case waits for a decision again. Accepting or declining is final, and may
happen while answers are awaited: the questions then lapse, and answers that
arrive later are not taken in.

A *triage panel* is an area's standing triage meeting; it keeps the record of
each meeting held (date, who attended, which referrals it decided).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prre_contracts import Event
from prre_contracts.events.triage import (
    MoreInformationReceived,
    MoreInformationRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralScreened,
    TriageMeetingHeld,
)
from prre_contracts.events.values import Baseline, Priority, StakeholderRole
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate
from prre_triage.screening import Screening

PANEL_NAMESPACE = uuid.UUID("6d1f0a8e-2b7c-4e55-9c3a-71d0b5e2f9a4")

AWAITING_DECISION = "awaiting-decision"
AWAITING_INFORMATION = "awaiting-information"
ACCEPTED = "accepted"
DECLINED = "declined"


@dataclass
class InformationRequest:
    """Questions triage sent the referrer, and their answers once received."""

    request_id: uuid.UUID
    questions: list[str]
    requested_on: date
    answers: list[str] = field(default_factory=list)
    concerns_added: list[str] = field(default_factory=list)
    new_baseline: Baseline | None = None
    received_on: date | None = None


class TriageCase(FactAggregate):
    """One referral in triage, keyed by the referral id."""

    @classmethod
    def screen(
        cls,
        area_id: str,
        referral_id: uuid.UUID,
        screening: Screening,
        screened_on: date,
        context: CommandContext,
    ) -> TriageCase:
        event = ReferralScreened(
            area_id=area_id,
            referral_id=referral_id,
            criteria_version=screening.criteria_version,
            criteria_met=list(screening.criteria_met),
            criteria_not_met=list(screening.criteria_not_met),
            meets_criteria=screening.meets_criteria,
            suggested_priority=screening.suggested_priority,
            thresholds_version=screening.thresholds_version,
            screened_on=screened_on,
        )
        return cls.open(case_id(referral_id), event, context)

    def accept(
        self,
        priority: Priority,
        decided_on: date,
        meeting_id: uuid.UUID | None,
        context: CommandContext,
    ) -> None:
        self._ensure_undecided()
        used = self.screening.thresholds_version
        event = ReferralAccepted(
            **self._case, priority=priority, thresholds_version=used,
            decided_on=decided_on, meeting_id=meeting_id,
        )  # fmt: skip
        self.record(event, context)

    def decline(
        self,
        reason: str,
        signposting: list[str],
        decided_on: date,
        meeting_id: uuid.UUID | None,
        context: CommandContext,
    ) -> None:
        self._ensure_undecided()
        event = ReferralDeclined(
            **self._case, reason=reason, signposting=signposting,
            decided_on=decided_on, meeting_id=meeting_id,
        )  # fmt: skip
        self.record(event, context)

    def request_more_information(
        self,
        questions: list[str],
        requested_on: date,
        meeting_id: uuid.UUID | None,
        context: CommandContext,
    ) -> uuid.UUID:
        self._ensure_undecided()
        if self.status == AWAITING_INFORMATION:
            asked = self.requests[-1].requested_on.isoformat()
            raise RuleBroken(
                f"Triage already asked the referrer for more information on {asked} "
                "and is waiting for the answers; decide the referral or wait."
            )
        request_id = uuid.uuid4()
        event = MoreInformationRequested(
            **self._case, request_id=request_id, questions=questions,
            requested_on=requested_on, meeting_id=meeting_id,
        )  # fmt: skip
        self.record(event, context)
        return request_id

    def awaits(self, request_id: uuid.UUID | None) -> bool:
        """Whether answers to ``request_id`` are still awaited."""
        return self.status == AWAITING_INFORMATION and (
            request_id in (None, self.requests[-1].request_id)
        )

    def receive_information(
        self,
        answers: list[str],
        concerns_added: list[str],
        baseline: Baseline | None,
        received_on: date,
        context: CommandContext,
    ) -> None:
        """Take in the referrer's answers; the case awaits a decision again."""
        if self.status != AWAITING_INFORMATION:
            raise RuleBroken("Triage is not waiting for answers on this referral.")
        event = MoreInformationReceived(
            **self._case, request_id=self.requests[-1].request_id, answers=answers,
            concerns_added=concerns_added, baseline=baseline, received_on=received_on,
        )  # fmt: skip
        self.record(event, context)

    @property
    def _case(self) -> dict[str, Any]:
        return {"area_id": self.area_id, "referral_id": self.referral_id}

    def _ensure_undecided(self) -> None:
        if self.status in (ACCEPTED, DECLINED):
            on = self.decision["decided_on"].isoformat()
            raise RuleBroken(
                f"Triage already {self.status} this referral on {on}; a triage "
                "decision cannot be changed."
            )

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        match event:
            case ReferralScreened():
                self.area_id, self.referral_id = event.area_id, event.referral_id
                self.screening = event
                self.status = AWAITING_DECISION
                self.decision: dict[str, Any] = {}
                self.requests: list[InformationRequest] = []
            case ReferralAccepted() | ReferralDeclined():
                self.status = (
                    ACCEPTED if isinstance(event, ReferralAccepted) else DECLINED
                )
                self.decision = event.model_dump()
            case MoreInformationRequested():
                self.status = AWAITING_INFORMATION
                self.requests.append(
                    InformationRequest(
                        event.request_id, list(event.questions), event.requested_on
                    )
                )
            case MoreInformationReceived():
                self.status = AWAITING_DECISION
                self._note_answers(event)

    def _note_answers(self, event: MoreInformationReceived) -> None:
        request = self.requests[-1]
        request.answers = list(event.answers)
        request.concerns_added = list(event.concerns_added)
        request.new_baseline = event.baseline
        request.received_on = event.received_on


def case_id(referral_id: uuid.UUID) -> uuid.UUID:
    """The store id of a referral's triage case.

    Derived from, never equal to, the referral id: event ids come from the
    aggregate id and version, so a case stored under the referral id would
    give its events the same ids as the referral service's events, and
    consumers deduplicating by event id would drop one of them.
    """
    return uuid.uuid5(PANEL_NAMESPACE, f"triage-case:{referral_id}")


def panel_id(area_id: str) -> uuid.UUID:
    """Each area has one triage panel; the store addresses it by a UUID."""
    return uuid.uuid5(PANEL_NAMESPACE, area_id)


@dataclass(frozen=True)
class Attendee:
    """A member of staff at a triage meeting (kept in this service only)."""

    name: str
    role: StakeholderRole


class TriagePanel(FactAggregate):
    """An area's triage panel and the meetings it has held."""

    @classmethod
    def first_meeting(
        cls, area_id: str, held: TriageMeetingHeld, attendees: list[Attendee],
        context: CommandContext,
    ) -> TriagePanel:  # fmt: skip
        return cls.open(panel_id(area_id), held, context, _attendees(attendees))

    def hold_meeting(
        self, held: TriageMeetingHeld, attendees: list[Attendee],
        context: CommandContext,
    ) -> None:  # fmt: skip
        self.record(held, context, _attendees(attendees))

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        if isinstance(event, TriageMeetingHeld):
            if not hasattr(self, "meetings"):
                self.meetings: list[dict[str, Any]] = []
            self.meetings.append(
                {**event.model_dump(mode="json"), "attendees": private["attendees"]}
            )


def _attendees(attendees: list[Attendee]) -> dict[str, Any]:
    return {"attendees": [{"name": a.name, "role": a.role} for a in attendees]}
