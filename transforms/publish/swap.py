"""Publish a built warehouse and its export, each in one atomic step, so readers see the old
outputs or the new, never half: the export folder is a symbolic link to a versioned folder
beside it, pointed at the new version by a rename (the old version then removed); the
warehouse file is replaced by a rename, once a stale write-ahead log is set aside; the
published file is opened as an analyst would to check it.
"""

import re
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.sql import LOOK, connect


def versions_dir(export: Path) -> Path:
    return export.parent / f".{export.name}.versions"


def new_export_dir(export: Path, run_id: str) -> Path:
    """An empty folder for this run's export, beside the published ones."""
    folder = versions_dir(export) / run_id
    folder.mkdir(parents=True)
    return folder


def swap_in_export(export: Path, version: Path) -> None:
    """Point `export` at `version` atomically and remove the version it pointed at before."""
    previous = export.resolve() if export.is_symlink() else None
    if export.exists() and not export.is_symlink():
        raise FileExistsError(
            f"{export} is a folder this tool did not create; move it away or choose another "
            "--export (the export is published as a link to a versioned folder)"
        )
    link = export.with_name(f".{export.name}.{version.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(version.relative_to(export.parent))
    link.replace(export)
    if previous is not None and previous != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def swap_in_warehouse(warehouse: Path, built: Path) -> None:
    """Replace the warehouse file by the newly built one in one rename. An analyst who holds
    the old file open keeps reading it; new connections open the new one."""
    built.replace(warehouse)


class WarehouseHeldError(RuntimeError):
    """Another program has the warehouse open for writing."""


_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")


def writer_of(warehouse: Path) -> str | None:
    """Who has the warehouse open for writing (`pid N`), if anyone: DuckDB locks the file of
    a connection that may write, which a read-only open cannot share."""
    if not warehouse.exists():
        return None
    try:
        duckdb.connect(str(warehouse), read_only=True).close()
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            return None
        holder = _LOCK_HOLDER.search(str(error))
        return f"pid {holder.group(1)}" if holder else "another program"
    except duckdb.Error:
        return None  # a warehouse that cannot be opened holds no lock either
    return None


def write_log_of(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.name}.wal")


def set_aside_stale_log(warehouse: Path, run_id: str) -> Path | None:
    """Before the swap: a write-ahead log beside the warehouse is another connection's that
    died with writes pending (this tool never writes the warehouse in place). It belongs to
    the old file: beside the new one it would make every open fail. Refused while a writer
    holds the warehouse; else moved aside and kept (its writes were not ours). Where it went."""
    log = write_log_of(warehouse)
    if not log.exists():
        return None
    holder = writer_of(warehouse)
    if holder is not None:
        raise WarehouseHeldError(
            f"another program ({holder}) has the warehouse {warehouse} open for writing: "
            "close it and run again; nothing was published"
        )
    aside = log.with_name(f"{log.name}.stale-{run_id}")
    log.replace(aside)
    return aside


def published_rows(warehouse: Path, table: str) -> int:
    """The rows of a table of the published warehouse, opened as an analyst would."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ((rows,),) = connection.execute(f'select count(*) from "{table}"').fetchall()
        return int(rows)


def record_publish(database: Path, runs: pa.Table, export: str) -> None:
    """The runs log as the warehouse's `runs` table (every row replaced), and where the
    export published with the warehouse is (`wa_etl_build.published`): a night with nothing
    new to read still exports to another destination."""
    connection = connect(str(database), limits=LOOK)
    try:
        connection.register("logged_runs", runs)
        connection.execute("begin transaction")
        connection.execute("delete from runs")
        connection.execute("insert into runs by name select * from logged_runs")
        connection.execute("create schema if not exists wa_etl_build")
        connection.execute(
            "create or replace table wa_etl_build.published as select $export as export",
            {"export": export},
        )
        connection.execute("commit")
        connection.execute("checkpoint")
    finally:
        connection.close()


def remove_unpublished(warehouse: Path, export: Path | None) -> None:
    """Remove what a run that died left behind: a warehouse being built, and export versions
    no link points to (of a local `export`). Only while no run works (under the run lock)."""
    for building in warehouse.parent.glob(f".{warehouse.name}.*.building*"):
        building.unlink(missing_ok=True)
    if export is None:
        return
    published = export.resolve() if export.is_symlink() else None
    versions = versions_dir(export)
    if versions.is_dir():
        for version in versions.iterdir():
            if version.resolve() != published:
                shutil.rmtree(version, ignore_errors=True)
    for link in export.parent.glob(f".{export.name}.*.link"):
        link.unlink(missing_ok=True)
