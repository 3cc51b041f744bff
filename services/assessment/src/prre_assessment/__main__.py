"""``python -m prre_assessment`` runs the assessment service."""

from prre_assessment.app import NAME, build
from prre_runtime.service_main import run
from prre_runtime.settings import ServiceSettings

run(NAME, ServiceSettings, build)
