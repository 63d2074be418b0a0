"""The runs log (contract §7): every run, published or not, appends its outcome to a JSON-lines
file in the state folder beside the warehouse (`runs.jsonl`), and each publish copies the log
into the warehouse's `runs` table.

A run appends a `running` row when it starts and its outcome when it ends; the last row of a
run is its outcome. A run killed before it could write its outcome is recorded as `failed` by
the next run, which finds it still `running` (under the run lock, nothing else runs then).
Rows are appended under a lock of their own, so that a run refused by the run lock (`locked`)
can still record that without waiting for the one that holds it.
"""

import fcntl
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel

Outcome = Literal["running", "published", "nothing_new", "failed", "locked"]
LOG_NAME = "runs.jsonl"
KILLED = "the run ended without recording its outcome (it was killed, or its machine stopped)"


class RunRecord(BaseModel):
    """One run as the log and the `runs` table keep it."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    as_of: datetime | None = None
    outcome: Outcome = "running"
    files_read: int = 0
    lines: int = 0
    quarantined: int = 0
    unreadable_files: list[str] = []
    complete: bool = False
    message: str | None = None
    newest_file_at: datetime | None = None
    stale_archive: bool = False


def append(log: Path, record: RunRecord) -> None:
    """Append a run's row to the log (one write of a whole line, under the log's lock)."""
    line = orjson.dumps(record.model_dump(mode="json")) + b"\n"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)
        handle.flush()


def runs(log: Path) -> list[RunRecord]:
    """Every run of the log, each as its last row says, in the order they started; a line
    that cannot be read (a write cut off by a full disk) is passed over."""
    if not log.exists():
        return []
    latest: dict[str, RunRecord] = {}
    for line in log.read_bytes().splitlines():
        try:
            record = RunRecord.model_validate(orjson.loads(line))
        except ValueError:
            continue
        latest[record.run_id] = record
    return sorted(latest.values(), key=lambda record: record.started_at)


def record_the_killed(log: Path, now: datetime | None = None) -> list[str]:
    """Record as failed every run the log still has as running (called under the run lock,
    when no run works); their ids."""
    killed = [record for record in runs(log) if record.outcome == "running"]
    for record in killed:
        append(
            log,
            record.model_copy(
                update={
                    "outcome": "failed",
                    "finished_at": now or datetime.now(UTC),
                    "message": KILLED,
                }
            ),
        )
    return [record.run_id for record in killed]
