"""Finding the archive files and what their paths say (contract §1)."""

import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from transforms.source.discover import (
    Listing,
    PathHints,
    is_archive_file,
    local_listing,
    path_hints,
)


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
    assert (listing.ignored, listing.skipped, listing.unreadable) == (2, {}, [])
    first = listing.files[0]
    assert (first.size, first.compression, first.hints.arrival_hour) == (3, "none", 1)
    assert listing.files[1].compression == "gzip"
    assert first.uri == str((tmp_path / "dt=2026-11-17/hour=01/a.jsonl").resolve())


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        local_listing(tmp_path / "nowhere")


NOBODY = 65534


def _write(path: Path, content: bytes = b"{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    """A folder an unprivileged user can reach: as root, the tests list as `nobody` (root
    reads past `chmod 000`), and pytest's own folders are private to root."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="wa-etl-discover-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _listing_unprivileged(root: Path) -> Listing:
    """The listing by a user the permissions apply to: as root, with the effective ids of
    `nobody` for the call (root's capabilities read and search any folder)."""
    if os.geteuid() != 0:
        return local_listing(root)
    try:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
    except PermissionError:
        os.setegid(0)
        pytest.skip("root without CAP_SETUID: cannot list as a user that permissions stop")
    try:
        return local_listing(root)
    finally:
        os.seteuid(0)
        os.setegid(0)


@contextmanager
def _mode(folder: Path, mode: int) -> Iterator[None]:
    folder.chmod(mode)
    try:
        yield
    finally:
        folder.chmod(0o755)


def test_links_are_not_followed_out_of_the_archive(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside" / "secret.jsonl", b'{"secret": 1}\n')
    archive = tmp_path / "archive"
    inside = _write(archive / "dt=2026-11-17" / "a.jsonl")
    (archive / "p.jsonl").symlink_to(outside)
    (archive / "etc").symlink_to(outside.parent, target_is_directory=True)
    (archive / "again.jsonl").symlink_to(inside)  # inside: read under its own name anyway
    listing = local_listing(archive)
    assert [file.uri for file in listing.files] == [str(inside.resolve())]
    assert listing.skipped == {"link": 3}
    assert (listing.ignored, listing.unreadable) == (0, [])


def test_broken_links_and_link_loops_are_counted_not_followed(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl")
    (tmp_path / "broken.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    (tmp_path / "ping").symlink_to(tmp_path / "pong")
    (tmp_path / "pong").symlink_to(tmp_path / "ping")
    listing = local_listing(tmp_path)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl"]
    assert listing.skipped == {"link": 4}


def test_a_source_that_is_a_link_is_listed_under_its_target(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    _write(archive / "dt=2026-11-17" / "hour=03" / "a.jsonl")
    (tmp_path / "current").symlink_to(archive, target_is_directory=True)
    (file,) = local_listing(tmp_path / "current").files
    assert file.uri == str(archive.resolve() / "dt=2026-11-17" / "hour=03" / "a.jsonl")
    assert file.hints.arrival_hour == 3


def test_a_source_that_is_a_link_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        local_listing(tmp_path / "loop")


def test_names_that_are_not_utf8_are_counted_not_listed(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl")
    folder = os.fsencode(tmp_path)
    _write(Path(os.fsdecode(folder + b"/bad\xff.jsonl")))
    _write(Path(os.fsdecode(folder + b"/dt=2026-11-17\xfe/b.jsonl.gz")))
    listing = local_listing(tmp_path)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl"]
    assert listing.skipped == {"not_utf8": 2}
    listing.model_dump_json()  # the run's summary and state store it as UTF-8 text


def test_a_source_whose_path_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    source = Path(os.fsdecode(os.fsencode(tmp_path) + b"/archive\xff"))
    _write(source / "a.jsonl")
    with pytest.raises(ValueError, match=r"archive\\xff is not a UTF-8 path"):
        local_listing(source)


@pytest.mark.timeout(30)
def test_fifos_sockets_and_devices_are_counted_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "a.jsonl")
    os.mkfifo(tmp_path / "x.jsonl")  # opening it would wait for a writer forever
    monkeypatch.chdir(tmp_path)  # a socket's path must be short: bind it relative
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("s.jsonl")
        specials = 2
        try:
            os.mknod(tmp_path / "null.jsonl", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            specials += 1
        except PermissionError:
            pass  # only root makes devices: the FIFO and the socket still count
        listing = local_listing(tmp_path)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl"]
    assert listing.skipped == {"special": specials}


def test_a_folder_that_cannot_be_listed_is_reported(reachable: Path) -> None:
    archive = reachable / "archive"
    _write(archive / "dt=2026-11-16" / "a.jsonl")
    locked = archive / "dt=2026-11-17"
    _write(locked / "b.jsonl")
    _write(archive / "dt=2026-11-18" / "c.jsonl")
    with _mode(locked, 0o000):
        listing = _listing_unprivileged(archive)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl", "c.jsonl"]
    assert listing.unreadable == [f"{locked}: PermissionError"]


def test_files_whose_stat_is_refused_are_reported(reachable: Path) -> None:
    archive = reachable / "archive"
    _write(archive / "a.jsonl")
    unsearchable = archive / "dt=2026-11-17"
    _write(unsearchable / "b.jsonl")
    with _mode(unsearchable, 0o444):  # its names can be read, not its files' metadata
        listing = _listing_unprivileged(archive)
    assert [Path(file.uri).name for file in listing.files] == ["a.jsonl"]
    assert listing.unreadable == [f"{unsearchable / 'b.jsonl'}: PermissionError"]


def test_a_source_that_cannot_be_listed_is_an_error(reachable: Path) -> None:
    archive = reachable / "archive"
    _write(archive / "a.jsonl")
    with _mode(archive, 0o000), pytest.raises(PermissionError):
        _listing_unprivileged(archive)


def test_deep_folders_do_not_exhaust_the_stack(tmp_path: Path) -> None:
    folder = tmp_path
    for _ in range(sys.getrecursionlimit() + 50):
        folder /= "d"
        folder.mkdir()  # not `mkdir(parents=True)`: `os.makedirs` recurses per level
    _write(folder / "a.jsonl")
    try:
        (file,) = local_listing(tmp_path).files
        assert file.uri == str(folder.resolve() / "a.jsonl")
    finally:
        (folder / "a.jsonl").unlink()
        while folder != tmp_path:  # `shutil.rmtree` recurses per level too (Python 3.11)
            folder.rmdir()
            folder = folder.parent


def test_listing_keeps_path_order_across_folders(tmp_path: Path) -> None:
    # the order of sorted paths (a folder's files where its name sorts), not of their text
    expected = ["a/b/c.jsonl", "a/z.jsonl", "a-b.jsonl", "a.jsonl", "b.jsonl"]
    for relative in reversed(expected):
        _write(tmp_path / relative)
    source = tmp_path.resolve()
    listed = [
        Path(file.uri).relative_to(source).as_posix() for file in local_listing(tmp_path).files
    ]
    assert listed == expected
