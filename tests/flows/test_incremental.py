"""Nightly runs over a growing archive (contract §7): each reads only new and changed files, and
after any sequence of nights every table equals what one full run over the final archive
gives; running the same night twice changes nothing."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from devtools.sample import SampleSpec, write_sample
from flows.nightly import nightly_for
from flows.settings import Tuning
from flows.summary import RunSummary
from tests.conftest import archive_file
from tests.payloads import SENDER, accepted, envelope, failure, iso, status, template_send
from transforms.contract.tables import ARCHIVE_TABLES
from transforms.source.discover import local_listing

AS_OF = datetime(2026, 11, 20, 2, tzinfo=UTC)
# what differs between runs by design: when and by which run a file was read
RUN_COLUMNS = {"ingested_at", "run_id"}


def night(
    archive: Path, out: Path, *, full_refresh: bool = False, as_of: datetime = AS_OF
) -> RunSummary:
    return nightly_for(Tuning())(
        source=str(archive),
        warehouse=out / "warehouse.duckdb",
        export=out / "export",
        as_of=as_of,
        full_refresh=full_refresh,
        tuning=Tuning(),
    )


def tables(out: Path, without: set[str] = RUN_COLUMNS) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        contents = {}
        for name in ARCHIVE_TABLES:
            columns = [
                row[0]
                for row in connection.execute(f"describe {name}").fetchall()
                if row[0] not in without
            ]
            rows = connection.execute(f"select {', '.join(columns)} from {name}").fetchall()
            contents[name] = sorted(rows, key=repr)
        return contents


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("growing") / "sample"
    write_sample(folder, SampleSpec(messages=600, days=3, seed=21))
    return folder


def arrival_day(sample: Path, uri: str) -> str:
    file = next(file for file in local_listing(sample).files if file.uri == uri)
    assert file.hints.arrival_day is not None
    return str(file.hints.arrival_day)


def test_nights_over_a_growing_archive_equal_one_full_run(
    prefect_server: None, sample: Path, tmp_path: Path
) -> None:
    files = local_listing(sample).files
    days = sorted({arrival_day(sample, file.uri) for file in files})
    assert len(days) >= 4
    archive = tmp_path / "archive"
    growing = tmp_path / "incremental"
    growing.mkdir()
    # a file still being written on the first night: half of it then, all of it later
    half_written = next(
        file.uri
        for file in files
        if file.uri.endswith(".json") and arrival_day(sample, file.uri) == days[0]
    )
    summaries = []
    for index, day in enumerate(days):
        for file in files:
            if arrival_day(sample, file.uri) == day:
                target = archive / Path(file.uri).relative_to(sample.resolve())
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file.uri, target)
                if file.uri == half_written and index == 0:
                    lines = Path(file.uri).read_bytes().splitlines(keepends=True)
                    target.write_bytes(b"".join(lines[: len(lines) // 2]))
            if file.uri == half_written and index == 1:
                shutil.copy(file.uri, archive / Path(file.uri).relative_to(sample.resolve()))
        summaries.append(night(archive, growing))
    # each night read only what was new, and the grown file again
    assert summaries[0].files == sum(arrival_day(sample, file.uri) == days[0] for file in files)
    assert summaries[1].files == sum(arrival_day(sample, file.uri) == days[1] for file in files) + 1
    assert summaries[1].unchanged_files == summaries[0].files - 1
    assert all(summary.unchanged_files > 0 for summary in summaries[1:])

    full = tmp_path / "full"
    full.mkdir()
    night(archive, full)
    assert tables(growing) == tables(full)
    assert tables(growing)["messages"], "the nights built messages"
    # the alerts too, but for who raised them first and the runs' own (a stale archive)
    assert raised_alerts(growing) == raised_alerts(full)
    assert {kind for kind, *_ in raised_alerts(full)} >= {"new_error_code", "stop_error"}
    # the nights' export, whose unchanged days came from the nights before and whose days
    # that only gained rows kept their files beside files of the rows added, too
    assert exported(growing) == exported(full)
    partitions = (growing / "export").glob("*/day=*")
    assert any(len(list(folder.iterdir())) > 1 for folder in partitions)


def raised_alerts(out: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "select kind, sender, template, day, code, incident_id, value, baseline, threshold, "
            "message from alerts where kind <> 'stale_archive' order by all"
        ).fetchall()


def exported(out: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the export, its rows in order, without the run's columns."""
    with duckdb.connect() as connection:
        contents = {}
        for name in ARCHIVE_TABLES:
            relation = connection.sql(
                f"from read_parquet('{out / 'export' / name}/**/*.parquet', hive_partitioning = true)"
            )
            columns = [column for column in relation.columns if column not in RUN_COLUMNS]
            contents[name] = sorted(relation.select(*columns).fetchall(), key=repr)
        return contents


def test_the_same_night_twice_changes_nothing(
    prefect_server: None, sample: Path, tmp_path: Path
) -> None:
    first = night(sample, tmp_path)
    contents = tables(tmp_path, without=set())
    second = night(sample, tmp_path)
    assert (second.files, second.unchanged_files) == (0, first.files)
    assert tables(tmp_path, without=set()) == contents


def test_a_changed_file_replaces_its_rows_and_a_vanished_file_keeps_them(
    prefect_server: None, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    write_sample(archive, SampleSpec(messages=80, days=1, seed=3))
    night(archive, tmp_path)
    files = sorted(path for path in archive.rglob("*.json"))
    changed, gone = files[0], files[1]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        gone_rows = connection.execute(
            "select count(*) from statuses where source_file = $f", {"f": str(gone.resolve())}
        ).fetchall()[0][0]
        before = connection.execute("select count(*) from quarantine").fetchall()[0][0]
    changed.write_bytes(changed.read_bytes() + b"a line that is not JSON\n")
    gone.unlink()
    summary = night(archive, tmp_path)
    assert (summary.files, summary.vanished_files, summary.quarantined) == (1, 1, 1)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from quarantine").fetchall()[0][0] == before + 1
        assert (
            connection.execute(
                "select count(*) from statuses where source_file = $f", {"f": str(gone.resolve())}
            ).fetchall()[0][0]
            == gone_rows
        )
        assert connection.execute(
            "select count(*) from ingest_files where vanished_at is not null"
        ).fetchall() == [(1,)]
        lines = changed.read_bytes().count(b"\n")
        assert connection.execute(
            "select lines from ingest_files where uri = $f", {"f": str(changed.resolve())}
        ).fetchall() == [(lines,)]
    # a full refresh reads the archive as it is now: the vanished file's rows go
    refreshed = night(archive, tmp_path, full_refresh=True)
    assert refreshed.unchanged_files == 0
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute(
            "select count(*) from statuses where source_file = $f", {"f": str(gone.resolve())}
        ).fetchall() == [(0,)]
        assert connection.execute(
            "select count(*) from ingest_files where vanished_at is not null"
        ).fetchall() == [(0,)]


def lifecycle(out: Path) -> dict[str, tuple[object, ...]]:
    """Each message's template and outcome, by key."""
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select key, message_id, template, message_day::varchar, delivered_at is not null, read_at is not null,"
            " failed_at is not null, first_error_code, final_status from messages order by key"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def daily(out: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    """delivery_daily's counts by day and template (one sender here)."""
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select day::varchar, template, sender, attempted, accepted, sent, delivered, read, failed, report_missing"
            " from delivery_daily"
        ).fetchall()
    assert {row[2] for row in rows} == {SENDER}
    return {(row[0], row[1]): row[3:] for row in rows}


def test_late_and_out_of_order_events_update_the_right_message(
    prefect_server: None, tmp_path: Path
) -> None:
    archive, out, full = tmp_path / "archive", tmp_path / "out", tmp_path / "full"
    out.mkdir()
    full.mkdir()
    folder = f"sender={SENDER}/dt={{}}/events.jsonl"
    # night 1: message a sent and delivered; message b's delivered status before its accepted
    # event and template send; message c, the day before, sent and never heard of again
    archive_file(
        archive,
        folder.format("2026-11-18"),
        [
            envelope(template_send("whatsapp-a", "2026-11-18 09:00"), iso("2026-11-18 09:00")),
            envelope(accepted("whatsapp-a", "wamid.A"), iso("2026-11-18 09:00:01")),
            status("wamid.A", "sent", "2026-11-18 09:00:05", "whatsapp-a"),
            status("wamid.A", "delivered", "2026-11-18 09:00:10", "whatsapp-a"),
            status("wamid.B", "delivered", "2026-11-18 10:00:10", "whatsapp-b"),
        ],
    )
    archive_file(
        archive,
        folder.format("2026-11-17"),
        [
            envelope(template_send("whatsapp-c", "2026-11-17 08:00"), iso("2026-11-17 08:00")),
            envelope(accepted("whatsapp-c", "wamid.C"), iso("2026-11-17 08:00:01")),
            status("wamid.C", "sent", "2026-11-17 08:00:05", "whatsapp-c"),
        ],
    )
    night(archive, out, as_of=at_night("2026-11-19"))
    assert lifecycle(out) == {
        "whatsapp-a": (
            "wamid.A",
            "order_update",
            "2026-11-18",
            True,
            False,
            False,
            None,
            "delivered",
        ),
        "whatsapp-b": ("wamid.B", None, "2026-11-18", True, False, False, None, "delivered"),
        "whatsapp-c": ("wamid.C", "order_update", "2026-11-17", False, False, False, None, "sent"),
    }
    untouched = daily(out)[("2026-11-17", "order_update")]
    assert untouched == (1, 1, 1, 0, 0, 0, 1)
    assert daily(out) == {
        ("2026-11-17", "order_update"): untouched,
        ("2026-11-18", "order_update"): (1, 1, 1, 1, 0, 0, 0),
        ("2026-11-18", None): (1, 1, 1, 1, 0, 0, 0),
    }

    # night 2: b's accepted event and template send arrive a day late; a fails after delivered
    archive_file(
        archive,
        folder.format("2026-11-19"),
        [
            envelope(template_send("whatsapp-b", "2026-11-18 10:00"), iso("2026-11-18 10:00")),
            envelope(accepted("whatsapp-b", "wamid.B"), iso("2026-11-18 10:00:01")),
            status(
                "wamid.A",
                "failed",
                "2026-11-19 12:00",
                "whatsapp-a",
                errors=[failure(131026, "Message undeliverable")],
            ),
        ],
    )
    night(archive, out, as_of=at_night("2026-11-20"))
    assert lifecycle(out)["whatsapp-a"] == (
        "wamid.A",
        "order_update",
        "2026-11-18",
        True,
        False,
        True,
        131026,
        "delivered",
    )
    assert lifecycle(out)["whatsapp-b"] == (
        "wamid.B",
        "order_update",
        "2026-11-18",
        True,
        False,
        False,
        None,
        "delivered",
    )
    assert daily(out) == {
        ("2026-11-17", "order_update"): untouched,
        ("2026-11-18", "order_update"): (2, 2, 2, 2, 0, 1, 0),
    }

    # night 3: a's read receipt, two days after the send, counts on the message's day
    archive_file(
        archive,
        folder.format("2026-11-20"),
        [
            status("wamid.A", "read", "2026-11-20 09:00", "whatsapp-a"),
        ],
    )
    night(archive, out, as_of=at_night("2026-11-21"))
    assert lifecycle(out)["whatsapp-a"] == (
        "wamid.A",
        "order_update",
        "2026-11-18",
        True,
        True,
        True,
        131026,
        "read",
    )
    assert daily(out) == {
        ("2026-11-17", "order_update"): untouched,
        ("2026-11-18", "order_update"): (2, 2, 2, 2, 1, 1, 0),
    }

    night(archive, full, as_of=at_night("2026-11-21"))
    assert tables(out) == tables(full)


def at_night(day: str) -> datetime:
    """02:00 UTC of `day`, when its nightly run starts."""
    return datetime.fromisoformat(f"{day}T02:00:00+00:00")
