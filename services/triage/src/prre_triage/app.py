"""Composition root of the triage service."""

from __future__ import annotations

from fastapi import FastAPI

from prre_contracts import topic_for
from prre_runtime.clock import Clock
from prre_runtime.referral_directory import directory_service
from prre_runtime.settings import ServiceSettings

NAME = "triage"
CONSUMES = [topic_for(publisher) for publisher in ("referral",)]


def build(settings: ServiceSettings, clock: Clock | None = None) -> FastAPI:
    return directory_service(NAME, CONSUMES, settings, clock, "PRRE triage service")
