"""An area from nothing to scale, across the real service processes.

One story, in order: mobilisation step by step (the checklist shrinking and
referrals refused until it is done), a pilot term with two settings, the
evaluation, scale with a third setting under a service-level arrangement, and
a change of triage thresholds that leaves an earlier decision on the version
it used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from helpers import (
    RESPONSE_TIMES,
    THRESHOLDS,
    Tokens,
    eventually,
    referral_body,
    unique,
)
from prre_referral.cli import app as region_cli
from prre_runtime.clock import FileClock
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

CRITERIA = ["At risk of exclusion", "Suspected communication need"]


@pytest.fixture(scope="module")
def referral_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("referral"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def triage_api(running: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("triage"), timeout=30) as client:
        yield client


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=UTC)


class Programme:
    """A programme lead's calls for one area, checking each answer's status."""

    def __init__(self, client: httpx.Client, tokens: Tokens, area_id: str) -> None:
        self.client, self.area_id = client, area_id
        self.lead = tokens.bearer(Role.PROGRAMME_LEAD, area_id, subject="lead@x.org")

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        response = self.client.post(
            f"/areas/{self.area_id}{path}", json=body, headers=self.lead
        )
        assert response.status_code == status, response.text
        return response.json()

    def get(self, path: str = "") -> Any:
        response = self.client.get(f"/areas/{self.area_id}{path}", headers=self.lead)
        assert response.status_code == 200, response.text
        return response.json()

    def missing(self) -> list[str]:
        readiness = self.get("/readiness")
        assert readiness["ready"] is (not readiness["missing"])
        return list(readiness["missing"])


def refer(
    client: httpx.Client, tokens: Tokens, area_id: str, setting_id: str, **body: Any
) -> httpx.Response:
    referrer = tokens.bearer(Role.REFERRER, area_id, subject="referrer@x.org")
    body = {"criteria_met": CRITERIA, **body}
    return client.post(
        "/referrals", json=referral_body(area_id, setting_id, **body), headers=referrer
    )


def screening(
    triage_api: httpx.Client, tokens: Tokens, area_id: str, referral_id: str
) -> dict[str, Any]:
    lead = tokens.bearer(Role.TRIAGE_LEAD, area_id)

    def screened() -> dict[str, Any] | None:
        response = triage_api.get(f"/referrals/{referral_id}/triage", headers=lead)
        return response.json() if response.status_code == 200 else None

    return eventually(screened)


def setting(setting_id: str, urn: str, **extra: Any) -> dict[str, Any]:
    return {
        "setting_id": setting_id,
        "name": f"{setting_id.title()} Academy",
        "kind": "school",
        "urn": urn,
        "lead_name": f"Lead of {setting_id}",
        **extra,
    }


def mobilise_step_by_step(
    programme: Programme, referral_api: httpx.Client, tokens: Tokens
) -> None:
    """Each checklist item in turn; the area refuses to move on until the end."""
    steps: list[tuple[str, dict[str, Any], str]] = [
        (
            "/governance",
            {
                "sponsor_name": "Director of Children's Services",
                "yjs_board_approved_on": "2025-01-20",
                "education_partnership": "Vale Schools Partnership",
                "education_partnership_approved_on": "2025-02-04",
            },
            "sponsorship and governance (YJS board and education partnership)",
        ),
        (
            "/slt-delivery-model",
            {
                "delivery_model": "commissioned",
                "provider": "Vale Community NHS Trust",
                "clinical_governance_lead_name": "Dr Ama Mensah",
                "agreed_on": "2025-02-10",
            },
            "SLT delivery model",
        ),
        (
            "/information-sharing-agreement",
            {
                "reference": "ISA-VALE-2025",
                "parties": ["Vale Council", "Vale Community NHS Trust"],
                "lawful_basis": "UK GDPR 6(1)(e) public task; 9(2)(h)",
                "retention_months": 84,
                "signed_on": "2025-02-17",
                "review_on": "2026-02-17",
            },
            "information-sharing agreement",
        ),
        (
            "/criteria",
            {"criteria": CRITERIA},
            "referral criteria",
        ),
        ("/triage-thresholds", THRESHOLDS, "triage thresholds"),
        ("/response-times", {"working_days": RESPONSE_TIMES}, "response times"),
        ("/settings", setting("oak", "100001"), "at least one enrolled pilot setting"),
    ]
    for path, body, item in steps:
        before = programme.missing()
        assert item in before
        refused = refer(referral_api, tokens, programme.area_id, "oak")
        assert refused.status_code == 409, refused.text
        assert "cannot accept referrals" in refused.json()["message"]
        assert item in refused.json()["message"]
        blocked = programme.post("/phase", {"to_phase": "pilot"}, status=409)
        assert item in blocked["message"]
        programme.post(path, body)
        assert programme.missing() == [i for i in before if i != item]


def test_an_area_goes_from_mobilisation_to_scale(
    referral_api: httpx.Client,
    triage_api: httpx.Client,
    tokens: Tokens,
    clock: FileClock,
) -> None:
    clock.set(at("2025-03-03"))
    area_id = unique("vale")
    admin = tokens.bearer(Role.REGIONAL_ADMIN, area_id)
    registered = referral_api.post(
        "/areas",
        json={"area_id": area_id, "name": "Vale", "nation": "wales"},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    programme = Programme(referral_api, tokens, area_id)
    assert len(programme.missing()) == 7

    # Mobilisation.
    mobilise_step_by_step(programme, referral_api, tokens)
    still = refer(referral_api, tokens, area_id, "oak")
    assert still.status_code == 409
    assert "must move it to pilot" in still.json()["message"]
    programme.post("/settings", setting("elm", "100002"))
    programme.post(
        "/term-dates",
        {
            "academic_year": "2024/25",
            "terms": [
                {"name": "Spring", "starts_on": "2025-01-06", "ends_on": "2025-04-04"},
                {"name": "Summer", "starts_on": "2025-04-22", "ends_on": "2025-07-18"},
            ],
        },
    )
    new_lead = programme.post("/settings/elm/lead", {"lead_name": "Kim Lee"}, 200)
    assert (new_lead["lead_name"], new_lead["urn"]) == ("Kim Lee", "100002")
    moved = programme.post("/phase", {"to_phase": "pilot"}, status=200)
    assert moved["phase"] == "pilot"

    # Pilot term with two settings.
    programme.post(
        "/briefings",
        {"setting_id": "oak", "delivered_on": "2025-03-04", "attendees": 23,
         "expected_referrals_per_term": 6},
    )  # fmt: skip
    programme.post(
        "/briefings",
        {"setting_id": "elm", "delivered_on": "2025-03-05", "attendees": 17,
         "expected_referrals_per_term": 4},
    )  # fmt: skip
    training = programme.post(
        "/sessions",
        {"kind": "training", "topic": "Spotting language needs",
         "delivered_on": "2025-03-06", "attendees_by_setting": {"oak": 12, "elm": 9},
         "other_attendees": 3},
    )  # fmt: skip
    assert training["attendees"] == 24
    clock.set(at("2025-03-10"))
    first = refer(referral_api, tokens, area_id, "oak")
    assert first.status_code == 201, first.text
    first_id = first.json()["referral_id"]
    first_screening = screening(triage_api, tokens, area_id, first_id)["screening"]
    # Attendance 82.5% is below version 1's 90%: suggested urgent.
    assert first_screening["thresholds_version"] == 1
    assert first_screening["suggested_priority"] == "urgent"
    accepted = triage_api.post(
        f"/referrals/{first_id}/triage/accept",
        json={"priority": "urgent"},
        headers=tokens.bearer(Role.TRIAGE_LEAD, area_id),
    )
    assert accepted.status_code == 200, accepted.text

    # Evaluation and scale.
    clock.set(at("2025-07-14"))
    early = programme.post("/phase", {"to_phase": "scale"}, status=409)
    assert early["message"] == (
        f"Area '{area_id}' cannot move to scale before its pilot evaluation is "
        "recorded (date, who approved it, summary and the governance report it "
        "was based on)."
    )
    programme.post(
        "/pilot-evaluation",
        {"evaluated_on": "2025-07-14", "approved_by": "Chair, Vale YJS Board",
         "summary": "Both schools referred as expected; triage within target.",
         "recommendation": "proceed-to-scale",
         "governance_report": "https://reports.example.org/vale/2025-07"},
    )  # fmt: skip
    clock.set(at("2025-09-01"))
    assert programme.post("/phase", {"to_phase": "scale"}, status=200)["phase"] == (
        "scale"
    )
    unarranged = programme.post("/settings", setting("ash", "100003"), status=409)
    assert "service-level arrangement" in unarranged["message"]
    sla = {"reference": "SLA-ASH-1", "starts_on": "2025-09-01",
           "ends_on": "2026-07-17", "terms": "Six assessments a term",
           "assessments_per_term": 6}  # fmt: skip
    ash = programme.post(
        "/settings", setting("ash", "100003", service_level_arrangement=sla)
    )
    assert ash["service_level_arrangement"]["reference"] == "SLA-ASH-1"
    cycle = programme.post(
        "/commissioning-cycles",
        {"commissioner": "Vale Council", "starts_on": "2025-09-01",
         "length_months": 12},
    )  # fmt: skip
    assert cycle["report_due_on"] == "2026-08-31"
    unknown_cycle = programme.post(
        "/governance-reports",
        {"cycle_id": "2024-09", "board": "Vale YJS Board",
         "presented_on": "2025-09-01"},
        status=409,
    )  # fmt: skip
    assert unknown_cycle["message"] == (
        f"Area '{area_id}' has no commissioning cycle '2024-09' (cycles: "
        "2025-09); open the cycle first."
    )

    # New thresholds from 8 September; the earlier decision keeps version 1.
    stricter = {"attendance_below_percent": 75, "suspensions_at_least": 4,
                "exclusion_statuses": ["permanently-excluded"],
                "effective_from": "2025-09-08"}  # fmt: skip
    assert programme.post("/triage-thresholds", stricter)["version"] == 2
    clock.set(at("2025-09-08"))
    second = refer(referral_api, tokens, area_id, "ash")
    assert second.status_code == 201, second.text
    second_record = screening(triage_api, tokens, area_id, second.json()["referral_id"])
    assert second_record["screening"]["thresholds_version"] == 2
    assert second_record["screening"]["suggested_priority"] == "routine"
    first_record = screening(triage_api, tokens, area_id, first_id)
    assert first_record["screening"]["thresholds_version"] == 1
    assert first_record["decision"]["priority"] == "urgent"

    # What the programme lead reads back.
    area = programme.get()
    assert area["phase"] == "scale"
    assert area["nation"] == "wales"
    assert [p["to_phase"] for p in area["phase_history"]] == ["pilot", "scale"]
    assert [s["setting_id"] for s in area["settings"]] == ["oak", "elm", "ash"]
    assert [b["expected_referrals_per_term"] for b in area["briefings"]] == [6, 4]
    assert area["pilot_evaluations"][0]["approved_by"] == "Chair, Vale YJS Board"
    in_march = programme.get("/policy?on=2025-03-10")
    assert in_march["triage_thresholds"]["version"] == 1
    assert programme.get("/policy")["triage_thresholds"]["version"] == 2


def test_bad_programme_input_names_the_field(
    referral_api: httpx.Client, tokens: Tokens
) -> None:
    area_id = unique("bad")
    admin = tokens.bearer(Role.REGIONAL_ADMIN, area_id)
    registered = referral_api.post(
        "/areas",
        json={"area_id": area_id, "name": "Bad", "nation": "england"},
        headers=admin,
    )
    assert registered.status_code == 201
    again = referral_api.post(
        "/areas",
        json={"area_id": area_id, "name": "Bad", "nation": "england"},
        headers=admin,
    )
    assert again.status_code == 409
    assert again.json()["message"] == f"Area '{area_id}' is already registered."
    programme = Programme(referral_api, tokens, area_id)

    agreement = programme.post(
        "/information-sharing-agreement",
        {"reference": "ISA", "parties": ["Council", "Trust"], "lawful_basis": "Task",
         "retention_months": 0, "signed_on": "2025-02-17", "review_on": "2024-02-17"},
        status=422,
    )  # fmt: skip
    times = programme.post(
        "/response-times", {"working_days": {"triage": 5, "lunch": 3}}, status=422
    )
    missing_stage = programme.post(
        "/response-times", {"working_days": {"triage": 5}}, status=409
    )

    assert {f["field"] for f in agreement["fields"]} == {
        "retention_months",
        "review_on",
    }
    assert [f["field"] for f in times["fields"]] == ["working_days.lunch.[key]"]
    assert missing_stage["message"] == (
        "Response times need a target for every stage of the pathway; missing: "
        "consent, assessment, report, feedback, review."
    )
    unknown = referral_api.get(
        "/areas/no-such-area/readiness",
        headers=tokens.bearer(Role.REGIONAL_ADMIN, "*"),
    )
    assert unknown.status_code == 404


EXAMPLE_REGION = Path(__file__).resolve().parents[2] / "docs" / "region.example.yaml"


def prre_region(running: Stack, token: str, *args: str) -> Result:
    """Run ``prre region`` in-process against the running referral service."""
    url = running.url("referral")
    return CliRunner().invoke(region_cli, [*args, "--url", url, "--token", token])


def test_prre_region_apply_sets_up_the_example_region_once(
    running: Stack, referral_api: httpx.Client, tokens: Tokens, tmp_path: Path
) -> None:
    admin = tokens.bearer(Role.REGIONAL_ADMIN, "*")
    token = admin["Authorization"].removeprefix("Bearer ")

    planned = prre_region(running, token, "apply", str(EXAMPLE_REGION), "--dry-run")
    first = prre_region(running, token, "apply", str(EXAMPLE_REGION))
    again = prre_region(running, token, "apply", str(EXAMPLE_REGION))

    assert planned.exit_code == 0, planned.output
    assert "north-vale: 11 change(s)" in planned.output
    assert "south-moor: 2 change(s)" in planned.output
    assert "POST /areas/north-vale/phase  (move to pilot)" in planned.output
    assert first.exit_code == 0, first.output
    assert "north-vale: move to pilot" in first.output
    assert "Region applied: 13 change(s) across 2 area(s)" in first.output
    assert again.exit_code == 0, again.output
    assert "Region applied: 0 change(s) across 2 area(s)" in again.output
    north = referral_api.get("/areas/north-vale", headers=admin).json()
    south = referral_api.get("/areas/south-moor/readiness", headers=admin).json()
    assert north["phase"] == "pilot"
    assert [s["urn"] for s in north["settings"]] == ["137001", "137002"]
    assert list(north["term_dates"]) == ["2024/25"]
    assert (south["phase"], len(south["missing"])) == ("mobilisation", 6)

    # South Moor asked to reach pilot with its checklist unfinished.
    too_soon = tmp_path / "region.json"
    too_soon.write_text(
        json.dumps({"areas": [{"area_id": "south-moor", "phase": "pilot"}]})
    )
    refused = prre_region(running, token, "apply", str(too_soon))
    assert refused.exit_code == 1
    assert "south-moor: move to pilot refused (409): Area 'south-moor' cannot " in (
        " ".join(refused.output.split())
    )
    missing = prre_region(running, token, "apply", str(tmp_path / "nothing.yaml"))
    assert missing.exit_code == 1
    assert "Cannot read" in missing.output
