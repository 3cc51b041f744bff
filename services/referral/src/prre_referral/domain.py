"""Referrals: the rules the referral service enforces for one child's case.

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
from prre_contracts.events.referral import (
    ConsentConfirmed,
    ConsentRefused,
    ConsentWithdrawn,
    ReferralClosed,
    ReferralReceived,
)
from prre_contracts.events.values import Baseline, ConsentParty
from prre_referral.programme import Area
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
