"""Past one machine: the reading tasks of a night fan out over a Dask cluster (a LocalCluster of
two worker processes here, against the test's Prefect server), the merge, build and publish
run once at the end, and every table equals the single-process run's."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from distributed import Client, LocalCluster

from devtools.sample import SampleSpec, write_sample
from flows.nightly import nightly_for
from flows.settings import TaskRunnerKind, Tuning
from flows.summary import RunSummary
from transforms.contract.tables import ARCHIVE_TABLES

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
RUN_COLUMNS = {"ingested_at", "run_id"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as started:
        yield started


def night(archive: Path, out: Path, runner: TaskRunnerKind, address: str | None) -> RunSummary:
    out.mkdir()
    tuning = Tuning(partition_mb=1)  # many partitions: many tasks to spread
    return nightly_for(tuning, runner, address)(
        source=str(archive),
        warehouse=out / "warehouse.duckdb",
        export=out / "export",
        as_of=AS_OF,
        tuning=tuning,
    )


def tables(out: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        contents = {}
        for name in ARCHIVE_TABLES:
            columns = [
                column
                for (column, *_) in connection.execute(f"describe {name}").fetchall()
                if column not in RUN_COLUMNS
            ]
            query = f"select {', '.join(columns)} from {name} order by all"
            contents[name] = connection.execute(query).fetchall()
        return contents


def test_a_night_on_a_dask_cluster_equals_a_night_in_one_process(
    prefect_server: None, cluster: LocalCluster, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    write_sample(archive, SampleSpec(messages=3000, days=2, seed=17))

    on_dask = night(archive, tmp_path / "dask", "dask", cluster.scheduler_address)
    in_process = night(archive, tmp_path / "threads", "threads", None)

    with Client(cluster) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    # both worker processes read partitions
    assert len(executed) == 2
    assert all(count >= 1 for count in executed.values()), executed
    assert on_dask.files == in_process.files > 100
    assert on_dask.lines == in_process.lines
    assert on_dask.rows == in_process.rows
    dask_tables, process_tables = tables(tmp_path / "dask"), tables(tmp_path / "threads")
    for name in ARCHIVE_TABLES:
        assert dask_tables[name] == process_tables[name], name
