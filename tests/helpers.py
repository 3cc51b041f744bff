"""Helpers the test tiers share: tokens, polling and reading topics back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from prre_runtime.identity import Role, issue_token
from prre_runtime.kafka import stop_reader

T = TypeVar("T")


@dataclass(frozen=True)
class Tokens:
    secret: str

    def bearer(
        self, role: Role, *areas: str, subject: str = "tester@example.org"
    ) -> dict[str, str]:
        token = issue_token(
            self.secret, subject=subject, role=role, areas=areas, now=datetime.now(UTC)
        )
        return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def read_topic(
    bootstrap: str, topic: str, expected: int, within: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` from the start, once ``expected`` are there."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await reader.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=300)
            for partition_records in batch.values():
                records.extend(partition_records)
            if len(records) >= expected and not batch:
                break
    finally:
        await stop_reader(reader)
    return records


def new_area(client: httpx.Client, tokens: Tokens, *settings: str) -> str:
    """Register an area with criteria and the given settings; return its id."""
    area_id = unique("area")
    admin = tokens.bearer(Role.REGIONAL_ADMIN, "*")
    created = client.post(
        "/areas",
        json={"area_id": area_id, "name": area_id, "nation": "england"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    criteria = {"criteria": ["Child at risk of exclusion with communication needs"]}
    assert (
        client.post(
            f"/areas/{area_id}/criteria", json=criteria, headers=admin
        ).status_code
        == 201
    )
    for setting_id in settings:
        enrolment = {
            "setting_id": setting_id,
            "name": f"{setting_id} school",
            "kind": "school",
            "lead_name": "A Lead",
        }
        response = client.post(
            f"/areas/{area_id}/settings", json=enrolment, headers=admin
        )
        assert response.status_code == 201, response.text
    return area_id


def referral_body(area_id: str, setting_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "area_id": area_id,
        "setting_id": setting_id,
        "child": {
            "given_name": "Alex",
            "family_name": "Example",
            "date_of_birth": "2013-02-14",
        },
        "concerns": ["Struggles to follow instructions in class"],
        "baseline": {
            "attendance_percent": 82.5,
            "suspensions_this_year": 2,
            "exclusion_status": "at-risk",
        },
        "year_group": 8,
    }
    body.update(overrides)
    return body
