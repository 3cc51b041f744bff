"""Charts drawn on the server as inline SVG: nothing to fetch, nothing to run.

One kind of chart serves every view where people compare numbers: horizontal
bars, one group per row, one bar per series, each labelled with its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1d5fa7", "#f0a30a", "#2e8540", "#b3261e")
LABEL_WIDTH = 250
BAR_HEIGHT = 16
GAP = 10
WIDTH = 760


@dataclass(frozen=True)
class Bars:
    """One group of bars: a label and one value per series (``None``: no bar)."""

    label: str
    values: Sequence[float | None]


def bar_chart(
    title: str, series: Sequence[str], groups: Sequence[Bars], unit: str = ""
) -> str:
    """An accessible SVG bar chart, scaled to the largest value shown."""
    if not groups:
        return ""
    largest = max((v for g in groups for v in g.values if v is not None), default=0)
    scale = (WIDTH - LABEL_WIDTH - 70) / largest if largest else 0
    group_height = len(series) * BAR_HEIGHT + GAP
    height = len(groups) * group_height + 30
    parts = [
        f"<svg class='chart' role='img' aria-label='{escape(title)}' "
        f"viewBox='0 0 {WIDTH} {height}' width='{WIDTH}' height='{height}' "
        "xmlns='http://www.w3.org/2000/svg'>",
        f"<title>{escape(title)}</title>",
        _legend(series),
    ]
    for index, group in enumerate(groups):
        top = 30 + index * group_height
        parts.append(_group(group, top, scale, unit))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[str]) -> str:
    if len(series) < 2:
        return ""
    items = []
    for index, name in enumerate(series):
        x = LABEL_WIDTH + index * 150
        colour = PALETTE[index % len(PALETTE)]
        items.append(
            f"<rect x='{x}' y='6' width='12' height='12' fill='{colour}'/>"
            f"<text x='{x + 18}' y='16' font-size='12'>{escape(name)}</text>"
        )
    return "".join(items)


def _group(group: Bars, top: int, scale: float, unit: str) -> str:
    parts = [
        f"<text x='{LABEL_WIDTH - 8}' y='{top + BAR_HEIGHT - 3}' font-size='13' "
        f"text-anchor='end'>{escape(group.label)}</text>"
    ]
    for index, value in enumerate(group.values):
        if value is None:
            continue
        y = top + index * BAR_HEIGHT
        width = max(value * scale, 1)
        colour = PALETTE[index % len(PALETTE)]
        shown = f"{value:g}{unit}"
        parts.append(
            f"<rect x='{LABEL_WIDTH}' y='{y}' width='{width:.1f}' "
            f"height='{BAR_HEIGHT - 3}' fill='{colour}'><title>{escape(shown)}"
            f"</title></rect><text x='{LABEL_WIDTH + width + 5:.1f}' "
            f"y='{y + BAR_HEIGHT - 5}' font-size='12'>{escape(shown)}</text>"
        )
    return "".join(parts)
