"""`make bench`'s plumbing (benchmarks/bench.py): the baseline's code extracted from git and
run from its own folder, the figures compared with the baseline's. What it measures is time,
which no test asserts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench import PROJECT, _child, against_baseline, checkout, measure, prepare
from transforms.source.discover import local_listing
from transforms.source.read import local_blocks


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=PROJECT
    ).stdout


def test_checkout_extracts_the_commits_files_once(tmp_path: Path) -> None:
    commit, folder = checkout("HEAD", tmp_path)
    assert commit == _git("rev-parse", "HEAD").strip()
    assert folder == tmp_path / f"baseline-{commit[:12]}"
    extracted = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    assert extracted == set(_git("ls-tree", "-r", "--name-only", "HEAD").splitlines())
    assert (folder / "sql/build/marts/messages.sql").read_text() == _git(
        "show", "HEAD:sql/build/marts/messages.sql"
    )
    marker = folder / "marker"
    marker.write_text("kept")
    assert checkout(commit[:12], tmp_path) == (commit, folder)
    assert marker.exists()  # not extracted again


def test_checkout_of_no_commit_fails(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        checkout("no-such-ref-anywhere", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_child_imports_the_project_it_runs_from(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "__init__.py").write_text("HERE = 2.5\n")
    code = "import flows\nprint(f'run x finished in {getattr(flows, \"HERE\", 0.0)} s')"
    assert _child([sys.executable, "-c", code], dict(os.environ), project).job == 2.5
    assert _child([sys.executable, "-c", code], dict(os.environ)).job == 0.0


def test_against_baseline_is_this_codes_figures_over_the_baselines() -> None:
    ours = [
        {
            "size_mb": 25,
            "job_s": 9.0,
            "peak_rss_mb": 600,
            "incremental_1pct_s": 1.5,
            "backfill_1pct_s": 2.0,
            "startup_s": 3.0,
            "nothing_new_wall_s": 1.0,
        },
        {
            "size_mb": 100,
            "job_s": 30.0,
            "peak_rss_mb": 900,
            "incremental_1pct_s": 2.0,
            "backfill_1pct_s": 0.0,
            "startup_s": 3.0,
            "nothing_new_wall_s": 1.0,
        },
    ]
    theirs = [
        {
            "size_mb": 25,
            "job_s": 12.0,
            "peak_rss_mb": 500,
            "incremental_1pct_s": 1.5,
            "backfill_1pct_s": 4.0,
            "startup_s": 12.0,
            "nothing_new_wall_s": 10.0,
        },
        {
            "size_mb": 100,
            "job_s": 40.0,
            "peak_rss_mb": 1000,
            "incremental_1pct_s": 2.5,
            "backfill_1pct_s": 0.0,
            "startup_s": 0.0,
            "nothing_new_wall_s": 10.0,
        },
    ]
    assert against_baseline(ours, theirs) == [
        {
            "size_mb": 25,
            "job_ratio": 0.75,
            "peak_ratio": 1.2,
            "next_day_ratio": 1.0,
            "backfill_ratio": 0.5,
            "startup_ratio": 0.25,
            "nothing_new_ratio": 0.1,
        },
        # a figure the baseline did not measure (0) has no ratio
        {
            "size_mb": 100,
            "job_ratio": 0.75,
            "peak_ratio": 0.9,
            "next_day_ratio": 0.8,
            "backfill_ratio": 0.0,
            "startup_ratio": 0.0,
            "nothing_new_ratio": 0.1,
        },
    ]


def _lines(data: bytes) -> int:
    """Lines of a file's text, the last one counted without its newline."""
    return data.count(b"\n") + (not data.endswith(b"\n") and bool(data))


@pytest.mark.slow
def test_a_baselines_nights_over_a_small_archive(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    archive = prepare(1, tmp_path, env)
    lines = sum(
        _lines(b"".join(local_blocks(file))) for file in local_listing(archive.folder).files
    )
    before = sorted(path.name for path in archive.folder.iterdir())
    _, baseline = checkout("HEAD", tmp_path)
    figures = measure(archive, tmp_path / "run-baseline", env, baseline)
    assert figures["lines"] == lines
    assert figures["events"] > 0
    assert figures["job_s"] > 0 and figures["incremental_1pct_s"] > 0
    assert figures["backfill_1pct_s"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["nothing_new_found"] == 1.0
    # the stages of the night beside the raw scan, within the job's time (each printed to a
    # tenth of a second)
    stages = [figures[f"{stage}_s"] for stage in ("reading", "build", "publish")]
    assert all(seconds > 0 for seconds in stages)
    assert sum(stages) <= figures["job_s"] + 0.05 * len(stages)
    assert figures["build_x_raw_scan"] == round(figures["build_s"] / archive.raw_scan_s, 1)
    # the added files were put into the archive for the incremental nights only
    assert sorted(path.name for path in archive.folder.iterdir()) == before
