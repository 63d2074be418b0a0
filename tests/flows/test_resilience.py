"""Nightly runs as real processes (contract §7): killed at any point they leave the last night
intact and the next run completes the work; an analyst holding the warehouse open does not
stop them; two at once never corrupt anything; a full disk is a clear error."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import prefect.settings
import pytest

from devtools.sample import SampleSpec, write_sample
from flows.lock import run_lock
from tests.flows.conftest import wa_etl_run
from transforms.source.discover import local_listing

AS_OF = "2026-11-22T00:00:00Z"
READER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
count = lambda: connection.execute("select count(*) from statuses").fetchall()[0][0]
print(count(), flush=True)
sys.stdin.readline()
print(count(), flush=True)
"""


@pytest.fixture(scope="module")
def api_url(prefect_server: None) -> str:
    """The tests' Prefect server, for the runs in child processes."""
    return str(prefect.settings.get_current_settings().api.url)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A sample large enough for each step of a run to take a while, and the files that
    arrive from its fourth day on, which the second night reads."""
    sample = tmp_path_factory.mktemp("resilience") / "sample"
    spec = SampleSpec(messages=12000, days=3, seed=17)
    write_sample(sample, spec)
    files = local_listing(sample).files
    late_from = spec.start + timedelta(days=spec.days)
    late = [
        Path(file.uri)
        for file in files
        if file.hints.arrival_day and file.hints.arrival_day >= late_from
    ]
    assert 0 < len(late) < len(files) / 2
    return sample, late


def first_night(sample: Path, late: list[Path], target: Path) -> Path:
    """The archive as it was on the first night: all but the last day's files."""
    shutil.copytree(sample, target)
    for path in late:
        (target / path.relative_to(sample.resolve())).unlink()
    return target


def second_night(sample: Path, late: list[Path], archive: Path) -> None:
    for path in late:
        shutil.copy2(path, archive / path.relative_to(sample.resolve()))


def start(archive: Path, out: Path, api_url: str, *extra: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PREFECT_API_URL": api_url}
    command = wa_etl_run(archive, out / "warehouse.duckdb", out / "export", AS_OF, *extra)
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def finish(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return stdout


def rows(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    """A table's rows without the times its files were read, which differ from run to run."""
    columns = connection.execute(
        "select column_name from duckdb_columns() where table_name = $table and column_name != 'ingested_at'"
        " and not internal and schema_name = 'main' order by column_index",
        {"table": table},
    ).fetchall()
    return f"select {', '.join(name for (name,) in columns)} from {table}"


def contents(out: Path) -> dict[str, object]:
    """What an analyst sees: the warehouse's tables, fingerprinted without the folder the run
    wrote to, and the export's rows, counted."""
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        seen: dict[str, object] = {
            name: connection.execute(
                f"select count(*), md5(string_agg(replace(t::varchar, $out, ''), '|' order by t::varchar))"
                f" from ({rows(connection, name)}) t",
                {"out": str(out.resolve())},
            ).fetchall()[0]
            for name in (
                "statuses",
                "replies",
                "messages",
                "delivery_daily",
                "rate_limit_incidents",
            )
        }
        seen["export"] = connection.execute(
            "select count(*) from read_parquet($files, hive_partitioning = true)",
            {"files": str(out / "export" / "messages" / "*" / "*.parquet")},
        ).fetchall()[0][0]
    return seen


def marker(out: Path, step: str) -> Callable[[], bool]:
    """Whether a run has reached a step, by the files it writes there."""
    state = out / ".warehouse.duckdb.state"
    versions = out / ".export.versions"
    published = lambda: (out / "export").resolve()  # noqa: E731
    return {
        "reading": lambda: any((state / "runs").glob("*/landing/*/*.parquet")),
        "merging": lambda: (state / "state.duckdb.wal").exists(),
        # the previous warehouse is copied while the files are read: the build writes its log
        "building": lambda: any(out.glob(".warehouse.duckdb.*.building.wal")),
        "exporting": lambda: (
            versions.is_dir()
            and any(
                version.resolve() != published() and any(version.iterdir())
                for version in versions.iterdir()
            )
        ),
    }[step]


def reached_yet(reached: Callable[[], bool]) -> bool:
    """Whether the run has reached the step; not yet while a folder the marker scans is
    replaced under it (the run creates and removes its folders as the marker looks)."""
    try:
        return reached()
    except FileNotFoundError:
        return False


def kill_at(process: subprocess.Popen[str], reached: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 300
    while not reached_yet(reached):
        assert process.poll() is None, "the run finished before reaching the step"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def reference(
    archives: tuple[Path, list[Path]], api_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """Two undisturbed nights."""
    sample, late = archives
    root = tmp_path_factory.mktemp("reference")
    archive = first_night(sample, late, root / "archive")
    finish(start(archive, root, api_url))
    second_night(sample, late, archive)
    finish(start(archive, root, api_url))
    return contents(root)


@pytest.mark.parametrize("step", ["reading", "merging", "building", "exporting"])
def test_a_run_killed_at_any_step_leaves_the_last_night_and_the_next_run_completes(
    archives: tuple[Path, list[Path]],
    api_url: str,
    reference: dict[str, object],
    tmp_path: Path,
    step: str,
) -> None:
    sample, late = archives
    archive = first_night(sample, late, tmp_path / "archive")
    finish(start(archive, tmp_path, api_url))
    night_one = contents(tmp_path)
    assert night_one != reference
    second_night(sample, late, archive)
    kill_at(start(archive, tmp_path, api_url), marker(tmp_path, step))
    assert contents(tmp_path) == night_one
    finish(start(archive, tmp_path, api_url))
    assert contents(tmp_path) == reference
    assert not list(tmp_path.glob(".warehouse.duckdb.*.building"))
    assert [version.resolve() for version in (tmp_path / ".export.versions").iterdir()] == [
        (tmp_path / "export").resolve()
    ]


def test_an_analyst_holding_the_warehouse_open_does_not_stop_the_run(
    archives: tuple[Path, list[Path]], api_url: str, tmp_path: Path
) -> None:
    sample, late = archives
    archive = first_night(sample, late, tmp_path / "archive")
    finish(start(archive, tmp_path, api_url))
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path / "warehouse.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdin is not None
    before = int(reader.stdout.readline())
    second_night(sample, late, archive)
    finish(start(archive, tmp_path, api_url))
    # the analyst's open connection still reads the night it opened; a new one reads the new
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert int(reader.stdout.readline()) == before
    reader.wait(timeout=60)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from statuses").fetchall()[0][0] > before


def test_two_runs_started_together_never_corrupt_the_warehouse(
    archives: tuple[Path, list[Path]], api_url: str, reference: dict[str, object], tmp_path: Path
) -> None:
    sample, late = archives
    archive = first_night(sample, late, tmp_path / "archive")
    finish(start(archive, tmp_path, api_url))
    second_night(sample, late, archive)
    runs = [start(archive, tmp_path, api_url) for _ in range(2)]
    outcomes = [run.communicate(timeout=600) for run in runs]
    codes = [run.returncode for run in runs]
    assert 0 in codes
    for code, (_, stderr) in zip(codes, outcomes, strict=True):
        assert code == 0 or "another nightly run is working on this warehouse" in stderr
    assert contents(tmp_path) == reference


def test_a_run_waits_for_the_lock_or_leaves_with_a_clear_message(
    archives: tuple[Path, list[Path]], api_url: str, tmp_path: Path
) -> None:
    sample, late = archives
    archive = first_night(sample, late, tmp_path / "archive")
    lock = tmp_path / ".warehouse.duckdb.state" / "lock"
    with run_lock(lock, 0):
        refused = start(archive, tmp_path, api_url)
        _, stderr = refused.communicate(timeout=600)
        assert refused.returncode != 0
        assert "another nightly run is working on this warehouse (pid " in stderr
        assert not (tmp_path / "warehouse.duckdb").exists()
        waiting = start(archive, tmp_path, api_url, "--tuning.lock-wait-seconds", "300")
        time.sleep(15)
        assert waiting.poll() is None, "the run waits while the lock is held"
    finish(waiting)
    assert (tmp_path / "warehouse.duckdb").is_file()


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small disk cannot be mounted here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_a_clear_error_and_publishes_nothing(
    archives: tuple[Path, list[Path]], api_url: str, tmp_path: Path
) -> None:
    sample, late = archives
    archive = first_night(sample, late, tmp_path / "archive")
    with small_disk(tmp_path / "disk", "120m") as disk:
        finish(start(archive, disk, api_url))
        night_one = contents(disk)
        second_night(sample, late, archive)
        free = shutil.disk_usage(disk).free
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (free - 256 * 1024))
        failed = start(archive, disk, api_url)
        _, stderr = failed.communicate(timeout=600)
        assert failed.returncode != 0
        assert "the disk filled up during the run" in stderr
        assert "Nothing was published: the warehouse and the export are as they were" in stderr
        assert contents(disk) == night_one
        assert not list(disk.glob(".warehouse.duckdb.*.building*"))  # its copy is gone too
        # nothing half written stays: no export version but the published one, no run folder,
        # no landing part the state does not list
        versions = disk / ".export.versions"
        assert [version.resolve() for version in versions.iterdir()] == [
            (disk / "export").resolve()
        ]
        state = disk / ".warehouse.duckdb.state"
        assert not list((state / "runs").iterdir())
        with duckdb.connect(str(state / "state.duckdb"), read_only=True) as connection:
            listed = {
                part for (part,) in connection.execute("select part from landing_parts").fetchall()
            }
        on_disk = {path.name for path in (state / "parts").glob("*/*.parquet")} - {"_empty.parquet"}
        assert on_disk <= listed
        filler.unlink()
        finish(start(archive, disk, api_url))
        assert contents(disk) != night_one
