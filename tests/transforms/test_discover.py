"""Finding the archive files and what their paths say (SPEC 1)."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from transforms.discover import PathHints, is_archive_file, local_listing, path_hints


@pytest.mark.parametrize(
    ("path", "hints"),
    [
        (
            "sender=15550100001/dt=2026-11-17/hour=05/events.jsonl.gz",
            PathHints(arrival_day=date(2026, 11, 17), arrival_hour=5, sender="15550100001"),
        ),
        ("dt=2026-11-17/part-0.ndjson", PathHints(arrival_day=date(2026, 11, 17))),
        (
            "firehose/2026/11/17/23/stream-1.json.zst",
            PathHints(arrival_day=date(2026, 11, 17), arrival_hour=23),
        ),
        ("firehose/2026/11/17/stream-1.json", PathHints(arrival_day=date(2026, 11, 17))),
        ("sender=+90 532-000 0003/x.jsonl", PathHints(sender="905320000003")),
        ("dt=2026-02-30/hour=05/x.jsonl", PathHints()),
        ("2026/13/01/x.jsonl", PathHints()),
        ("dt=2026-11-17/hour=24/x.jsonl", PathHints(arrival_day=date(2026, 11, 17))),
        ("plain.jsonl", PathHints()),
    ],
)
def test_path_hints(path: str, hints: PathHints) -> None:
    assert path_hints(path) == hints


def test_arrival_time_is_the_start_of_the_hour_or_day() -> None:
    assert PathHints(arrival_day=date(2026, 11, 17), arrival_hour=5).arrival_time == datetime(
        2026, 11, 17, 5, tzinfo=UTC
    )
    assert PathHints(arrival_day=date(2026, 11, 17)).arrival_time == datetime(
        2026, 11, 17, tzinfo=UTC
    )
    assert PathHints().arrival_time is None


@pytest.mark.parametrize(
    ("name", "archive"),
    [
        ("a.jsonl", True),
        ("a.ndjson", True),
        ("a.json", True),
        ("a.jsonl.gz", True),
        ("a.json.zst", True),
        ("a.jsonl.bz2", False),
        ("a.txt", False),
        ("README", False),
        ("a.jsonl.gz.tmp", False),
    ],
)
def test_which_files_are_archive_files(name: str, archive: bool) -> None:
    assert is_archive_file(name) is archive


def test_listing_finds_archive_files_and_counts_the_others(tmp_path: Path) -> None:
    for relative in (
        "dt=2026-11-17/hour=01/a.jsonl",
        "dt=2026-11-17/hour=01/b.jsonl.gz",
        "notes.txt",
        "x/.DS_Store",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"{}\n")
    listing = local_listing(tmp_path)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl", "b.jsonl.gz"]
    assert listing.ignored == 2
    first = listing.files[0]
    assert (first.size, first.compression, first.hints.arrival_hour) == (3, "none", 1)
    assert listing.files[1].compression == "gzip"
    assert first.uri == str((tmp_path / "dt=2026-11-17/hour=01/a.jsonl").resolve())


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        local_listing(tmp_path / "nowhere")
