"""``prre region apply``: set up a region of areas from one file, over HTTP.

A *region* is the set of areas one deployment hosts. The region file (YAML or
JSON; see docs/region.example.yaml) lists each area with what its programme
lead would otherwise enter by hand: governance, SLT delivery model,
information-sharing agreement, policies, settings, term dates and the phase
the area should reach. ``apply`` compares each area with what the referral
service already holds and sends only what is missing, so running it twice
changes nothing the second time. Every call goes through the public API with
the caller's token, so the same rules (and 409 sentences) apply as by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

app = typer.Typer(
    help="Set up the areas of a region through the referral service's API.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.callback()
def region() -> None:
    """Set up the areas of a region through the referral service's API."""


PHASES = ("mobilisation", "pilot", "scale")
LOCAL_REFERRAL_URL = "http://127.0.0.1:8001"
"""The referral service of ``prre up``."""


class RegionFileError(Exception):
    """The region file cannot be read or does not describe a region."""


class Refused(Exception):
    """The API refused one step; the message is what a person reads."""


@dataclass(frozen=True)
class Step:
    """One API call of the set-up of one area."""

    area_id: str
    what: str
    path: str
    body: dict[str, Any]
    expect: int = 201


# Reading the region file ---------------------------------------------------


def read_region(path: Path) -> list[dict[str, Any]]:
    """The areas the file lists, each a mapping as the file wrote it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegionFileError(f"Cannot read {path}: {error.strerror}.") from error
    content = _parse(path, text)
    areas = content.get("areas") if isinstance(content, dict) else None
    if not isinstance(areas, list) or not areas:
        raise RegionFileError(f"{path} must have a non-empty list under 'areas'.")
    for number, area in enumerate(areas, start=1):
        if not isinstance(area, dict) or not isinstance(area.get("area_id"), str):
            raise RegionFileError(f"Area {number} in {path} has no 'area_id'.")
    return areas


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise RegionFileError(f"{path} is not valid JSON: {error}.") from error
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RegionFileError(f"{path} is not valid YAML: {error}.") from error
    # YAML reads 2025-03-01 as a date; the API takes ISO strings.
    return json.loads(json.dumps(content, default=str))


# Planning: what each area still needs ----------------------------------------


def plan(area: dict[str, Any], current: dict[str, Any] | None) -> list[Step]:
    """The calls that bring ``current`` (None: not registered) up to ``area``."""
    area_id = area["area_id"]
    steps: list[Step] = []
    if current is None:
        fields = ("area_id", "name", "nation")
        register: dict[str, Any] = {k: area[k] for k in fields if k in area}
        steps.append(Step(area_id, "register", "/areas", register))
        current = {"settings": [], "term_dates": {}, "phase": "mobilisation"}
    steps.extend(_checklist_steps(area, current))
    steps.extend(_setting_steps(area, current))
    for year in area.get("term_dates", []):
        if year.get("academic_year") not in current.get("term_dates", {}):
            steps.append(_area_step(area_id, "term dates", "/term-dates", year))
    target = area.get("phase", "mobilisation")
    for phase in _phases_between(current.get("phase", "mobilisation"), target):
        body = {"to_phase": phase}
        steps.append(
            Step(area_id, f"move to {phase}", _at(area_id, "/phase"), body, 200)
        )
    return steps


_CHECKLIST = (
    # (key in the region file, key in the area view, path, what)
    ("governance", "governance", "/governance", "governance"),
    ("slt_delivery_model", "slt_delivery_model", "/slt-delivery-model",
     "SLT delivery model"),
    ("information_sharing_agreement", "information_sharing_agreement",
     "/information-sharing-agreement", "information-sharing agreement"),
    ("criteria", "criteria_versions", "/criteria", "referral criteria"),
    ("triage_thresholds", "triage_threshold_versions", "/triage-thresholds",
     "triage thresholds"),
    ("response_times", "response_time_versions", "/response-times",
     "response times"),
)  # fmt: skip


def _checklist_steps(area: dict[str, Any], current: dict[str, Any]) -> Iterator[Step]:
    for file_key, view_key, path, what in _CHECKLIST:
        if file_key in area and not current.get(view_key):
            yield _area_step(area["area_id"], what, path, area[file_key])


def _setting_steps(area: dict[str, Any], current: dict[str, Any]) -> Iterator[Step]:
    enrolled = {setting["setting_id"] for setting in current.get("settings", [])}
    for setting in area.get("settings", []):
        if setting.get("setting_id") not in enrolled:
            what = f"enrol {setting.get('setting_id')}"
            yield _area_step(area["area_id"], what, "/settings", setting)


def _phases_between(current: str, target: str) -> list[str]:
    if target not in PHASES:
        raise RegionFileError(f"Phase '{target}' is not one of {', '.join(PHASES)}.")
    if current not in PHASES:
        return []
    return list(PHASES[PHASES.index(current) + 1 : PHASES.index(target) + 1])


def _at(area_id: str, path: str) -> str:
    return f"/areas/{area_id}{path}"


def _area_step(area_id: str, what: str, path: str, body: Any) -> Step:
    if not isinstance(body, dict):
        raise RegionFileError(f"Area '{area_id}': {what} must be a mapping.")
    return Step(area_id, what, _at(area_id, path), body)


# Talking to the API ------------------------------------------------------------


def current_area(client: httpx.Client, area_id: str) -> dict[str, Any] | None:
    """What the referral service holds for the area (None: not registered)."""
    response = client.get(f"/areas/{area_id}")
    if response.status_code == 404:
        return None
    _check(response, area_id, "read the area", 200)
    found: dict[str, Any] = response.json()
    return found


def send(client: httpx.Client, step: Step) -> None:
    response = client.post(step.path, json=step.body)
    _check(response, step.area_id, step.what, step.expect)


def _check(response: httpx.Response, area_id: str, what: str, expect: int) -> None:
    if response.status_code == expect:
        return
    try:
        answer = response.json()
    except ValueError:
        answer = {"message": response.text[:200]}
    message = str(answer.get("message", answer))
    for field in answer.get("fields", []):
        message += f"\n  - {field.get('field')}: {field.get('reason')}"
    raise Refused(f"{area_id}: {what} refused ({response.status_code}): {message}")


def apply_region(
    client: httpx.Client,
    areas: list[dict[str, Any]],
    step_done: Callable[[Step], None],
    area_done: Callable[[str], None],
) -> int:
    """Send every missing step of every area in order; return how many were sent."""
    sent = 0
    for area in areas:
        for step in plan(area, current_area(client, area["area_id"])):
            send(client, step)
            step_done(step)
            sent += 1
        area_done(area["area_id"])
    return sent


# The command -------------------------------------------------------------------


RegionFile = Annotated[
    Path,
    typer.Argument(help="The region file (.yaml, .yml or .json).", show_default=False),
]
Url = Annotated[
    str,
    typer.Option(help="The referral service's URL.", envvar="PRRE_REFERRAL_URL"),
]
Token = Annotated[
    str,
    typer.Option(
        help="A bearer token of a regional admin or programme lead covering the "
        "areas (see 'prre token').",
        envvar="PRRE_TOKEN",
        show_default=False,
    ),
]


@app.command()
def apply(
    region_file: RegionFile,
    token: Token,
    url: Url = LOCAL_REFERRAL_URL,
    dry_run: Annotated[
        bool, typer.Option(help="Only list what would be sent.")
    ] = False,
) -> None:
    """Register the areas of a region file and complete what each still lacks.

    Areas and items already recorded are left as they are, so the command can
    be run again after fixing a refused step.
    """
    try:
        areas = read_region(region_file)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            if dry_run:
                _show_plan(client, areas)
                return
            sent = _apply_with_progress(client, areas)
    except (RegionFileError, Refused) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    except httpx.TransportError as error:
        console.print(f"[red]Cannot reach the referral service at {url}: {error}[/red]")
        raise typer.Exit(1) from error
    console.print(
        f"[green]Region applied: {sent} change(s) across {len(areas)} area(s)."
    )


def _apply_with_progress(client: httpx.Client, areas: list[dict[str, Any]]) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("areas", total=len(areas))
        sent = apply_region(
            client,
            areas,
            lambda step: progress.console.print(f"  {step.area_id}: {step.what}"),
            lambda _: progress.advance(task),
        )
    return sent


def _show_plan(client: httpx.Client, areas: list[dict[str, Any]]) -> None:
    for area in areas:
        steps = plan(area, current_area(client, area["area_id"]))
        console.print(f"{area['area_id']}: {len(steps)} change(s)")
        for step in steps:
            console.print(f"  POST {step.path}  ({step.what})")
