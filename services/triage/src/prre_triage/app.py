"""Composition root of the triage service."""

from __future__ import annotations

from fastapi import FastAPI

from prre_contracts import topic_for
from prre_runtime.clock import Clock
from prre_runtime.http import create_app
from prre_runtime.referral_directory import (
    create_directory,
    directory_router,
    track_referral,
)
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

NAME = "triage"
CONSUMES = [topic_for(publisher) for publisher in ("referral",)]


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        consumes=CONSUMES,
        handler=track_referral,
        before_consuming=create_directory,
    )
    return create_app(runtime, [directory_router()], title="PRRE triage service")
