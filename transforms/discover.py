"""Find the archive files under a source and the hints their paths give (SPEC 1)."""

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

ARCHIVE_NAME = re.compile(r"\.(jsonl|ndjson|json)(\.(gz|zst))?$")
_HIVE_DAY = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})(?:/|$)")
_HIVE_HOUR = re.compile(r"(?:^|/)hour=(\d{1,2})(?:/|$)")
_HIVE_SENDER = re.compile(r"(?:^|/)sender=\+?([0-9][0-9 -]*)(?:/|$)")
_FIREHOSE = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:/(\d{2}))?/")


class PathHints(BaseModel):
    """What a file's path says about its lines: when they arrived and for which sender."""

    model_config = ConfigDict(frozen=True)

    arrival_day: date | None = None
    arrival_hour: int | None = None
    sender: str | None = None

    @property
    def arrival_time(self) -> datetime | None:
        """Start of the arrival hour, or of the arrival day when the path gives no hour."""
        if self.arrival_day is None:
            return None
        start = datetime.combine(self.arrival_day, time(), tzinfo=UTC)
        return start + timedelta(hours=self.arrival_hour or 0)


class ArchiveFile(BaseModel):
    """One file of the archive, as listed."""

    model_config = ConfigDict(frozen=True)

    uri: str
    size: int
    modified_at: datetime
    etag: str | None = None
    hints: PathHints = PathHints()

    @property
    def compression(self) -> str:
        if self.uri.endswith(".gz"):
            return "gzip"
        if self.uri.endswith(".zst"):
            return "zstd"
        return "none"


class Listing(BaseModel):
    """The archive files under a source, and how many other files were ignored."""

    files: list[ArchiveFile]
    ignored: int


def _valid_day(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def path_hints(relative_path: str) -> PathHints:
    """Arrival day and hour from `dt=`/`hour=` (Hive) or `YYYY/MM/DD[/HH]` (Firehose) folders,
    and the business number from a `sender=` folder."""
    arrival_day: date | None = None
    arrival_hour: int | None = None
    if hive_day := _HIVE_DAY.search(relative_path):
        arrival_day = _valid_day(*hive_day.group(1).split("-"))
        if (hive_hour := _HIVE_HOUR.search(relative_path)) and int(hive_hour.group(1)) < 24:
            arrival_hour = int(hive_hour.group(1))
    elif firehose := _FIREHOSE.search(relative_path):
        year, month, day, hour = firehose.groups()
        arrival_day = _valid_day(year, month, day)
        if hour is not None and int(hour) < 24:
            arrival_hour = int(hour)
    sender_match = _HIVE_SENDER.search(relative_path)
    sender = re.sub(r"[ -]", "", sender_match.group(1)) if sender_match else None
    if arrival_day is None:
        arrival_hour = None
    return PathHints(arrival_day=arrival_day, arrival_hour=arrival_hour, sender=sender or None)


def is_archive_file(name: str) -> bool:
    return ARCHIVE_NAME.search(name) is not None


def local_listing(root: Path) -> Listing:
    """Every archive file below a local folder, in path order."""
    if not root.is_dir():
        raise FileNotFoundError(f"source folder {root} does not exist or is not a folder")
    files: list[ArchiveFile] = []
    ignored = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if not is_archive_file(path.name):
            ignored += 1
            continue
        stat = path.stat()
        files.append(
            ArchiveFile(
                uri=str(path.resolve()),
                size=stat.st_size,
                modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                hints=path_hints(path.relative_to(root).as_posix()),
            )
        )
    return Listing(files=files, ignored=ignored)
