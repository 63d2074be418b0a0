"""A line too large for one reading task's memory is read alone with every task's: after
the batches under way, never beside them; with no more memory to pool, it is the run's error."""

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from tests.conftest import Warehouse, archive_file, ingest_options
from transforms.ingest.memory import with_every_tasks_memory, within_own_memory
from transforms.ingest.passes import ReadingOutOfMemoryError

ELEMENTS = 20_000


def many_statuses_line(count: int) -> bytes:
    """One webhook body of `count` small statuses (about 100 bytes each)."""
    statuses = [
        {"id": f"wamid.{i:07d}", "status": "sent", "recipient_id": f"9055{i:08d}",
         "timestamp": "1763370000"}
        for i in range(count)
    ]  # fmt: skip
    return orjson.dumps({"entry": [{"changes": [{"value": {"statuses": statuses}}]}]})


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    archive_file(folder, "a/wide.jsonl", [many_statuses_line(ELEMENTS)])
    return folder


def test_a_line_too_large_for_a_task_reads_alone_with_every_tasks_memory(
    archive: Path, build: Any
) -> None:
    options = ingest_options(memory_limit="40MB", alone_memory_limit="200MB")
    warehouse: Warehouse = build(archive, options=options)
    (report,) = warehouse.reports
    assert (report.lines, report.classified, report.quarantined) == (1, 1, 0)
    assert warehouse.value("select count(distinct message_id) from statuses") == ELEMENTS


def test_with_no_memory_to_pool_the_line_is_the_runs_error(archive: Path, build: Any) -> None:
    with pytest.raises(ReadingOutOfMemoryError, match=r"raise --tuning\.memory-limit"):
        build(archive, options=ingest_options(memory_limit="40MB"))


def test_the_task_reading_alone_waits_for_the_batches_under_way(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    events: list[str] = []
    shared_held = threading.Event()

    def other_task() -> None:
        with within_own_memory(lock):
            shared_held.set()
            time.sleep(0.5)
            events.append("shared batch ended")

    thread = threading.Thread(target=other_task)
    thread.start()
    shared_held.wait()
    connection = duckdb.connect()
    connection.execute("set memory_limit = '100MB'")
    with with_every_tasks_memory(lock, connection, "100MB", "300MB"):
        events.append("alone")
        pooled = connection.execute("select current_setting('memory_limit')").fetchone()
    thread.join()
    own = connection.execute("select current_setting('memory_limit')").fetchone()
    assert events == ["shared batch ended", "alone"]
    assert (pooled, own) == (("286.1 MiB",), ("95.3 MiB",))
