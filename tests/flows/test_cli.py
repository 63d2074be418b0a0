"""`wa-etl` as an operator meets it: one-line errors and exit codes, bad usage and a refused
lock answered at once without a server, a night with nothing new ended in seconds with its
row in the runs log, `status` and `--help`, and no process left behind by a run killed with
SIGINT, SIGTERM or SIGKILL."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.sample import SampleSpec, write_sample
from flows import runs
from flows.cli import NOT_INSTALLED_SAMPLE
from flows.lock import run_lock
from tests.flows.conftest import wa_etl_run

AS_OF = "2026-11-24T02:00:00Z"
WA_ETL = [sys.executable, "-c", "from flows.cli import main; main()"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "archive"
    write_sample(folder, SampleSpec(messages=3000, days=2, seed=4))
    return folder


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no Prefect server of theirs, a Prefect home of their own."""
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    environment.pop("PREFECT_API_URL", None)
    return environment


def timed(
    command: list[str], environment: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    return done, time.monotonic() - started


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["run", "--as-of", "soon"], "--as-of: Input should be a valid datetime"),
        (["run", "--tuning.workers", "0"], "--tuning.workers: Input should be greater than"),
        (["run", "--pii", "mask"], "--pii: Input should be 'keep', 'hash' or 'drop'"),
        (["run", "--source", "/nowhere"], "the source folder /nowhere does not exist"),
        (["run", "--source", "gs://bucket/x"], "gs:// archives are not read"),
        (["run", "--warehouse", "/nowhere/w.duckdb"], "warehouse's folder /nowhere does not exist"),
        (["sample", "--out", "/tmp/x", "--messages", "0"], "--messages: Input should be greater"),
        (["run", "--as-of", "1969-12-31T00:00:00Z"], "--as-of must be a time between 2009-01-01"),
        (["run", "--rate-card", "/nowhere.csv"], "--rate-card: nowhere.csv: No such file"),
        # the market map is no rate card: its columns are named
        (["run", "--rate-card", "data/seeds/markets.csv"], 'extra names: ["country"]'),
    ],
)
def test_bad_usage_is_one_line_and_exit_2_at_once(
    environment: dict[str, str], arguments: list[str], says: str
) -> None:
    done, took = timed([*WA_ETL, *arguments], environment)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert took < 3  # the interpreter's start and the imports; no server is started


def test_debug_shows_the_traceback(environment: dict[str, str]) -> None:
    done, _ = timed([*WA_ETL, "run", "--source", "/nowhere", "--debug"], environment)
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "UsageError" in done.stderr


def test_sample_runs_from_the_repository_and_says_so_where_it_is_not_installed(
    environment: dict[str, str], tmp_path: Path
) -> None:
    """The generator (devtools/) is in the repository, not in the wheel: where only the wheel's
    packages can be imported, `wa-etl sample` is bad usage, in one line."""
    root = Path(__file__).resolve().parents[2]
    wheel = tmp_path / "wheel"  # what the wheel installs: flows and transforms, no devtools
    wheel.mkdir()
    for package in ("flows", "transforms"):
        (wheel / package).symlink_to(root / package, target_is_directory=True)
    # -I: neither the working folder nor PYTHONPATH on the path; the repository's root, which
    # the editable install puts there, is taken off too
    only_the_wheel = (
        f"import sys, pathlib; sys.path[:] = [{str(wheel)!r}, *(p for p in sys.path "
        f"if p and pathlib.Path(p).resolve() != pathlib.Path({str(root)!r}))]; "
        "from flows.cli import main; main()"
    )
    arguments = ["sample", "--messages", "5", "--days", "1"]
    done = subprocess.run(
        [sys.executable, "-I", "-c", only_the_wheel, *arguments, "--out", str(tmp_path / "a")],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"wa-etl: {NOT_INSTALLED_SAMPLE}\n"
    assert "development tool" in done.stderr and "(make sample)" in done.stderr
    assert not (tmp_path / "a").exists()
    # the same command from the project's environment, in another folder, writes the sample
    done = subprocess.run(
        [sys.executable, "-I", "-c", "from flows.cli import main; main()", *arguments,
         "--out", str(tmp_path / "b")],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b" / "README.txt").exists()


def test_help_and_version_say_what_each_command_and_option_is(environment: dict[str, str]) -> None:
    top, _ = timed([*WA_ETL, "--help"], environment)
    for command in ("run", "status", "sql", "sample", "dictionary"):
        assert f"    {command} " in top.stdout
    run, _ = timed([*WA_ETL, "run", "--help"], environment)
    text = " ".join(run.stdout.split())
    assert "[env: WA_ETL_SOURCE]" in text and "[env: WA_ETL_TUNING__WORKERS]" in text
    assert "ISO-8601" in text and "{datetime,null}" not in text
    assert "Exit codes: 0 published or nothing new, 1 failed" in text
    version, _ = timed([*WA_ETL, "--version"], environment)
    assert version.stdout.startswith("wa-etl ")


def test_a_refused_lock_is_exit_3_at_once_and_recorded(
    archive: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    with run_lock(tmp_path / ".w.duckdb.state" / "lock", 0):
        done, took = timed(
            wa_etl_run(archive, tmp_path / "w.duckdb", tmp_path / "export", AS_OF), environment
        )
    assert done.returncode == 3, done.stderr
    assert "another nightly run is working on this warehouse (pid " in done.stderr
    assert took < 3
    log = runs.runs(tmp_path / ".w.duckdb.state" / runs.LOG_NAME)
    assert [record.outcome for record in log] == ["locked"]


def test_a_night_with_nothing_new_ends_in_seconds_and_status_tells_the_runs(
    archive: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    command = wa_etl_run(archive, tmp_path / "w.duckdb", tmp_path / "export", AS_OF)
    first, _ = timed(command, environment)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "published in" in first.stdout and "newest complete day 2026-11-17" in first.stdout
    # how long each stage took, in the order they ran
    stages = r"^stages: reading [0-9.]+ s, build [0-9.]+ s, publish [0-9.]+ s$"
    assert re.search(stages, first.stdout, re.MULTILINE), first.stdout
    again, took = timed(command, environment)
    assert again.returncode == 0, again.stderr
    assert "found nothing new" in again.stdout
    assert took < 3
    log = runs.runs(tmp_path / ".w.duckdb.state" / runs.LOG_NAME)
    assert [record.outcome for record in log] == ["published", "nothing_new"]
    status, _ = timed([*WA_ETL, "status", "--warehouse", str(tmp_path / "w.duckdb")], environment)
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert " published " in lines[1] and " nothing_new " in lines[2]
    assert "newest complete day: 2026-11-17" in status.stdout
    sql, _ = timed(
        [*WA_ETL, "sql", "--warehouse", str(tmp_path / "w.duckdb"), "--command",
         "select outcome from runs"],
        environment,
    )  # fmt: skip
    assert sql.returncode == 0 and "published" in sql.stdout


def children(pid: int) -> set[int]:
    """The processes `pid` started that still run (Linux)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found |= {int(child) for child in task.read_text().split()}
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def running(
    archive: Path, environment: dict[str, str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], set[int]]]:
    """A night under way, and the processes it started (its Prefect server)."""
    run = subprocess.Popen(
        wa_etl_run(archive, tmp_path / "w.duckdb", tmp_path / "export", AS_OF),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    started: set[int] = set()
    deadline = time.monotonic() + 120
    while not (started := children(run.pid)) and time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()[1][-2000:]
        time.sleep(0.05)
    time.sleep(3)  # into the night: the server answers, the flow reads
    try:
        yield run, started
    finally:
        for pid in [run.pid, *started]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        run.communicate(timeout=60)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_killed_run_leaves_no_process_behind(
    running: tuple[subprocess.Popen[str], set[int]], how: signal.Signals
) -> None:
    run, started = running
    assert started and run.poll() is None
    run.send_signal(how)
    run.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if alive(pid)]
    # a shell's statuses: 128 + the signal, or killed by it (negative under Popen)
    assert run.returncode == (-how if how == signal.SIGKILL else 128 + how)


@pytest.mark.parametrize(
    ("how", "message"),
    [(signal.SIGINT, "interrupted (Ctrl-C)"), (signal.SIGTERM, "stopped by signal 15 (SIGTERM)")],
)
def test_a_stopped_run_is_recorded_as_failed_with_why(
    running: tuple[subprocess.Popen[str], set[int]],
    how: signal.Signals,
    message: str,
    tmp_path: Path,
) -> None:
    run, _ = running
    run.send_signal(how)
    run.communicate(timeout=60)
    [record] = runs.runs(tmp_path / ".w.duckdb.state" / runs.LOG_NAME)
    assert (record.outcome, record.message) == ("failed", message)
    assert not (tmp_path / "export").exists()


def test_alerts_fail_the_run_when_asked_and_every_night_checks_the_archive(
    archive: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    """`--fail-on-alert` exits 5 after publishing; the sample's files were last modified
    days before the as-of time, so every night, one with nothing new too, finds the archive
    stale, until a file is written again."""
    warehouse, export = tmp_path / "w.duckdb", tmp_path / "export"
    command = [*wa_etl_run(archive, warehouse, export, AS_OF), "--fail-on-alert"]
    first, _ = timed(command, environment)
    assert first.returncode == 5, first.stderr[-2000:]
    stale = "alert stale_archive: no file of the archive was modified within 26 hours before"
    assert stale in first.stdout
    assert "alert stop_error" in first.stdout and "alert new_error_code" in first.stdout
    assert f"report: {export / 'report' / 'index.html'}" in first.stdout
    assert (export / "report" / "index.html").is_file()
    again, _ = timed(command, environment)
    assert again.returncode == 5, again.stderr
    assert "found nothing new" in again.stdout
    # a night with nothing new changed no day: only the stale archive is shown
    assert [line for line in again.stdout.splitlines() if line.startswith("alert ")] == [
        line for line in again.stdout.splitlines() if line.startswith(stale)
    ]
    log = runs.runs(tmp_path / ".w.duckdb.state" / runs.LOG_NAME)
    assert [record.stale_archive for record in log] == [True, True]
    without, _ = timed(command[:-1], environment)
    assert without.returncode == 0, without.stderr
    # a file written after the as-of time: the archive is fresh, and nothing else is shown
    touched = next(archive.rglob("*.jsonl*"))
    os.utime(touched)
    fresh, _ = timed(command, environment)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr[-2000:]
    assert "alert " not in fresh.stdout
