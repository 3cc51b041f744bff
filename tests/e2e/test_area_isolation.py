"""Two areas on one deployment: neither area's users see or touch the other's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from helpers import Tokens, eventually, new_area, referral_body, unique
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Area:
    area_id: str
    referral_id: str


@pytest.fixture(scope="module")
def referral_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def triage_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("triage"), timeout=30) as client:
        yield client


def _area_with_a_referral(client: httpx.Client, tokens: Tokens, name: str) -> Area:
    area_id = new_area(client, tokens, f"{name}-school", area_id=unique(name))
    referrer = tokens.bearer(Role.REFERRER, area_id)
    received = client.post(
        "/referrals", json=referral_body(area_id, f"{name}-school"), headers=referrer
    )
    assert received.status_code == 201, received.text
    return Area(area_id, received.json()["referral_id"])


@pytest.fixture(scope="module")
def north(referral_api: httpx.Client, tokens: Tokens) -> Area:
    return _area_with_a_referral(referral_api, tokens, "north")


@pytest.fixture(scope="module")
def south(referral_api: httpx.Client, tokens: Tokens) -> Area:
    return _area_with_a_referral(referral_api, tokens, "south")


def test_the_list_of_areas_shows_only_those_the_token_covers(
    referral_api: httpx.Client, tokens: Tokens, north: Area, south: Area
) -> None:
    def listed(*areas: str) -> list[str]:
        token = tokens.bearer(Role.PROGRAMME_LEAD, *areas)
        response = referral_api.get("/areas", headers=token)
        assert response.status_code == 200, response.text
        return [area["area_id"] for area in response.json()]

    assert listed(north.area_id) == [north.area_id]
    assert listed(south.area_id) == [south.area_id]
    assert listed(north.area_id, south.area_id) == sorted(
        [north.area_id, south.area_id]
    )


@pytest.mark.parametrize(
    "path",
    ["", "/readiness", "/settings", "/policy"],
)
def test_one_areas_programme_lead_cannot_read_the_others_programme(
    referral_api: httpx.Client, tokens: Tokens, north: Area, south: Area, path: str
) -> None:
    north_lead = tokens.bearer(Role.PROGRAMME_LEAD, north.area_id)

    mine = referral_api.get(f"/areas/{north.area_id}{path}", headers=north_lead)
    theirs = referral_api.get(f"/areas/{south.area_id}{path}", headers=north_lead)

    assert mine.status_code == 200
    assert theirs.status_code == 403
    assert theirs.json()["message"] == (
        f"Your token does not cover area '{south.area_id}'."
    )
    assert south.area_id not in mine.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/settings",
            {"setting_id": "x", "name": "X", "kind": "school", "lead_name": "L"},
        ),
        ("/criteria", {"criteria": ["Anything"]}),
        ("/phase", {"to_phase": "scale"}),
        (
            "/briefings",
            {
                "setting_id": "south-school",
                "delivered_on": "2025-03-04",
                "attendees": 3,
                "expected_referrals_per_term": 1,
            },
        ),
    ],
)
def test_one_areas_programme_lead_cannot_change_the_others_programme(
    referral_api: httpx.Client,
    tokens: Tokens,
    north: Area,
    south: Area,
    path: str,
    body: dict[str, object],
) -> None:
    north_lead = tokens.bearer(Role.PROGRAMME_LEAD, north.area_id)

    response = referral_api.post(
        f"/areas/{south.area_id}{path}", json=body, headers=north_lead
    )

    assert response.status_code == 403
    south_lead = tokens.bearer(Role.PROGRAMME_LEAD, south.area_id)
    south_area = referral_api.get(f"/areas/{south.area_id}", headers=south_lead)
    assert [s["setting_id"] for s in south_area.json()["settings"]] == ["south-school"]
    assert len(south_area.json()["criteria_versions"]) == 1


def test_a_referrer_cannot_refer_to_or_read_the_other_areas_referrals(
    referral_api: httpx.Client, tokens: Tokens, north: Area, south: Area
) -> None:
    north_referrer = tokens.bearer(Role.REFERRER, north.area_id)

    refer = referral_api.post(
        "/referrals",
        json=referral_body(south.area_id, "south-school"),
        headers=north_referrer,
    )
    read = referral_api.get(f"/referrals/{south.referral_id}", headers=north_referrer)
    own = referral_api.get(f"/referrals/{north.referral_id}", headers=north_referrer)

    assert (refer.status_code, read.status_code, own.status_code) == (403, 403, 200)


def test_a_triage_lead_cannot_read_or_decide_the_other_areas_referrals(
    triage_api: httpx.Client, tokens: Tokens, north: Area, south: Area
) -> None:
    north_lead = tokens.bearer(Role.TRIAGE_LEAD, north.area_id)
    south_lead = tokens.bearer(Role.TRIAGE_LEAD, south.area_id)
    record = f"/referrals/{south.referral_id}/triage"
    eventually(lambda: triage_api.get(record, headers=south_lead).status_code == 200)

    read = triage_api.get(record, headers=north_lead)
    accept = triage_api.post(
        f"{record}/accept", json={"priority": "routine"}, headers=north_lead
    )
    queue = triage_api.get(f"/areas/{south.area_id}/triage-queue", headers=north_lead)

    assert (read.status_code, accept.status_code, queue.status_code) == (
        403,
        403,
        403,
    )
    still_open = triage_api.get(record, headers=south_lead).json()
    assert still_open["decision"] is None


def test_an_unknown_area_is_forbidden_not_missing_for_a_scoped_token(
    referral_api: httpx.Client, tokens: Tokens, north: Area
) -> None:
    north_lead = tokens.bearer(Role.PROGRAMME_LEAD, north.area_id)

    response = referral_api.get("/areas/no-such-area", headers=north_lead)

    assert response.status_code == 403
