"""A night that adds files updates a copy of the previous warehouse instead of building anew
(the steps `sql/build/update/NN_*.sql`, in the order of their numbers, around the models).

It finds every message the new events can change (their tracking keys and wamids, closed over
the links the state's events make), takes those messages' rows out, runs the same models over
just their landing rows, judges again the replies of their customers, and counts the metrics
again on the days that changed. Anything else (another version or setting, a file read again
or forgotten) builds anew; either way the tables are the same
(tests/transforms/build/test_update.py).
"""

import logging
from datetime import date
from pathlib import Path

import duckdb

from transforms.build.changes import Changes
from transforms.build.graph import full_build_order, model, table_names
from transforms.build.session import (
    BuildSettings,
    Steps,
    add_link_hashes,
    mart_table,
    on_update,
    open_build,
    record_build,
    run_build_model,
)
from transforms.contract.tables import TABLES
from transforms.sql import run_model, run_script, scalar, sql_text
from transforms.state.parts import create_new_row_views, create_row_views

log = logging.getLogger(__name__)

# the models an update runs again before it judges the replies (the rows of the affected
# messages, and what they are made from), and after (the metrics and the tables built whole)
ROW_MODELS = tuple(
    name
    for name in full_build_order()
    if on_update(name) in (None, "by_message") and name != "build/staging/landing"
)
METRIC_MODELS = tuple(name for name in full_build_order() if on_update(name) in ("by_day", "whole"))
# the tables an update writes again by message, whose changed days it reports
BY_MESSAGE = tuple(name for name, table in TABLES.items() if table.on_update == "by_message")
BY_DAY = tuple(name for name, table in TABLES.items() if table.on_update == "by_day")
STEPS = 14 + len(ROW_MODELS) + len(METRIC_MODELS)


def update_warehouse(
    database: Path, state: Path, settings: BuildSettings, fingerprint: str, step: Steps
) -> Changes | None:
    """Update the copy of the previous warehouse at `database` to the state: what changed.
    None, untouched, when the copy cannot be updated."""
    connection = open_build(database, state, settings)
    try:
        previous_run_id = _updatable_from(connection, fingerprint)
        if previous_run_id is None:
            return None
        _take_out_affected(connection, state, step)
        for model in ROW_MODELS:
            step(model)
            # what is rebuilt, beside what was taken out, tells the days that changed
            keep = on_update(model) == "by_message"
            run_build_model(connection, model, settings, keep_inserted=keep)
        step("link hashes")
        add_link_hashes(connection, "inserted_")
        for script in ("build/update/11_rebuilt", "build/update/12_turned"):
            step(script)
            run_step(connection, script)
        step("build/update/13_reply_scope")
        run_step(connection, "build/update/13_reply_scope")
        step("build/update/14_reattributed")
        run_step(connection, "build/update/14_reattributed")
        for model in METRIC_MODELS:
            step(model)
            if on_update(model) == "whole":
                # built again from everything: the previous night's rows go first
                connection.execute(f"delete from {mart_table(model)}")
            if on_update(model) == "by_day":
                connection.execute(
                    "set variable rebuild_days = (select coalesce(list(distinct day), []::date[])"
                    " from changed_days where table_name = $table)",
                    {"table": mart_table(model)},
                )
            run_build_model(connection, model, settings)
        step("build/update/16_added")
        appended = _keep_added_rows(connection)
        changed = dict(
            connection.execute(
                "select table_name, list(distinct day order by day) from changed_days"
                " where day is not null group by table_name"
            ).fetchall()
        )
        step("checkpoint")
        record_build(connection, settings, fingerprint, updated=True)
        return Changes(
            previous_run_id=previous_run_id,
            changed_days={name: list(changed.get(name, [])) for name in (*BY_MESSAGE, *BY_DAY)},
            appended_days=appended,
        )
    finally:
        connection.close()


def run_step(connection: duckdb.DuckDBPyConnection, script: str) -> None:
    """Run an update step: once, or once for each table it is written for."""
    for names in [table_names(table) for table in model(script).tables()] or [{}]:
        run_script(connection, script, names=names)


def _updatable_from(connection: duckdb.DuckDBPyConnection, fingerprint: str) -> str | None:
    """The run that built the previous warehouse, if the same build made it from files all
    still in the state as the same reads; None if it must be built anew."""
    recorded = scalar(
        connection,
        "select count(*) from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'wa_etl_build' and table_name = 'info'",
    )
    if not recorded:
        log.info("the previous warehouse does not say what built it: building anew")
        return None
    ((same_build, lost_files),) = connection.execute(
        sql_text("build/update/01_applicable"), {"fingerprint": fingerprint}
    ).fetchall()
    if not same_build or lost_files:
        log.info(
            "building anew: %s",
            "another version or setting built the previous warehouse"
            if not same_build
            else f"{lost_files} of its files were read again or forgotten",
        )
        return None
    return str(scalar(connection, "select run_id from wa_etl_build.info"))


def _take_out_affected(connection: duckdb.DuckDBPyConnection, state: Path, step: Steps) -> None:
    """Steps 02 to 09: the new files, the messages they touch closed over their links, their
    landing rows as the models read them, and their built rows taken out."""
    step("build/update/02_new_files")
    create_row_views(connection, state.parent, "state")
    run_model(connection, "build/update/02_new_files")
    create_new_row_views(connection, state.parent)
    for script in ("build/update/03_seeds", "build/update/04_found"):
        step(script)
        run_step(connection, script)
    step("build/update/05_hits")
    while True:
        before = _affected(connection)
        run_model(connection, "build/update/05_hits")
        run_step(connection, "build/update/06_grow")
        if _affected(connection) == before:
            break
    for script in ("build/update/07_landing", "build/update/08_remove", "build/update/09_take_out"):
        step(script)
        run_step(connection, script)


def _affected(connection: duckdb.DuckDBPyConnection) -> int:
    return int(
        scalar(
            connection,
            "select (select count(*) from affected_keys) + (select count(*) from affected_wamids)"
            " + (select count(*) from affected_conversations)",
        )
    )


def _keep_added_rows(connection: duckdb.DuckDBPyConnection) -> dict[str, list[date]]:
    """Keep, per table updated by message, the rows the update added on the days it only
    added to (`build/update/15_appended_days`, `build/update/16_added`) as
    `wa_etl_build.added_<table>`, replacing the previous update's; those days, by table."""
    run_step(connection, "build/update/15_appended_days")
    run_step(connection, "build/update/16_added")
    days = dict(
        connection.execute(
            "select table_name, list(day order by day) from appended_days group by table_name"
        ).fetchall()
    )
    return {name: list(days.get(name, [])) for name in BY_MESSAGE}
