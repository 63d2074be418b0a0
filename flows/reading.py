"""The reading of a night: the files to read, in tasks of about the same bytes of JSON (on
threads of this process or on a Dask cluster), each file's lines accounted for, the bytes read
told to the night's progress."""

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from flows import progress
from flows.night import Night
from flows.partitions import json_bytes_estimate, partitions
from transforms.ingest.accounting import FileReport
from transforms.ingest.flatten import IngestOptions, ingest_files
from transforms.ingest.personal import required_key
from transforms.source.discover import ArchiveFile
from transforms.source.storage import ArchiveSource


def _bytes_read(file: ArchiveFile, stored: int) -> None:
    """A reading thread's progress: stored bytes weighed as the JSON they hold."""
    reporter = progress.installed()
    if reporter is not None and file.size:
        reporter.advance(stored * json_bytes_estimate(file) / file.size)


@task(cache_policy=NO_CACHE)
def read_and_flatten(
    files: list[ArchiveFile],
    source: ArchiveSource,
    landing_dir: Path,
    scratch_dir: Path,
    name: str,
    ingested_at: datetime,
    options: IngestOptions,
    pii_key_secret: str | None,
) -> list[FileReport]:
    """Read a partition of archive files into landing rows, every line accounted for. The
    personal-data key is looked up here, so that it never passes as a parameter."""
    key = required_key(options.pii, pii_key_secret)
    return ingest_files(
        files,
        source.opener(),
        landing_dir,
        scratch_dir,
        name,
        ingested_at,
        options,
        key,
        on_read=_bytes_read,
    )


def read_all(files: list[ArchiveFile], night: Night) -> list[FileReport]:
    landing_dir, scratch_dir = night.run_folder / "landing", night.run_folder / "scratch"
    options = night.tuning.ingest(night.pii)
    groups = partitions(files, night.tuning.partition_mb << 20, night.tuning.workers)
    reporter = progress.installed()
    if reporter is not None:
        reporter.start("reading", sum(map(json_bytes_estimate, files)), "MB of JSON", 1e6)
    futures = [
        read_and_flatten.submit(
            group,
            night.source,
            landing_dir,
            scratch_dir,
            f"part-{index:05d}",
            night.started_at,
            options,
            night.pii_key_secret,
        )
        for index, group in enumerate(groups)
    ]
    reports: list[FileReport] = []
    for future in as_completed(futures):
        reports.extend(future.result())
    return sorted(reports, key=lambda report: report.file.uri)
