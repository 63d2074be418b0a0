"""Build the warehouse from the state the runs have read into: de-duplicate, resolve
identities, and model the raw tables, `messages` and the metrics (contract §3, §4 and §5) with
the SQL in `sql/build`, in the order its models' headers give (`transforms.build.graph`). A
night that adds files updates the previous warehouse instead (`transforms.build.update`).
"""

import hashlib
import shutil
from pathlib import Path

import duckdb

from transforms.build import update
from transforms.build.changes import Changes
from transforms.build.graph import full_build_order
from transforms.build.session import (
    BuildSettings,
    StepHook,
    Steps,
    add_link_hashes,
    open_build,
    record_build,
    run_build_model,
)
from transforms.contract.catalogue import ERROR_CODES
from transforms.contract.schema import comment_statements, table_ddl
from transforms.contract.tables import TABLES
from transforms.sql import SQL_DIR, STORAGE_VERSION

# the steps of a full build: the tables, its models, the link hashes and the checkpoint
ANEW_STEPS = 3 + len(full_build_order())


def build_fingerprint(settings: BuildSettings) -> str:
    """What a warehouse's tables depend on besides the state: the models, the catalogue, the
    rate card and market map, the tables' columns, the windows and DuckDB's version. A
    warehouse built under another fingerprint is built anew, never updated."""
    digest = hashlib.sha256()
    for path in sorted(SQL_DIR.glob("build/**/*.sql")):
        digest.update(path.relative_to(SQL_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(ERROR_CODES.read_bytes())
    digest.update(settings.pricing.digest().encode())
    for name, table in TABLES.items():
        digest.update(table_ddl(name, table).encode())
    windows = settings.model_dump(include={"reply_window_hours", "report_missing_hours"})
    windows["incident_gap_seconds"] = settings.incident_gap_seconds
    digest.update(repr(sorted(windows.items())).encode() + duckdb.__version__.encode())
    digest.update(STORAGE_VERSION.encode())
    return digest.hexdigest()


def build_warehouse(
    database: Path,
    state: Path,
    settings: BuildSettings,
    previous: Path | None = None,
    *,
    copied: bool = False,
    on_step: StepHook | None = None,
) -> Changes | None:
    """Write every table of the warehouse into a new DuckDB file at `database`, from the
    state the runs have read into: by updating a copy of the `previous` warehouse when it
    can be (what the update changed), else anew (None). With `copied`, `database` already
    holds that copy (the flow makes it while the night reads its files); it is replaced when
    the warehouse is built anew. `on_step` is told each step as it begins."""
    fingerprint = build_fingerprint(settings)
    if previous is not None and previous.exists():
        if not copied:
            shutil.copyfile(previous, database)
            copied = True
        steps = Steps(on_step, update.STEPS)
        changes = update.update_warehouse(database, state, settings, fingerprint, steps)
        if changes is not None:
            return changes
    if copied:
        database.unlink()  # a copy that cannot be updated
    _build_anew(database, state, settings, fingerprint, Steps(on_step, ANEW_STEPS))
    return None


def _build_anew(
    database: Path, state: Path, settings: BuildSettings, fingerprint: str, step: Steps
) -> None:
    connection = open_build(database, state, settings)
    try:
        step("tables")
        for name, table in TABLES.items():
            connection.execute(table_ddl(name, table))
            for statement in comment_statements(name, table):
                connection.execute(statement)
        for model in full_build_order():
            step(model)
            run_build_model(connection, model, settings)
        step("link hashes")
        add_link_hashes(connection, "")
        step("checkpoint")
        record_build(connection, settings, fingerprint, updated=False)
    finally:
        connection.close()
