"""Composition root of the projections service."""

from __future__ import annotations

from fastapi import FastAPI

from prre_contracts import ALL_TOPICS
from prre_projections import api, dashboard, report_api
from prre_projections.projector import project
from prre_projections.schema import create_read_models
from prre_runtime.clock import Clock
from prre_runtime.http import create_app
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

NAME = "projections"


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        publishes=False,
        consumes=ALL_TOPICS,
        handler=project,
        before_consuming=create_read_models,
    )
    return create_app(
        runtime,
        [api.router, dashboard.router, report_api.router],
        title="PRRE projections service",
    )
