"""The start-up sequence every service's ``__main__`` shares."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI

from prre_runtime.errors import ConfigurationError
from prre_runtime.http import serve
from prre_runtime.service import ServiceRuntime, configure_logging
from prre_runtime.settings import ServiceSettings, load_settings
from prre_runtime.tracing import setup_tracing

S = TypeVar("S", bound=ServiceSettings)


def run(name: str, settings_class: type[S], build: Callable[[S], FastAPI]) -> None:
    """Read settings, set up logging and tracing, build the app and serve it."""
    configure_logging(name)
    try:
        settings = load_settings(settings_class)
    except ConfigurationError as error:
        print(f"{name}: {error}", file=sys.stderr)
        sys.exit(2)
    setup_tracing(name, settings.otlp_endpoint, settings.span_log)
    app = build(settings)
    runtime: ServiceRuntime = app.state.runtime
    serve(app, runtime)
