"""The dashboard's JSON and HTML for an area seeded through the real services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e.dashboard_seed import (
    REVIEW_DAY,
    Region,
    nine_am,
    seeded_region,
    settled_funnel,
)
from helpers import Tokens
from prre_runtime.clock import FileClock
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

Headers = dict[str, str]


@pytest.fixture(scope="module")
def projections(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("projections"), timeout=60) as client:
        yield client


@pytest.fixture
def region(running: Stack, tokens: Tokens, clock: FileClock) -> Region:
    seeded = seeded_region(running, tokens)
    clock.set(nine_am(REVIEW_DAY))
    return seeded


@pytest.fixture
def lead(tokens: Tokens, region: Region) -> Headers:
    return tokens.bearer(Role.PROGRAMME_LEAD, region.area, subject="lead@yjs.example")


def get(projections: httpx.Client, path: str, headers: Headers, **params: Any) -> Any:
    response = projections.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_funnel_counts_every_step_of_the_seeded_area(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    counts = settled_funnel(projections, region, lead)
    reasons = get(projections, "/api/funnel", lead, area_id=region.area)

    assert counts == {
        "received": 4, "triaged": 3, "accepted": 2, "consented": 1, "assessed": 1,
        "reported": 1, "feedback": 1, "reviewed": 1, "closed": 2,
    }  # fmt: skip
    assert reasons["decline_reasons"] == [
        {"reason": "Needs are met by the school", "count": 1}
    ]


def test_the_caseload_and_queues_show_what_is_waiting_and_what_is_late(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)

    view = get(projections, "/api/caseload", lead, area_id=region.area)

    cases = {case["referral_id"]: case for case in view["cases"]}
    assert set(cases) == {region.waiting, region.new}
    assert cases[region.new]["stage"] == "awaiting-triage"
    assert cases[region.new]["status"] == "breached", "five working days long past"
    assert cases[region.waiting]["stage"] == "awaiting-consent"
    assert view["queues"]["awaiting_triage"] == [region.new]
    assert view["queues"]["awaiting_consent"] == [region.waiting]
    assert set(view["queues"]["overdue"]) == {region.new, region.waiting}


def test_volumes_outcomes_and_programme_of_the_seeded_area(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)

    volumes = get(projections, "/api/volumes", lead, area_id=region.area)["rows"]
    outcomes = get(projections, "/api/outcomes", lead, area_id=region.area)["rows"]
    (area,) = get(projections, "/api/programme", lead, area_id=region.area)["areas"]

    oak = next(row for row in volumes if row["setting_id"] == "oak")
    assert (oak["term"], oak["referrals"], oak["expected"]) == ("2026/27 spring", 2, 4)
    assert len(outcomes) == 1
    assert (outcomes[0]["setting_id"], outcomes[0]["reviewed"]) == ("oak", 1)
    assert (outcomes[0]["attendance_before"], outcomes[0]["attendance_after"]) == (
        82.5,
        93.0,
    )
    assert area["area"]["phase"] == "pilot"
    assert all(item["done"] for item in area["checklist"])
    assert [s["setting_id"] for s in area["settings"]] == ["elm", "oak"]
    assert "briefing" in [a["kind"] for a in area["activity"]]


def test_timeliness_counts_working_days_per_stage(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)

    rows = get(projections, "/api/timeliness", lead, area_id=region.area)["rows"]

    by_stage = {row["stage"]: row for row in rows}
    assert by_stage["triage"]["cases"] == 3
    assert by_stage["triage"]["median_working_days"] == 0, "decided the same day"
    assert by_stage["triage"]["within_target_share"] == 1
    assert by_stage["review"]["cases"] == 1


def test_the_case_timeline_lists_every_service_in_order(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)

    facts = get(projections, f"/api/cases/{region.full}/timeline", lead)["facts"]

    types = [fact["event_type"] for fact in facts]
    assert types[0] == "ReferralReceived"
    assert types.index("ReferralAccepted") < types.index("AssessmentCompleted")
    assert types.index("ReviewCompleted") < types.index("ReferralClosed")
    assert {fact["source"] for fact in facts} >= {
        "referral", "triage", "assessment", "review-scheduler",
    }  # fmt: skip
    assert all(fact["actor_subject"] for fact in facts)


def test_as_at_shows_the_area_before_the_review(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)

    then = get(projections, "/api/funnel", lead, area_id=region.area,
               as_at="2027-01-11")  # fmt: skip
    caseload = get(projections, "/api/caseload", lead, area_id=region.area,
                   as_at="2027-01-11")  # fmt: skip

    counts = {s["step"]: s["count"] for s in then["steps"]}
    assert (counts["received"], counts["reviewed"], counts["closed"]) == (4, 0, 1)
    stages = {c["referral_id"]: c["stage"] for c in caseload["cases"]}
    assert stages[region.full] == "review-scheduled"
    assert caseload["as_at"] == "2027-01-11"


def test_other_areas_bad_dates_and_unknown_cases_are_refused(
    projections: httpx.Client, region: Region, tokens: Tokens
) -> None:
    outsider = tokens.bearer(Role.PROGRAMME_LEAD, "somewhere-else")

    foreign = projections.get(
        "/api/funnel", params={"area_id": region.area}, headers=outsider
    )
    foreign_case = projections.get(
        f"/api/cases/{region.full}/timeline", headers=outsider
    )
    bad_date = projections.get(
        "/api/funnel", params={"as_at": "31 March"}, headers=outsider
    )
    unknown = projections.get(
        "/api/cases/00000000-0000-4000-8000-000000000000/timeline", headers=outsider
    )

    assert foreign.status_code == 403
    assert (
        foreign.json()["message"] == f"Your token does not cover area '{region.area}'."
    )
    assert foreign_case.status_code == 403
    assert bad_date.status_code == 422
    assert bad_date.json()["fields"][0]["field"].endswith("as_at")
    assert unknown.status_code == 404


def test_the_pages_show_the_same_figures_as_the_api(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    settled_funnel(projections, region, lead)
    token = lead["Authorization"].removeprefix("Bearer ")
    signed = projections.post("/sign-in", data={"token": token})
    assert signed.status_code == 303
    cookies = signed.cookies
    query = {"area_id": region.area}

    home = projections.get("/", params=query, cookies=cookies)
    funnel = projections.get("/funnel", params=query, cookies=cookies)
    case = projections.get(f"/cases/{region.full}", cookies=cookies)

    assert home.status_code == 200
    assert "id='queue-awaiting_triage'>1<" in home.text
    assert "id='queue-overdue'>2<" in home.text
    assert "id='funnel-received'>4<" in funnel.text
    assert "<svg" in funnel.text
    assert "<script" not in funnel.text
    assert "http://" not in funnel.text.replace("http://www.w3.org/2000/svg", "")
    assert "ReviewCompleted" in case.text


def test_a_page_of_another_area_is_refused_in_words(
    projections: httpx.Client, region: Region, tokens: Tokens
) -> None:
    outsider = tokens.bearer(Role.PROGRAMME_LEAD, "somewhere-else")
    token = outsider["Authorization"].removeprefix("Bearer ")
    cookies = projections.post("/sign-in", data={"token": token}).cookies

    page = projections.get("/", params={"area_id": region.area}, cookies=cookies)
    case = projections.get(f"/cases/{region.full}", cookies=cookies)

    assert page.status_code == 403
    assert f"Your token does not cover area &#x27;{region.area}&#x27;." in page.text
    assert case.status_code == 403


def test_the_filter_form_sent_with_empty_fields_shows_the_page(
    projections: httpx.Client, region: Region, lead: Headers
) -> None:
    token = lead["Authorization"].removeprefix("Bearer ")
    cookies = projections.post("/sign-in", data={"token": token}).cookies
    empty = {"area_id": region.area, "setting_id": "", "since": "", "until": "",
             "as_at": ""}  # fmt: skip

    shown = projections.get("/funnel", params=empty, cookies=cookies)
    unreadable = projections.get(
        "/funnel", params={**empty, "as_at": "31 March"}, cookies=cookies
    )

    assert shown.status_code == 200
    assert unreadable.status_code == 422
    assert "The as at date must be written like 2026-03-31." in unreadable.text
