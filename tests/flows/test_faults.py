"""A night against a broken world (contract §7): storage that stops, freezes or throttles
(a real S3 API server behind a fault-injecting proxy), files and folders that cannot be read,
a write-ahead log another program left, a writer holding the warehouse, too little memory for
the lines. No partial night is published as a complete one, no run hangs, and the next run
completes the night exactly."""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from devtools.sample import SampleSpec, write_sample
from flows import runs
from flows.errors import UnreadableFilesError, UsageError
from flows.nightly import nightly_for
from flows.settings import Tuning
from flows.summary import RunSummary
from tests.conftest import S3Bucket
from tests.flows.conftest import wa_etl_run
from tests.servers import FaultProxy
from tests.servers import fault_proxy as start_fault_proxy
from transforms.contract.tables import ARCHIVE_TABLES
from transforms.ingest.passes import ReadingOutOfMemoryError
from transforms.publish.swap import WarehouseHeldError
from transforms.source.discover import local_listing

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
QUICK = Tuning(storage_timeout_seconds=1, storage_attempts=2)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "sample"
    write_sample(folder, SampleSpec(messages=200, days=2, seed=21))
    return folder


def night(source: str | Path, out: Path, tuning: Tuning = QUICK, **options: Any) -> RunSummary:
    out.mkdir(exist_ok=True)
    return nightly_for(tuning)(
        source=str(source),
        warehouse=out / "warehouse.duckdb",
        export=out / "export",
        as_of=AS_OF,
        tuning=tuning,
        **options,
    )


def tables(out: Path) -> dict[str, list[tuple[object, ...]]]:
    """The archive's tables, without when and by which run each file was read."""
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        contents = {}
        for name in ARCHIVE_TABLES:
            columns = [
                column
                for (column, *_) in connection.execute(f"describe {name}").fetchall()
                if column not in ("ingested_at", "run_id", "etag", "modified_at")
            ]
            query = f"select {', '.join(columns)} from {name} order by all"
            contents[name] = connection.execute(query).fetchall()
        return contents


def outcomes(out: Path) -> list[str]:
    log = out / ".warehouse.duckdb.state" / runs.LOG_NAME
    return [record.outcome for record in runs.runs(log)]


@contextmanager
def through(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The night's requests go through the proxy."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield


def stop_after_gets(bucket: S3Bucket, proxy: FaultProxy, gets: int) -> threading.Thread:
    """Stop the S3 server once the proxy has passed `gets` object reads on."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(proxy.received("GET")) > gets:
                bucket.server.stop()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_a_store_stopped_mid_reading_publishes_nothing_and_the_next_night_completes(
    prefect_server: None,
    own_s3: S3Bucket,
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own_s3.upload(sample, "raw")
    source = f"s3://{own_s3.name}/raw"
    files = len(local_listing(sample).files)
    with start_fault_proxy(own_s3.server.endpoint) as proxy, through(proxy, monkeypatch):
        watcher = stop_after_gets(own_s3, proxy, gets=files // 3)
        started = time.monotonic()
        with pytest.raises(UnreadableFilesError, match="could not be read") as failure:
            night(source, tmp_path / "out")
        watcher.join()
    assert time.monotonic() - started < 120
    unreadable = failure.value.unreadable
    assert 0 < len(unreadable) < files
    assert not (tmp_path / "out" / "warehouse.duckdb").exists()
    assert outcomes(tmp_path / "out") == ["failed"]
    (failed,) = runs.runs(tmp_path / "out" / ".warehouse.duckdb.state" / runs.LOG_NAME)
    assert failed.unreadable_files == unreadable and not failed.complete

    # the store is back (a new server with the same objects): the next night reads what is
    # missing and publishes the night a run with no fault gives
    from tests.servers import s3_server

    with s3_server(tmp_path / "moto-2.log") as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        from transforms.source.storage import s3_client

        client = s3_client()
        client.create_bucket(Bucket=own_s3.name)
        again = S3Bucket(client, own_s3.name, server)
        again.upload(sample, "raw")
        summary = night(source, tmp_path / "out")
        assert summary.outcome == "published" and summary.files == len(unreadable)
        night(source, tmp_path / "reference")
    assert tables(tmp_path / "out") == tables(tmp_path / "reference")
    assert outcomes(tmp_path / "out") == ["failed", "published"]


def test_a_frozen_store_fails_the_night_within_its_timeouts(
    prefect_server: None,
    own_s3: S3Bucket,
    sample: Path,
    tmp_path: Path,
) -> None:
    own_s3.upload(sample, "raw")
    own_s3.server.freeze()
    started = time.monotonic()
    try:
        with pytest.raises(OSError):
            night(f"s3://{own_s3.name}/raw", tmp_path / "out")
    finally:
        own_s3.server.thaw()
    # a listing of one request of at most 2 attempts of 1 s each, and their waits
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out" / "warehouse.duckdb").exists()


def test_a_store_that_throttles_for_a_while_is_waited_out_and_the_night_is_complete(
    prefect_server: None,
    s3: S3Bucket,
    proxy: FaultProxy,
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3.upload(sample, "raw")
    source = f"s3://{s3.name}/raw"
    patient = Tuning(storage_timeout_seconds=5, storage_attempts=5)
    night(source, tmp_path / "reference", patient)
    with through(proxy, monkeypatch):
        # the listing is refused three times, then the first file's reads three times
        proxy.slow_down(3)

        def throttle_the_reads() -> None:
            while not [request for request in proxy.received("GET") if "/raw/" in request.path]:
                time.sleep(0.005)
            proxy.slow_down(3)

        watcher = threading.Thread(target=throttle_the_reads, daemon=True)
        watcher.start()
        summary = night(source, tmp_path / "out", patient)
        watcher.join(timeout=5)
    assert len(proxy.received("GET")) > 6
    assert summary.outcome == "published" and summary.unreadable_files == []
    assert tables(tmp_path / "out") == tables(tmp_path / "reference")


STRANGER = 12345  # a user outside the run's user namespace


def unreadable_to_the_run(target: Path) -> list[str]:
    """Make `target` unreadable to the runs the command that prefixes theirs starts. Root
    reads whatever the permissions say; in a user namespace that maps only root, a file of
    a user not mapped there is a stranger's, and its permissions hold (a real EACCES)."""
    target.chmod(0)
    if os.geteuid() != 0:
        return []
    os.chown(target, STRANGER, STRANGER)
    return ["unshare", "--user", "--map-root-user"]


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_file_or_folder_that_cannot_be_read_stops_the_publish_unless_allowed(
    sample: Path, tmp_path: Path, what: str
) -> None:
    archive, out = tmp_path / "archive", tmp_path / "out"
    shutil.copytree(sample, archive)
    out.mkdir()
    folder = next(path for path in sorted(archive.rglob("hour=*")) if path.is_dir())
    target = folder if what == "folder" else next(folder.iterdir())
    prefix = unreadable_to_the_run(target)
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "home")}
    environment.pop("PREFECT_API_URL", None)
    command = wa_etl_run(archive, out / "w.duckdb", out / "export", "2026-11-24T02:00:00Z")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *command, *extra], capture_output=True, text=True, env=environment,
            timeout=600,
        )  # fmt: skip

    try:
        refused = run()
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert "could not be read" in refused.stderr and str(target) in refused.stderr
        assert "--allow-unreadable" in refused.stderr
        assert not (out / "w.duckdb").exists()
        allowed = run("--allow-unreadable")
        assert allowed.returncode == 4, allowed.stderr[-2000:]
        assert f"unreadable: {target}" in allowed.stdout
    finally:
        os.chown(target, os.geteuid(), os.getegid())
        target.chmod(0o755)
    log = runs.runs(out / ".w.duckdb.state" / runs.LOG_NAME)
    assert [record.outcome for record in log] == ["failed", "published"]
    assert not log[-1].complete and str(target) in log[-1].unreadable_files[0]


WRITER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("set checkpoint_threshold = '1TB'")
connection.execute("create table notes as select 1 as note")
print("written", flush=True)
sys.stdin.readline()
"""


def test_a_stale_write_ahead_log_is_set_aside_and_the_warehouse_opens(
    prefect_server: None, sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    night(sample, out)
    # another program's connection dies with writes pending: its log stays beside the file
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out / "warehouse.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
    writer.kill()
    writer.wait()
    wal = out / "warehouse.duckdb.wal"
    assert wal.exists()
    summary = night(sample, out, full_refresh=True)
    assert summary.outcome == "published"
    assert any("write-ahead log" in warning for warning in summary.warnings)
    assert not wal.exists() and len(list(out.glob("warehouse.duckdb.wal.stale-*"))) == 1
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from messages").fetchall()[0][0] > 200


def test_a_program_writing_to_the_warehouse_is_refused_before_the_night_starts(
    prefect_server: None, sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    night(sample, out)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out / "warehouse.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
        with pytest.raises(WarehouseHeldError, match=r"another program \(pid \d+\)"):
            night(sample, out, full_refresh=True)
    finally:
        writer.kill()
        writer.wait()
    assert outcomes(out)[-1] == "failed"


def test_too_little_memory_for_the_lines_is_an_error_of_the_run_not_of_a_line(
    prefect_server: None, sample: Path, tmp_path: Path
) -> None:
    starved = Tuning(memory_limit="20MB")
    with pytest.raises(ReadingOutOfMemoryError, match=r"raise --tuning\.memory-limit"):
        night(sample, tmp_path / "out", starved)
    assert not (tmp_path / "out" / "warehouse.duckdb").exists()


@pytest.mark.parametrize("name", ["what?", "back\\slash"])
def test_a_warehouse_where_duckdb_cannot_write_is_refused_clearly(
    prefect_server: None, sample: Path, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / name
    folder.mkdir()
    with pytest.raises(UsageError, match="DuckDB cannot write to"):
        night(sample, folder)
    assert list(folder.iterdir()) == []
