"""The build's DuckDB session: its settings, the new warehouse's connection with the state
attached and the settings set, and how each model of `sql/build` runs on it (a mart's query
inserted into its table, a staging script run whole, `message_lifecycle` in parts)."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel

from transforms.build.graph import model as declared_model
from transforms.build.graph import table_names
from transforms.build.lifecycle import LIFECYCLE, build_message_lifecycle
from transforms.contract.catalogue import error_catalogue
from transforms.contract.columns import OnUpdate
from transforms.contract.pricing import PricingFiles, markets, rate_card
from transforms.contract.tables import TABLES
from transforms.sql import Limits, connect, insert_rows, run_model, run_script, set_variables

MARTS = "build/marts/"


class BuildSettings(BaseModel):
    """What the models need beyond the data: the run's start and as-of time (contract §4; by
    default the newest event not after the start), the contract's windows, the files messages
    are priced with and DuckDB's limits. Their defaults are the night's
    (`flows.settings.Tuning`)."""

    run_started: datetime
    as_of: datetime | None
    reply_window_hours: int
    report_missing_hours: int
    incident_gap_seconds: int
    limits: Limits
    # the rate card and the market map the messages are priced with
    pricing: PricingFiles
    run_id: str = ""
    # where the build writes its passing files (the system's temporary folder if None)
    scratch_dir: Path | None = None


StepHook = Callable[[str, int], None]
"""Told each step of the build as it begins: its name and how many steps the build has."""


class Steps:
    """The steps of a build, told one by one to its hook (the night's progress)."""

    def __init__(self, hook: StepHook | None, total: int) -> None:
        self._hook = hook
        self._total = total

    def __call__(self, name: str) -> None:
        if self._hook is not None:
            self._hook(name, self._total)


def open_build(database: Path, state: Path, settings: BuildSettings) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse being built, the state attached read-only as `state`,
    the macros defined and the settings the models read set (`variable <name>` in their
    headers)."""
    connection = connect(str(database), limits=settings.limits)
    connection.execute("attach $state as state (read_only)", {"state": str(state)})
    run_script(connection, "build/staging/macros")
    set_variables(
        connection,
        {
            "reply_window_hours": settings.reply_window_hours,
            "report_missing_hours": settings.report_missing_hours,
            "incident_gap_seconds": settings.incident_gap_seconds,
            "rebuild_days": None,
        },
    )
    return connection


def mart_table(model: str) -> str | None:
    """The warehouse table a model builds (a mart's file is named after its table)."""
    return model.removeprefix(MARTS) if model.startswith(MARTS) else None


def on_update(model: str) -> OnUpdate | None:
    """How an update treats the table `model` builds; None for a staging model."""
    table = mart_table(model)
    return None if table is None else TABLES[table].on_update


def parameters_of(model: str, settings: BuildSettings) -> dict[str, Any]:
    """The named parameters a model takes (`$name` in its text)."""
    if model == "build/staging/as_of":
        return {"as_of": settings.as_of, "run_started": settings.run_started}
    return {}


def run_build_model(
    connection: duckdb.DuckDBPyConnection,
    model: str,
    settings: BuildSettings,
    *,
    keep_inserted: bool = False,
) -> None:
    """Run one model: a mart's rows inserted into its table (with `keep_inserted`, also kept
    as `inserted_<table>`), a staging script run whole (once for each table it is written
    for)."""
    table = mart_table(model)
    if model == LIFECYCLE:
        build_message_lifecycle(connection, settings.limits.memory_limit, settings.scratch_dir)
        return
    if model == "build/marts/error_codes":
        connection.register("error_catalogue", error_catalogue().to_arrow())
    if model == "build/marts/rate_card":
        connection.register("rate_card_seed", rate_card(settings.pricing.rate_card).to_arrow())
    if model == "build/marts/markets":
        connection.register("markets_seed", markets(settings.pricing.markets).to_arrow())
    if table is not None:
        kept = f"inserted_{table}" if keep_inserted else None
        insert_rows(connection, model, table, parameters_of(model, settings), kept=kept)
        return
    for names in [table_names(table) for table in declared_model(model).tables()] or [{}]:
        run_script(connection, model, parameters_of(model, settings), names)


def add_link_hashes(connection: duckdb.DuckDBPyConnection, rows_prefix: str) -> None:
    """Add the hashes of the keys and wamids of the tables named `<rows_prefix><table>` (the
    warehouse's own, or the rows an update put back) to `wa_etl_build.link_hashes`."""
    set_variables(connection, {"link_rows_prefix": rows_prefix})
    run_script(connection, "build/update/10_link_hashes")


def record_build(
    connection: duckdb.DuckDBPyConnection, settings: BuildSettings, fingerprint: str, updated: bool
) -> None:
    """Record what built the warehouse (`wa_etl_build.info`), detach the state, checkpoint."""
    run_model(
        connection,
        "build/update/17_record",
        {
            "fingerprint": fingerprint,
            "run_id": settings.run_id,
            "built_at": datetime.now(UTC),
            "updated": updated,
        },
    )
    connection.execute("detach state")
    connection.execute("checkpoint")
