"""The warehouse's alerts (`sql/publish/alerts.sql`, docs/alerts.md), raised at each publish
once the runs log is in the new warehouse, and those a run shows: the alerts on the days it
changed, and a stale archive."""

from datetime import date
from pathlib import Path

import duckdb
from pydantic import BaseModel

from transforms.sql import LOOK, connect, run_script


class AlertSettings(BaseModel):
    """What raises an alert (the night's defaults: `flows.settings.Tuning.alerts`), and the
    run whose publish raises it."""

    run_id: str
    drop_points: float
    drop_min_sent: int
    drop_baseline_days: int
    long_incident_minutes: float
    stale_archive_hours: float


class Alert(BaseModel):
    """One row of `alerts`, as a run's summary and artifact show it."""

    kind: str
    sender: str | None
    template: str | None
    day: date
    code: int | None
    message: str
    first_raised_run_id: str


def _earlier_alerts(connection: duckdb.DuckDBPyConnection, published: Path | None) -> None:
    """`earlier_alerts`: the alerts of the warehouse published before (none on a first
    night, or when that warehouse has none yet)."""
    connection.execute("create or replace temp table earlier_alerts as from alerts limit 0")
    if published is None or not published.is_file():
        return
    connection.execute("attach $path as published (read_only)", {"path": str(published)})
    try:
        has_alerts = connection.execute(
            "select count(*) from duckdb_tables() "
            "where database_name = 'published' and table_name = 'alerts'"
        ).fetchall()[0][0]
        if has_alerts:
            connection.execute("insert into earlier_alerts by name from published.alerts")
    finally:
        connection.execute("detach published")


def raise_alerts(database: Path, published: Path | None, settings: AlertSettings) -> int:
    """Raise the alerts of the warehouse being published at `database` (its runs log already
    in), each keeping the run that first raised it in the `published` warehouse; how many."""
    connection = connect(str(database), limits=LOOK)
    try:
        _earlier_alerts(connection, published)
        connection.execute("begin transaction")
        run_script(connection, "publish/alerts", settings.model_dump())
        connection.execute("commit")
        ((count,),) = connection.execute("select count(*) from alerts").fetchall()
        return int(count)
    finally:
        connection.close()


def shown_alerts(warehouse: Path, days: list[date] | None) -> list[Alert]:
    """The alerts of the published `warehouse` a run shows: those on `days` (every day when
    None: the run built the warehouse anew), without the stale archive (a run shows its own)."""
    if not warehouse.is_file():
        return []
    connection = connect(str(warehouse), limits=LOOK, read_only=True)
    try:
        exists = connection.execute(
            "select count(*) from duckdb_tables() where table_name = 'alerts'"
        ).fetchall()[0][0]
        if not exists:
            return []
        rows = connection.execute(
            "select kind, sender, template, day, code, message, first_raised_run_id "
            "from alerts where kind <> 'stale_archive' "
            "and ($days::date[] is null or list_contains($days::date[], day)) "
            "order by day desc, kind, sender, template, code",
            {"days": days},
        ).fetchall()
    finally:
        connection.close()
    fields = list(Alert.model_fields)
    return [Alert(**dict(zip(fields, row, strict=True))) for row in rows]
