"""The load the benchmark drives: referral journeys over the referral service's API.

A journey is what a referrer does for one child: refer them (``POST
/referrals``), then record that a parent consented (``POST
/referrals/{id}/consent/confirm``). Every refused or failed command is kept
with its step, HTTP status and body, so a run under load reports what broke
instead of hiding it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from prre_runtime.demo import CRITERIA, AreaPlan, mobilisation
from prre_runtime.identity import Role, issue_token

SETTING_ID = "bench-school"
Poll = Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]]
HTTP_TIMEOUT = 60.0


class JourneyFailed(Exception):
    """One command of a journey was refused or never answered."""

    def __init__(self, step: str, status: int | None, body: str) -> None:
        super().__init__(f"{step}: HTTP {status}: {body}")
        self.step = step
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Journeys:
    """How to talk to the referral service as the benchmark's area and referrer."""

    base_url: str
    token_secret: str
    area_id: str

    def bearer(self, role: Role, *areas: str) -> dict[str, str]:
        token = issue_token(
            self.token_secret,
            subject=f"bench-{role.value}@example.org",
            role=role,
            areas=areas,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    def client(self, connections: int = 1) -> httpx.AsyncClient:
        """A client acting as a referrer of the benchmark's area."""
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.bearer(Role.REFERRER, self.area_id),
            timeout=HTTP_TIMEOUT,
            limits=httpx.Limits(max_connections=connections),
        )

    async def set_up_area(self) -> None:
        """Register the area, complete its mobilisation checklist (as the demo
        region does, with one school) and move it to pilot, as the regional
        admin."""
        admin = self.bearer(Role.REGIONAL_ADMIN, "*")
        plan = AreaPlan(
            self.area_id, "Bench area", "england", "pilot", (SETTING_ID,), 0
        )
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=admin, timeout=HTTP_TIMEOUT
        ) as client:
            area = {"area_id": self.area_id, "name": "Bench area", "nation": "england"}
            await _send(client, "register area", "/areas", area, 201)
            path = f"/areas/{self.area_id}"
            for step, body in mobilisation(plan):
                await _send(client, step.strip("/"), f"{path}{step}", body, 201)
            pilot = {"to_phase": "pilot", "changed_on": "2025-09-01"}
            await _send(client, "move to pilot", f"{path}/phase", pilot, 200)

    async def refer(self, client: httpx.AsyncClient) -> uuid.UUID:
        body = await _send(
            client, "receive referral", "/referrals", referral_body(self.area_id), 201
        )
        return uuid.UUID(body["referral_id"])

    async def confirm_consent(
        self, client: httpx.AsyncClient, referral_id: uuid.UUID
    ) -> None:
        path = f"/referrals/{referral_id}/consent/confirm"
        await _send(client, "confirm consent", path, {"by": "parent"}, 200)


def referral_body(area_id: str) -> dict[str, Any]:
    """A plausible referral of a twelve-year-old; the name is made up."""
    born = date.today() - timedelta(days=12 * 365)
    return {
        "area_id": area_id,
        "setting_id": SETTING_ID,
        "child": {
            "given_name": "Sam",
            "family_name": "Benchmark",
            "date_of_birth": born.isoformat(),
        },
        "concerns": ["Struggles to follow spoken instructions in class"],
        "criteria_met": CRITERIA,
        "baseline": {
            "attendance_percent": 84.0,
            "suspensions_this_year": 1,
            "exclusion_status": "at-risk",
        },
        "year_group": 7,
    }


async def _send(
    client: httpx.AsyncClient, step: str, path: str, body: object, expected: int
) -> dict[str, Any]:
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as error:
        raise JourneyFailed(step, None, f"{type(error).__name__}: {error}") from error
    if response.status_code != expected:
        raise JourneyFailed(step, response.status_code, response.text[:1000])
    answer: dict[str, Any] = response.json()
    return answer


@dataclass
class Outcome:
    """What a batch of journeys produced: referrals made, failures, and timing."""

    started: float
    finished: float = 0.0
    referral_ids: list[uuid.UUID] = field(default_factory=list)
    failures: list[JourneyFailed] = field(default_factory=list)


async def drive_flat_out(
    journeys: Journeys, count: int, concurrency: int, on_done: Callable[[], None]
) -> Outcome:
    """Run ``count`` journeys, each of ``concurrency`` workers with its own client."""
    outcome = Outcome(started=time.perf_counter())
    numbers: Iterator[int] = iter(range(count))

    async def worker() -> None:
        async with journeys.client() as client:
            for _ in numbers:
                await _journey(journeys, client, outcome)
                on_done()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.finished = time.perf_counter()
    return outcome


async def _journey(
    journeys: Journeys,
    client: httpx.AsyncClient,
    outcome: Outcome,
    on_referred: Callable[[uuid.UUID], None] = lambda _: None,
    on_confirmed: Callable[[uuid.UUID], None] = lambda _: None,
) -> None:
    try:
        referral_id = await journeys.refer(client)
        on_referred(referral_id)
        await journeys.confirm_consent(client, referral_id)
        on_confirmed(referral_id)
    except JourneyFailed as failure:
        outcome.failures.append(failure)
        return
    outcome.referral_ids.append(referral_id)


async def drive_paced(
    journeys: Journeys,
    count: int,
    per_second: float,
    watcher: Watcher,
    on_done: Callable[[], None],
) -> Outcome:
    """Start one journey every ``1 / per_second`` seconds, whatever the answers."""
    outcome = Outcome(started=time.perf_counter())
    async with journeys.client(connections=64) as client:

        async def journey() -> None:
            await _journey(
                journeys, client, outcome, watcher.expect_row, watcher.expect_consent
            )
            on_done()

        tasks = []
        for number in range(count):
            await _sleep_until(outcome.started + number / per_second)
            tasks.append(asyncio.create_task(journey()))
        await asyncio.gather(*tasks)
    outcome.finished = time.perf_counter()
    return outcome


async def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


class Watcher:
    """Polls the caseload and times each change from its HTTP answer to its row.

    The time taken is stamped when the poll that first shows the change
    returns, so each figure errs high by at most one poll.
    """

    def __init__(self, poll: Poll) -> None:
        self._poll = poll
        self._rows: dict[uuid.UUID, float] = {}
        self._consents: dict[uuid.UUID, float] = {}
        self.row_ms: list[float] = []
        self.consent_ms: list[float] = []
        self.unseen = 0

    def expect_row(self, referral_id: uuid.UUID) -> None:
        self._rows[referral_id] = time.perf_counter()

    def expect_consent(self, referral_id: uuid.UUID) -> None:
        self._consents[referral_id] = time.perf_counter()

    async def run(self, done: asyncio.Event, patience: float, every: float) -> None:
        """Poll until ``done`` and nothing is pending, or ``patience`` after done."""
        deadline: float | None = None
        while self._rows or self._consents or not done.is_set():
            if done.is_set() and deadline is None:
                deadline = time.perf_counter() + patience
            if deadline is not None and time.perf_counter() > deadline:
                break
            await self._poll_once()
            await asyncio.sleep(every)
        self.unseen = len(self._rows) + len(self._consents)

    async def _poll_once(self) -> None:
        wanted = [*self._rows, *self._consents]
        if not wanted:
            return
        consents = await self._poll(wanted)
        seen_at = time.perf_counter()
        for referral_id, consent in consents.items():
            if referral_id in self._rows:
                self.row_ms.append((seen_at - self._rows.pop(referral_id)) * 1000)
            if consent == "confirmed" and referral_id in self._consents:
                sent_at = self._consents.pop(referral_id)
                self.consent_ms.append((seen_at - sent_at) * 1000)
