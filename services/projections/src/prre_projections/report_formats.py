"""The governance report as HTML (with charts), PDF and CSV.

Every format carries the same figures and the same plain-language notes. The
HTML page and the PDF need nothing from the internet: styles and charts (SVG)
are inline, and the PDF uses a font built into every PDF reader.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from html import escape

from fpdf import FPDF

from prre_projections.report import (
    Breach,
    GovernanceReport,
    days_late,
)

NOTES = {
    "funnel": (
        "How far the referrals received in the period have gone, stage by "
        "stage, by the last day of the period. The percentage is the share of "
        "the stage before: a low one shows where children wait or drop out."
    ),
    "declines": (
        "The reasons triage gave for declining referrals received in the "
        "period. Many declines for one reason can mean settings need clearer "
        "referral criteria."
    ),
    "timeliness": (
        "Working days each stage took (weekends, bank holidays and school "
        "holidays do not count), for the cases received in the period that "
        "finished the stage. The median is the typical case; the 90th "
        "percentile is how long the slowest one in ten waited."
    ),
    "breaches": (
        "Each time a stage took longer than the area's target, with what the "
        "case record shows happened (rescheduled or missed assessments, "
        "requests for more information)."
    ),
    "volumes": (
        "Referrals from each setting against the volume it expected at its "
        "briefing, for the school terms the period spans. Far fewer than "
        "expected can mean staff need another briefing."
    ),
    "outcomes": (
        "For reviews completed in the period: the children's attendance, "
        "suspensions and exclusion status at the review against the baseline "
        "taken when they were referred."
    ),
    "programme": (
        "The area's phase and settings, and the briefings, training, "
        "consultation and community-of-practice sessions held in the period."
    ),
}


NONE = "\u2013"  # an en dash: "no figure"


def percent(share: float | None) -> str:
    return NONE if share is None else f"{share:.0%}"


def number(value: float | int | None) -> str:
    return NONE if value is None else f"{value:g}"


# ---- rows shared by every format ----


def headline(report: GovernanceReport) -> list[tuple[str, str]]:
    steps = {step.stage: step.count for step in report.funnel}
    triage = next(s for s in report.timeliness if s.stage == "triage")
    return [
        ("Referrals received", str(steps["received"])),
        ("Accepted", str(steps["accepted"])),
        ("Assessed", str(steps["assessed"])),
        ("Reviews completed", str(report.outcomes.reviewed)),
        ("Triage within target", percent(triage.within_target)),
        ("Response-time breaches", str(len(report.breaches))),
    ]


def title_facts(report: GovernanceReport) -> list[tuple[str, str]]:
    area = report.area
    return [
        ("Area", f"{area.name or area.area_id} ({area.area_id})"),
        ("Period", f"{report.period.label}: {report.period.start} to "
                   f"{report.period.end}"),
        ("Phase", f"{area.phase}" + (f" since {area.phase_since}"
                                     if area.phase_since else "")),
        ("Settings enrolled", str(len(area.settings))),
        ("Produced", report.generated_at.strftime("%d %B %Y %H:%M UTC")),
        ("Source", f"{report.events} events of the audit trail, up to row "
                   f"{report.last_seq}"),
        ("Anchor for the minutes", f"{report.last_seq}:{report.last_hash}"),
    ]  # fmt: skip


def funnel_rows(report: GovernanceReport) -> list[list[str]]:
    return [
        [step.stage, str(step.count), percent(step.of_previous), step.meaning]
        for step in report.funnel
    ]


def decline_rows(report: GovernanceReport) -> list[list[str]]:
    ranked = sorted(report.decline_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[reason, str(count)] for reason, count in ranked]


def timeliness_rows(report: GovernanceReport) -> list[list[str]]:
    return [
        [s.stage, str(s.cases), number(s.median_days), number(s.p90_days),
         number(s.target_days), percent(s.within_target)]
        for s in report.timeliness
    ]  # fmt: skip


def breach_rows(report: GovernanceReport) -> list[list[str]]:
    return [
        [str(b.breached_on), b.stage, b.setting_id, str(b.target_days),
         str(b.elapsed_days), str(days_late(b)), _reasons(b)]
        for b in sorted(report.breaches, key=lambda b: b.breached_on)
    ]  # fmt: skip


def _reasons(breach: Breach) -> str:
    return "; ".join(breach.reasons) or "no reason recorded on the case"


def volume_rows(report: GovernanceReport) -> list[list[str]]:
    return [
        [v.name, str(v.referrals), number(v.expected),
         NONE if not v.expected else percent(v.referrals / v.expected)]
        for v in report.volumes
    ]  # fmt: skip


def outcome_rows(report: GovernanceReport) -> list[list[str]]:
    o = report.outcomes
    return [
        ["Reviews completed", str(o.reviewed), ""],
        ["Average attendance %", number(o.attendance_before),
         number(o.attendance_after)],
        ["Suspensions this year (all children)", str(o.suspensions_before),
         str(o.suspensions_after)],
        ["Exclusion status improved / same / worse",
         f"{o.exclusion_better} / {o.exclusion_same} / {o.exclusion_worse}", ""],
        *[[f"Review decided: {k}", str(n), ""] for k, n in sorted(o.decisions.items())],
    ]  # fmt: skip


def programme_rows(report: GovernanceReport) -> list[list[str]]:
    area = report.area
    rows = [
        ["setting", s.name, f"{s.kind}, lead {s.lead_name}, enrolled {s.enrolled_on}"]
        for s in area.settings.values()
    ]
    rows += [["briefing", b.title, f"{b.held_on}, {number(b.attendees)} attended"]
             for b in report.briefings]  # fmt: skip
    rows += [[s.kind, s.title, f"{s.held_on}, {number(s.attendees)} attended"]
             for s in report.sessions]  # fmt: skip
    if area.evaluation:
        rows.append(["pilot evaluation", area.evaluation, ""])
    return rows


SECTIONS = (
    ("funnel", "Funnel", ["stage", "cases", "of stage before", "meaning"], funnel_rows),
    ("declines", "Why referrals were declined", ["reason", "referrals"],
     decline_rows),
    ("timeliness", "Timeliness (working days)",
     ["stage", "cases", "median", "90th percentile", "target", "within target"],
     timeliness_rows),
    ("breaches", "Response-time breaches",
     ["breached on", "stage", "setting", "target", "took", "days late", "reasons"],
     breach_rows),
    ("volumes", "Volumes against expected",
     ["setting", "referrals", "expected", "of expected"], volume_rows),
    ("outcomes", "Outcomes against baseline",
     ["measure", "at referral", "at review"], outcome_rows),
    ("programme", "Programme activity", ["kind", "what", "details"], programme_rows),
)  # fmt: skip


# ---- CSV ----


def to_csv(report: GovernanceReport) -> str:
    """One row per figure: section, then the section's own columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "value"])
    for label, value in [*title_facts(report), *headline(report)]:
        writer.writerow(["summary", label, value])
    for key, _, columns, rows in SECTIONS:
        writer.writerow([key, *columns])
        for row in rows(report):
            writer.writerow([key, *row])
    return out.getvalue()


# ---- HTML ----

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#1b1b1b}
h1{margin-bottom:.2rem}section{margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left;
vertical-align:top}
th{background:#f3f3f3}.facts th{width:12rem;background:none}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #ccd;
border-radius:.4rem;padding:.6rem 1rem;min-width:9rem}
.card b{font-size:1.6rem;display:block}.note{color:#444;font-size:.95rem}
svg text{font-size:12px;font-family:system-ui,sans-serif}
@media print{section{break-inside:avoid}}
"""


def to_html(report: GovernanceReport) -> str:
    area = report.area.name or report.area.area_id
    body = [
        f"<h1>PRRE governance report: {escape(area)}</h1>",
        f"<p>{escape(report.period.label)}</p>",
        _table_html(["", ""], [list(r) for r in title_facts(report)], "facts"),
        "<section><h2>Headline figures</h2><div class='cards'>",
        *(f"<div class='card'><b>{escape(v)}</b>{escape(k)}</div>"
          for k, v in headline(report)),
        "</div></section>",
    ]  # fmt: skip
    for key, title, columns, rows in SECTIONS:
        chart = CHARTS[key](report) if key in CHARTS else ""
        body.append(
            f"<section id='{key}'><h2>{escape(title)}</h2>"
            f"<p class='note'>{escape(NOTES[key])}</p>{chart}"
            f"{_table_html(columns, rows(report))}</section>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Governance report · {escape(area)}</title><style>{STYLE}</style>"
        f"</head><body>{''.join(body)}</body></html>"
    )


def _table_html(columns: list[str], rows: list[list[str]], css: str = "") -> str:
    if not rows:
        return "<p><em>Nothing in this period.</em></p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns) if any(columns) else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f"<table class='{css}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


Bars = list[tuple[str, list[float]]]


def bar_chart(title: str, bars: Bars, legend: list[str]) -> str:
    """Horizontal bars, one group per label, one bar per series; inline SVG."""
    colours = ("#2f5f98", "#c7772b")
    top = max((v for _, values in bars for v in values), default=0) or 1
    row_height = 14 * len(legend) + 8
    height = 24 + row_height * len(bars) + 20
    parts = [f"<svg role='img' aria-label='{escape(title)}' width='640' "
             f"height='{height}' xmlns='http://www.w3.org/2000/svg'>"]  # fmt: skip
    for index, (label, values) in enumerate(bars):
        y = 20 + index * row_height
        parts.append(f"<text x='0' y='{y + 11}'>{escape(label)}</text>")
        for series, value in enumerate(values):
            width = 400 * value / top
            parts.append(
                f"<rect x='160' y='{y + series * 14}' width='{width:.1f}' "
                f"height='12' fill='{colours[series % 2]}'/>"
                f"<text x='{166 + width:.1f}' y='{y + series * 14 + 10}'>"
                f"{value:g}</text>"
            )
    legend_y, x = height - 6, 160
    for series, name in enumerate(legend):
        parts.append(
            f"<rect x='{x}' y='{legend_y - 10}' width='10' height='10' "
            f"fill='{colours[series % 2]}'/><text x='{x + 14}' y='{legend_y}'>"
            f"{escape(name)}</text>"
        )
        x += 30 + 7 * len(name)  # about 7 px a character at 12 px
    parts.append("</svg>")
    return "".join(parts)


def _funnel_chart(report: GovernanceReport) -> str:
    return bar_chart("Funnel", [(s.stage, [s.count]) for s in report.funnel], ["cases"])


def _timeliness_chart(report: GovernanceReport) -> str:
    bars = [(s.stage, [s.median_days or 0, s.target_days or 0])
            for s in report.timeliness]  # fmt: skip
    return bar_chart("Timeliness", bars, ["median working days", "target"])


def _volumes_chart(report: GovernanceReport) -> str:
    bars: Bars = [(v.name, [v.referrals, v.expected or 0]) for v in report.volumes]
    return bar_chart("Volumes", bars, ["referrals", "expected"])


def _outcomes_chart(report: GovernanceReport) -> str:
    o = report.outcomes
    bars: Bars = [
        ("attendance %", [o.attendance_before or 0, o.attendance_after or 0]),
        ("suspensions", [o.suspensions_before, o.suspensions_after]),
    ]
    return bar_chart("Outcomes", bars, ["at referral", "at review"])


CHARTS = {
    "funnel": _funnel_chart,
    "timeliness": _timeliness_chart,
    "volumes": _volumes_chart,
    "outcomes": _outcomes_chart,
}


# ---- PDF ----


def latin1(text: str) -> str:
    """The built-in PDF fonts know Latin-1 only; replace what they cannot show."""
    replaced = text.replace(NONE, "-").replace("\u2026", "...")
    return replaced.encode("latin-1", "replace").decode("latin-1")


class _Pack(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"PRRE governance report - page {self.page_no()}", align="C")


def to_pdf(report: GovernanceReport) -> bytes:
    """A board pack: a title page with the facts and headline figures, then
    one section per figure with its note and table."""
    pdf = _Pack(orientation="portrait", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    _pdf_title(pdf, report)
    for key, title, columns, rows in SECTIONS:
        _pdf_section(pdf, title, NOTES[key], columns, rows(report))
    return bytes(pdf.output())


def _pdf_title(pdf: FPDF, report: GovernanceReport) -> None:
    pdf.set_font("Helvetica", "B", 20)
    area = report.area.name or report.area.area_id
    pdf.multi_cell(
        0, 10, latin1(f"PRRE governance report: {area}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, latin1(report.period.label), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _pdf_table(pdf, ["", ""], [list(r) for r in title_facts(report)])
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, "Headline figures", new_x="LMARGIN", new_y="NEXT")
    _pdf_table(pdf, ["figure", "value"], [list(r) for r in headline(report)])


def _pdf_section(
    pdf: FPDF, title: str, note: str, columns: list[str], rows: list[list[str]]
) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(0, 5, latin1(note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    if rows:
        _pdf_table(pdf, columns, rows)
    else:
        pdf.set_font("Helvetica", size=10)
        pdf.cell(0, 6, "Nothing in this period.", new_x="LMARGIN", new_y="NEXT")


def _pdf_table(pdf: FPDF, columns: list[str], rows: list[list[str]]) -> None:
    pdf.set_font("Helvetica", size=9)
    headings = columns if any(columns) else None
    with pdf.table(first_row_as_headings=headings is not None) as table:
        for row in _with_head(headings, rows):
            cells = table.row()
            for cell in row:
                cells.cell(latin1(cell))


def _with_head(head: list[str] | None, rows: list[list[str]]) -> Iterator[list[str]]:
    if head is not None:
        yield head
    yield from rows
