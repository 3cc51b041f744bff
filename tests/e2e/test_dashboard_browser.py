"""The dashboard in a real browser: headless system Chromium driven by Playwright.

A programme lead signs in with a token, reads the morning's queues and the
funnel for the seeded area, opens a case's timeline, and every page is saved
as a screenshot under test-artefacts/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail(
            "The dashboard's browser test needs the system Chromium: install "
            "Debian's `chromium` package (as .ci/run does) and run it again."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def region(running: Stack, tokens: Tokens, clock: FileClock) -> Region:
    seeded = seeded_region(running, tokens)
    clock.set(nine_am(REVIEW_DAY))
    return seeded


def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_lead_signs_in_reads_the_figures_and_opens_a_case_timeline(
    running: Stack, tokens: Tokens, region: Region, browser: Browser
) -> None:
    lead = tokens.bearer(Role.PROGRAMME_LEAD, region.area, subject="lead@yjs.example")
    with httpx.Client(base_url=running.url("projections"), timeout=60) as api:
        settled_funnel(api, region, lead)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    base = running.url("projections")

    page.goto(f"{base}/")
    page.fill("input[name=token]", lead["Authorization"].removeprefix("Bearer "))
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    page.goto(f"{base}/?area_id={region.area}")
    snap(page, "caseload")
    awaiting_triage = page.inner_text("#queue-awaiting_triage")
    overdue = page.inner_text("#queue-overdue")
    page.click("#queue-overdue")
    snap(page, "caseload-overdue")
    overdue_rows = page.locator("section tbody tr").count()

    page.click("nav >> text=Funnel")
    snap(page, "funnel")
    received = page.inner_text("#funnel-received")
    reviewed = page.inner_text("#funnel-reviewed")

    for name in ("Timeliness", "Volumes", "Outcomes", "Programme"):
        page.click(f"nav >> text={name}")
        snap(page, name.lower())
    page.goto(f"{base}/?area_id={region.area}&as_at=2027-01-11")
    snap(page, "caseload-as-at")
    banner = page.inner_text("#as-at")

    page.goto(f"{base}/cases/{region.full}")
    snap(page, "timeline")
    timeline = page.inner_text("#timeline")

    assert (awaiting_triage, overdue, overdue_rows) == ("1", "2", 2)
    assert (received, reviewed) == ("4", "1")
    assert "Mon 11 Jan 2027" in banner
    assert timeline.index("ReferralReceived") < timeline.index("ReviewCompleted")
    assert "lead@yjs.example" in page.inner_text("header")
