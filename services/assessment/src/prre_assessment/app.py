"""Composition root of the assessment service."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field, SecretStr

from prre_assessment.api import assessments
from prre_assessment.queue import create_tables, queue, track_progress, track_reviews
from prre_assessment.reactions import cancel_pending_work
from prre_contracts import topic_for
from prre_runtime.clock import Clock
from prre_runtime.consumer import chain
from prre_runtime.http import create_app
from prre_runtime.referral_directory import directory_router, track_referral
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

NAME = "assessment"
CONSUMES = [
    topic_for(publisher)
    for publisher in ("referral", "triage", "review-scheduler", "assessment")
]
"""The referral and triage topics feed the consent gate, the review
scheduler's reopens a plan, and this service's own topic feeds its queue."""


class AssessmentSettings(ServiceSettings):
    report_key: SecretStr = Field(
        description="Base64 AES key (16, 24 or 32 bytes) that encrypts this "
        "service's event store, where the assessment reports are kept."
    )


def build(settings: AssessmentSettings, clock: Clock | None = None) -> FastAPI:
    def this_runtime() -> ServiceRuntime:
        return runtime

    handler = chain(
        track_referral,
        cancel_pending_work(this_runtime),
        track_progress,
        track_reviews,
    )
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        consumes=CONSUMES,
        handler=handler,
        cipher_key=settings.report_key.get_secret_value(),
        before_consuming=create_tables,
    )
    routers = [assessments, queue, directory_router()]
    return create_app(runtime, routers, title="PRRE assessment service")
