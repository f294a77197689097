"""The summary report, as JSON and as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response

from web.api.support import acting, query, reply, runtime
from web.openapi import documented
from web.schemas import SummaryQuery
from workflow.services.reports import summary, summary_rows

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")


def _report() -> dict:
    rt = runtime()
    with acting() as (session, actor):
        params = query(SummaryQuery)
        return summary(rt, session, actor, params.from_, params.to, params.station)


@bp.get("/summary")
@documented(
    "Counts, overdue share and median days to acceptance over [from, to]", query=SummaryQuery
)
def summary_json() -> Response:
    return reply(_report())


@bp.get("/summary.csv")
@documented(
    "The summary report as CSV (section, key, value)", query=SummaryQuery, content_type="text/csv"
)
def summary_csv() -> Response:
    report = _report()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "key", "value"])
    writer.writerows(summary_rows(report))
    filename = f"summary-{report['from']}-{report['to']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
