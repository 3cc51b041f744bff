"""The web dashboard: server-rendered pages that need nothing from the internet.

A person signs in by pasting a bearer token (``prre token``); it is kept in an
HTTP-only cookie and read exactly like the API's Authorization header.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prre_projections.api import area_filter
from prre_runtime.errors import NotAuthenticated
from prre_runtime.http import Runtime
from prre_runtime.identity import Principal, read_token

router = APIRouter(include_in_schema=False)
COOKIE = "prre_token"

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}
th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd;text-align:left}
th{background:#f3f3f3}.tag{padding:.1rem .4rem;border-radius:.3rem;background:#e8eef9}
.closed{background:#eee;color:#555}header{display:flex;justify-content:space-between;align-items:center}
"""


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · PRRE</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def signed_in(request: Request, runtime: Runtime) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return read_token(runtime.settings.token_secret.get_secret_value(), token)
    except NotAuthenticated:
        return None


@router.get("/")
async def home(request: Request, runtime: Runtime) -> Response:
    caller = signed_in(request, runtime)
    if caller is None:
        return RedirectResponse("/sign-in", status_code=303)
    rows = await runtime.pool.fetch(
        """SELECT * FROM caseload WHERE ($1::text[] IS NULL OR area_id = ANY($1))
        ORDER BY received_on DESC LIMIT 500""",
        area_filter(caller, None),
    )
    return page("Caseload", _header(caller) + _caseload_table([dict(r) for r in rows]))


def _header(caller: Principal) -> str:
    areas = ", ".join(sorted(caller.areas))
    return (
        f"<header><h1>Caseload</h1><p>{escape(caller.subject)} "
        f"({escape(caller.role.value)}) · areas: {escape(areas)} · "
        "<a href='/sign-out'>sign out</a></p></header>"
    )


def _caseload_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No referrals yet in your areas.</p>"
    columns = ("area_id", "setting_id", "child_ref", "stage", "consent", "received_on")
    head = "".join(f"<th>{name.replace('_', ' ')}</th>" for name in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(row[c] or ''))}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@router.get("/sign-in")
async def sign_in_form() -> HTMLResponse:
    return page(
        "Sign in",
        "<h1>Sign in to PRRE</h1><form method='post' action='/sign-in'>"
        "<label>Bearer token <input name='token' size='80' required></label> "
        "<button>Sign in</button></form>"
        "<p>Get one with <code>scripts/prre token --help</code>.</p>",
    )


@router.post("/sign-in")
async def sign_in(runtime: Runtime, token: str = Form()) -> Response:
    try:
        read_token(runtime.settings.token_secret.get_secret_value(), token.strip())
    except NotAuthenticated as error:
        return page(
            "Sign in",
            f"<h1>Sign in</h1><p>{escape(str(error))}</p>"
            "<p><a href='/sign-in'>Try again</a></p>",
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@router.get("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response
