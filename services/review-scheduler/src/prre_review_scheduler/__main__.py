"""``python -m prre_review_scheduler`` runs the review-scheduler service."""

from prre_review_scheduler.app import NAME, build
from prre_runtime.service_main import run
from prre_runtime.settings import ServiceSettings

run(NAME, ServiceSettings, build)
