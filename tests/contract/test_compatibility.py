import copy
import datetime
from typing import Any

from pydantic import BaseModel, create_model

from prre_contracts.compatibility import breaking_changes
from prre_contracts.events.referral import ReferralReceived
from prre_contracts.events.review import ReviewDue

Schema = dict[str, Any]


def schema_of(model: type[BaseModel]) -> Schema:
    return model.model_json_schema()


def changed(**fields: Any) -> Schema:
    """The schema of ReferralReceived with some fields added or redefined."""
    variant = create_model("ReferralReceived", __base__=ReferralReceived, **fields)
    return schema_of(variant)


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(schema_of(ReviewDue), schema_of(ReviewDue)) == []


def test_a_removed_field_is_breaking() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    del new["properties"]["year_group"]

    assert breaking_changes(old, new) == ["Field 'year_group' was removed."]


def test_a_retyped_field_is_breaking() -> None:
    new = changed(criteria_version=(str, ...))

    [problem] = breaking_changes(schema_of(ReferralReceived), new)

    assert problem.startswith("Field 'criteria_version' was retyped")


def test_a_changed_format_is_breaking() -> None:
    new = changed(referred_on=(datetime.datetime, ...))

    [problem] = breaking_changes(schema_of(ReferralReceived), new)

    assert "'referred_on' changed format from date to date-time" in problem


def test_a_narrowed_enum_is_breaking() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    status = new["$defs"]["Baseline"]["properties"]["exclusion_status"]
    status["enum"].remove("at-risk")

    [problem] = breaking_changes(old, new)

    assert "'baseline.exclusion_status' no longer accepts" in problem


def test_a_widened_enum_is_compatible() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    status = new["$defs"]["Baseline"]["properties"]["exclusion_status"]
    status["enum"].append("managed-move")

    assert breaking_changes(old, new) == []


def test_a_swapped_reference_is_breaking() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    new["$defs"]["Measures"] = new["$defs"].pop("Baseline")
    new["properties"]["baseline"] = {"$ref": "#/$defs/Measures"}

    [problem] = breaking_changes(old, new)

    assert "'baseline' was retyped: object Baseline" in problem


def test_a_new_required_field_is_breaking() -> None:
    new = changed(setting_kind=(str, ...))

    problems = breaking_changes(schema_of(ReferralReceived), new)

    assert problems == ["New required field 'setting_kind' was added."]


def test_a_field_made_required_is_breaking() -> None:
    new = changed(year_group=(int, ...))

    problems = breaking_changes(schema_of(ReferralReceived), new)

    assert "Field 'year_group' was made required." in problems


def test_a_new_optional_field_is_compatible() -> None:
    new = changed(setting_kind=(str | None, None))

    assert breaking_changes(schema_of(ReferralReceived), new) == []


def test_a_tightened_bound_is_breaking() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    new["properties"]["criteria_version"]["minimum"] = 2

    [problem] = breaking_changes(old, new)

    assert "tighter minimum: 1 became 2" in problem


def test_a_loosened_bound_is_compatible() -> None:
    old = schema_of(ReferralReceived)
    new = copy.deepcopy(old)
    new["properties"]["child_ref"]["maxLength"] = 400

    assert breaking_changes(old, new) == []
