"""Builders that take a unit-tier area through its mobilisation checklist."""

from __future__ import annotations

from datetime import date

from prre_contracts.events.programme import InformationSharingAgreementSigned
from prre_contracts.events.values import Stage
from prre_referral.programme import Area
from prre_runtime.eventstore import CommandContext

RESPONSE_TIMES: dict[Stage, int] = {
    "triage": 5,
    "consent": 10,
    "assessment": 20,
    "report": 10,
    "feedback": 10,
    "review": 10,
}


def agreement(area_id: str) -> InformationSharingAgreementSigned:
    return InformationSharingAgreementSigned(
        area_id=area_id,
        reference="ISA-1",
        lawful_basis="Public task",
        parties=["Council", "NHS Trust"],
        retention_months=84,
        signed_on=date(2025, 2, 3),
        review_on=date(2026, 2, 3),
    )


def complete_mobilisation(area: Area, context: CommandContext) -> None:
    """Record every checklist item an area with settings and criteria lacks."""
    area.confirm_governance(
        "Sam Sponsor", date(2025, 1, 15), "Education partnership",
        date(2025, 1, 22), context,
    )  # fmt: skip
    area.agree_slt_delivery_model(
        "employed", "North Vale Council", "Dr Lead", date(2025, 1, 29), context
    )
    area.sign_information_sharing_agreement(agreement(area.area_id), context)
    area.define_thresholds(
        90, 3, ["suspended", "permanently-excluded"], date(2025, 3, 3), context
    )
    area.define_response_times(RESPONSE_TIMES, date(2025, 3, 3), context)


def mobilise(area: Area, context: CommandContext) -> Area:
    """Complete the checklist and move the area to pilot, ready for referrals."""
    complete_mobilisation(area, context)
    area.move_to("pilot", date(2025, 3, 3), context)
    return area
