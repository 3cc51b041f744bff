"""Composition root of the review-scheduler service."""

from __future__ import annotations

from fastapi import FastAPI

from prre_contracts import topic_for
from prre_runtime.clock import Clock
from prre_runtime.referral_directory import directory_service
from prre_runtime.settings import ServiceSettings

NAME = "review-scheduler"
CONSUMES = [topic_for(publisher) for publisher in ("referral", "triage", "assessment")]


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    return directory_service(
        NAME, CONSUMES, settings, clock, "PRRE review-scheduler service"
    )
