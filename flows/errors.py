"""How a run ends, as exit codes and one-line errors (contract §7), and which failures are
worth trying again."""

import errno
import signal
from enum import IntEnum

import duckdb

from flows.lock import RunLockedError
from transforms.publish.swap import WarehouseHeldError


class ExitCode(IntEnum):
    """What `wa-etl` exits with."""

    PUBLISHED = 0  # or nothing new
    FAILED = 1  # nothing published
    USAGE = 2  # a bad argument, path, setting or credential, found before anything started
    LOCKED = 3  # another run (or another program) holds the warehouse
    UNREADABLE = 4  # published with unreadable files, as --allow-unreadable asked
    ALERTS = 5  # published with alerts, as --fail-on-alert asked


class UsageError(ValueError):
    """A bad argument, path, setting or credential: nothing was started."""


class UnreadableFilesError(OSError):
    """Files (or folders) of the archive could not be read: the night was not published."""

    def __init__(self, unreadable: list[str]) -> None:
        shown = "; ".join(unreadable[:3]) + (
            f"; and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
        )
        super().__init__(
            f"{len(unreadable)} file(s) of the archive could not be read ({shown}). Nothing "
            "was published: the warehouse and the export are the last night's. Run again when "
            "the storage is back, or publish without them with --allow-unreadable"
        )
        self.unreadable = unreadable


class DiskFullError(OSError):
    """The disk filled up during the run."""


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, duckdb.Error) and "No space left on device" in str(error)


def is_transient(error: BaseException) -> bool:
    """Whether a night that failed this way may succeed when tried again later: the storage
    was down (files unreadable, requests timed out) or another run held the lock. A wrong
    argument, a missing source, a refused credential, a full disk or a bug will not pass."""
    if isinstance(error, UsageError | DiskFullError) or is_disk_full(error):
        return False
    if isinstance(error, RunLockedError | WarehouseHeldError | UnreadableFilesError):
        return True
    lasting = (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError)
    return isinstance(error, OSError) and not isinstance(error, lasting)


def exit_code(error: BaseException) -> ExitCode:
    """The exit code of a run that failed with `error`."""
    if isinstance(error, UsageError):
        return ExitCode.USAGE
    if isinstance(error, RunLockedError | WarehouseHeldError):
        return ExitCode.LOCKED
    return ExitCode.FAILED


def one_line(error: BaseException) -> str:
    """What to print of an error: its own message, on one line. DuckDB's messages quote the
    input (personal data, perhaps): only their kind and the model that failed are told."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(error, SystemExit) and isinstance(error.code, int) and error.code > 128:
        return f"stopped by signal {error.code - 128} ({signal.Signals(error.code - 128).name})"
    if isinstance(error, duckdb.OutOfMemoryException):
        return (
            "DuckDB ran out of memory: raise --tuning.memory-limit (WA_ETL_TUNING__MEMORY_LIMIT)"
            ", or lower --tuning.workers"
        )
    if isinstance(error, duckdb.Error):
        where = " ".join(note for note in getattr(error, "__notes__", []) if note.startswith("in "))
        return f"DuckDB failed ({type(error).__name__}{' ' + where if where else ''})"
    text = " ".join(str(error).split()) or type(error).__name__
    return text
