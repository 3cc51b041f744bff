"""What triage keeps from the referral service's events, in its own tables.

``triage_criteria`` and ``triage_thresholds`` hold every version of each
area's referral criteria and triage thresholds, with the day each takes
effect. ``triage_referrals`` holds what screening needs of each referral and
whether it has been screened yet: programme events are keyed by area and
referrals by referral id, so they travel on different partitions and a
referral may arrive before the criteria version it names; it is then screened
as soon as that version arrives (likewise for the thresholds version it
names).
"""

from __future__ import annotations

import json
import uuid
from datetime import date

import asyncpg

from prre_contracts.events.programme import (
    ReferralCriteriaDefined,
    TriageThresholdsDefined,
)
from prre_contracts.events.referral import ReferralReceived
from prre_contracts.events.values import Baseline
from prre_runtime.consumer import Connection
from prre_triage.screening import Criteria, Thresholds

TABLES = """
CREATE TABLE IF NOT EXISTS triage_criteria (
    area_id text NOT NULL,
    version integer NOT NULL,
    criteria jsonb NOT NULL,
    effective_from date NOT NULL,
    PRIMARY KEY (area_id, version)
);
CREATE TABLE IF NOT EXISTS triage_thresholds (
    area_id text NOT NULL,
    version integer NOT NULL,
    attendance_below_percent double precision,
    suspensions_at_least integer,
    exclusion_statuses jsonb NOT NULL,
    effective_from date NOT NULL,
    PRIMARY KEY (area_id, version)
);
CREATE TABLE IF NOT EXISTS triage_referrals (
    referral_id uuid PRIMARY KEY,
    area_id text NOT NULL,
    referred_on date NOT NULL,
    criteria_version integer NOT NULL,
    criteria_named jsonb NOT NULL,
    baseline jsonb NOT NULL,
    screened boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS triage_referrals_area ON triage_referrals (area_id);
ALTER TABLE triage_referrals ADD COLUMN IF NOT EXISTS thresholds_version integer;
"""


async def create_tables(connection: Connection | asyncpg.Pool) -> None:
    await connection.execute(TABLES)


async def keep_criteria(connection: Connection, event: ReferralCriteriaDefined) -> None:
    await connection.execute(
        "INSERT INTO triage_criteria VALUES ($1, $2, $3::jsonb, $4) "
        "ON CONFLICT DO NOTHING",
        event.area_id, event.version, json.dumps(event.criteria),
        event.effective_from,
    )  # fmt: skip


async def keep_thresholds(
    connection: Connection, event: TriageThresholdsDefined
) -> None:
    await connection.execute(
        "INSERT INTO triage_thresholds VALUES ($1, $2, $3, $4, $5::jsonb, $6) "
        "ON CONFLICT DO NOTHING",
        event.area_id, event.version, event.attendance_below_percent,
        event.suspensions_at_least, json.dumps(event.exclusion_statuses),
        event.effective_from,
    )  # fmt: skip


async def keep_referral(connection: Connection, event: ReferralReceived) -> None:
    await connection.execute(
        "INSERT INTO triage_referrals (referral_id, area_id, referred_on, "
        "criteria_version, criteria_named, baseline, thresholds_version) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) ON CONFLICT DO NOTHING",
        event.referral_id, event.area_id, event.referred_on,
        event.criteria_version, json.dumps(event.criteria_met),
        event.baseline.model_dump_json(), event.thresholds_version,
    )  # fmt: skip


class Unscreened:
    """A referral waiting for screening, with what screening needs."""

    def __init__(self, row: asyncpg.Record) -> None:
        self.referral_id: uuid.UUID = row["referral_id"]
        self.area_id: str = row["area_id"]
        self.referred_on: date = row["referred_on"]
        self.criteria = Criteria(
            row["version"], tuple(json.loads(row["criteria"])), row["effective_from"]
        )
        self.named: list[str] = json.loads(row["criteria_named"])
        self.baseline = Baseline.model_validate_json(row["baseline"])
        self.thresholds: Thresholds | None = None
        if row["t_version"] is not None:
            self.thresholds = Thresholds(
                row["t_version"], row["t_effective_from"],
                row["attendance_below_percent"], row["suspensions_at_least"],
                tuple(json.loads(row["exclusion_statuses"])),
            )  # fmt: skip


async def unscreened(connection: Connection, area_id: str) -> list[Unscreened]:
    """Referrals of the area not yet screened whose policy versions are known.

    A referral names the criteria and thresholds versions in force when it
    was made; it waits until triage has received both.
    """
    rows = await connection.fetch(
        "SELECT r.*, c.version, c.criteria, c.effective_from, "
        "t.version AS t_version, t.effective_from AS t_effective_from, "
        "t.attendance_below_percent, t.suspensions_at_least, t.exclusion_statuses "
        "FROM triage_referrals r JOIN triage_criteria c "
        "ON c.area_id = r.area_id AND c.version = r.criteria_version "
        "LEFT JOIN triage_thresholds t "
        "ON t.area_id = r.area_id AND t.version = r.thresholds_version "
        "WHERE r.area_id = $1 AND NOT r.screened "
        "AND (r.thresholds_version IS NULL OR t.version IS NOT NULL) "
        "ORDER BY r.referred_on",
        area_id,
    )
    return [Unscreened(row) for row in rows]


async def mark_screened(connection: Connection, referral_id: uuid.UUID) -> None:
    await connection.execute(
        "UPDATE triage_referrals SET screened = true WHERE referral_id = $1",
        referral_id,
    )
