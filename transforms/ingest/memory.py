"""The reading's memory, shared by the tasks that read a night's files at once (threads or
Dask's processes on this machine). Each batch of lines reads under a shared lock within its
task's memory limit. A batch that runs out of it (one line of hundreds of thousands of
elements) reads again alone, under the exclusive lock, with the memory of every reading
task: the night's reading never holds more than the tasks' limits together, and no task's
limit is raised for the rare line that needs it."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

LOCK_NAME = ".reading-memory.lock"


@contextmanager
def _locked(lock: Path, operation: int) -> Iterator[None]:
    # each holder opens the file anew: flock excludes open files, threads of one process too
    with lock.open("a") as handle:
        fcntl.flock(handle, operation)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def within_own_memory(lock: Path) -> Iterator[None]:
    """A batch read beside the other tasks' batches."""
    with _locked(lock, fcntl.LOCK_SH):
        yield


@contextmanager
def with_every_tasks_memory(
    lock: Path, connection: duckdb.DuckDBPyConnection, own: str, pooled: str
) -> Iterator[None]:
    """A batch read alone, once the batches under way have ended, with `pooled` memory
    rather than the task's `own`."""
    with _locked(lock, fcntl.LOCK_EX):
        connection.execute(f"set memory_limit = '{pooled}'")
        try:
            yield
        finally:
            # the pooled memory's buffers are given back before the other tasks read again
            connection.execute(f"set memory_limit = '{own}'")
