"""The rules an area enforces before it accepts a referral."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from prre_referral.domain import Referral
from prre_referral.programme import Area
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext, FactAggregate


def recorded_facts(aggregate: FactAggregate) -> list[dict[str, Any]]:
    """The facts an aggregate has recorded and not yet saved, oldest first."""
    facts: list[dict[str, Any]] = []
    for event in aggregate.collect_events():
        assert isinstance(event, FactAggregate.Opened | FactAggregate.Recorded)
        facts.append(event.fact)
    return facts


def test_an_area_refuses_referrals_before_criteria_are_defined(
    new_area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    new_area.enrol_setting(
        "hill-school", "Hill School", "school", None, "A. Lead",
        date(2025, 3, 3), context,
    )  # fmt: skip

    with pytest.raises(RuleBroken) as refused:
        refer(new_area)

    message = str(refused.value)
    assert "'north-vale'" in message
    assert "programme lead must define" in message


def test_an_area_refuses_referrals_from_a_setting_it_has_not_enrolled(
    area: Area, refer: Callable[..., Referral]
) -> None:
    with pytest.raises(RuleBroken, match="'river-pru' is not enrolled") as refused:
        refer(area, setting_id="river-pru")

    assert "'north-vale'" in str(refused.value)


def test_an_area_refuses_referrals_made_against_out_of_date_criteria(
    area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    area.define_criteria(["Revised criteria"], date(2025, 3, 5), context)

    with pytest.raises(RuleBroken) as refused:
        refer(area, criteria_version=1)

    message = str(refused.value)
    assert "criteria version 1" in message
    assert "version 2 was in force" in message


def test_an_area_accepts_referrals_that_name_the_current_criteria(
    area: Area, refer: Callable[..., Referral]
) -> None:
    referral = refer(area, criteria_version=1)

    assert referral.criteria_version == 1


def test_enrolling_the_same_setting_twice_is_refused(
    area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        area.enrol_setting(
            "hill-school", "Hill School again", "school", None, "B. Lead",
            date(2025, 4, 1), context,
        )  # fmt: skip

    assert str(refused.value) == (
        "Setting 'hill-school' is already enrolled in area 'north-vale'."
    )
    assert area.settings["hill-school"].lead_name == "A. Lead"


def test_an_enrolled_setting_keeps_its_named_lead(area: Area) -> None:
    setting = area.settings["hill-school"]

    assert (setting.name, setting.kind, setting.lead_name) == (
        "Hill School",
        "school",
        "A. Lead",
    )


def test_criteria_versions_count_up_and_earlier_ones_are_not_edited(
    new_area: Area, context: CommandContext
) -> None:
    first = new_area.define_criteria(["First"], date(2025, 3, 1), context)
    second = new_area.define_criteria(["Second"], date(2025, 4, 1), context)

    facts = recorded_facts(new_area)

    assert (first, second) == (1, 2)
    criteria = [f["data"] for f in facts if f["type"] == "ReferralCriteriaDefined"]
    assert criteria == [
        {
            "area_id": "north-vale",
            "version": 1,
            "criteria": ["First"],
            "effective_from": "2025-03-01",
        },
        {
            "area_id": "north-vale",
            "version": 2,
            "criteria": ["Second"],
            "effective_from": "2025-04-01",
        },
    ]
    in_march = new_area.criteria_in_force(date(2025, 3, 20))
    in_april = new_area.criteria_in_force(date(2025, 4, 2))
    assert in_march is not None
    assert in_march.criteria == ["First"]
    assert in_april is not None
    assert in_april.criteria == ["Second"]


def test_every_fact_records_who_acted_and_when(
    area: Area, context: CommandContext
) -> None:
    facts = recorded_facts(area)

    assert [f["type"] for f in facts] == [
        "AreaRegistered",
        "SettingEnrolled",
        "ReferralCriteriaDefined",
        "GovernanceConfirmed",
        "SltDeliveryModelAgreed",
        "InformationSharingAgreementSigned",
        "TriageThresholdsDefined",
        "ResponseTimesDefined",
        "AreaPhaseChanged",
    ]
    for fact in facts:
        assert fact["context"]["actor"] == {
            "subject": "lead@example.org",
            "role": "programme-lead",
        }
        assert fact["context"]["occurred_at"] == "2025-03-03T09:30:00+00:00"
        assert fact["private"] == {}


def test_a_referral_records_the_criteria_in_force_on_the_day_it_was_made(
    area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    # Version 2 is published in advance: it applies from September only.
    area.define_criteria(["Autumn criteria"], date(2025, 9, 1), context)

    referral = refer(area, referred_on=date(2025, 3, 10))

    assert referral.criteria_version == 1


def test_criteria_published_in_advance_do_not_refuse_referrals_made_today(
    area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    area.define_criteria(["Autumn criteria"], date(2025, 9, 1), context)

    referral = refer(area, criteria_version=1, referred_on=date(2025, 3, 10))

    assert referral.criteria_version == 1
