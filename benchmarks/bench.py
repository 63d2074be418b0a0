"""`make bench`: the nightly job on generated archives of several sizes, against DuckDB's own
raw scan of the same files measured in the same session. Prints, per size: the job's time
(the flow's own, from its start to its summary: Prefect's start-up is not in it), wall time,
events/s, MB/s (of JSON, uncompressed), peak RSS, the ratio to the raw scan, and Prefect's
fixed start-up separately; then two incremental nights that each add 1% new files, as a
share of the full night: the next day's files (a night's usual news), then files whose
events spread over the archive's days (a backfill, the update's worst case). Writes the
figures to a JSON file to compare between commits. It is a benchmark: it asserts nothing
about time.

With `--baseline REF` it also runs every night with the project's code at REF (a commit,
branch or tag, extracted under the work folder) on the same archives, in turn with this
code, and prints this code's figures as ratios of the baseline's: this machine's speed
varies by up to a half within an hour, so that two benches an hour apart compare the hours
more than the code.

    python benchmarks/bench.py [--sizes-mb 250,1000,4000] [--small] [--out FILE]
        [--work FOLDER] [--baseline REF]
"""

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import duckdb

from transforms.source.discover import local_listing
from transforms.source.read import local_blocks

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
    wall time less Prefect's start-up and shutdown and the imports; 0 if none), and how the
    night ended (published, found nothing new, ...)."""

    wall: float
    peak_mb: float
    job: float
    ended: str = ""
    # the night's stages and their seconds, as its summary gives them
    stages: tuple[tuple[str, float], ...] = ()


def _child(code: list[str], env: dict[str, str], project: Path = PROJECT) -> Run:
    """Run `code` from the `project` folder, whose `flows` and `transforms` it imports first."""
    started = time.perf_counter()
    env = {**env, "PYTHONPATH": str(project)}
    done = subprocess.run(code, capture_output=True, text=True, env=env, check=False, cwd=project)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-4000:])
    reported = [
        line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss-kb")
    ]
    job = re.search(
        r"^run \S+ (finished|published|found nothing new) in ([0-9.]+) s$",
        done.stdout,
        re.MULTILINE,
    )
    stages = re.search(r"^stages: (.*)$", done.stdout, re.MULTILINE)
    return Run(
        wall,
        int(reported[-1]) / 1024 if reported else 0.0,
        float(job.group(2)) if job else 0.0,
        job.group(1) if job else "",
        tuple(
            (name, float(seconds))
            for name, seconds in re.findall(r"(\w+) ([0-9.]+) s", stages.group(1) if stages else "")
        ),
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


class Archive(NamedTuple):
    """A generated archive of one size, the 1% of files each incremental night adds (the next
    day's, then the same days'), and DuckDB's raw scan of the archive."""

    size_mb: int
    folder: Path
    extras: tuple[Path, Path]
    disk_bytes: int
    raw_scan_s: float


def prepare(size_mb: int, work: Path, env: dict[str, str]) -> Archive:
    """The archive of `size_mb` MB of JSON under `work` (generated once) and its raw scan."""
    archive = work / f"archive-{size_mb}mb"
    next_day_files, same_days_files = work / f"next-day-{size_mb}mb", work / f"extra-{size_mb}mb"
    messages = size_mb * 1_000_000 // BYTES_PER_MESSAGE
    sample(archive, messages, 7, env)
    sample(next_day_files, max(messages // 100, 1), 9, env, days=1, start=NEXT_DAY)
    sample(same_days_files, max(messages // 100, 1), 8, env)
    files = [file.uri for file in local_listing(archive).files]
    disk = sum(Path(file).stat().st_size for file in files)
    return Archive(size_mb, archive, (next_day_files, same_days_files), disk, raw_scan(files))


def measure(
    archive: Archive, out: Path, env: dict[str, str], project: Path = PROJECT
) -> dict[str, float]:
    """A full night over the archive into `out` with the code in `project`, then the two
    incremental nights, each with its 1% of files put into the archive for the night."""
    added = [archive.folder / "zz-next-day", archive.folder / "zz-same-days"]
    for folder in added:
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)  # a full night, not an incremental one
    out.mkdir()
    warehouse_path, export = out / "warehouse.duckdb", out / "export"
    command = ["run", "--source", str(archive.folder), "--warehouse", str(warehouse_path)]
    command += ["--export", str(export)]
    full = _child([*WA_ETL, *command], env, project)
    # the full night's own lines and events, before the incremental nights add theirs
    with duckdb.connect(str(warehouse_path), read_only=True) as warehouse:
        lines, events = warehouse.execute(
            f"select sum(lines), sum({EVENTS}) from ingest_files"
        ).fetchall()[0]
    # the same archive again at once: a night with nothing new, start-up and all (after the
    # incremental nights it would not be: their files are gone from the archive again)
    nothing_new = _child([*WA_ETL, *command], env, project)
    nights = []
    try:
        for extra, folder in zip(archive.extras, added, strict=True):
            shutil.copytree(extra, folder)
            nights.append(_child([*WA_ETL, *command], env, project))
    finally:
        for folder in added:
            shutil.rmtree(folder, ignore_errors=True)
    next_day, backfill = nights
    json_bytes = uncompressed_bytes(archive.folder)
    job = max(full.job, 1e-9)
    return {
        "size_mb": archive.size_mb,
        "disk_mb": round(archive.disk_bytes / 1e6, 1),
        "lines": int(lines),
        "events": int(events),
        "wall_s": round(full.wall, 2),
        "job_s": round(job, 2),
        # what a night costs besides its own work: the interpreter, the imports, the
        # temporary Prefect server, the flow's engine, the summary
        "startup_s": round(full.wall - job, 2),
        "nothing_new_wall_s": round(nothing_new.wall, 2),
        # 1 when that night knew it had nothing new (code before the runs log rebuilt it)
        "nothing_new_found": float(nothing_new.ended == "found nothing new"),
        "events_per_s": round(events / job),
        "json_mb_per_s": round(json_bytes / 1e6 / job, 1),
        "peak_rss_mb": round(full.peak_mb),
        "raw_scan_s": round(archive.raw_scan_s, 3),
        "ratio_to_raw_scan": round(job / archive.raw_scan_s, 1),
        # each stage beside the raw scan: what bounds the night
        **{f"{name}_s": seconds for name, seconds in full.stages},
        **{
            f"{name}_x_raw_scan": round(seconds / archive.raw_scan_s, 1)
            for name, seconds in full.stages
        },
        "incremental_1pct_s": round(next_day.job, 2),
        "incremental_share_of_full": round(next_day.job / job, 3),
        "incremental_wall_share_of_full_wall": round(next_day.wall / full.wall, 3),
        "incremental_peak_rss_mb": round(next_day.peak_mb),
        "backfill_1pct_s": round(backfill.job, 2),
        "backfill_share_of_full": round(backfill.job / job, 3),
        "backfill_peak_rss_mb": round(backfill.peak_mb),
    }


def checkout(ref: str, work: Path) -> tuple[str, Path]:
    """The commit `ref` names and the project's files at it, extracted under `work` (once per
    commit). It runs with this checkout's environment: a baseline whose lock file differs
    runs with other versions than it locked."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
    ).stdout.strip()
    folder = work / f"baseline-{commit[:12]}"
    if not folder.exists():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        tree = subprocess.run(
            ["git", "archive", "--format=tar", commit], capture_output=True, check=True, cwd=PROJECT
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(tree)) as files:
            files.extractall(partial, filter="data")
        partial.rename(folder)
    return commit, folder


# the figures compared with the baseline's: this code's as a ratio of the baseline's (below 1
# is faster or smaller)
COMPARED = {
    "job_s": "job",
    "peak_rss_mb": "peak",
    "incremental_1pct_s": "next_day",
    "backfill_1pct_s": "backfill",
    "startup_s": "startup",
    "nothing_new_wall_s": "nothing_new",
}


def against_baseline(
    results: list[dict[str, float]], baseline: list[dict[str, float]]
) -> list[dict[str, float]]:
    """Per size, this code's job time, peak RSS and incremental nights as ratios of the
    baseline's on the same archive."""
    return [
        {
            "size_mb": ours["size_mb"],
            **{
                f"{name}_ratio": round(ours[figure] / theirs[figure], 3) if theirs[figure] else 0.0
                for figure, name in COMPARED.items()
            },
        }
        for ours, theirs in zip(results, baseline, strict=True)
    ]


def _stages(figures: dict[str, float]) -> list[str]:
    """The night's stages the figures time (`<stage>_x_raw_scan`)."""
    return [name.removesuffix("_x_raw_scan") for name in figures if name.endswith("_x_raw_scan")]


def _line(figures: dict[str, float]) -> str:
    return (
        f"job {figures['job_s']:>7.1f} s (wall {figures['wall_s']:.1f} s, start-up "
        f"{figures['startup_s']:.1f} s; nothing new {figures['nothing_new_wall_s']:.1f} s)  "
        f"{figures['events_per_s']:>9,} events/s  {figures['json_mb_per_s']:>6.1f} MB/s  "
        f"peak {figures['peak_rss_mb']:>5} MB  "
        f"{figures['ratio_to_raw_scan']:>5.1f}x raw scan ({figures['raw_scan_s']:.2f} s)  "
        f"+1% next day: {figures['incremental_1pct_s']:.1f} s "
        f"({figures['incremental_share_of_full']:.1%} of the full night)  "
        f"+1% same days: {figures['backfill_1pct_s']:.1f} s "
        f"({figures['backfill_share_of_full']:.1%})"
        + "".join(
            f"  {stage} {figures[stage + '_s']:.1f} s ({figures[stage + '_x_raw_scan']:.1f}x)"
            for stage in _stages(figures)
        )
    )


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


def _scaling_lines(scaling: list[dict[str, float]]) -> None:
    for step in scaling:
        print(
            f"{step['from_mb']} -> {step['to_mb']} MB: {step['size_ratio']:.1f}x the JSON, "
            f"{step['job_ratio']:.2f}x the job's time"
        )


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
    parser.add_argument(
        "--baseline", default=None, help="also run the code at this commit, in turn with this code"
    )
    args = parser.parse_args()
    sizes = [25, 100, 400] if args.small else [int(size) for size in args.sizes_mb.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="wa-etl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home")}
    baseline = checkout(args.baseline, work) if args.baseline else None
    if baseline:
        print(f"baseline: {args.baseline} ({baseline[0][:12]}), extracted to {baseline[1]}")
        if (baseline[1] / "uv.lock").read_bytes() != (PROJECT / "uv.lock").read_bytes():
            print("the baseline locked other versions: it runs with this checkout's")
    startup = prefect_startup(env)
    print(f"prefect start-up (ephemeral, empty flow): {startup:.1f} s")
    results: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for index, size in enumerate(sizes):
        archive = prepare(size, work, env)
        runs = [("this code", work / f"run-{size}mb", PROJECT, results)]
        if baseline:
            # in turn, so that a machine slowing over the bench slows both alike
            other = ("baseline", work / f"run-{size}mb-baseline", baseline[1], theirs)
            runs = [other, *runs] if index % 2 == 0 else [*runs, other]
        for name, out, project, figures in runs:
            measured = measure(archive, out, env, project)
            measured["wall_less_startup_s"] = round(measured["wall_s"] - startup, 2)
            figures.append(measured)
            label = f" ({name})" if baseline else ""
            print(f"{size:>6} MB{label}: {_line(measured)}")
        if baseline:
            ratios = against_baseline(results[-1:], theirs[-1:])[0]
            print(
                f"{size:>6} MB, this code / baseline: job {ratios['job_ratio']:.3f}x, "
                f"peak {ratios['peak_ratio']:.3f}x, +1% next day {ratios['next_day_ratio']:.3f}x, "
                f"+1% same days {ratios['backfill_ratio']:.3f}x, start-up "
                f"{ratios['startup_ratio']:.3f}x, nothing new {ratios['nothing_new_ratio']:.3f}x"
            )
    scaling = time_scaling(results)
    _scaling_lines(scaling)
    report: dict[str, object] = {
        "prefect_startup_s": round(startup, 2),
        "sizes": results,
        "scaling": scaling,
    }
    if baseline:
        report["baseline"] = {
            "ref": args.baseline,
            "commit": baseline[0],
            "sizes": theirs,
            "scaling": time_scaling(theirs),
        }
        report["against_baseline"] = against_baseline(results, theirs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
