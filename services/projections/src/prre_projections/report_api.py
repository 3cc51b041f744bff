"""GET /api/reports/governance: the governance report over HTTP.

Only for an area in the caller's token; the period is two dates, a school term
or a commissioning cycle, and the format html, pdf or csv.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from prre_projections.report import GovernanceReport, governance_report
from prre_projections.report_formats import to_csv, to_html, to_pdf
from prre_runtime.http import Caller, Runtime

router = APIRouter(tags=["governance"])

Format = Literal["html", "pdf", "csv"]


@router.get("/api/reports/governance")
async def governance(
    caller: Caller,
    runtime: Runtime,
    area_id: str,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    term: str | None = None,
    cycle: str | None = None,
    format: Format = "html",
) -> Response:
    """The board pack for one area and period, as a page, a PDF or a CSV file."""
    caller.ensure_area(area_id)
    async with runtime.pool.acquire() as connection:
        report = await governance_report(
            connection, area_id, start, end, term=term, cycle=cycle,
            now=runtime.clock.now(),
        )  # fmt: skip
    return render(report, format)


def render(report: GovernanceReport, format: Format) -> Response:
    name = f"governance-{report.area.area_id}-{report.period.start}-{report.period.end}"
    if format == "pdf":
        return Response(to_pdf(report), media_type="application/pdf",
                        headers=_attachment(f"{name}.pdf"))  # fmt: skip
    if format == "csv":
        return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                        headers=_attachment(f"{name}.csv"))  # fmt: skip
    return HTMLResponse(to_html(report))


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
