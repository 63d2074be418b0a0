"""The state between nights: which files a run reads, how what it read replaces what earlier
runs read, and what happens to a file that cannot be read or was only touched."""

import errno
import io
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb
import pytest

import transforms.state.parts
from tests.conftest import archive_file, ingest_options
from tests.payloads import status
from transforms.ingest.accounting import FileReport
from transforms.ingest.flatten import IngestOptions, ingest_files
from transforms.source.discover import ArchiveFile, local_listing
from transforms.source.stored import Opener, content_sha256, open_local
from transforms.sql import Limits
from transforms.state.parts import (
    EMPTY_PART,
    PARTS_DIR,
    MissingPartError,
    listed_parts,
    part_folder,
)
from transforms.state.store import (
    ReadPlan,
    ingest_file_rows,
    merge_run,
    open_state,
    read_plan,
    run_landing_files,
)

NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = open_state(tmp_path / "state.duckdb", limits=Limits(threads=1, memory_limit="1GB"))
    yield connection
    connection.close()


def plan_of(
    state: duckdb.DuckDBPyConnection, archive: Path, *, full_refresh: bool = False
) -> ReadPlan:
    return read_plan(
        state,
        local_listing(archive).files,
        partial(content_sha256, open_local),
        full_refresh=full_refresh,
    )


def run(
    state: duckdb.DuckDBPyConnection,
    archive: Path,
    work: Path,
    plan: ReadPlan | None = None,
    *,
    opener: Opener = open_local,
    options: IngestOptions | None = None,
    before_merge: Callable[[Path], None] = lambda landing: None,
) -> tuple[ReadPlan, list[FileReport]]:
    """One run's reading and merge, as the nightly flow does them; `before_merge` sees the
    run's landing folder."""
    listed = local_listing(archive).files
    plan = plan or plan_of(state, archive)
    landing, scratch = work / "landing", work / "scratch"
    scratch.mkdir(parents=True)
    reports = ingest_files(
        plan.read, opener, landing, scratch, "part", NOW, options or ingest_options()
    )
    before_merge(landing)
    merge_run(
        state,
        run_landing_files(landing),
        ingest_file_rows(reports, "run", NOW),
        plan,
        [file.uri for file in listed],
        NOW,
    )
    return plan, reports


def names(files: list[ArchiveFile]) -> list[str]:
    return [Path(file.uri).name for file in files]


def statuses_by_file(state: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = state.execute(
        "select source_file, count(*) from landing_statuses group by all"
    ).fetchall()
    return {Path(uri).name: count for uri, count in rows}


def touch(path: Path, moment: str) -> None:
    stamp = datetime.fromisoformat(moment).timestamp()
    os.utime(path, (stamp, stamp))


def test_a_run_reads_new_and_changed_files_and_keeps_the_rest(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    same = archive_file(archive, "same.jsonl", [status("wamid.1", "sent", "2026-11-17 10:00")])
    grown = archive_file(archive, "grown.jsonl", [status("wamid.2", "sent", "2026-11-17 10:00")])
    rewritten = archive_file(
        archive, "rewritten.jsonl", [status("wamid.3", "sent", "2026-11-17 10:00")]
    )
    copied = archive_file(archive, "copied.jsonl", [status("wamid.4", "sent", "2026-11-17 10:00")])
    gone = archive_file(archive, "gone.jsonl", [status("wamid.5", "sent", "2026-11-17 10:00")])
    for path in (same, grown, rewritten, copied, gone):
        touch(path, "2026-11-17T12:00:00+00:00")
    first, _ = run(state, archive, tmp_path / "one")
    assert names(first.read) == [
        "copied.jsonl",
        "gone.jsonl",
        "grown.jsonl",
        "rewritten.jsonl",
        "same.jsonl",
    ]

    archive_file(
        archive,
        "grown.jsonl",
        [
            status("wamid.2", "sent", "2026-11-17 10:00"),
            status("wamid.2", "read", "2026-11-17 10:01"),
        ],
    )
    # the same size, other bytes: only the modification time tells, and the hash confirms
    archive_file(archive, "rewritten.jsonl", [status("wamid.9", "sent", "2026-11-17 10:00")])
    # the same bytes copied again: a new modification time, nothing to read
    copied.write_bytes(copied.read_bytes())
    gone.unlink()
    archive_file(archive, "new.jsonl", [status("wamid.6", "sent", "2026-11-17 10:00")])
    plan = plan_of(state, archive)
    assert names(plan.read) == ["grown.jsonl", "new.jsonl", "rewritten.jsonl"]
    assert (plan.unchanged, names(plan.retouched), plan.vanished) == (
        2,
        ["copied.jsonl"],
        [str(gone.resolve())],
    )

    run(state, archive, tmp_path / "two", plan)
    assert statuses_by_file(state) == {
        "same.jsonl": 1,
        "grown.jsonl": 2,
        "rewritten.jsonl": 1,
        "copied.jsonl": 1,
        "gone.jsonl": 1,
        "new.jsonl": 1,
    }
    assert state.execute(
        "select count(*) from landing_statuses where message_id = 'wamid.3'"
    ).fetchall() == [(0,)]
    manifest = {
        Path(uri).name: (modified_at, vanished_at)
        for uri, modified_at, vanished_at in state.execute(
            "select uri, modified_at, vanished_at from manifest"
        ).fetchall()
    }
    assert manifest["copied.jsonl"][0] == datetime.fromtimestamp(copied.stat().st_mtime, UTC)
    assert manifest["gone.jsonl"][1] == NOW
    assert {name for name, (_, vanished_at) in manifest.items() if vanished_at is None} == {
        "same.jsonl",
        "grown.jsonl",
        "rewritten.jsonl",
        "copied.jsonl",
        "new.jsonl",
    }
    # the next night, nothing has changed
    assert (plan_of(state, archive).read, plan_of(state, archive).retouched) == ([], [])

    refresh = plan_of(state, archive, full_refresh=True)
    assert (len(refresh.read), refresh.unchanged, refresh.vanished, refresh.full_refresh) == (
        5,
        0,
        [],
        True,
    )
    run(state, archive, tmp_path / "three", refresh)
    assert "gone.jsonl" not in statuses_by_file(state)
    assert state.execute("select count(*) from manifest").fetchall() == [(5,)]


def test_an_object_stores_etag_decides_whatever_the_modification_time(
    state: duckdb.DuckDBPyConnection,
) -> None:
    stored = ArchiveFile(uri="s3://bucket/a.jsonl", size=10, modified_at=NOW, etag='"abc"')

    def no_reading(file: ArchiveFile) -> str:
        raise AssertionError(f"{file.uri} was read to plan")

    state.execute(
        "insert into manifest (uri, size, modified_at, etag, content_sha256, compression, lines, classified,"
        " unclassified, quarantined, blank, accepted_rows, template_send_rows, status_rows, reply_rows, error_rows,"
        " run_id, ingested_at) values ($uri, 10, $at, '\"abc\"', 'x', 'none', 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 'run', $at)",
        {"uri": stored.uri, "at": NOW},
    )
    uploaded_again = stored.model_copy(update={"modified_at": datetime(2026, 11, 25, tzinfo=UTC)})
    assert read_plan(state, [uploaded_again], no_reading, full_refresh=False).read == []
    changed = stored.model_copy(update={"etag": '"def"'})
    assert read_plan(state, [changed], no_reading, full_refresh=False).read == [changed]


def test_a_file_that_cannot_be_read_is_reported_and_keeps_its_rows(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    kept = archive_file(archive, "kept.jsonl", [status("wamid.1", "sent", "2026-11-17 10:00")])
    lost = archive_file(archive, "lost.jsonl", [status("wamid.2", "sent", "2026-11-17 10:00")])
    run(state, archive, tmp_path / "one")

    archive_file(
        archive,
        "kept.jsonl",
        [
            status("wamid.1", "sent", "2026-11-17 10:00"),
            status("wamid.1", "read", "2026-11-17 10:05"),
        ],
    )
    archive_file(archive, "lost.jsonl", [status("wamid.2", "sent", "2026-11-17 10:00"), "not json"])
    plan = plan_of(state, archive)
    assert names(plan.read) == ["kept.jsonl", "lost.jsonl"]
    # removed between the listing and the reading, as by a retention job on the archive
    lost.unlink()
    _, reports = run(state, archive, tmp_path / "two", plan)

    assert [(Path(report.file.uri).name, report.unreadable) for report in reports] == [
        ("kept.jsonl", None),
        ("lost.jsonl", "FileNotFoundError: No such file or directory"),
    ]
    assert statuses_by_file(state) == {"kept.jsonl": 2, "lost.jsonl": 1}
    assert state.execute("select count(*) from quarantine").fetchall() == [(0,)]
    lines = dict(state.execute("select uri, lines from manifest").fetchall())
    assert lines == {str(kept.resolve()): 2, str(lost.resolve()): 1}


def test_a_state_of_another_format_is_rebuilt_so_that_the_run_reads_everything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute("create table manifest (uri varchar, size bigint)")
        old.execute("insert into manifest values ('/archive/a.jsonl', 1)")
        old.execute("create table landing_old (x int)")
    connection = open_state(path, limits=Limits(threads=1, memory_limit="1GB"))
    try:
        tables = {
            row[0]
            for row in connection.execute("select table_name from duckdb_tables()").fetchall()
        }
        views = {
            row[0]
            for row in connection.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        assert "landing_old" not in tables
        assert {"manifest", "landing_parts", "quarantine"} <= tables
        assert "landing_statuses" in views
        assert connection.execute("select count(*) from landing_statuses").fetchall() == [(0,)]
        assert connection.execute("select count(*) from manifest").fetchall() == [(0,)]
    finally:
        connection.close()


def test_a_state_read_by_another_version_of_the_reading_is_read_again(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Rows read by another version may name the same event otherwise (its dedupe key): the
    archive is read again rather than mixed with them."""
    archive = tmp_path / "archive"
    archive_file(archive, "a.jsonl", [status("wamid.1", "sent", "2026-11-17 10:00")])
    archive_file(archive, "b.jsonl", [status("wamid.2", "sent", "2026-11-17 10:00")])
    run(state, archive, tmp_path / "one")
    assert plan_of(state, archive).read == []
    state.execute("update settings set reader = 'an older reading'")
    again = plan_of(state, archive)
    assert again.full_refresh
    assert names(again.read) == ["a.jsonl", "b.jsonl"]
    run(state, archive, tmp_path / "two", again)
    assert statuses_by_file(state) == {"a.jsonl": 1, "b.jsonl": 1}
    assert plan_of(state, archive).read == []


def parts_on_disk(state_dir: Path, table: str) -> set[str]:
    return {path.name for path in part_folder(state_dir, table).glob("*.parquet")} - {EMPTY_PART}


def listed(state: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(listed_parts(state, table))


def test_a_file_read_again_leaves_no_part_with_its_old_rows(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive_file(archive, "a.jsonl", [status("wamid.1", "sent", "2026-11-17 10:00")])
    archive_file(archive, "b.jsonl", [status("wamid.2", "sent", "2026-11-17 10:00")])
    run(state, archive, tmp_path / "one")
    (first,) = listed(state, "statuses")
    archive_file(archive, "a.jsonl", [status("wamid.3", "read", "2026-11-17 10:05")])
    run(state, archive, tmp_path / "two")

    # the part that held both files' rows is written again with b's only, under a new name
    assert first not in listed(state, "statuses")
    assert parts_on_disk(tmp_path, "statuses") == listed(state, "statuses")
    assert len(listed(state, "statuses")) == 2
    rows = state.execute("select source_file, message_id from landing_statuses order by 2")
    assert [(Path(uri).name, wamid) for uri, wamid in rows.fetchall()] == [
        ("b.jsonl", "wamid.2"),
        ("a.jsonl", "wamid.3"),
    ]


def test_small_parts_are_compacted_and_what_no_merge_listed_is_removed(
    state: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transforms.state.parts, "SMALL_PARTS_KEPT", 2)
    archive = tmp_path / "archive"
    for night in range(1, 5):
        archive_file(archive, f"{night}.jsonl", [status(f"wamid.{night}", "sent", "2026-11-17")])
        if night == 3:
            # what a run killed between moving its files in and its commit leaves
            (part_folder(tmp_path, "statuses") / "unlisted.parquet").write_bytes(b"PAR1")
        run(state, archive, tmp_path / f"night-{night}")
        assert len(listed(state, "statuses")) <= 3, night
        assert parts_on_disk(tmp_path, "statuses") == listed(state, "statuses"), night
    assert statuses_by_file(state) == {"1.jsonl": 1, "2.jsonl": 1, "3.jsonl": 1, "4.jsonl": 1}


def test_a_state_moved_with_its_warehouse_reads_on_and_a_lost_part_is_a_clear_error(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive_file(archive, "a.jsonl", [status("wamid.1", "sent", "2026-11-17 10:00")])
    run(state, archive, tmp_path / "one")
    state.close()
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(tmp_path / "state.duckdb", moved / "state.duckdb")
    shutil.move(tmp_path / PARTS_DIR, moved / PARTS_DIR)

    reopened = open_state(moved / "state.duckdb", limits=Limits(threads=1, memory_limit="1GB"))
    try:
        assert statuses_by_file(reopened) == {"a.jsonl": 1}
        (part,) = listed(reopened, "statuses")
    finally:
        reopened.close()
    (part_folder(moved, "statuses") / part).unlink()
    with pytest.raises(MissingPartError, match="--full-refresh"):
        open_state(moved / "state.duckdb", limits=Limits(threads=1, memory_limit="1GB"))


class FailingDisk(io.BytesIO):
    """A stored file whose storage fails after its first 2,000 bytes, 100 bytes a read: no
    real disk fails on cue, so this one stands in for the storage, not for our code."""

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= 2000:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return super().read(100 if size is None or size < 0 else min(size, 100))


def test_a_file_whose_storage_fails_half_way_gives_none_of_its_rows(
    state: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    lines = [status(f"wamid.{index}", "sent", "2026-11-17 10:00") for index in range(40)]
    archive_file(archive, "a.jsonl", lines)
    archive_file(archive, "b.jsonl", lines[:1])

    def opener(file: ArchiveFile) -> io.BytesIO:
        data = Path(file.uri).read_bytes()
        return FailingDisk(data) if file.uri.endswith("a.jsonl") else io.BytesIO(data)

    flushed: list[int] = []

    def rows_of_a(landing: Path) -> None:
        ((count,),) = duckdb.execute(
            "select count(*) from read_parquet($files) where source_file like '%a.jsonl'",
            {"files": str(landing / "statuses" / "part*.parquet")},
        ).fetchall()
        flushed.append(count)

    # batches of 500 bytes: the lines before the failure are flushed to landing files first
    _, reports = run(
        state,
        archive,
        tmp_path / "one",
        opener=opener,
        options=ingest_options(chunk_bytes=500),
        before_merge=rows_of_a,
    )
    assert [(report.lines > 0, report.unreadable) for report in reports] == [
        (True, "OSError: Input/output error"),
        (True, None),
    ]
    assert flushed[0] > 0
    assert statuses_by_file(state) == {"b.jsonl": 1}
    assert [Path(uri).name for (uri,) in state.execute("select uri from manifest").fetchall()] == [
        "b.jsonl"
    ]
    # the next run reads it again
    assert names(plan_of(state, archive).read) == ["a.jsonl"]
