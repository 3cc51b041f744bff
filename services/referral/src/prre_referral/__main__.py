"""``python -m prre_referral`` runs the referral service."""

from prre_referral.app import NAME, ReferralSettings, build
from prre_runtime.service_main import run

run(NAME, ReferralSettings, build)
