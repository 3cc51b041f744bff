"""Areas and referrals: the rules the referral service enforces.

An *area* is one local area running PRRE (a Youth Justice Service and its
education partners). It accepts referrals only from *settings* it has enrolled
(schools, pupil referral units, alternative provision, the YJS itself) and
only once it has defined its referral criteria: the published statement of
which children the service is for. Criteria are versioned; each referral
records the version in force when it arrived.

A *referral* asks for a speech and language therapy assessment for one child.
Nothing may happen to it beyond triage until a parent or carer (or the young
person, where competent) consents; consent can be refused, or withdrawn later,
and either stops the case.
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
from prre_contracts.events.programme import (
    AreaRegistered,
    ReferralCriteriaDefined,
    SettingEnrolled,
)
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    ReferralClosed,
    ReferralReceived,
)
from prre_contracts.events.values import Baseline, ConsentParty, Nation, SettingKind
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

AREA_NAMESPACE = uuid.UUID("0b7d3c52-93a4-4b8e-a3f1-6f2b0c9d1e47")


def area_aggregate_id(area_id: str) -> uuid.UUID:
    """Areas are addressed by their short code; the store needs a UUID."""
    return uuid.uuid5(AREA_NAMESPACE, area_id)


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


class Area(FactAggregate):
    """One local area: its settings and its referral criteria.

    State is set only in :meth:`when` (the library reads class annotations as
    constructor fields, so aggregates declare none).
    """

    @classmethod
    def register(
        cls, area_id: str, name: str, nation: Nation, context: CommandContext
    ) -> Area:
        event = AreaRegistered(area_id=area_id, name=name, nation=nation)
        return cls.open(area_aggregate_id(area_id), event, context)

    def enrol_setting(
        self,
        setting_id: str,
        name: str,
        kind: SettingKind,
        urn: str | None,
        lead_name: str,
        enrolled_on: date,
        context: CommandContext,
    ) -> None:
        if setting_id in self.settings:
            raise RuleBroken(
                f"Setting '{setting_id}' is already enrolled in area '{self.area_id}'."
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

    def criteria_in_force(self, on: date) -> CriteriaVersion | None:
        """The latest criteria version whose effective date is on or before ``on``."""
        in_force = [v for v in self.criteria_versions if v.effective_from <= on]
        return max(in_force, key=lambda v: (v.effective_from, v.version), default=None)

    @property
    def criteria_version(self) -> int:
        """The version in force today by the area's records (0 when none)."""
        latest = self.criteria_versions[-1] if self.criteria_versions else None
        return latest.version if latest else 0

    def accept_referral(
        self, setting_id: str, referred_on: date, claimed_version: int | None
    ) -> CriteriaVersion:
        """The criteria version a referral made on ``referred_on`` is judged by."""
        if not self.criteria_versions:
            raise RuleBroken(
                f"Area '{self.area_id}' has no referral criteria yet; its programme "
                "lead must define them before referrals can be accepted."
            )
        if setting_id not in self.settings:
            raise RuleBroken(
                f"Setting '{setting_id}' is not enrolled in area '{self.area_id}'; "
                "ask the area's programme lead to enrol it before referring."
            )
        in_force = self.criteria_in_force(referred_on)
        if in_force is None:
            raise RuleBroken(
                f"Area '{self.area_id}' had no referral criteria in force on "
                f"{referred_on.isoformat()}; check the referral date."
            )
        if claimed_version not in (None, in_force.version):
            raise RuleBroken(
                f"The referral was made against criteria version {claimed_version}, "
                f"but version {in_force.version} was in force in area "
                f"'{self.area_id}' on {referred_on.isoformat()}; check the referral "
                "against that version and send it again."
            )
        return in_force

    def when(self, event: Event, private: Mapping[str, Any]) -> None:
        match event:
            case AreaRegistered():
                self.area_id, self.name, self.nation = (
                    event.area_id,
                    event.name,
                    event.nation,
                )
                self.settings: dict[str, Setting] = {}
                self.criteria_versions: list[CriteriaVersion] = []
            case SettingEnrolled():
                self.settings[event.setting_id] = Setting(
                    event.setting_id, event.name, event.kind, event.urn,
                    event.lead_name, event.enrolled_on,
                )  # fmt: skip
            case ReferralCriteriaDefined():
                self.criteria_versions.append(
                    CriteriaVersion(
                        event.version, list(event.criteria), event.effective_from
                    )
                )


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
    ) -> Referral:
        in_force = area.accept_referral(setting_id, referred_on, criteria_version)
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
            case ConsentConfirmed():
                self.consent = "confirmed"
            case ConsentRefused():
                self.consent = "refused"
            case ConsentWithdrawn():
                self.consent = "withdrawn"
            case ReferralClosed():
                self.closed_reason = event.reason
