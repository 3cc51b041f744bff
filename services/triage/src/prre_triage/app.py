"""Composition root of the triage service."""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI

from prre_contracts import topic_for
from prre_runtime.clock import Clock
from prre_runtime.consumer import chain
from prre_runtime.http import create_app
from prre_runtime.referral_directory import (
    create_directory,
    directory_router,
    track_referral,
)
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings
from prre_triage import policy
from prre_triage.api import router
from prre_triage.reactions import TriageReactions

NAME = "triage"
CONSUMES = [topic_for("referral")]
# Known shortcoming: triage does not follow its own topic, so the ``triage``
# column of its referral directory (and its /known-referrals) stays
# 'pending'; the triage record (GET /referrals/{id}/triage) is the truth.


async def _prepare(pool: asyncpg.Pool) -> None:
    await create_directory(pool)
    await policy.create_tables(pool)


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    reactions = TriageReactions()
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        consumes=CONSUMES,
        handler=chain(track_referral, reactions.handle),
        before_consuming=_prepare,
    )
    reactions.runtime = runtime
    routers = [router, directory_router()]
    return create_app(runtime, routers, title="PRRE triage service")
