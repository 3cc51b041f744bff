"""The web dashboard: server-rendered pages that need nothing from the internet.

A person signs in by pasting a bearer token (``prre token``); it is kept in an
HTTP-only cookie and read exactly like the API's Authorization header. Every
page shows the same figures as its ``/api`` twin, takes the same filters
(area, setting, period, "as at" date) and draws its charts as inline SVG.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prre_projections import queries
from prre_projections.api import case_timeline
from prre_projections.charts import Bars, bar_chart
from prre_projections.views import ViewRequest, reading, view_request
from prre_runtime.errors import Forbidden, NotAuthenticated
from prre_runtime.http import Runtime
from prre_runtime.identity import ALL_AREAS, Principal, read_token
from prre_runtime.service import ServiceRuntime

router = APIRouter(include_in_schema=False)
COOKIE = "prre_token"

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;
background:#f5f6f8;font-size:15px}
header{background:#12355b;color:#fff;padding:.7rem 1.5rem;display:flex;
justify-content:space-between;align-items:center;gap:1rem;flex-wrap:wrap}
header h1{font-size:1.2rem;margin:0}header a{color:#fff}
nav{background:#fff;border-bottom:1px solid #d8dce3;padding:0 1.5rem}
nav a{display:inline-block;padding:.6rem .9rem;color:#12355b;text-decoration:none;
border-bottom:3px solid transparent}nav a.here{border-color:#1d5fa7;font-weight:600}
main{padding:1rem 1.5rem}
form.filters{display:flex;gap:.8rem;flex-wrap:wrap;align-items:end;background:#fff;
padding:.7rem;border:1px solid #d8dce3;border-radius:6px;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#444}
form.filters input,form.filters select{font-size:.9rem;padding:.25rem}
.banner{background:#fff4ce;border:1px solid #e0c45c;padding:.5rem .8rem;
border-radius:6px;margin-bottom:1rem}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin-bottom:1rem}
.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:.6rem 1rem;
min-width:150px}.card .figure{font-size:1.8rem;font-weight:700;display:block}
.card.alert .figure{color:#b3261e}
a.card{color:inherit;text-decoration:none}a.card:hover,a.card.chosen{border-color:#1d5fa7;
box-shadow:0 0 0 2px #1d5fa733}
section{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:.8rem 1rem;
margin-bottom:1rem}section h2{font-size:1.05rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%}
th,td{padding:.35rem .55rem;border-bottom:1px solid #e3e6ea;text-align:left;
vertical-align:top}th{background:#f0f2f5;font-size:.85rem}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{padding:.1rem .45rem;border-radius:.8rem;font-size:.8rem;white-space:nowrap}
.on-time{background:#dcefe0;color:#1e5b2c}.due-soon{background:#fff1c7;color:#7a5600}
.breached{background:#f9d9d6;color:#8c1d14}.none{background:#eceef1;color:#555}
.done{color:#1e5b2c}.missing{color:#8c1d14}
svg.chart{max-width:100%;height:auto;font-family:inherit}
"""

PAGES = (
    ("/", "Caseload"),
    ("/funnel", "Funnel"),
    ("/timeliness", "Timeliness"),
    ("/volumes", "Volumes"),
    ("/outcomes", "Outcomes"),
    ("/programme", "Programme"),
)

QUEUES = (
    ("awaiting_triage", "Awaiting triage"),
    ("awaiting_consent", "Awaiting consent"),
    ("to_schedule", "To schedule"),
    ("reports_due", "Reports due"),
    ("reviews_due_this_week", "Reviews due this week"),
    ("overdue", "Overdue"),
)


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
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


class Screen:
    """A signed-in person's request for one page, with its filters."""

    def __init__(
        self, caller: Principal, view: ViewRequest, path: str, queue: str | None
    ) -> None:
        self.caller, self.view, self.path, self.queue = caller, view, path, queue

    def frame(self, title: str, content: str) -> HTMLResponse:
        """The page around ``content``: header, navigation, filters, as-at banner."""
        return page(
            title,
            _header(self.caller)
            + _nav(self.path, self.view)
            + "<main>"
            + _filters(self.caller, self.view, self.path)
            + _as_at_banner(self.view)
            + content
            + "</main>",
        )


def _screen(
    request: Request,
    runtime: Runtime,
    area_id: str | None = None,
    setting_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    as_at: str | None = None,
    queue: str | None = None,
) -> Screen | HTMLResponse | None:
    """The page asked for; ``None`` when nobody is signed in; a refusal page
    when a date cannot be read or the area is not the person's to see.

    Dates arrive as text because the filter form sends empty fields."""
    caller = signed_in(request, runtime)
    if caller is None:
        return None
    try:
        days = [_form_date(name, value) for name, value in
                (("since", since), ("until", until), ("as_at", as_at))]  # fmt: skip
        view = view_request(caller, runtime, area_id, setting_id, *days)
    except ValueError as error:
        return _refused("Cannot show that", str(error), 422)
    except Forbidden as refusal:
        return _refused("Not allowed", str(refusal), 403)
    return Screen(caller, view, request.url.path, queue)


def _form_date(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"The {name.replace('_', ' ')} date must be written like 2026-03-31."
        raise ValueError(msg) from None


AskedScreen = Annotated[Screen | HTMLResponse | None, Depends(_screen)]


Render = Callable[[Screen, ServiceRuntime], Awaitable[Response]]


def _route(path: str, render: Render) -> None:
    """Register a page that needs a signed-in person (else: the sign-in form)."""

    async def endpoint(runtime: Runtime, screen: AskedScreen) -> Response:
        if screen is None:
            return RedirectResponse("/sign-in", status_code=303)
        if isinstance(screen, HTMLResponse):
            return screen
        return await render(screen, runtime)

    router.add_api_route(path, endpoint, methods=["GET"], name=path)


def _refused(title: str, reason: str, status: int) -> HTMLResponse:
    response = page(
        title,
        f"<main><section><h1>{escape(title)}</h1><p>{escape(reason)}</p>"
        "<p><a href='/'>Back to your caseload</a> · "
        "<a href='/sign-out'>Sign in as someone else</a></p></section></main>",
    )
    response.status_code = status
    return response


# --- page chrome -----------------------------------------------------------------


def _header(caller: Principal) -> str:
    areas = (
        "all areas" if ALL_AREAS in caller.areas else ", ".join(sorted(caller.areas))
    )
    return (
        "<header><h1>PRRE · Speech and language therapy pathway</h1>"
        f"<span>{escape(caller.subject)} ({escape(caller.role.value)}) · "
        f"{escape(areas)} · <a href='/sign-out'>Sign out</a></span></header>"
    )


def _nav(path: str, view: ViewRequest) -> str:
    query = view.query_string()
    links = "".join(
        f"<a href='{href}{'?' + escape(query) if query else ''}'"
        f"{' class=here' if href == path else ''}>{label}</a>"
        for href, label in PAGES
    )
    return f"<nav>{links}</nav>"


def _filters(caller: Principal, view: ViewRequest, path: str) -> str:
    scope = view.scope
    chosen = scope.areas[0] if scope.areas and len(scope.areas) == 1 else ""
    if ALL_AREAS in caller.areas:
        area = f"<input name='area_id' value='{escape(chosen)}' placeholder='all'>"
    else:
        options = "".join(
            f"<option{' selected' if a == chosen else ''}>{escape(a)}</option>"
            for a in sorted(caller.areas)
        )
        area = (
            "<select name='area_id'><option value=''>all mine</option>"
            f"{options}</select>"
        )

    def field(name: str, label: str, value: object, kind: str = "text") -> str:
        shown = escape(str(value)) if value else ""
        return (
            f"<label>{label}<input type='{kind}' name='{name}' value='{shown}'></label>"
        )

    return (
        f"<form class='filters' method='get' action='{path}'>"
        f"<label>Area{area}</label>"
        + field("setting_id", "Setting", scope.setting_id)
        + field("since", "From", scope.since, "date")
        + field("until", "To", scope.until, "date")
        + field("as_at", "As at", view.as_at, "date")
        + "<button>Show</button></form>"
    )


def _as_at_banner(view: ViewRequest) -> str:
    if view.as_at is None:
        return ""
    return (
        f"<p class='banner' id='as-at'>Shown as at the end of {_day(view.as_at)}, "
        "from the events recorded up to then.</p>"
    )


def _day(value: Any) -> str:
    return value.strftime("%a %d %b %Y") if isinstance(value, date) else ""


def _cell(value: Any, numeric: bool = False) -> str:
    text = _day(value) if isinstance(value, date) else ("" if value is None else value)
    return f"<td{' class=n' if numeric else ''}>{escape(str(text))}</td>"


def _table(head: list[str], rows: list[str], numeric_from: int = 99) -> str:
    cells = "".join(
        f"<th{' class=n' if i >= numeric_from else ''}>{escape(h)}</th>"
        for i, h in enumerate(head)
    )
    return (
        f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f}%"


# --- caseload ----------------------------------------------------------------


async def caseload_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        cases = await queries.caseload(db, screen.view.scope, screen.view.today)
    queues = queries.work_queues(cases, screen.view.today)
    query = screen.view.query_string()
    cards = "".join(_queue_card(key, label, queues[key], screen.queue, query)
                    for key, label in QUEUES)  # fmt: skip
    stages = " · ".join(f"{s['label']} <b>{s['cases']}</b>"
                        for s in queries.by_stage(cases))  # fmt: skip
    title = f"Open cases ({len(cases)})"
    if screen.queue in queues:
        chosen = set(queues[screen.queue])
        cases = [case for case in cases if str(case["referral_id"]) in chosen]
        label = dict(QUEUES)[screen.queue]
        title = f"{label} ({len(cases)}) · <a href='/?{escape(query)}'>show all</a>"
    by_stage = (
        f"<p class='stages' id='by-stage'>By stage: {stages}</p>" if stages else ""
    )
    content = f"<div class='cards'>{cards}</div>" + _section(
        title, by_stage + _caseload_table(cases, screen.view), raw_title=True
    )
    return screen.frame("Caseload", content)


def _queue_card(
    key: str, label: str, ids: list[str], chosen: str | None, query: str
) -> str:
    """One work queue: how many cases wait in it; a link that lists them."""
    classes = "card" + (" alert" if key == "overdue" and ids else "")
    classes += " chosen" if key == chosen else ""
    link = f"/?{escape(query)}&amp;queue={key}" if query else f"/?queue={key}"
    return (
        f"<a class='{classes}' href='{link}'>"
        f"<span class='figure' id='queue-{key}'>{len(ids)}</span>{label}</a>"
    )


def _section(
    title: str, body: str, section_id: str = "", raw_title: bool = False
) -> str:
    attribute = f" id='{section_id}'" if section_id else ""
    heading = title if raw_title else escape(title)
    return f"<section{attribute}><h2>{heading}</h2>{body}</section>"


def _caseload_table(cases: list[dict[str, Any]], view: ViewRequest) -> str:
    if not cases:
        return "<p>No open cases in this view.</p>"
    suffix = f"?as_at={view.as_at}" if view.as_at else ""
    rows = [
        "<tr>"
        f"<td><a href='/cases/{c['referral_id']}{suffix}'>"
        f"{escape(c['child_ref'] or str(c['referral_id'])[:8])}</a></td>"
        + _cell(c["area_id"])
        + _cell(c["setting_id"])
        + _cell(c["priority"])
        + _cell(c["received_on"])
        + f"<td>{escape(c['stage_label'])}</td>"
        + _cell(c["days_in_stage"], numeric=True)
        + _cell(c["next_action"])
        + _cell(c["due_on"])
        + f"<td>{_status_badge(c)}</td></tr>"
        for c in sorted(cases, key=_urgency)
    ]
    head = ["Case", "Area", "Setting", "Priority", "Received", "Stage", "Days in stage",
            "Next action", "Due", "Response time"]  # fmt: skip
    return _table(head, rows)


def _urgency(case: dict[str, Any]) -> tuple[int, date]:
    rank = {"breached": 0, "due-soon": 1, "on-time": 2}.get(case["status"] or "", 3)
    return rank, case["due_on"] or date.max


def _status_badge(case: dict[str, Any]) -> str:
    status = case["status"]
    if status is None:
        return "<span class='badge none'>no clock</span>"
    detail = f"{case['elapsed_working_days']} of {case['target_days']} working days"
    label = status.replace("-", " ")
    return f"<span class='badge {status}' title='{detail}'>{label}</span>"


# --- funnel ------------------------------------------------------------------


async def funnel_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        data = await queries.funnel(db, screen.view.scope)
    steps = data["steps"]
    chart = bar_chart(
        "Referrals reaching each step",
        ["Referrals"],
        [Bars(s["label"], [s["count"]]) for s in steps],
    )
    rows = [
        f"<tr><td>{escape(s['label'])}</td>"
        f"<td class=n id='funnel-{s['step']}'>{s['count']}</td>"
        f"<td class=n>{_percent(s['conversion'])}</td></tr>"
        for s in steps
    ]
    reasons = [
        f"<tr><td>{escape(r['reason'] or '')}</td><td class=n>{r['count']}</td></tr>"
        for r in data["decline_reasons"]
    ]
    content = _section(
        "Funnel",
        chart + _table(["Step", "Referrals", "Of previous step"], rows, 1),
        "funnel",
    ) + _section(
        "Decline reasons",
        _table(["Reason", "Referrals"], reasons, 1) if reasons else "<p>None.</p>",
    )
    return screen.frame("Funnel", content)


# --- timeliness -----------------------------------------------------------------


async def timeliness_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        rows = await queries.timeliness(db, screen.view.scope)
    if not rows:
        return screen.frame(
            "Timeliness", _section("Timeliness", "<p>No stage has finished yet.</p>")
        )
    chart = bar_chart(
        "Working days per stage",
        ["Median", "90th percentile"],
        [Bars(f"{r['term']} · {r['stage']}", [r["median_working_days"],
              r["p90_working_days"]]) for r in rows],
        " d",
    )  # fmt: skip
    table = [
        "<tr>" + _cell(r["term"]) + _cell(r["stage"]) + _cell(r["cases"], True)
        + _cell(f"{r['median_working_days']:g}", True)
        + _cell(f"{r['p90_working_days']:g}", True)
        + _cell(_percent(r["within_target_share"]), True) + "</tr>"
        for r in rows
    ]  # fmt: skip
    head = ["Term", "Stage", "Cases", "Median", "90th percentile", "Within target"]
    content = _section(
        "Working days per stage, by term", chart + _table(head, table, 2), "timeliness"
    )
    return screen.frame("Timeliness", content)


# --- volumes -------------------------------------------------------------------


async def volumes_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        rows = await queries.volumes(db, screen.view.scope)
    chart = bar_chart(
        "Referrals per setting per term",
        ["Referred", "Expected at briefing"],
        [Bars(f"{r['setting_name'] or r['setting_id']} · {r['term']}",
              [r["referrals"], r["expected"]]) for r in rows],
    )  # fmt: skip
    table = [
        "<tr>" + _cell(r["area_id"]) + _cell(r["setting_name"] or r["setting_id"])
        + _cell(r["term"]) + _cell(r["referrals"], True) + _cell(r["expected"], True)
        + "</tr>"
        for r in rows
    ]  # fmt: skip
    head = ["Area", "Setting", "Term", "Referred", "Expected"]
    body = chart + _table(head, table, 3) if rows else "<p>No referrals yet.</p>"
    return screen.frame(
        "Volumes", _section("Referrals against expected", body, "volumes")
    )


# --- outcomes ------------------------------------------------------------------


async def outcomes_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        rows = await queries.outcomes(db, screen.view.scope)
    if not rows:
        body = "<p>No case has been reviewed yet.</p>"
        return screen.frame("Outcomes", _section("Outcomes", body, "outcomes"))
    chart = bar_chart(
        "Attendance at referral and at review",
        ["At referral", "At review"],
        [Bars(f"{r['area_id']} · {r['setting_id']}",
              [r["attendance_before"], r["attendance_after"]]) for r in rows],
        "%",
    )  # fmt: skip
    table = [
        "<tr>" + _cell(r["area_id"]) + _cell(r["setting_id"])
        + _cell(r["reviewed"], True)
        + _cell(f"{r['attendance_before']:g}% → {r['attendance_after']:g}%", True)
        + _cell(f"{r['suspensions_before']:g} → {r['suspensions_after']:g}", True)
        + _cell(f"{r['exclusion_improved']} better · {r['exclusion_same']} same · "
                f"{r['exclusion_worse']} worse", True)
        + "</tr>"
        for r in rows
    ]  # fmt: skip
    head = ["Area", "Setting", "Reviewed", "Attendance", "Suspensions", "Exclusion"]
    content = _section(
        "Outcomes against baseline", chart + _table(head, table, 2), "outcomes"
    )
    return screen.frame("Outcomes", content)


# --- programme -----------------------------------------------------------------


async def programme_page(screen: Screen, runtime: ServiceRuntime) -> Response:
    async with reading(runtime, screen.view) as db:
        areas = await queries.programme(db, screen.view.scope.areas)
    if not areas:
        return screen.frame("Programme", _section("Programme", "<p>No areas yet.</p>"))
    return screen.frame("Programme", "".join(_area_section(a) for a in areas))


def _area_section(entry: dict[str, Any]) -> str:
    area = entry["area"]
    checklist = "".join(
        f"<li class='{'done' if item['done'] else 'missing'}'>"
        f"{'✔' if item['done'] else '✘'} {escape(item['label'])}</li>"
        for item in entry["checklist"]
    )
    settings = [
        "<tr>" + _cell(s["name"]) + _cell(s["kind"]) + _cell(s["lead_name"])
        + _cell(s["enrolled_on"]) + _cell(s["briefed_on"])
        + _cell(s["expected_per_term"], True) + "</tr>"
        for s in entry["settings"]
    ]  # fmt: skip
    activity = [
        "<tr>" + _cell(a["held_on"]) + _cell(a["kind"]) + _cell(a["title"])
        + _cell(a["attendees"], True) + "</tr>"
        for a in entry["activity"]
    ]  # fmt: skip
    phase = f"{area['phase']}" + (
        f" since {_day(area['phase_since'])}" if area["phase_since"] else ""
    )
    return _section(
        f"{area['name'] or area['area_id']} — {phase}",
        f"<h3>Readiness</h3><ul>{checklist}</ul><h3>Settings</h3>"
        + _table(["Setting", "Kind", "Lead", "Enrolled", "Briefed",
                  "Expected a term"], settings, 5)
        + "<h3>Activity</h3>"
        + (_table(["Date", "Kind", "What", "Attendees"], activity, 3)
           if activity else "<p>None yet.</p>"),
        f"area-{area['area_id']}",
    )  # fmt: skip


for _path, _render in (
    ("/", caseload_page),
    ("/funnel", funnel_page),
    ("/timeliness", timeliness_page),
    ("/volumes", volumes_page),
    ("/outcomes", outcomes_page),
    ("/programme", programme_page),
):
    _route(_path, _render)


# --- case timeline ---------------------------------------------------------------


@router.get("/cases/{referral_id}")
async def case_page(
    referral_id: uuid.UUID,
    request: Request,
    runtime: Runtime,
    as_at: date | None = None,
) -> Response:
    caller = signed_in(request, runtime)
    if caller is None:
        return RedirectResponse("/sign-in", status_code=303)
    try:
        facts = await case_timeline(runtime, caller, referral_id, as_at)
    except Forbidden as refusal:
        return _refused("Not allowed", str(refusal), 403)
    view = view_request(caller, runtime, facts[0]["area_id"], as_at=as_at)
    rows = [
        "<tr>" + _cell(f["occurred_at"].date()) + f"<td>{escape(f['event_type'])}</td>"
        + _cell(f["source"]) + _cell(f"{f['actor_subject']} ({f['actor_role']})")
        + f"<td>{escape(_summary(f['data']))}</td></tr>"
        for f in facts
    ]  # fmt: skip
    table = _table(["Date", "Fact", "Service", "By", "Details"], rows)
    received: dict[str, Any] = next((f["data"] for f in facts
                     if f["event_type"] == "ReferralReceived"), {})  # fmt: skip
    who = received.get("child_ref") or str(referral_id)
    where = f" · {received['setting_id']}" if received.get("setting_id") else ""
    title = f"Case {who}{where} · {len(facts)} facts"
    content = _section(title, table, "timeline")
    return Screen(caller, view, "/", None).frame("Case timeline", content)


SUMMARY_FIELDS = (
    "setting_id", "priority", "reason", "decision", "given_by", "scheduled_for",
    "due_on", "stage", "review_after_weeks", "version",
)  # fmt: skip
"""Fields worth a glance in the timeline (never the child's personal data)."""


def _summary(data: dict[str, Any]) -> str:
    return ", ".join(
        f"{name.replace('_', ' ')}: {data[name]}"
        for name in SUMMARY_FIELDS
        if data.get(name) not in (None, "")
    )


# --- sign-in -------------------------------------------------------------------


@router.get("/sign-in")
async def sign_in_form() -> HTMLResponse:
    return page(
        "Sign in",
        "<main><section><h1>Sign in to PRRE</h1><form method='post' action='/sign-in'>"
        "<label>Bearer token <input name='token' size='80' required></label> "
        "<button>Sign in</button></form>"
        "<p>Get one with <code>scripts/prre token --help</code>.</p></section></main>",
    )


@router.post("/sign-in")
async def sign_in(runtime: Runtime, token: str = Form()) -> Response:
    try:
        read_token(runtime.settings.token_secret.get_secret_value(), token.strip())
    except NotAuthenticated as error:
        return page(
            "Sign in",
            f"<main><h1>Sign in</h1><p>{escape(str(error))}</p>"
            "<p><a href='/sign-in'>Try again</a></p></main>",
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@router.get("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response
