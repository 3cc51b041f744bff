"""The governance report for a seeded area, through the real services.

The area, its briefing and training, four referrals, their consents and
triage decisions are all recorded through the services' APIs; the report is
then asked for in HTML, PDF and CSV, over HTTP and from the CLI, and its
figures are checked against what was seeded.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from helpers import Tokens, eventually, new_area, referral_body
from prre_contracts import Actor, Event, EventEnvelope, examples
from prre_projections.audit import APP_ROLE
from prre_projections.cli import app as projections_cli
from prre_projections.report import Period, fold
from prre_projections.report import figures as figures_of
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

DECLINE_REASON = "Needs are met by the school's own speech and language plan"
TODAY = date.today()
PERIOD = {"from": str(TODAY - timedelta(days=30)), "to": str(TODAY + timedelta(days=1))}


@pytest.fixture(scope="module")
def apis(running: Stack) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        name: httpx.Client(base_url=running.url(name), timeout=30)
        for name in ("referral", "triage", "projections")
    }
    yield clients
    for client in clients.values():
        client.close()


def _triage(apis: dict[str, httpx.Client], lead: dict[str, str], path: str,
            body: dict[str, Any]) -> None:  # fmt: skip
    answers: list[httpx.Response] = []

    def decided() -> bool:
        answers.append(apis["triage"].post(path, json=body, headers=lead))
        # 404 or 409 until triage has heard of the referral and screened it.
        assert answers[-1].status_code in (200, 404, 409), answers[-1].text
        return answers[-1].status_code == 200

    try:
        eventually(decided, timeout=90)
    except AssertionError as error:
        raise AssertionError(answers[-1].text) from error


@pytest.fixture(scope="module")
def area(apis: dict[str, httpx.Client], tokens: Tokens) -> str:
    """Two settings; oak briefed (4 a term) and trained; 3 referrals from oak,
    1 from elm; 3 consents; 2 accepted, 1 declined."""
    area_id = new_area(apis["referral"], tokens, "oak", "elm")
    admin = tokens.bearer(Role.REGIONAL_ADMIN, "*")
    for path, body in [
        ("briefings", {"setting_id": "oak", "delivered_on": str(TODAY),
                       "attendees": 12, "expected_referrals_per_term": 4}),
        ("sessions", {"kind": "training", "topic": "Spotting language needs",
                      "delivered_on": str(TODAY), "attendees_by_setting": {"oak": 9}}),
    ]:  # fmt: skip
        response = apis["referral"].post(
            f"/areas/{area_id}/{path}", json=body, headers=admin
        )
        assert response.status_code == 201, response.text
    referrer = tokens.bearer(Role.REFERRER, area_id, subject="teacher@oak.example")
    ids = []
    for setting in ("oak", "oak", "oak", "elm"):
        received = apis["referral"].post(
            "/referrals", json=referral_body(area_id, setting), headers=referrer
        )
        assert received.status_code == 201, received.text
        ids.append(received.json()["referral_id"])
    for referral_id in ids[:3]:
        confirmed = apis["referral"].post(
            f"/referrals/{referral_id}/consent/confirm",
            json={"by": "parent"},
            headers=referrer,
        )
        assert confirmed.status_code == 200, confirmed.text
    lead = tokens.bearer(Role.TRIAGE_LEAD, area_id)
    for referral_id in ids[:2]:
        _triage(apis, lead, f"/referrals/{referral_id}/triage/accept",
                {"priority": "routine"})  # fmt: skip
    _triage(apis, lead, f"/referrals/{ids[3]}/triage/decline",
            {"reason": DECLINE_REASON, "signposting": ["School SENCo"]})  # fmt: skip
    return area_id


def story_envelope(event: Event, seq: int) -> EventEnvelope:
    """The envelope of one example event, as the audit trail would hold it."""
    occurred = datetime(2025, 4, 1, tzinfo=UTC) + timedelta(hours=seq)
    return EventEnvelope(
        event_id=uuid.uuid4(), event_type=event.event_type,
        schema_version=event.schema_version, source=event.publisher,
        area_id=event.area_id, partition_key=event.partition_key(),
        aggregate_id=uuid.uuid4(), aggregate_version=seq, occurred_at=occurred,
        recorded_at=occurred, actor=Actor(subject="t@example.org", role="clinician"),
        correlation_id=uuid.uuid4(), data=event.model_dump(mode="json"),
    )  # fmt: skip


def csv_figures(text: str) -> dict[tuple[str, str], list[str]]:
    """CSV rows keyed by (section, first column)."""
    return {(row[0], row[1]): row[2:] for row in csv.reader(io.StringIO(text))}


def report(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str, format: str
) -> httpx.Response:
    return apis["projections"].get(
        "/api/reports/governance",
        params={"area_id": area, "format": format, **PERIOD},
        headers=tokens.bearer(Role.GOVERNANCE, area),
    )


@pytest.fixture(scope="module")
def figures(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> dict[tuple[str, str], list[str]]:
    """The CSV report once every seeded fact has reached the audit trail."""

    answers: list[httpx.Response] = []

    def complete() -> dict[tuple[str, str], list[str]] | None:
        answers.append(report(apis, tokens, area, "csv"))
        if answers[-1].status_code != 200:
            return None
        rows = csv_figures(answers[-1].text)
        done = (
            rows[("funnel", "triaged")][0] == "3"
            and rows[("funnel", "consented")][0] == "3"
        )
        return rows if done else None

    try:
        return eventually(complete, timeout=90)
    except AssertionError as error:
        raise AssertionError(answers[-1].text) from error


def test_the_csv_report_counts_the_seeded_referrals_stage_by_stage(
    figures: dict[tuple[str, str], list[str]],
) -> None:
    counts = {stage: figures[("funnel", stage)][0] for stage in
              ("received", "triaged", "accepted", "consented", "assessed")}  # fmt: skip
    assert counts == {"received": "4", "triaged": "3", "accepted": "2",
                      "consented": "3", "assessed": "0"}  # fmt: skip
    assert figures[("funnel", "accepted")][1] == "67%"  # 2 of the 3 triaged
    assert figures[("summary", "Referrals received")] == ["4"]
    assert figures[("declines", DECLINE_REASON)] == ["1"]


def test_the_report_shows_volumes_against_the_briefing_and_the_activity(
    figures: dict[tuple[str, str], list[str]],
) -> None:
    assert figures[("volumes", "oak school")] == ["3", "4", "75%"]
    assert figures[("volumes", "elm school")][:2] == [
        "1",
        "\u2013",
    ]  # no briefing, no expected volume
    assert figures[("programme", "training")][0] == "Spotting language needs"
    assert figures[("programme", "briefing")][1].endswith("12 attended")
    assert figures[("timeliness", "triage")][0] == "3"  # three decisions timed


def test_the_html_report_is_a_page_with_charts_and_notes(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str,
    figures: dict[tuple[str, str], list[str]],
) -> None:  # fmt: skip
    page = report(apis, tokens, area, "html")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 4  # funnel, timeliness, volumes, outcomes
    assert "Working days each stage took" in page.text
    assert "<b>4</b>Referrals received" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")


def pdf_text(pdf: bytes) -> str:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    return b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x").decode(
        "latin-1"
    )


def test_the_pdf_report_is_a_board_pack(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str,
    figures: dict[tuple[str, str], list[str]],
) -> None:  # fmt: skip
    pdf = report(apis, tokens, area, "pdf")

    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = pdf_text(pdf.content)
    assert "Headline figures" in text
    assert "Why referrals were declined" in text
    assert "Volumes against expected" in text


def test_the_cli_writes_the_report_in_every_format(
    running: Stack, area: str, tmp_path: Path,
    figures: dict[tuple[str, str], list[str]],
) -> None:  # fmt: skip
    runner = CliRunner()
    for format in ("html", "pdf", "csv"):
        out = tmp_path / f"report.{format}"
        result = runner.invoke(projections_cli, [
            "report", "--area", area, "--from", PERIOD["from"], "--to", PERIOD["to"],
            "--format", format, "--out", str(out),
            "--database-url", running.database_urls["projections"],
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "4 referrals received" in result.output
        assert out.stat().st_size > 500
    assert (
        csv_figures((tmp_path / "report.csv").read_text())[("funnel", "accepted")][0]
        == "2"
    )


def test_another_areas_token_is_refused(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    response = apis["projections"].get(
        "/api/reports/governance",
        params={"area_id": area, **PERIOD},
        headers=tokens.bearer(Role.GOVERNANCE, "somewhere-else"),
    )
    assert response.status_code == 403


def test_a_period_that_ends_before_it_starts_is_refused(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    response = apis["projections"].get(
        "/api/reports/governance",
        params={"area_id": area, "from": PERIOD["to"], "to": PERIOD["from"]},
        headers=tokens.bearer(Role.GOVERNANCE, area),
    )
    assert response.status_code == 409
    assert response.json()["message"] == (
        "The period ends before it starts: swap from and to."
    )


def test_an_unknown_format_names_the_field(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    response = report(apis, tokens, area, "docx")
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"].endswith("format")


def test_the_rebuild_command_rebuilds_the_read_models_to_the_same_figures(
    running: Stack, apis: dict[str, httpx.Client], tokens: Tokens, area: str,
    figures: dict[tuple[str, str], list[str]],
) -> None:  # fmt: skip
    def dashboard_funnel() -> list[tuple[str, int]]:
        response = apis["projections"].get(
            "/api/funnel", params={"area_id": area},
            headers=tokens.bearer(Role.GOVERNANCE, area),
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return [(step["step"], step["count"]) for step in response.json()["steps"]]

    before = dashboard_funnel()
    url = running.database_urls["projections"]

    result = CliRunner().invoke(projections_cli, ["rebuild", "--database-url", url])

    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert re.search(r"Rebuilt from \d+ events \(0 unreadable, skipped\)", said)
    assert dashboard_funnel() == before
    assert before[0] == ("received", 4)


def test_a_whole_case_gives_timeliness_breaches_and_outcomes() -> None:
    """The catalogue's example story (one case, referral to review), folded as
    the report folds the audit trail: the figures no API seeding above reaches."""
    story = [
        (seq, "0" * 64, story_envelope(event, seq), event)
        for seq, event in enumerate(examples.all_examples(), start=1)
    ]
    period = Period(date(2025, 9, 1), date(2025, 12, 31), "2025 autumn")

    made = figures_of(fold(examples.AREA, story, period.end), period, datetime.now(UTC))

    triage = next(s for s in made.timeliness if s.stage == "triage")
    assert (triage.cases, triage.median_days, triage.target_days) == (1, 4, 5)
    [breach] = made.breaches
    assert (breach.stage, breach.target_days, breach.elapsed_days) == ("triage", 5, 6)
    assert breach.reasons == ("more information requested (2025-09-16)",)
    assert made.outcomes.attendance_before == examples.BASELINE.attendance_percent
    assert made.outcomes.exclusion_better == 1
    assert [s.title for s in made.sessions] == ["Spotting communication needs"]


def test_the_running_service_cannot_rewrite_the_trail_it_verifies(
    running: Stack, figures: dict[tuple[str, str], list[str]]
) -> None:
    url = running.database_urls["projections"]
    with psycopg.connect(url, autocommit=True) as service_role:
        assert service_role.info.user == APP_ROLE
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            service_role.execute("UPDATE audit_trail SET actor_subject = 'x'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            service_role.execute("DELETE FROM audit_trail")

    result = CliRunner().invoke(projections_cli, ["verify", "--database-url", url])

    assert result.exit_code == 0, result.output
    assert "The audit trail is intact" in result.output


def test_an_unknown_school_term_is_named_in_the_answer(
    apis: dict[str, httpx.Client], tokens: Tokens, area: str
) -> None:
    response = apis["projections"].get(
        "/api/reports/governance",
        params={"area_id": area, "term": "2031/32 Autumn"},
        headers=tokens.bearer(Role.GOVERNANCE, area),
    )
    assert response.status_code == 404
    assert response.json()["message"] == (
        "No school term '2031/32 Autumn' for this area (known: none recorded)."
    )
