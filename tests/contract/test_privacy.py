"""No public event may carry a direct identifier of the child.

The rule, applied to every property name of every event schema, nested
values included: split the name on ``_``; it is forbidden if any part is one
of IDENTIFYING_WORDS. Two exceptions, both naming things that are not the
child: ``<role>_name`` where the part before ``_name`` ends with a staff role
in STAFF_ROLES (a setting lead, a clinician), and a bare ``name`` inside a
programme event, where it names an area, a setting or a term.
"""

from typing import Any

import pytest

from prre_contracts import CATALOGUE, Event
from prre_contracts.events import programme
from prre_contracts.schemas import event_schema

IDENTIFYING_WORDS = {
    "name",
    "names",
    "forename",
    "surname",
    "dob",
    "birth",
    "upn",
    "address",
    "phone",
    "mobile",
    "email",
    "postcode",
    "nhs",
}
STAFF_ROLES = ("lead", "clinician", "sponsor", "author", "chair")


def property_names(schema: dict[str, Any]) -> set[str]:
    objects = [schema, *schema.get("$defs", {}).values()]
    return {name for obj in objects for name in obj.get("properties", {})}


def is_allowed(field: str, cls: type[Event]) -> bool:
    parts = field.split("_")
    if not IDENTIFYING_WORDS.intersection(parts):
        return True
    if field == "name":
        return cls.__module__ == programme.__name__
    prefix = field.removesuffix("_name")
    return prefix != field and prefix.endswith(STAFF_ROLES)


@pytest.mark.parametrize("cls", CATALOGUE.values(), ids=lambda cls: cls.__name__)
def test_event_carries_no_child_identifier(cls: type[Event]) -> None:
    names = property_names(event_schema(cls))

    assert [name for name in names if not is_allowed(name, cls)] == []


@pytest.mark.parametrize(
    "field", ["child_name", "date_of_birth", "dob", "upn", "home_address", "email"]
)
def test_rule_forbids_child_identifiers(field: str) -> None:
    assert not is_allowed(field, programme.SettingEnrolled)


def test_rule_allows_named_staff_leads() -> None:
    assert is_allowed("lead_name", programme.SettingEnrolled)
    assert is_allowed("clinical_governance_lead_name", programme.SettingEnrolled)


def test_rule_allows_a_bare_name_only_on_programme_events() -> None:
    received = CATALOGUE[("ReferralReceived", 1)]

    assert is_allowed("name", programme.AreaRegistered)
    assert not is_allowed("name", received)
    assert not is_allowed("parent_name", received)
