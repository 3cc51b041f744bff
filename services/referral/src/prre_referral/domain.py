"""Referrals: the rules the referral service enforces for one child's case.

A *referral* asks for a speech and language therapy assessment for one child.
Nothing may happen to it beyond triage until a parent or carer (or the young
person, where competent) consents; consent can be refused, or withdrawn later,
and either stops the case. The referrer answers triage's questions when triage
asks for more information, and may withdraw the referral while it is open.

Every case ends closed, with a reason: declined by triage, consent refused or
withdrawn, withdrawn by the referrer, completed (an action plan that needs no
review, or a review that closes it) or re-referred (a review that starts a new
referral for the same child).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from prre_contracts import Event
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    MoreInformationProvided,
    ReferralClosed,
    ReferralReceived,
    ReferralWithdrawn,
)
from prre_contracts.events.values import Baseline, ClosureReason, ConsentParty
from prre_referral.programme import Area, CriteriaVersion, ThresholdsVersion
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate


@dataclass(frozen=True)
class ChildDetails:
    """The child's personal data: kept encrypted in this service only."""

    given_name: str
    family_name: str
    date_of_birth: date
    upn: str | None = None
    address: str | None = None
    parent_carer_contact: str | None = None

    def as_private(self) -> dict[str, Any]:
        return {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "upn": self.upn,
            "address": self.address,
            "parent_carer_contact": self.parent_carer_contact,
        }

    @classmethod
    def from_private(cls, private: Mapping[str, Any]) -> ChildDetails:
        return cls(
            given_name=private["given_name"],
            family_name=private["family_name"],
            date_of_birth=date.fromisoformat(private["date_of_birth"]),
            upn=private.get("upn"),
            address=private.get("address"),
            parent_carer_contact=private.get("parent_carer_contact"),
        )


def child_reference(key: bytes, area_id: str, child: ChildDetails) -> str:
    """A pseudonym for the child, stable within an area, useless without ``key``.

    Public events name the child only by this reference, so a re-referral of
    the same child can be linked without exposing who the child is.
    """
    identity = child.upn or (
        f"{child.given_name.strip().lower()}|{child.family_name.strip().lower()}|"
        f"{child.date_of_birth.isoformat()}"
    )
    digest = hmac.new(key, f"{area_id}|{identity}".encode(), hashlib.sha256)
    return "CH-" + digest.hexdigest()[:16].upper()


class Referral(FactAggregate):
    """One child's referral, from receipt to the point consent stops it."""

    @classmethod
    def receive(
        cls,
        area: Area,
        setting_id: str,
        child: ChildDetails,
        child_ref: str,
        concerns: list[str],
        baseline: Baseline,
        referred_on: date,
        year_group: int | None,
        context: CommandContext,
        criteria_version: int | None = None,
        criteria_met: list[str] | None = None,
    ) -> Referral:
        in_force = area.accept_referral(setting_id, referred_on, criteria_version)
        _ensure_criteria_named_exist(in_force, criteria_met or [])
        referral_id = uuid.uuid4()
        event = ReferralReceived(
            area_id=area.area_id,
            referral_id=referral_id,
            setting_id=setting_id,
            child_ref=child_ref,
            criteria_version=in_force.version,
            referred_on=referred_on,
            concerns=concerns,
            baseline=baseline,
            year_group=year_group,
            criteria_met=criteria_met or [],
            thresholds_version=_version(area.thresholds_in_force(referred_on)),
        )
        return cls.open(referral_id, event, context, private=child.as_private())

    @property
    def referral_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.id))

    @property
    def stage(self) -> str:
        return "closed" if self.closed_reason else "open"

    def confirm_consent(
        self, given_by: ConsentParty, confirmed_on: date, context: CommandContext
    ) -> None:
        self._ensure_open()
        if self.consent == "confirmed":
            raise RuleBroken("Consent is already confirmed for this referral.")
        self.record(
            ConsentConfirmed(
                area_id=self.area_id,
                referral_id=self.referral_id,
                given_by=given_by,
                confirmed_on=confirmed_on,
            ),
            context,
        )

    def refuse_consent(
        self,
        refused_by: ConsentParty,
        refused_on: date,
        reason: str | None,
        context: CommandContext,
    ) -> None:
        self._ensure_open()
        if self.consent == "confirmed":
            raise RuleBroken(
                "Consent was already confirmed; to stop the case, record that "
                "consent was withdrawn instead."
            )
        self.record(
            ConsentRefused(
                area_id=self.area_id,
                referral_id=self.referral_id,
                refused_by=refused_by,
                refused_on=refused_on,
                reason=reason,
            ),
            context,
        )
        self._close("consent-refused", refused_on, context)

    def withdraw_consent(
        self,
        withdrawn_by: ConsentParty,
        withdrawn_on: date,
        reason: str | None,
        context: CommandContext,
    ) -> None:
        self._ensure_open()
        if self.consent != "confirmed":
            raise RuleBroken(
                "Consent has not been confirmed, so it cannot be withdrawn; "
                "record that consent was refused instead."
            )
        self.record(
            ConsentWithdrawn(
                area_id=self.area_id,
                referral_id=self.referral_id,
                withdrawn_by=withdrawn_by,
                withdrawn_on=withdrawn_on,
                reason=reason,
            ),
            context,
        )
        self._close("consent-withdrawn", withdrawn_on, context)

    def provide_more_information(
        self,
        request_id: uuid.UUID | None,
        answers: list[str],
        concerns_added: list[str],
        baseline: Baseline | None,
        provided_on: date,
        context: CommandContext,
    ) -> None:
        """Answer triage's outstanding request (``None`` when triage asked nothing).

        New concerns are added to the referral; a new baseline replaces the one
        sent with it.
        """
        self._ensure_open()
        if request_id is None or request_id in self.answered_requests:
            raise RuleBroken(
                "Triage has not asked for more information on this referral, or "
                "its questions are already answered; wait for triage's request."
            )
        self.record(
            MoreInformationProvided(
                area_id=self.area_id, referral_id=self.referral_id,
                request_id=request_id, provided_on=provided_on, answers=answers,
                concerns_added=concerns_added, baseline=baseline,
            ),
            context,
        )  # fmt: skip

    def withdraw(
        self, withdrawn_on: date, reason: str | None, context: CommandContext
    ) -> None:
        """The referrer takes the referral back; the case closes."""
        self._ensure_open()
        self.record(
            ReferralWithdrawn(
                area_id=self.area_id,
                referral_id=self.referral_id,
                withdrawn_on=withdrawn_on,
                reason=reason,
            ),
            context,
        )
        self._close("withdrawn-by-referrer", withdrawn_on, context)

    def close_in_reaction(
        self, reason: ClosureReason, closed_on: date, context: CommandContext
    ) -> bool:
        """Close the case because another service decided it ends here.

        A case already closed stays as it is (the first reason stands), and so
        does one that already handled the event named by the context.
        """
        cause = context.causation_id
        if self.closed_reason or (cause is not None and self.has_handled(cause)):
            return False
        self._close(reason, closed_on, context)
        return True

    def _close(self, reason: str, closed_on: date, context: CommandContext) -> None:
        event = ReferralClosed.model_validate(
            {
                "area_id": self.area_id,
                "referral_id": self.referral_id,
                "reason": reason,
                "closed_on": closed_on,
            }
        )
        self.record(event, context)

    def _ensure_open(self) -> None:
        if self.closed_reason:
            raise RuleBroken(
                f"This referral is closed ({self.closed_reason}); nothing more can be "
                "recorded on it. Make a new referral if the child needs support again."
            )

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        match event:
            case ReferralReceived():
                self.area_id, self.setting_id = event.area_id, event.setting_id
                self.child_ref, self.child = (
                    event.child_ref,
                    ChildDetails.from_private(private),
                )
                self.criteria_version, self.referred_on = (
                    event.criteria_version,
                    event.referred_on,
                )
                self.consent, self.closed_reason = "pending", None
                self.concerns, self.baseline = list(event.concerns), event.baseline
                self.criteria_met = list(event.criteria_met)
                self.answered_requests: set[uuid.UUID | None] = set()
                self.closed_on: date | None = None
            case MoreInformationProvided():
                self.answered_requests.add(event.request_id)
                self.concerns.extend(event.concerns_added)
                self.baseline = event.baseline or self.baseline
            case ConsentConfirmed():
                self.consent = "confirmed"
            case ConsentRefused():
                self.consent = "refused"
            case ConsentWithdrawn():
                self.consent = "withdrawn"
            case ReferralClosed():
                self.closed_reason, self.closed_on = event.reason, event.closed_on


def _ensure_criteria_named_exist(in_force: CriteriaVersion, named: list[str]) -> None:
    """Each criterion a referral says it meets must be one of the version's own."""
    known = {_normalised(text) for text in in_force.criteria}
    unknown = [text for text in named if _normalised(text) not in known]
    if unknown:
        raise RuleBroken(
            f"The referral names criteria that are not in version "
            f"{in_force.version} of the area's referral criteria: "
            f"{'; '.join(unknown)}. Quote the criteria as the area wrote them."
        )


def _version(policy: ThresholdsVersion | None) -> int | None:
    return policy.version if policy else None


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()
