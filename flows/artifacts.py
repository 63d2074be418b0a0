"""What a night leaves in the Prefect UI: a table of the files read (lines, rows per table,
quarantined lines) and a Markdown page of the newest days' headline metrics, so an operator
sees the night at a glance."""

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel

from flows.summary import RunSummary
from transforms.ingest.accounting import FileReport
from transforms.sql import LOOK, connect, sql_text

REPORT_ROWS = 20


class NewestDays(BaseModel):
    """The newest message days' delivery per sender and template, incidents, top errors."""

    delivery: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def _report(
    connection: duckdb.DuckDBPyConnection, name: str, days: list[date]
) -> list[dict[str, Any]]:
    result = connection.execute(sql_text(f"reports/{name}"), {"days": days, "limit": REPORT_ROWS})
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def newest_days_reports(warehouse: Path, days: list[date]) -> NewestDays:
    """The reports of the artifact on `days` (the message days of the summary)."""
    connection = connect(str(warehouse), limits=LOOK, read_only=True)
    try:
        return NewestDays(
            delivery=_report(connection, "newest_delivery", days),
            incidents=_report(connection, "newest_incidents", days),
            errors=_report(connection, "newest_errors", days),
        )
    finally:
        connection.close()


def file_rows(reports: Sequence[FileReport]) -> list[dict[str, Any]]:
    """One row per file read: its lines and what became of them, and its rows per table."""
    return [
        {
            "file": report.file.uri,
            "lines": report.lines,
            "classified": report.classified,
            "unclassified": report.unclassified,
            "quarantined": report.quarantined,
            "blank": report.blank,
            **report.rows,
            "unreadable": report.unreadable or "",
        }
        for report in reports
    ]


def _cell(name: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if name.endswith("_rate") else f"{value:,.1f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("|", "\\|")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_none_"
    names = list(rows[0])
    lines = [
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        *("| " + " | ".join(_cell(name, row[name]) for name in names) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _day_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """The summary's days, the newest complete one first, each marked."""
    return [
        {"": "newest complete day" if day.complete else "still filling", **day.model_dump()}
        for day in summary.newest_days
    ]


def _link(location: str) -> str:
    """A link to a report: its s3:// URI, or a local file's file:// URL."""
    return location if location.startswith("s3://") else Path(location).as_uri()


def night_markdown(summary: RunSummary, newest: NewestDays) -> str:
    """The night at a glance: what was read, and the newest days' metrics, the newest
    complete day first (the days after it still fill: their late reports are to come)."""
    shown = "; ".join(summary.unreadable_files[:20])
    unreadable = (
        [f"**{len(summary.unreadable_files):,} files could not be read**: {shown}"]
        if summary.unreadable_files
        else []
    )
    alerts = [
        *([f"**stale archive**: {summary.stale_archive}"] if summary.stale_archive else []),
        markdown_table(
            [
                {
                    "day": alert.day,
                    "kind": alert.kind,
                    "sender": alert.sender,
                    "template": alert.template,
                    "code": alert.code,
                    "what": alert.message,
                }
                for alert in summary.alerts[:REPORT_ROWS]
            ]
        ),
    ]
    report = [f"[The night's report]({_link(summary.report)})"] if summary.report else []
    return "\n\n".join(
        [
            f"# Nightly run {summary.run_id}",
            *report,
            f"Read {summary.files:,} files ({summary.unchanged_files:,} unchanged), "
            f"{summary.lines:,} lines: {summary.quarantined:,} quarantined, "
            f"{summary.unclassified:,} unclassified, in {summary.duration_s:.1f} s.",
            *unreadable,
            *summary.warnings,
            f"## Alerts on the days the run changed ({len(summary.alerts):,})",
            *alerts,
            "## Message days",
            markdown_table(
                [{k: v for k, v in row.items() if k != "complete"} for row in _day_rows(summary)]
            ),
            f"## Delivery per sender and template (top {REPORT_ROWS})",
            markdown_table(newest.delivery),
            "## Rate-limit incidents",
            markdown_table(newest.incidents),
            "## Top error codes",
            markdown_table(newest.errors),
        ]
    )


def publish_artifacts(
    summary: RunSummary, reports: Sequence[FileReport], newest: NewestDays
) -> None:
    """The night's artifacts on the flow run (keys `nightly-files` and `nightly-summary`)."""
    create_table_artifact(
        key="nightly-files",
        table=file_rows(reports),
        description=f"Files read by run {summary.run_id}: lines, rows per table, quarantined",
    )
    create_markdown_artifact(
        key="nightly-summary",
        markdown=night_markdown(summary, newest),
        description=f"Headline metrics of the newest days after run {summary.run_id}",
    )
