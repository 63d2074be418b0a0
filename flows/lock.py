"""One nightly run at a time per warehouse: an exclusive lock on a file in the state folder.
The operating system holds it for the process and lets it go when the process ends, however
it ends (SIGKILL included), so a dead run never blocks the next one."""

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class RunLockedError(RuntimeError):
    """Another run works on the same warehouse."""


class _Held(threading.local):
    """The locks this thread holds: the command line takes the lock before the flow it runs
    in the same thread, which takes it again (flock would refuse a second open of the file);
    another thread of the process is another run, and waits."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()


_held = _Held()


@contextmanager
def run_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    """Hold the run lock at `path`, waiting up to `wait_seconds` for another run to finish
    (at once when this process holds it already)."""
    if path in _held.paths:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "a run"
                    raise RunLockedError(
                        f"another nightly run is working on this warehouse ({holder}); it was "
                        f"left alone. Run again when it is done, or wait for it with "
                        f"--tuning.lock-wait-seconds"
                    ) from None
                time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        _held.paths.add(path)
        try:
            yield
        finally:
            _held.paths.discard(path)
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
