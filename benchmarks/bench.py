"""`make bench`: the nightly job on generated archives of several sizes, against DuckDB's own
raw scan of the same files measured in the same session. Prints, per size: the job's time
(the flow's own, from its start to its summary: Prefect's start-up is not in it), wall time,
events/s, MB/s (of JSON, uncompressed), peak RSS, the ratio to the raw scan, and Prefect's
fixed start-up separately; then two incremental nights that each add 1% new files, as a
share of the full night: the next day's files (a night's usual news), then files whose
events spread over the archive's days (a backfill, the update's worst case). Writes the
figures to a JSON file to compare between commits. It is a benchmark: it asserts nothing
about time.

    python benchmarks/bench.py [--sizes-mb 250,1000,4000] [--small] [--out FILE]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import duckdb

from transforms.discover import local_listing
from transforms.read import local_blocks

PROJECT = Path(__file__).resolve().parents[1]
BYTES_PER_MESSAGE = 1_880  # of JSON lines, as the sample generator writes them (measured)
NEXT_DAY = "2026-11-19"  # the day after the archive's three days (the sample starts 11-16)
# the job's process reports its own peak RSS (DuckDB included; Prefect's server is another
# process, part of the fixed start-up)
WA_ETL = [
    sys.executable,
    "-c",
    "import resource, sys\n"
    "from flows.cli import main\n"
    "try:\n    main()\n"
    "finally:\n"
    "    print('peak-rss-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)",
]
EVENTS = "accepted_rows + template_send_rows + status_rows + reply_rows + error_rows"


class Run(NamedTuple):
    """A child process's wall time, the peak RSS in MB it reports (0 if none), and the job's
    own duration as the night's summary gives it (from the flow's start to its summary: the
    wall time less Prefect's start-up and shutdown and the imports; 0 if none)."""

    wall: float
    peak_mb: float
    job: float


def _child(code: list[str], env: dict[str, str]) -> Run:
    started = time.perf_counter()
    done = subprocess.run(code, capture_output=True, text=True, env=env, check=False, cwd=PROJECT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-4000:])
    reported = [
        line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss-kb")
    ]
    job = re.search(r"^run \S+ finished in ([0-9.]+) s$", done.stdout, re.MULTILINE)
    return Run(
        wall, int(reported[-1]) / 1024 if reported else 0.0, float(job.group(1)) if job else 0.0
    )


def prefect_startup(env: dict[str, str]) -> float:
    """Wall time of an empty flow run in ephemeral mode: Prefect's fixed cost of a run. The
    first run of a new Prefect home also creates its database, so the second is measured."""
    code = "from prefect import flow\n@flow\ndef empty():\n    return 1\nempty()"
    _child([sys.executable, "-c", code], env)
    return _child([sys.executable, "-c", code], env).wall


def uncompressed_bytes(archive: Path) -> int:
    """Bytes of JSON lines in the archive, decompressed (counted once, then remembered)."""
    remembered = archive.with_suffix(".bytes")
    if not remembered.exists():
        listing = local_listing(archive)
        total = sum(len(block) for file in listing.files for block in local_blocks(file))
        remembered.write_text(str(total))
    return int(remembered.read_text())


def raw_scan(files: list[str]) -> float:
    """DuckDB's own scan of the files' JSON lines: the baseline. It only counts lines, and
    skips the sample's few unparseable ones so that it can finish (the job never skips).
    The faster of two scans: the first may read the files from disk (27.3 s for the 4 GB
    archive once, against 5.0 s from the page cache), while the job, run next, finds them
    in the page cache."""
    connection = duckdb.connect()
    connection.execute("set threads = 2")
    times = []
    for _ in range(2):
        started = time.perf_counter()
        connection.execute(
            "select count(*) from read_ndjson_objects($files, ignore_errors = true)",
            {"files": files},
        ).fetchall()
        times.append(time.perf_counter() - started)
    return min(times)


def sample(
    folder: Path, messages: int, seed: int, env: dict[str, str], *, days: int = 3, start: str = ""
) -> None:
    if not folder.exists():
        command = ["sample", "--out", str(folder), "--messages", str(messages), "--days", str(days)]
        command += ["--start", start] if start else []
        _child([*WA_ETL, *command, "--seed", str(seed)], env)


def measure(size_mb: int, work: Path, env: dict[str, str], startup: float) -> dict[str, float]:
    archive = work / f"archive-{size_mb}mb"
    # 1% more files, put into the archive for the incremental night only
    # 1% more files: the next day's (a night's usual news), then the same days' (a backfill)
    next_day_files, same_days_files = work / f"next-day-{size_mb}mb", work / f"extra-{size_mb}mb"
    added = [archive / "zz-next-day", archive / "zz-same-days"]
    for folder in added:
        shutil.rmtree(folder, ignore_errors=True)
    messages = size_mb * 1_000_000 // BYTES_PER_MESSAGE
    sample(archive, messages, 7, env)
    sample(next_day_files, max(messages // 100, 1), 9, env, days=1, start=NEXT_DAY)
    sample(same_days_files, max(messages // 100, 1), 8, env)
    files = [file.uri for file in local_listing(archive).files]
    disk = sum(Path(file).stat().st_size for file in files)
    scan = raw_scan(files)
    out = work / f"run-{size_mb}mb"
    shutil.rmtree(out, ignore_errors=True)  # a full night, not an incremental one
    out.mkdir()
    warehouse_path, export = out / "warehouse.duckdb", out / "export"
    command = ["run", "--source", str(archive), "--warehouse", str(warehouse_path)]
    command += ["--export", str(export)]
    full = _child([*WA_ETL, *command], env)
    nights = []
    try:
        for extra, folder in zip((next_day_files, same_days_files), added, strict=True):
            shutil.copytree(extra, folder)
            nights.append(_child([*WA_ETL, *command], env))
    finally:
        for folder in added:
            shutil.rmtree(folder, ignore_errors=True)
    next_day, backfill = nights
    with duckdb.connect(str(warehouse_path), read_only=True) as warehouse:
        lines, events = warehouse.execute(
            f"select sum(lines), sum({EVENTS}) from ingest_files"
        ).fetchall()[0]
    json_bytes = uncompressed_bytes(archive)
    job = max(full.job, 1e-9)
    return {
        "size_mb": size_mb,
        "disk_mb": round(disk / 1e6, 1),
        "lines": int(lines),
        "events": int(events),
        "wall_s": round(full.wall, 2),
        "wall_less_startup_s": round(full.wall - startup, 2),
        "job_s": round(job, 2),
        "events_per_s": round(events / job),
        "json_mb_per_s": round(json_bytes / 1e6 / job, 1),
        "peak_rss_mb": round(full.peak_mb),
        "raw_scan_s": round(scan, 3),
        "ratio_to_raw_scan": round(job / scan, 1),
        "incremental_1pct_s": round(next_day.job, 2),
        "incremental_share_of_full": round(next_day.job / job, 3),
        "incremental_wall_share_of_full_wall": round(next_day.wall / full.wall, 3),
        "incremental_peak_rss_mb": round(next_day.peak_mb),
        "backfill_1pct_s": round(backfill.job, 2),
        "backfill_share_of_full": round(backfill.job / job, 3),
        "backfill_peak_rss_mb": round(backfill.peak_mb),
    }


def time_scaling(results: list[dict[str, float]]) -> list[dict[str, float]]:
    """How the job's time grows from each size to the next (linear: job ratio = size ratio)."""
    return [
        {
            "from_mb": smaller["size_mb"],
            "to_mb": larger["size_mb"],
            "size_ratio": round(larger["size_mb"] / smaller["size_mb"], 2),
            "job_ratio": round(larger["job_s"] / smaller["job_s"], 2),
        }
        for smaller, larger in pairwise(results)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes-mb", default="250,1000,4000")
    parser.add_argument("--small", action="store_true", help="sizes of 25, 100 and 400 MB")
    parser.add_argument("--work", type=Path, default=None, help="keep archives here between runs")
    parser.add_argument(
        "--out", type=Path, default=PROJECT / "benchmarks" / "results" / "latest.json"
    )
    args = parser.parse_args()
    sizes = [25, 100, 400] if args.small else [int(size) for size in args.sizes_mb.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="wa-etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home")}
    startup = prefect_startup(env)
    print(f"prefect start-up (ephemeral, empty flow): {startup:.1f} s")
    results = []
    for size in sizes:
        figures = measure(size, work, env, startup)
        results.append(figures)
        print(
            f"{size:>6} MB: job {figures['job_s']:>7.1f} s (wall {figures['wall_s']:.1f} s)  "
            f"{figures['events_per_s']:>9,} events/s  {figures['json_mb_per_s']:>6.1f} MB/s  "
            f"peak {figures['peak_rss_mb']:>5} MB  "
            f"{figures['ratio_to_raw_scan']:>5.1f}x raw scan ({figures['raw_scan_s']:.2f} s)  "
            f"+1% next day: {figures['incremental_1pct_s']:.1f} s "
            f"({figures['incremental_share_of_full']:.1%} of the full night)  "
            f"+1% same days: {figures['backfill_1pct_s']:.1f} s "
            f"({figures['backfill_share_of_full']:.1%})"
        )
    scaling = time_scaling(results)
    for step in scaling:
        print(
            f"{step['from_mb']} -> {step['to_mb']} MB: {step['size_ratio']:.1f}x the JSON, "
            f"{step['job_ratio']:.2f}x the job's time"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"prefect_startup_s": round(startup, 2), "sizes": results, "scaling": scaling},
            indent=2,
        )
    )
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
