"""``python -m prre_projections`` runs the projections service."""

from prre_projections.app import NAME, build
from prre_runtime.service_main import run
from prre_runtime.settings import ServiceSettings

run(NAME, ServiceSettings, build)
