"""The report (docs/report.md): one self-contained HTML page of the warehouse's newest days,
written each night beside the export (`report/index.html`) and by `wa-etl report`. The
frames behind it are the `sql/reports/report_*.sql` queries, read as polars frames; the
charts are Plotly's, its script inline, so that the page opens with no network."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from transforms.sql import LOOK, connect, sql_text

# where a night writes the report, in its export
REPORT_PATH = Path("report/index.html")
TEMPLATE = Path(__file__).with_name("report.html.j2")
# the busiest senders the funnel chart draws (the table below it has every pair)
FUNNEL_SENDERS = 6
TOP_CODES = 15
# the rows each table shows (the warehouse has them all)
TABLE_ROWS = 40
# what the charts draw with: readable on a phone and a laptop, no toolbar logo
CHART_CONFIG = {"responsive": True, "displaylogo": False}
COLORS = {"delivery": "#1a7f37", "read": "#0969da", "failure": "#cf222e", "reply": "#8250df"}
HANDLING_COLORS = {
    "stop": "#cf222e",
    "suppress": "#bc4c00",
    "fix": "#9a6700",
    "pace": "#0969da",
    "retry": "#1a7f37",
    "defer": "#57606a",
    "review": "#8c959f",
}


@dataclass(frozen=True)
class ReportFrames:
    """What the page shows, each a frame of `sql/reports/report_<name>.sql`."""

    since: date
    days: pl.DataFrame
    funnel: pl.DataFrame
    errors: pl.DataFrame
    incidents: pl.DataFrame
    alerts: pl.DataFrame
    missing: pl.DataFrame
    actions: pl.DataFrame
    suppression: pl.DataFrame
    costs: pl.DataFrame


def report_frames(warehouse: Path, days: int) -> ReportFrames | None:
    """The frames of the `days` newest message days of the `warehouse` (None: no message)."""
    connection = connect(str(warehouse), limits=LOOK, read_only=True)
    try:
        ((newest,),) = connection.execute("select max(day) from delivery_daily").fetchall()
        if newest is None:
            return None
        since = date.fromordinal(newest.toordinal() - days + 1)

        def frame(name: str) -> pl.DataFrame:
            (query,) = duckdb.extract_statements(sql_text(f"reports/report_{name}"))
            # the newest days', or the warehouse's whole (the customers to stop writing to)
            wanted = {"since": since} if "since" in query.named_parameters else None
            relation = connection.sql(query.query, params=wanted)
            rows: pl.DataFrame = relation.pl()
            return rows

        return ReportFrames(
            since=since,
            days=frame("days"),
            funnel=frame("funnel"),
            errors=frame("errors"),
            incidents=frame("incidents"),
            alerts=frame("alerts"),
            missing=frame("missing"),
            actions=frame("actions"),
            suppression=frame("suppression"),
            costs=frame("costs"),
        )
    finally:
        connection.close()


def _layout(figure: go.Figure, title: str, height: int = 360) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 48, "r": 16, "t": 48, "b": 40},
        legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
    )
    return figure


def funnel_chart(funnel: pl.DataFrame) -> go.Figure:
    """Attempted -> replied for the busiest senders, each a funnel of its messages."""
    stages = ["attempted", "accepted", "sent", "delivered", "read", "replied"]
    per_sender = (
        funnel.group_by("sender")
        .agg(pl.col(stages).sum())
        .sort(["attempted", "sender"], descending=[True, False])
        .head(FUNNEL_SENDERS)
    )
    figure = go.Figure()
    for row in per_sender.iter_rows(named=True):
        figure.add_trace(
            go.Funnel(
                name=row["sender"],
                y=stages,
                x=[row[stage] for stage in stages],
                textinfo="value+percent initial",
            )
        )
    return _layout(figure, "Funnel per sender (messages; % of attempted)", 420)


def trend_chart(days: pl.DataFrame) -> go.Figure:
    """Delivery, read, failure and reply rates per day; the days still filling shaded."""
    x = [day.isoformat() for day in days["day"]]
    figure = go.Figure()
    rates = [
        ("delivery", "delivery_rate", "delivered", "sent"),
        ("read", "read_rate", "read", "delivered"),
        ("failure", "failure_rate", "failed", "attempted"),
        ("reply", "reply_rate", "replied", "delivered"),
    ]
    for label, rate, numerator, denominator in rates:
        figure.add_trace(
            go.Scatter(
                name=f"{label} rate ({numerator} / {denominator})",
                x=x,
                y=days[rate].to_list(),
                mode="lines+markers",
                line={"color": COLORS[label]},
                customdata=list(zip(days[numerator], days[denominator], strict=True)),
                hovertemplate=f"%{{x}}: %{{y:.1%}} (%{{customdata[0]:,}} {numerator} of "
                f"%{{customdata[1]:,}} {denominator})<extra></extra>",
            )
        )
    filling = [day for day, complete in zip(x, days["complete"], strict=True) if not complete]
    if filling:
        figure.add_vrect(
            x0=filling[0],
            x1=filling[-1],
            fillcolor="#eaeef2",
            opacity=0.6,
            line_width=0,
            annotation_text="still filling",
            annotation_position="top left",
        )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(figure, "Daily rates (days still filling shaded)")


def error_category_chart(errors: pl.DataFrame) -> go.Figure:
    """Error rows per category, stacked by handling class."""
    per = errors.group_by(["category", "handling"]).agg(pl.col("events").sum()).sort("category")
    figure = go.Figure()
    for handling in sorted(per["handling"].unique().to_list()):
        rows = per.filter(pl.col("handling") == handling)
        figure.add_trace(
            go.Bar(
                name=handling,
                x=rows["category"].to_list(),
                y=rows["events"].to_list(),
                marker_color=HANDLING_COLORS.get(handling, "#8c959f"),
            )
        )
    figure.update_layout(barmode="stack")
    return _layout(figure, "Errors by category, by what to do (handling)")


def error_code_chart(errors: pl.DataFrame) -> go.Figure:
    """The most frequent codes, one bar each."""
    top = errors.head(TOP_CODES).reverse()
    labels = [
        f"{code if code is not None else '-'} {title or ''}"[:48]
        for code, title in zip(top["code"], top["title"], strict=True)
    ]
    figure = go.Figure(
        go.Bar(
            x=top["events"].to_list(),
            y=labels,
            orientation="h",
            marker_color=[HANDLING_COLORS.get(kind, "#8c959f") for kind in top["handling"]],
        )
    )
    figure.update_yaxes(automargin=True)
    return _layout(figure, f"Top {TOP_CODES} error codes (error rows)", 420)


def incident_chart(incidents: pl.DataFrame) -> go.Figure:
    """The rate-limit incidents on a timeline, a row per sender; approximate ones grey."""
    figure = go.Figure()
    for approximate, color in ((False, "#cf222e"), (True, "#8c959f")):
        rows = incidents.filter(pl.col("approximate") == approximate)
        if rows.is_empty():
            continue
        figure.add_trace(
            go.Bar(
                name="approximate times" if approximate else "incident",
                orientation="h",
                y=rows["sender"].to_list(),
                base=[moment.isoformat() for moment in rows["started_at"]],
                # at least a minute wide, so that a burst of one second shows
                x=[max(seconds, 60) * 1000 for seconds in rows["duration_s"]],
                marker_color=color,
                customdata=list(zip(rows["duration_s"], rows["events"], strict=True)),
                hovertemplate="%{base|%Y-%m-%d %H:%M} UTC, %{customdata[0]:.0f} s, "
                "%{customdata[1]:,} errors<extra></extra>",
            )
        )
    figure.update_xaxes(type="date")
    return _layout(figure, "Rate-limit incidents (UTC)")


def missing_chart(missing: pl.DataFrame) -> go.Figure:
    """Messages without a delivery report per day."""
    per = missing.group_by("day").agg(pl.col("report_missing", "sent").sum()).sort("day")
    figure = go.Figure(
        go.Bar(
            x=[day.isoformat() for day in per["day"]],
            y=per["report_missing"].to_list(),
            customdata=per["sent"].to_list(),
            hovertemplate="%{x}: %{y:,} of %{customdata:,} sent<extra></extra>",
            marker_color="#9a6700",
        )
    )
    return _layout(figure, "Messages without a delivery report")


def chart_html(figure: go.Figure, name: str) -> str:
    """A chart's element and its script (Plotly's own script is in the page once)."""
    html: str = pio.to_html(
        figure,
        include_plotlyjs=False,
        full_html=False,
        div_id=f"chart-{name}",
        config=CHART_CONFIG,
    )
    return html


def charts(frames: ReportFrames) -> dict[str, str]:
    """The page's charts by name; a chart of nothing is left out (the page says none)."""
    drawn = {
        "funnel": (frames.funnel, funnel_chart),
        "trends": (frames.days, trend_chart),
        "error-categories": (frames.errors, error_category_chart),
        "error-codes": (frames.errors, error_code_chart),
        "incidents": (frames.incidents, incident_chart),
        "missing": (frames.missing, missing_chart),
    }
    return {
        name: chart_html(draw(frame), name)
        for name, (frame, draw) in drawn.items()
        if not frame.is_empty()
    }


def _count(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def _share(numerator: Any, denominator: Any) -> str:
    """`12.3% (45 of 366)`: every rate with what it is of."""
    if not denominator:
        return f"- (of {_count(denominator)})"
    return f"{numerator / denominator:.1%} ({int(numerator):,} of {int(denominator):,})"


def _more(height: int) -> Markup:
    """The note under a table cut at `TABLE_ROWS`."""
    if height <= TABLE_ROWS:
        return Markup("")
    return Markup('<p class="note">and {:,} more rows in the warehouse</p>').format(
        height - TABLE_ROWS
    )


def _usd(value: Decimal | float | None) -> str:
    """Money as the table shows it: USD to the cent's hundredth, a dash for none."""
    return "-" if value is None else f"${value:,.4f}"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["count"] = _count
    environment.filters["usd"] = _usd
    environment.globals["share"] = _share
    environment.globals["rows"] = TABLE_ROWS
    environment.globals["more"] = _more
    return environment


def headline(days: pl.DataFrame) -> dict[str, Any]:
    """The newest complete day's row (else the newest day's, marked still filling)."""
    complete = days.filter(pl.col("complete"))
    chosen = complete if not complete.is_empty() else days
    return chosen.sort("day").tail(1).to_dicts()[0]


def report_html(
    warehouse: Path, days: int, generated_at: datetime, published_as: Path | None = None
) -> str:
    """The page of the `days` newest message days of the `warehouse` (which is published as
    `published_as`, when it is a night's new warehouse)."""
    label = (published_as or warehouse).name
    frames = report_frames(warehouse, days)
    page = _environment().get_template(TEMPLATE.name)
    if frames is None:
        return page.render(frames=None, generated_at=generated_at, warehouse=label)
    top = headline(frames.days)
    incidents_that_day = frames.incidents.filter(
        pl.col("started_at").dt.date() == top["day"]
    ).height
    return page.render(
        frames=frames,
        headline=top,
        incidents_that_day=incidents_that_day,
        alerts_that_day=frames.alerts.filter(pl.col("day") == top["day"]).height,
        charts=charts(frames),
        plotly_js=get_plotlyjs(),
        generated_at=generated_at,
        warehouse=label,
    )


def report_location(export: str | Path) -> str | None:
    """Where the report published with an export is (none before the first publish)."""
    if isinstance(export, str):
        return f"{export.rstrip('/')}/{REPORT_PATH}"
    report = export / REPORT_PATH
    return str(report) if report.is_file() else None


def write_report(
    warehouse: Path,
    out: Path,
    days: int,
    generated_at: datetime,
    published_as: Path | None = None,
) -> Path:
    """Write the report of `warehouse` (published as `published_as`) to `out` (its folder
    made); the file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(warehouse, days, generated_at, published_as), encoding="utf-8")
    return out
