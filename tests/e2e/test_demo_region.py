"""The demo region, built through the real services, ends every case as its
branch of the pathway says it should.

This is the whole pathway end to end across real processes: referrals go
through triage (declined, more information, accepted), consent (refused,
withdrawn after booking), assessment (missed and rebooked), reports (amended),
feedback meetings and action plans, and reviews that close, continue support
or re-refer; each case's final state is then read back from the services.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from helpers import Tokens, eventually
from prre_runtime.demo import Case, Demo, DemoError, Services
from prre_runtime.identity import Role
from prre_runtime.stack import Stack

pytestmark = pytest.mark.slow

CLOSED_REASONS = {
    "declined",
    "consent-refused",
    "consent-withdrawn",
    "completed",
    "re-referred",
    "withdrawn-by-referrer",
}


@pytest.fixture(scope="module")
def region(running: Stack) -> list[Case]:
    urls = {name: running.url(name) for name in running.services if "#" not in name}
    services = Services(urls, running.token_secret)
    try:
        return Demo(services, date.today(), seed=11, area_prefix="demo-").run(36)
    finally:
        services.close()


def referral(running: Stack, tokens: Tokens, case: Case, rid: str) -> dict[str, Any]:
    response = httpx.get(
        f"{running.url('referral')}/referrals/{rid}",
        headers=tokens.bearer(Role.PROGRAMME_LEAD, case.area.area_id),
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_the_region_takes_cases_down_every_branch(region: list[Case]) -> None:
    ended = {case.ended for case in region}
    assert ended >= CLOSED_REASONS, f"branches never finished: {CLOSED_REASONS - ended}"
    assert "further-support" in ended


def test_every_finished_case_is_closed_with_its_reason(
    region: list[Case], running: Stack, tokens: Tokens
) -> None:
    for case in (c for c in region if c.ended in CLOSED_REASONS):

        def closed_as_ended(case: Case = case) -> bool:
            view = referral(running, tokens, case, case.referral_id)
            return bool(view["closed_reason"] == case.ended)

        eventually(closed_as_ended)


def test_further_support_keeps_the_case_open(
    region: list[Case], running: Stack, tokens: Tokens
) -> None:
    for case in (c for c in region if c.ended == "further-support"):
        view = referral(running, tokens, case, case.referral_id)
        assert view["closed_reason"] is None
        assert view["consent"] == "confirmed"


def test_a_re_referral_names_the_same_child(
    region: list[Case], running: Stack, tokens: Tokens
) -> None:
    rereferred = [c for c in region if c.ended == "re-referred" and c.rereferral_id]
    assert rereferred
    for case in rereferred:
        first = referral(running, tokens, case, case.referral_id)
        again = referral(running, tokens, case, case.rereferral_id)
        assert again["child_ref"] == first["child_ref"]
        assert again["closed_reason"] is None


def test_amended_reports_keep_both_versions(
    region: list[Case], running: Stack, tokens: Tokens
) -> None:
    amended = [c for c in region if c.branch == "report-amended" and c.ended]
    assert amended
    for case in amended:
        headers = tokens.bearer(Role.CLINICIAN, case.area.area_id)
        base = f"{running.url('assessment')}/assessments/{case.referral_id}"
        for version in (1, 2):
            download = httpx.get(f"{base}/report/versions/{version}", headers=headers)
            assert download.status_code == 200, download.text
        assert "Recommendations for home" in download.text


def test_the_dashboard_counts_what_the_region_received(
    region: list[Case], running: Stack, tokens: Tokens
) -> None:
    area = region[0].area.area_id
    received = sum(1 + bool(c.rereferral_id) for c in region if c.area.area_id == area)

    def funnel_received() -> bool:
        response = httpx.get(
            f"{running.url('projections')}/api/funnel",
            params={"area_id": area},
            headers=tokens.bearer(Role.GOVERNANCE, area),
        )
        assert response.status_code == 200, response.text
        steps = {step["step"]: step["count"] for step in response.json()["steps"]}
        return bool(steps["received"] == received)

    eventually(funnel_received, timeout=60)


def test_loading_the_demo_twice_says_how_to_load_another(
    region: list[Case], running: Stack
) -> None:
    urls = {name: running.url(name) for name in running.services if "#" not in name}
    services = Services(urls, running.token_secret)
    try:
        with pytest.raises(DemoError, match=r"already loaded.*--prefix"):
            Demo(services, date.today(), seed=11, area_prefix="demo-").run(3)
    finally:
        services.close()
