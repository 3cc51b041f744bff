"""Composition root of the review-scheduler service."""

from __future__ import annotations

from fastapi import FastAPI

from prre_contracts import topic_for
from prre_review_scheduler.api import reviews
from prre_review_scheduler.reactions import follow_the_case, keep_clocks, keep_policy
from prre_review_scheduler.tables import create_tables
from prre_review_scheduler.timers import watch_timers
from prre_runtime.clock import Clock
from prre_runtime.consumer import chain
from prre_runtime.http import create_app
from prre_runtime.referral_directory import directory_router, track_referral
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

NAME = "review-scheduler"
CONSUMES = [topic_for(publisher) for publisher in ("referral", "triage", "assessment")]


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    def this_runtime() -> ServiceRuntime:
        return runtime

    handler = chain(
        track_referral, keep_policy, keep_clocks, follow_the_case(this_runtime)
    )
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        consumes=CONSUMES,
        handler=handler,
        before_consuming=create_tables,
        tasks=[watch_timers],
    )
    routers = [reviews, directory_router()]
    return create_app(runtime, routers, title="PRRE review-scheduler service")
