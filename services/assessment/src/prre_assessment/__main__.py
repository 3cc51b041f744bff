"""``python -m prre_assessment`` runs the assessment service."""

from prre_assessment.app import NAME, AssessmentSettings, build
from prre_runtime.service_main import run

run(NAME, AssessmentSettings, build)
