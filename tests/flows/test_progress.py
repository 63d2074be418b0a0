"""A night's progress: figures that say how far each stage is (a compressed byte weighs as the
JSON it holds), with its rate and the time left, told every 10 s and when a stage ends, from
any thread; a stage that stops short says where it stopped."""

import threading
import time
from datetime import UTC, datetime

import pytest

from flows import progress
from flows.progress import NightProgress, Stage
from flows.reading import _bytes_read
from transforms.source.discover import ArchiveFile


def test_a_stage_line_tells_the_share_the_amounts_the_rate_and_the_time_left() -> None:
    stage = Stage("reading", total=400e6, unit="MB of JSON", scale=1e6)
    stage.started -= 10  # ten seconds in
    stage.done = 100e6
    line = stage.line()
    assert line.startswith("reading: 25% (100.0 of 400.0 MB of JSON, 10.0 MB/s), about 30 s left")
    counted = Stage("publish", total=14, unit="tables")
    counted.done = 7
    assert counted.line().startswith("publish: 50% (7 of 14 tables")


def test_lines_come_every_few_seconds_from_any_thread_and_when_a_stage_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.05)
    said: list[str] = []
    reporter = NightProgress(said.append)
    with reporter.running():
        reporter.start("build", 4, "steps")
        workers = [
            threading.Thread(target=reporter.advance, args=(1, "models/x")) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        time.sleep(0.2)
        ticks = [line for line in said if line.startswith("build: 50% (2 of 4 steps")]
        assert len(ticks) >= 2  # told again and again while the stage runs
        reporter.start("publish", 2, "tables")  # the build ends: its last line is said
    assert any(line.startswith("build: 100% (4 of 4 steps") for line in said)
    assert said[-1].startswith("publish: 100% (2 of 2 tables")


def test_a_stage_that_stops_short_says_where_it_stopped() -> None:
    said: list[str] = []
    reporter = NightProgress(said.append)
    with pytest.raises(RuntimeError), reporter.running():
        reporter.start("reading", 10, "files")
        reporter.advance(3)
        raise RuntimeError("the storage is down")
    assert said[-1].startswith("reading: 30% (3 of 10 files")


def test_each_stage_keeps_how_long_it_took_the_one_under_way_so_far() -> None:
    reporter = NightProgress(lambda line: None)
    reporter.start("reading", 10, "MB of JSON")
    time.sleep(0.05)
    reporter.start("build", 4, "steps")  # the reading ends here
    time.sleep(0.02)
    taken = reporter.stage_seconds()
    assert list(taken) == ["reading", "build"]
    assert 0.05 <= taken["reading"] < 1 and 0.02 <= taken["build"] < 1
    time.sleep(0.02)
    reporter.end()
    assert reporter.stage_seconds()["reading"] == taken["reading"]
    assert reporter.stage_seconds()["build"] >= taken["build"] + 0.02


def test_the_reading_weighs_a_compressed_byte_as_the_json_it_holds() -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    plain = ArchiveFile(uri="/a/plain.jsonl", size=1000, modified_at=at)
    packed = ArchiveFile(uri="/a/packed.jsonl.gz", size=100, modified_at=at)
    reporter = NightProgress(lambda _: None)
    progress.install(reporter)
    try:
        reporter.start("reading", 2000, "bytes of JSON")
        _bytes_read(packed, 100)  # the whole compressed file: 1,000 bytes of JSON
        _bytes_read(plain, 500)
        stage = reporter._stage
        assert stage is not None and stage.done == 1500
    finally:
        progress.install(None)
