"""Find the archive files under a source and the hints their paths give (contract §1)."""

import errno
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


SkipKind = Literal["link", "special", "not_utf8"]


class Listing(BaseModel):
    """The archive files under a source; how many other files were ignored (names without an
    archive suffix); how many entries were skipped unopened, by kind (`link`, `special`: a
    FIFO, socket or device, `not_utf8`: a path that is not UTF-8 text); and the folders and
    files that could not be listed, as `path: reason` (with any, the listing is partial). An
    S3 listing has no links, special files or unlistable folders: it leaves both empty."""

    files: list[ArchiveFile]
    ignored: int
    skipped: dict[SkipKind, int] = Field(default_factory=dict)
    unreadable: list[str] = Field(default_factory=list)


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


def _is_utf8(path: str) -> bool:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _printable(path: str) -> str:
    """The path as text that encodes to UTF-8: bytes that are not UTF-8 as `\\xff`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _reason(error: OSError) -> str:
    """The error's class, and for a bare `OSError` its errno's name (`EIO`, `ENAMETOOLONG`)."""
    if type(error) is OSError and error.errno is not None:
        return f"OSError {errno.errorcode.get(error.errno, error.errno)}"
    return type(error).__name__


def _source_folder(root: Path) -> Path:
    """The source folder with its links resolved, so that the paths below it are real ones."""
    # `os.path.realpath`, not `Path.resolve`: on a link loop it returns, and the loop is then
    # not a folder, where Python 3.11's `resolve` raises `RuntimeError`
    source = Path(os.path.realpath(root))
    if not source.is_dir():
        raise FileNotFoundError(f"source folder {root} does not exist or is not a folder")
    if not _is_utf8(str(source)):
        raise ValueError(f"source folder {_printable(str(source))} is not a UTF-8 path")
    return source


def _entries(folder: str | Path) -> list[os.DirEntry[str]]:
    """A folder's entries in name order, read whole: an error midway is the folder's."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def _tree(source: Path) -> Iterator[tuple[str, os.stat_result | OSError]]:
    """Every entry below `source` but the folders, in path order (as `sorted(Path.rglob)`):
    its path relative to `source` with its own `lstat` (links not followed), or the error that
    kept it or its folder from being listed. An entry gone since its folder was read is left
    out, as gone from the archive. The source's own error raises: that is no listing at all."""
    # a stack, not recursion: a tree deeper than Python's recursion limit must list too
    stack = [("", iter(_entries(source)))]
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        relative = prefix + entry.name
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                stack.append((relative + "/", iter(_entries(entry.path))))
            else:
                yield relative, info
        except FileNotFoundError:
            continue
        except OSError as error:
            yield relative, error


def _skip_kind(relative: str, mode: int) -> SkipKind | None:
    """Why an entry is not read, or None for a regular file with a UTF-8 path."""
    if stat.S_ISLNK(mode):
        return "link"
    if not stat.S_ISREG(mode):
        return "special"  # a FIFO would block its reader forever; a device never ends
    if not _is_utf8(relative):
        return "not_utf8"  # the URI goes to DuckDB, Parquet and the summary as text
    return None


def local_listing(root: Path) -> Listing:
    """Every archive file below a local folder, in path order: the regular files below the
    folder (itself a link or not), each under its real path.

    Links below the folder are never followed, only counted: a link out of the folder would
    put another file's lines into the tables, and a link to a file inside would read that
    file twice (it is listed under its own name). Never following also rules out loops and
    the question where a link points by the time the file is read."""
    source = _source_folder(root)
    files: list[ArchiveFile] = []
    ignored = 0
    skipped: Counter[SkipKind] = Counter()
    unreadable: list[str] = []
    for relative, found in _tree(source):
        path = str(source / relative)
        if isinstance(found, OSError):
            unreadable.append(f"{_printable(path)}: {_reason(found)}")
        elif kind := _skip_kind(relative, found.st_mode):
            skipped[kind] += 1
        elif not is_archive_file(relative.rsplit("/", 1)[-1]):
            ignored += 1
        else:
            files.append(
                ArchiveFile(
                    uri=path,
                    size=found.st_size,
                    modified_at=datetime.fromtimestamp(found.st_mtime, tz=UTC),
                    hints=path_hints(relative),
                )
            )
    return Listing(files=files, ignored=ignored, skipped=dict(skipped), unreadable=unreadable)
