"""Phase rules and the readiness checklist of an area."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from area_builders import RESPONSE_TIMES, agreement, complete_mobilisation
from prre_contracts.events.programme import (
    GovernanceReportPresented,
    PilotEvaluationRecorded,
)
from prre_contracts.events.values import PilotRecommendation, Term
from prre_referral.domain import Referral
from prre_referral.programme import Area, Arrangement
from prre_runtime.errors import RuleBroken
from prre_runtime.eventstore import CommandContext

SLA = Arrangement(
    "SLA-7", date(2026, 1, 5), date(2026, 7, 22), "Eight assessments a term", 8
)


def evaluation(
    recommendation: PilotRecommendation = "proceed-to-scale",
) -> PilotEvaluationRecorded:
    return PilotEvaluationRecorded(
        area_id="north-vale",
        evaluated_on=date(2025, 12, 15),
        summary="Referrals arrived as expected.",
        recommendation=recommendation,
        approved_by="Chair of the YJS board",
        governance_report="https://reports.example.org/north-vale/pilot",
    )


@pytest.fixture
def ready_area(new_area: Area, context: CommandContext) -> Area:
    """An area in mobilisation with its whole checklist done."""
    new_area.enrol_setting(
        "hill-school", "Hill School", "school", "100001", "A. Lead",
        date(2025, 3, 3), context,
    )  # fmt: skip
    new_area.define_criteria(["At risk of exclusion"], date(2025, 3, 3), context)
    complete_mobilisation(new_area, context)
    return new_area


@pytest.fixture
def scaled(area: Area, context: CommandContext) -> Area:
    area.record_pilot_evaluation(evaluation(), context)
    area.move_to("scale", date(2026, 1, 5), context)
    return area


def test_a_new_area_is_in_mobilisation_with_every_checklist_item_missing(
    new_area: Area,
) -> None:
    readiness = new_area.readiness()

    assert new_area.phase == "mobilisation"
    assert not readiness.complete
    assert [item.key for item in readiness.items if not item.done] == [
        "governance",
        "slt-delivery-model",
        "information-sharing-agreement",
        "referral-criteria",
        "triage-thresholds",
        "response-times",
        "pilot-settings",
    ]


def test_the_checklist_shrinks_as_items_are_recorded(
    new_area: Area, context: CommandContext
) -> None:
    new_area.agree_slt_delivery_model(
        "commissioned", "NHS Trust", "Dr Lead", date(2025, 2, 1), context
    )
    new_area.sign_information_sharing_agreement(agreement("north-vale"), context)

    missing = new_area.readiness().missing

    assert "SLT delivery model" not in missing
    assert "information-sharing agreement" not in missing
    assert len(missing) == 5


def test_moving_to_pilot_is_refused_naming_every_missing_item(
    new_area: Area, context: CommandContext
) -> None:
    new_area.define_criteria(["At risk of exclusion"], date(2025, 3, 3), context)

    with pytest.raises(RuleBroken) as refused:
        new_area.move_to("pilot", date(2025, 3, 3), context)

    assert str(refused.value) == (
        "Area 'north-vale' cannot move to pilot until its mobilisation checklist "
        "is complete; its programme lead must define or record: sponsorship and "
        "governance (YJS board and education partnership); SLT delivery model; "
        "information-sharing agreement; triage thresholds; response times; at "
        "least one enrolled pilot setting."
    )
    assert new_area.phase == "mobilisation"


def test_a_ready_area_moves_to_pilot(ready_area: Area, context: CommandContext) -> None:
    assert ready_area.readiness().complete

    ready_area.move_to("pilot", date(2025, 3, 3), context)

    assert ready_area.phase == "pilot"


def test_a_ready_area_still_in_mobilisation_refuses_referrals(
    ready_area: Area, refer: Callable[..., Referral]
) -> None:
    with pytest.raises(RuleBroken) as refused:
        refer(ready_area)

    assert "still in mobilisation" in str(refused.value)
    assert "must move it to pilot" in str(refused.value)


def test_an_incomplete_area_refuses_referrals_naming_what_is_missing(
    new_area: Area, context: CommandContext, refer: Callable[..., Referral]
) -> None:
    new_area.enrol_setting(
        "hill-school", "Hill School", "school", None, "A. Lead",
        date(2025, 3, 3), context,
    )  # fmt: skip
    new_area.define_criteria(["At risk of exclusion"], date(2025, 3, 3), context)

    with pytest.raises(RuleBroken) as refused:
        refer(new_area)

    message = str(refused.value)
    assert "cannot accept referrals" in message
    assert "SLT delivery model; information-sharing agreement" in message
    assert "referral criteria" not in message


def test_scale_before_pilot_is_refused(
    ready_area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        ready_area.move_to("scale", date(2025, 3, 3), context)

    assert str(refused.value) == (
        "Area 'north-vale' is in mobilisation; it must run a pilot before it "
        "scales, so move it to pilot first."
    )


def test_scale_without_a_pilot_evaluation_is_refused(
    area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        area.move_to("scale", date(2026, 1, 5), context)

    assert str(refused.value) == (
        "Area 'north-vale' cannot move to scale before its pilot evaluation is "
        "recorded (date, who approved it, summary and the governance report it "
        "was based on)."
    )


def test_scale_is_refused_when_the_evaluation_recommends_extending_the_pilot(
    area: Area, context: CommandContext
) -> None:
    area.record_pilot_evaluation(evaluation("extend-pilot"), context)

    with pytest.raises(RuleBroken) as refused:
        area.move_to("scale", date(2026, 1, 5), context)

    assert str(refused.value) == (
        "The latest pilot evaluation of area 'north-vale' (2025-12-15) recommends "
        "'extend-pilot'; record an evaluation that recommends proceeding to scale "
        "first."
    )


def test_an_area_moves_to_scale_after_an_evaluation_recommending_it(
    scaled: Area,
) -> None:
    assert scaled.phase == "scale"
    assert [(c.from_phase, c.to_phase) for c in scaled.phase_history] == [
        ("mobilisation", "pilot"),
        ("pilot", "scale"),
    ]
    assert scaled.evaluations[-1].approved_by == "Chair of the YJS board"


def test_an_area_does_not_go_back_a_phase_or_repeat_one(
    scaled: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as back:
        scaled.move_to("pilot", date(2026, 2, 1), context)
    with pytest.raises(RuleBroken) as again:
        scaled.move_to("scale", date(2026, 2, 1), context)

    assert str(back.value) == (
        "Area 'north-vale' is in scale; an area does not go back to pilot."
    )
    assert str(again.value) == "Area 'north-vale' is already in scale."


def test_an_evaluation_is_recorded_only_during_the_pilot(
    scaled: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        scaled.record_pilot_evaluation(evaluation(), context)

    assert str(refused.value) == (
        "Area 'north-vale' is in scale; a pilot evaluation is recorded while the "
        "area is in pilot."
    )


def test_in_scale_a_setting_joins_only_under_a_service_level_arrangement(
    scaled: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        scaled.enrol_setting(
            "river-pru", "River PRU", "pru", None, "B. Lead", date(2026, 1, 6),
            context,
        )  # fmt: skip

    assert str(refused.value) == (
        "Area 'north-vale' is in scale, where settings join under a service-level "
        "arrangement; send the arrangement (reference, start, end and terms) with "
        "the enrolment."
    )
    assert "river-pru" not in scaled.settings


def test_a_setting_enrolled_in_scale_keeps_its_arrangement(
    scaled: Area, context: CommandContext
) -> None:
    scaled.enrol_setting(
        "river-pru", "River PRU", "pru", None, "B. Lead", date(2026, 1, 6),
        context, SLA,
    )  # fmt: skip

    arrangement = scaled.log.arrangements["river-pru"]
    assert (arrangement.reference, arrangement.terms) == (
        "SLA-7",
        "Eight assessments a term",
    )
    assert arrangement.ends_on == date(2026, 7, 22)


def test_no_arrangement_is_agreed_during_mobilisation(
    ready_area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        ready_area.agree_arrangement("hill-school", SLA, context)

    assert str(refused.value) == (
        "Area 'north-vale' is still in mobilisation; service-level arrangements "
        "are agreed once its pilot has started."
    )


def test_briefings_and_sessions_name_only_enrolled_settings(
    area: Area, context: CommandContext
) -> None:
    area.deliver_briefing("hill-school", date(2025, 3, 10), 14, 6, context)
    with pytest.raises(RuleBroken) as refused:
        area.deliver_session(
            "training", "Spotting communication needs", date(2025, 3, 20),
            {"hill-school": 9, "elm-school": 4}, context,
        )  # fmt: skip

    assert str(refused.value) == (
        "Setting 'elm-school' is not enrolled in area 'north-vale'; ask the "
        "area's programme lead to enrol it first."
    )
    assert area.log.briefings[0].expected_referrals_per_term == 6
    assert area.log.sessions == []


def test_a_session_counts_attendees_from_settings_and_beyond(
    area: Area, context: CommandContext
) -> None:
    area.deliver_session(
        "consultation", "Classroom strategies", date(2025, 3, 20),
        {"hill-school": 9}, context, other_attendees=2,
    )  # fmt: skip

    session = area.log.sessions[0]
    assert (session.attendees, session.attendees_by_setting) == (11, {"hill-school": 9})


def test_thresholds_in_force_follow_their_effective_dates(
    area: Area, context: CommandContext
) -> None:
    second = area.define_thresholds(
        80, None, ["permanently-excluded"], date(2025, 9, 1), context
    )

    before = area.thresholds_in_force(date(2025, 8, 31))
    after = area.thresholds_in_force(date(2025, 9, 1))

    assert second == 2
    assert before is not None
    assert (before.version, before.attendance_below_percent) == (1, 90)
    assert after is not None
    assert (after.version, after.suspensions_at_least) == (2, None)
    assert area.thresholds_in_force(date(2025, 3, 2)) is None


def test_thresholds_need_at_least_one_rule(
    new_area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        new_area.define_thresholds(None, None, [], date(2025, 3, 3), context)

    assert str(refused.value) == (
        "Triage thresholds need at least one rule: an attendance percentage, a "
        "number of suspensions or an exclusion status."
    )


def test_response_times_need_every_stage(
    new_area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as refused:
        new_area.define_response_times(
            {"triage": 5, "assessment": 20}, date(2025, 3, 3), context
        )

    assert str(refused.value) == (
        "Response times need a target for every stage of the pathway; missing: "
        "consent, report, feedback, review."
    )


def test_response_time_versions_are_kept_side_by_side(
    area: Area, context: CommandContext
) -> None:
    faster = {**RESPONSE_TIMES, "triage": 3}
    area.define_response_times(faster, date(2025, 6, 1), context)

    may = area.response_times_in_force(date(2025, 5, 31))
    june = area.response_times_in_force(date(2025, 6, 1))

    assert may is not None
    assert june is not None
    assert (may.version, may.working_days["triage"]) == (1, 5)
    assert (june.version, june.working_days["triage"]) == (2, 3)


def test_commissioning_cycles_follow_on_and_set_the_report_date(
    area: Area, context: CommandContext
) -> None:
    first = area.open_commissioning_cycle("Council", date(2026, 4, 1), 12, context)
    with pytest.raises(RuleBroken) as refused:
        area.open_commissioning_cycle("Council", date(2027, 1, 1), 12, context)

    cycle = area.cycles[0]
    assert first == "2026-04"
    assert (cycle.ends_on, cycle.report_due_on) == (
        date(2027, 3, 31),
        date(2027, 3, 31),
    )
    assert (cycle.start_month, cycle.length_months) == (4, 12)
    assert str(refused.value) == (
        "Commissioning cycle '2026-04' of area 'north-vale' runs until 2027-03-31; "
        "a new cycle starts after it ends."
    )


def test_term_dates_are_kept_per_academic_year(
    area: Area, context: CommandContext
) -> None:
    autumn = Term(name="Autumn", starts_on=date(2025, 9, 3), ends_on=date(2025, 12, 19))
    area.record_term_dates("2025/26", [autumn], context)

    assert area.term_dates == {"2025/26": [autumn]}


def report(cycle_id: str, presented_on: date) -> GovernanceReportPresented:
    return GovernanceReportPresented(
        area_id="north-vale",
        cycle_id=cycle_id,
        board="YJS Management Board",
        presented_on=presented_on,
        outcome="approved",
    )


def test_a_governance_report_follows_an_open_commissioning_cycle(
    area: Area, context: CommandContext
) -> None:
    with pytest.raises(RuleBroken) as no_cycle:
        area.present_governance_report(report("2026-04", date(2027, 3, 20)), context)
    area.open_commissioning_cycle("Council", date(2026, 4, 1), 12, context)
    with pytest.raises(RuleBroken) as too_early:
        area.present_governance_report(report("2026-04", date(2026, 3, 20)), context)
    area.present_governance_report(report("2026-04", date(2027, 3, 20)), context)

    assert str(no_cycle.value) == (
        "Area 'north-vale' has no commissioning cycle '2026-04' (cycles: none "
        "yet); open the cycle first."
    )
    assert str(too_early.value) == (
        "Commissioning cycle '2026-04' starts on 2026-04-01; its governance report "
        "cannot be presented before then."
    )
    assert [r.outcome for r in area.log.reports] == ["approved"]


def test_a_settings_lead_can_change_but_not_to_the_same_person(
    area: Area, context: CommandContext
) -> None:
    area.change_setting_lead("hill-school", "C. New", date(2025, 4, 1), context)
    with pytest.raises(RuleBroken) as refused:
        area.change_setting_lead("hill-school", "C. New", date(2025, 4, 2), context)

    assert area.settings["hill-school"].lead_name == "C. New"
    assert area.settings["hill-school"].urn == "100001"
    assert str(refused.value) == (
        "C. New is already the lead of setting 'hill-school'."
    )


def test_phases_and_evaluations_are_not_dated_before_the_pilot_began(
    area: Area, context: CommandContext
) -> None:
    early = evaluation().model_copy(update={"evaluated_on": date(2025, 3, 1)})
    with pytest.raises(RuleBroken) as evaluated:
        area.record_pilot_evaluation(early, context)
    area.record_pilot_evaluation(evaluation(), context)
    with pytest.raises(RuleBroken) as moved:
        area.move_to("scale", date(2025, 2, 28), context)

    assert str(evaluated.value) == (
        "Area 'north-vale' moved to pilot on 2025-03-03; it cannot record its "
        "pilot evaluation on an earlier day (2025-03-01)."
    )
    assert str(moved.value) == (
        "Area 'north-vale' moved to pilot on 2025-03-03; it cannot move to scale "
        "on an earlier day (2025-02-28)."
    )
    assert area.phase == "pilot"
