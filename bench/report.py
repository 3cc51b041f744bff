"""The figures of one run: a table beside the raw limit, a bar chart and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

BAR_WIDTH = 50


@dataclass(frozen=True)
class Failure:
    step: str
    status: int | None
    body: str


@dataclass
class Figures:
    """Everything one run measured; rates per second, times in milliseconds."""

    date: str
    cpus: int
    referrals: int
    concurrency: int
    load_average_before: float = 0.0
    load_average_after: float = 0.0
    journeys_completed: int = 0
    commands_per_s: float = 0.0
    journeys_per_s: float = 0.0
    events_recorded: int = 0
    events_per_s: float = 0.0
    all_visible: bool = False
    raw_inserts_per_s: float = 0.0
    latency_rate_per_s: float = 0.0
    latency_journeys: int = 0
    referral_p50_ms: float = 0.0
    referral_p99_ms: float = 0.0
    consent_p50_ms: float = 0.0
    consent_p99_ms: float = 0.0
    latency_unseen: int = 0
    idle_mib: dict[str, float] = field(default_factory=dict)
    load_mib: dict[str, float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


def percentile(values: list[float], rank: float) -> float:
    """Nearest-rank percentile; 0 when there are no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


def write_json(figures: Figures, path: Path) -> None:
    path.write_text(json.dumps(asdict(figures), indent=2) + "\n")


def show(figures: Figures, console: Console) -> None:
    console.print(_throughput_table(figures))
    console.print(_latency_table(figures))
    console.print(_memory_table(figures))
    console.print(_chart(figures))
    _show_failures(figures, console)
    _show_contention(figures, console)


def _of_raw(rate: float, raw: float) -> str:
    return f"{rate / raw:.1%} of raw inserts/s" if raw else ""


def _throughput_table(figures: Figures) -> Table:
    raw = figures.raw_inserts_per_s
    table = Table(title="Throughput (flat out)", title_justify="left")
    for column in ("figure", "value", "next to the raw limit"):
        table.add_column(column, justify="right" if column == "value" else "left")
    visible = "" if figures.all_visible else " (NOT all visible)"
    rows = [
        ("journeys visible in the read model /s", figures.journeys_per_s, visible),
        ("journeys accepted over HTTP /s", figures.commands_per_s, ""),
        ("events recorded /s", figures.events_per_s, ""),
    ]
    for name, rate, note in rows:
        table.add_row(name, f"{rate:,.1f}", _of_raw(rate, raw) + note)
    table.add_row("raw single-row inserts /s", f"{raw:,.1f}", "the raw limit")
    done = f"{figures.journeys_completed} of {figures.referrals}"
    table.add_row("journeys completed", done, f"{figures.events_recorded} events")
    return table


def _latency_table(figures: Figures) -> Table:
    commit_ms = 1000 / figures.raw_inserts_per_s if figures.raw_inserts_per_s else 0
    title = (
        f"Latency, HTTP answer to read model, at {figures.latency_rate_per_s:.1f} "
        f"journeys/s ({figures.latency_journeys} journeys)"
    )
    table = Table(title=title, title_justify="left")
    for column in ("change", "p50 ms", "p99 ms", "next to the raw limit"):
        table.add_column(column, justify="left" if column == "change" else "right")
    raw = f"one raw commit: {commit_ms:.2f} ms"
    table.add_row(
        "referral row appears",
        f"{figures.referral_p50_ms:.1f}",
        f"{figures.referral_p99_ms:.1f}",
        raw,
    )
    table.add_row(
        "consent shows confirmed",
        f"{figures.consent_p50_ms:.1f}",
        f"{figures.consent_p99_ms:.1f}",
        raw,
    )
    if figures.latency_unseen:
        table.caption = f"{figures.latency_unseen} changes never became visible"
    return table


def _memory_table(figures: Figures) -> Table:
    table = Table(title="Resident set size (MiB)", title_justify="left")
    for column in ("service", "idle", "under load (max)"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for name, idle in figures.idle_mib.items():
        load = figures.load_mib.get(name, 0.0)
        table.add_row(name, f"{idle:.1f}", f"{load:.1f}")
    return table


def _chart(figures: Figures) -> str:
    bars = {
        "journeys/s": figures.journeys_per_s,
        "events/s": figures.events_per_s,
        "raw inserts/s": figures.raw_inserts_per_s,
    }
    top = max(bars.values()) or 1.0
    label_width = max(len(label) for label in bars)
    lines = [f"Per second, same scale (█ = {top / BAR_WIDTH:,.1f}/s)"]
    for label, rate in bars.items():
        length = max(1, round(rate / top * BAR_WIDTH)) if rate else 0
        lines.append(f"{label:>{label_width}} {'█' * length} {rate:,.1f}")
    return "\n".join(lines)


def _show_failures(figures: Figures, console: Console) -> None:
    if not figures.failures:
        console.print("No command failed.")
        return
    console.print(f"[red]{len(figures.failures)} commands failed[/red]; the first:")
    for failure in figures.failures[:5]:
        console.print(f"  {failure.step}: HTTP {failure.status}: {failure.body}")


def _show_contention(figures: Figures, console: Console) -> None:
    before, after = figures.load_average_before, figures.load_average_after
    console.print(
        f"Load average (1 min) before the stack started: {before:.2f}, "
        f"at the end: {after:.2f}, on {figures.cpus} CPUs."
    )
    if before > figures.cpus / 2:
        console.print(
            "[yellow]Something else was busy on this machine before the run; "
            "the figures understate the system.[/yellow]"
        )
