"""Composition root of the referral service."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field, SecretStr

from prre_contracts import topic_for
from prre_referral.api import referrals
from prre_referral.programme_api import router
from prre_referral.reactions import ReferralReactions, create_tables
from prre_runtime.clock import Clock
from prre_runtime.http import create_app
from prre_runtime.service import ServiceRuntime
from prre_runtime.settings import ServiceSettings

NAME = "referral"
CONSUMES = [topic_for(p) for p in ("triage", "assessment", "review-scheduler")]


class ReferralSettings(ServiceSettings):
    pii_key: SecretStr = Field(
        description="Base64 AES key (16, 24 or 32 bytes) that encrypts this "
        "service's event store, where the child's personal data lives."
    )


def build(settings: ReferralSettings, clock: Clock | None = None) -> FastAPI:
    pii_key = settings.pii_key.get_secret_value()
    reactions = ReferralReactions()
    runtime = ServiceRuntime(
        NAME,
        settings,
        clock=clock,
        cipher_key=pii_key,
        consumes=CONSUMES,
        handler=reactions.handle,
        before_consuming=create_tables,
    )
    reactions.runtime = runtime
    app = create_app(runtime, [router, referrals], title="PRRE referral service")
    app.state.pii_key = pii_key
    return app
