"""``python -m prre_triage`` runs the triage service."""

from prre_runtime.service_main import run
from prre_runtime.settings import ServiceSettings
from prre_triage.app import NAME, build

run(NAME, ServiceSettings, build)
