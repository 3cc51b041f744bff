"""Areas and their programme: the rules the referral service enforces for them.

An *area* is one local area running PRRE (a Youth Justice Service and its
education partners). It accepts referrals only from *settings* it has enrolled
(schools, pupil referral units, alternative provision, the YJS itself) and
only once it has defined its referral criteria: the published statement of
which children the service is for. Criteria are versioned; each referral
records the version in force when it arrived.
"""

from __future__ import annotations

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
from prre_contracts.events.values import Nation, SettingKind
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate

AREA_NAMESPACE = uuid.UUID("0b7d3c52-93a4-4b8e-a3f1-6f2b0c9d1e47")


def area_aggregate_id(area_id: str) -> uuid.UUID:
    """Areas are addressed by their short code; the store needs a UUID."""
    return uuid.uuid5(AREA_NAMESPACE, area_id)


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
