"""The HTTP shell every service shares: errors, identity, health and tracing.

Bad input never becomes a 500: invalid fields are 422 naming each field, a
broken pathway rule is 409 with a sentence, unknown ids are 404 and calls
outside the caller's role or areas are 403.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from prre_runtime.errors import (
    Forbidden,
    NotAuthenticated,
    NotFound,
    PrreError,
    RuleBroken,
)
from prre_runtime.identity import Principal, read_token
from prre_runtime.service import ServiceRuntime

logger = logging.getLogger(__name__)

STATUS_OF: dict[type[PrreError], int] = {
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    RuleBroken: 409,
}


def create_app(
    runtime: ServiceRuntime, routers: Sequence[APIRouter], *, title: str
) -> FastAPI:
    """A FastAPI app for ``runtime`` with shared error handling and health checks."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(PrreError, _prre_error)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health/.*")
    return app


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        if not runtime.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        await runtime.pool.fetchval("SELECT 1")
        return JSONResponse({"status": "ready", "service": runtime.name})

    return router


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def current_principal(request: Request) -> Principal:
    """The caller named by the request's bearer token (a FastAPI dependency)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated(
            "Send a bearer token in the Authorization header (see `prre token --help`)."
        )
    secret = runtime_of(request).settings.token_secret.get_secret_value()
    return read_token(secret, token.strip())


Caller = Annotated[Principal, Depends(current_principal)]
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


async def _invalid_request(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    fields = [
        {
            "field": ".".join(str(p) for p in issue["loc"][1:]) or "body",
            "reason": issue["msg"],
        }
        for issue in error.errors()
    ]
    return JSONResponse(
        {"error": "invalid", "message": "Some fields are not valid.", "fields": fields},
        status_code=422,
    )


async def _prre_error(_: Request, error: Exception) -> JSONResponse:
    status = next(
        (code for kind, code in STATUS_OF.items() if isinstance(error, kind)), 500
    )
    if status == 500:
        logger.error("unexpected error: %s", error)
    body: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def serve(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Run ``app`` until SIGINT or SIGTERM."""
    uvicorn.run(
        app,
        host=runtime.settings.http_host,
        port=runtime.settings.http_port,
        log_level="warning",
        lifespan="on",
    )
