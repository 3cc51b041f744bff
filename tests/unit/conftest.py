"""Builders for the unit tier: a command context, an area ready for referrals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from area_builders import mobilise
from prre_contracts import Actor
from prre_contracts.events.values import Baseline
from prre_referral.domain import ChildDetails, Referral
from prre_referral.programme import Area
from prre_runtime.eventstore import CommandContext


@pytest.fixture
def context() -> CommandContext:
    """A programme lead acting on a fixed morning."""
    return CommandContext(
        actor=Actor(subject="lead@example.org", role="programme-lead"),
        occurred_at=datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
    )


@pytest.fixture
def new_area(context: CommandContext) -> Area:
    """A registered area with no settings and no criteria yet."""
    return Area.register("north-vale", "North Vale", "england", context)


@pytest.fixture
def area(new_area: Area, context: CommandContext) -> Area:
    """An area in pilot with one enrolled school and criteria version 1.

    Its mobilisation checklist is complete (see area_builders.mobilise).
    """
    new_area.enrol_setting(
        "hill-school", "Hill School", "school", "100001", "A. Lead",
        date(2025, 3, 3), context,
    )  # fmt: skip
    new_area.define_criteria(
        ["At risk of exclusion", "Suspected communication need"],
        date(2025, 3, 3),
        context,
    )
    return mobilise(new_area, context)


@pytest.fixture
def child() -> ChildDetails:
    return ChildDetails(
        given_name="Robin",
        family_name="Example",
        date_of_birth=date(2013, 5, 17),
        upn="A123456789012",
        address="1 Test Street",
        parent_carer_contact="07700 900000",
    )


@pytest.fixture
def refer(child: ChildDetails, context: CommandContext) -> Callable[..., Referral]:
    """Sends a referral for ``child`` to an area; keywords vary one detail."""

    def send(
        area: Area,
        *,
        setting_id: str = "hill-school",
        criteria_version: int | None = None,
        referred_on: date = date(2025, 3, 10),
    ) -> Referral:
        return _receive(area, child, context, setting_id, criteria_version, referred_on)

    return send


@pytest.fixture
def referral(area: Area, refer: Callable[..., Referral]) -> Referral:
    """A referral just received from the area's enrolled school."""
    return refer(area)


def _receive(
    area: Area,
    child: ChildDetails,
    context: CommandContext,
    setting_id: str,
    criteria_version: int | None,
    referred_on: date,
) -> Referral:
    return Referral.receive(
        area,
        setting_id,
        child,
        "CH-TESTREF",
        ["Struggles to follow spoken instructions"],
        Baseline(
            attendance_percent=82.5, suspensions_this_year=2, exclusion_status="at-risk"
        ),
        referred_on,
        8,
        context,
        criteria_version,
    )
