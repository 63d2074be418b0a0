"""The nightly flow end to end: archive in, warehouse and Parquet export out, every line
accounted for; and `wa-etl run` in Prefect's ephemeral mode."""

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from pydantic import ValidationError

from devtools.sample import SampleSpec, write_sample
from flows.errors import UsageError
from flows.nightly import RunSummary, nightly_for
from flows.partitions import json_bytes_estimate, partitions
from flows.settings import DEFAULT_SOURCE, RunSettings, Tuning
from tests.flows.conftest import wa_etl_run
from transforms.contract.tables import RUN_TABLES, TABLES
from transforms.source.discover import ArchiveFile

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("nightly") / "archive"
    write_sample(folder, SampleSpec(messages=400, days=2, seed=9))
    return folder


def run(archive: Path, out: Path, **tuning: int) -> RunSummary:
    settings = Tuning(**tuning) if tuning else Tuning()
    flow = nightly_for(settings)
    return flow(
        source=str(archive),
        warehouse=out / "warehouse.duckdb",
        export=out / "export",
        as_of=AS_OF,
        tuning=settings,
    )


def table_rows(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {
            name: sorted(
                connection.execute(f"select * exclude (ingested_at) from {name}").fetchall()
                if "ingested_at"
                in {row[0] for row in connection.execute(f"describe {name}").fetchall()}
                else connection.execute(f"select * from {name}").fetchall(),
                key=repr,
            )
            for name in TABLES
            if name != "ingest_files" and name not in RUN_TABLES
        }


def test_a_night_reads_the_archive_into_the_warehouse_and_the_export(
    prefect_server: None, archive: Path, tmp_path: Path
) -> None:
    summary = run(archive, tmp_path, workers=2, partition_mb=1)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = {
            name: connection.execute(f"select count(*) from {name}").fetchall()[0][0]
            for name in TABLES
            if name not in RUN_TABLES
        }
        (outcome,) = connection.execute("select outcome from runs").fetchall()
        lines, balance = connection.execute(
            "select sum(lines), sum(classified + unclassified + quarantined + blank) from ingest_files"
        ).fetchall()[0]
        messages = connection.execute("select count(*) from messages").fetchall()[0][0]
    assert summary.rows == counts
    # the run that published the warehouse is in its `runs` table
    assert outcome == ("published",)
    files = [path for path in archive.rglob("*") if path.is_file() and path.name != "README.txt"]
    assert summary.files == counts["ingest_files"] == len(files)
    assert summary.ignored_files == 1
    assert summary.lines == lines == balance
    assert summary.quarantined == counts["quarantine"] == 5
    # the generator simulated 400 messages and its rate-limit bursts
    assert messages == 400 + 4 * 2 * 2 * 6
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        newest = connection.execute(
            "select day, sum(attempted), sum(failed), true from delivery_daily group by day "
            "order by day desc limit 1"
        ).fetchall()
    # as of 2026-11-24, both days of the archive are complete: the summary leads with the newest
    assert [
        (day.day, day.messages, day.failures, day.complete) for day in summary.newest_days
    ] == newest
    assert "newest complete day" in summary.render()
    export = tmp_path / "export"
    assert export.is_symlink()
    # every table, and the night's report beside them
    assert sorted(path.name for path in export.iterdir()) == sorted([*TABLES, "report"])
    assert (export / "report" / "index.html").is_file()
    assert summary.report == str(export / "report" / "index.html")
    # counts are BIGINT everywhere: no DECIMAL(38,0) from a sum in the warehouse or the export;
    # the only decimals are money, DECIMAL(18,6) (docs/costs.md)
    money = [
        ("cost_daily", "cost"),
        ("cost_daily", "cost_unread"),
        ("delivery_daily", "cost"),
        ("messages", "cost"),
        ("rate_card", "rate_usd"),
    ]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        wide = "data_type like 'DECIMAL%' or data_type in ('HUGEINT', 'UHUGEINT')"
        assert connection.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            f"where {wide} order by all"
        ).fetchall() == [(*column, "DECIMAL(18,6)") for column in money]
        exported = connection.execute(
            f"select distinct column_type from (describe select * from "
            f"read_parquet('{export}/*/**/*.parquet', union_by_name = true))"
        ).fetchall()
    assert sorted(kind for (kind,) in exported if kind.startswith(("DECIMAL", "HUGEINT"))) == [
        "DECIMAL(18,6)"
    ]
    # nothing of the run's own is left behind: no half-built file; its landing rows are the
    # state's parts now, one file per table and task
    assert not list(tmp_path.glob("*.building"))
    state = tmp_path / ".warehouse.duckdb.state"
    assert sorted(path.name for path in state.iterdir()) == [
        "lock",
        "parts",
        "runs",
        "runs.jsonl",
        "state.duckdb",
    ]
    assert list((state / "runs").iterdir()) == []
    with duckdb.connect(str(state / "state.duckdb"), read_only=True) as connection:
        listed = connection.execute("select table_name, part from landing_parts").fetchall()
    on_disk = {
        (path.parent.name, path.name)
        for path in (state / "parts").glob("*/*.parquet")
        if path.name != "_empty.parquet"
    }
    assert set(listed) == on_disk
    assert {table for table, _ in listed} == {
        "accepted",
        "template_sends",
        "statuses",
        "replies",
        "errors",
    }


def test_a_night_leaves_its_files_and_headline_as_artifacts(
    prefect_server: None, archive: Path, tmp_path: Path
) -> None:
    state = nightly_for(Tuning())(
        source=str(archive),
        warehouse=tmp_path / "warehouse.duckdb",
        export=tmp_path / "export",
        as_of=AS_OF,
        return_state=True,
    )
    summary = state.result()
    with get_client(sync_client=True) as client:
        artifacts = {
            artifact.key: artifact
            for artifact in client.read_artifacts(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                )
            )
        }
    files = json.loads(artifacts["nightly-files"].data)
    assert len(files) == summary.files
    assert sum(row["lines"] for row in files) == summary.lines
    assert sum(row["quarantined"] for row in files) == summary.quarantined == 5
    for table in ("accepted", "template_sends", "statuses", "replies", "errors"):
        assert sum(row[table] for row in files) >= summary.rows[table]
    page = artifacts["nightly-summary"].data
    assert page.startswith(f"# Nightly run {summary.run_id}")
    days = [headline.day for headline in summary.newest_days]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        ((day, sender, template, attempted, delivered, failed, rate),) = connection.execute(
            "select day, sender, template, attempted, delivered, failed, delivered / sent "
            "from delivery_daily where day in (select unnest($days::date[])) "
            "order by day desc, attempted desc, sender, template limit 1",
            {"days": days},
        ).fetchall()
        ((code, events),) = connection.execute(
            "select code, sum(events) from error_breakdown where day in (select unnest($days::date[])) "
            "group by code order by sum(events) desc, code limit 1",
            {"days": days},
        ).fetchall()
        incidents = connection.execute(
            "select incident_id from rate_limit_incidents where started_at::date in (select unnest($days::date[]))",
            {"days": days},
        ).fetchall()
    busiest = (
        f"| {day} | {sender} | {template} | {attempted} | {delivered} | {failed} | {rate:.1%} |"
    )
    assert busiest in page
    assert f"| {code} |" in page.split("## Top error codes")[1].splitlines()[4]
    assert f"| {events} |" in page.split("## Top error codes")[1].splitlines()[4]
    assert len(incidents) > 0
    for (incident_id,) in incidents[:20]:
        assert f"| {incident_id} |" in page


def test_a_second_night_with_nothing_new_publishes_nothing_and_a_full_refresh_the_same(
    prefect_server: None, archive: Path, tmp_path: Path
) -> None:
    run(archive, tmp_path)
    first_version = (tmp_path / "export").resolve()
    first = table_rows(tmp_path / "warehouse.duckdb")
    assert run(archive, tmp_path).outcome == "nothing_new"
    assert (tmp_path / "export").resolve() == first_version
    assert table_rows(tmp_path / "warehouse.duckdb") == first
    refreshed = nightly_for(Tuning())(
        source=str(archive),
        warehouse=tmp_path / "warehouse.duckdb",
        export=tmp_path / "export",
        as_of=AS_OF,
        full_refresh=True,
    )
    assert refreshed.outcome == "published"
    assert (tmp_path / "export").resolve() != first_version
    assert not first_version.exists()
    assert table_rows(tmp_path / "warehouse.duckdb") == first
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        outcomes = connection.execute("select outcome from runs order by started_at").fetchall()
    assert outcomes == [("published",), ("nothing_new",), ("published",)]


def test_a_warehouse_in_a_missing_folder_is_a_clear_error(
    prefect_server: None, archive: Path, tmp_path: Path
) -> None:
    state = nightly_for(Tuning())(
        source=str(archive),
        warehouse=tmp_path / "missing" / "warehouse.duckdb",
        export=tmp_path / "export",
        return_state=True,
    )
    assert state.is_failed()
    with pytest.raises(UsageError, match=r"warehouse's folder .*missing does not exist"):
        state.result()


def test_a_missing_source_is_a_clear_error_before_anything_starts(
    prefect_server: None, tmp_path: Path
) -> None:
    state = nightly_for(Tuning())(
        source=str(tmp_path / "nowhere"),
        warehouse=tmp_path / "w.duckdb",
        export=tmp_path / "export",
        return_state=True,
    )
    with pytest.raises(
        UsageError, match=r"source folder .*nowhere does not exist or is not a folder"
    ):
        state.result()
    # nothing was started: no task ran, nothing was written beside the warehouse
    with get_client(sync_client=True) as client:
        assert not client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    assert list(tmp_path.iterdir()) == []


def test_a_store_other_than_s3_is_refused_clearly(prefect_server: None, tmp_path: Path) -> None:
    state = nightly_for(Tuning())(
        source="gs://bucket/archive",
        warehouse=tmp_path / "w.duckdb",
        export=tmp_path / "export",
        return_state=True,
    )
    with pytest.raises(UsageError, match="gs:// archives are not read; give a local folder or s3"):
        state.result()
    assert not (tmp_path / "w.duckdb").exists()


def test_wa_etl_run_works_in_ephemeral_mode_with_nothing_to_start(
    archive: Path, tmp_path: Path
) -> None:
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    environment.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        wa_etl_run(archive, tmp_path / "w.duckdb", tmp_path / "export", "2026-11-24T02:00:00Z"),
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "published in" in done.stdout
    assert f"warehouse: {tmp_path / 'w.duckdb'}" in done.stdout
    assert f"parquet export: {tmp_path / 'export'}" in done.stdout
    assert (tmp_path / "w.duckdb").is_file()


def test_the_defaults_read_the_bundled_sample() -> None:
    settings = RunSettings()
    assert settings.source == DEFAULT_SOURCE
    sample = Path(DEFAULT_SOURCE)
    assert sample.is_dir()
    assert len([path for path in sample.rglob("*") if path.is_file()]) > 300
    assert sum(path.stat().st_size for path in sample.rglob("*")) < 8_000_000


def test_a_memory_limit_must_be_a_size_with_its_unit() -> None:
    assert Tuning(memory_limit="2GiB").memory_limit == "2GiB"
    with pytest.raises(ValidationError, match="memory_limit"):
        Tuning(memory_limit="lots")


def _files(*sizes_mb: float, suffix: str = ".jsonl") -> list[ArchiveFile]:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    return [
        ArchiveFile(uri=f"/archive/{index:03d}{suffix}", size=int(size * (1 << 20)), modified_at=at)
        for index, size in enumerate(sizes_mb)
    ]


def test_partitions_give_every_worker_several_tasks_of_bounded_size() -> None:
    files = _files(*[4] * 80)
    # 320 MB for 2 workers: 8 tasks of 40 MB, consecutive files, each file once
    groups = partitions(files, 1024 << 20, workers=2)
    assert [len(group) for group in groups] == [10] * 8
    assert [file for group in groups for file in group] == files
    # the partition size caps them
    assert [len(group) for group in partitions(files, 20 << 20, workers=2)] == [5] * 16
    # a small archive is one task, not many tiny ones
    assert partitions(_files(0.5, 0.5, 0.5), 1024 << 20, workers=2) == [_files(0.5, 0.5, 0.5)]
    # a file larger than a partition is a task of its own
    sizes = [len(group) for group in partitions(_files(3, 300, 3, 3), 1024 << 20, workers=2)]
    assert sizes == [1, 1, 2]


def test_a_small_night_is_one_task_per_worker_and_no_round_leaves_a_worker_idle() -> None:
    # 36 MB in 0.125 MB files (a night's news): two tasks of 18 MB, not 16 + 16 + 4
    groups = partitions(_files(*[0.125] * 288), 1024 << 20, workers=2)
    assert [len(group) for group in groups] == [144, 144]
    # 10 MB: still a task per worker; 6 MB: one task, two would cost more than they share
    assert [len(group) for group in partitions(_files(*[0.5] * 20), 1024 << 20, workers=2)] == [
        10,
        10,
    ]
    assert [len(group) for group in partitions(_files(*[0.5] * 12), 1024 << 20, workers=2)] == [12]
    # 50 MB: three tasks of at least 16 MB would leave a worker idle in the second round
    assert [len(group) for group in partitions(_files(*[1] * 50), 1024 << 20, workers=2)] == [
        25,
        25,
    ]
    # the last files are not a task of their own when the groups fill a little short
    groups = partitions(_files(*[4.5] * 8, 0.5), 1024 << 20, workers=2)
    assert [len(group) for group in groups] == [4, 5]
    assert [len(group) for group in partitions(_files(*[3] * 21), 1024 << 20, workers=3)] == [
        7,
        7,
        7,
    ]


def test_a_compressed_file_weighs_as_the_json_it_holds() -> None:
    plain, packed = _files(*[4] * 10), _files(*[4] * 10, suffix=".jsonl.gz")
    assert [json_bytes_estimate(file) for file in (plain[0], packed[0])] == [4 << 20, 40 << 20]
    # 40 MB of plain JSON and 400 MB of compressed: 55 MB a task; each compressed file alone
    groups = partitions(plain + packed, 1024 << 20, workers=2)
    assert [len(group) for group in groups] == [10] + [1] * 10
