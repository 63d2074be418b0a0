"""Object storage against a real S3 API server (moto's, on loopback): listing past one page,
hints and etags, reading gzip, a file rewritten after the listing, missing buckets, and the
export's upload. Then the faults of a store and of the network between, through a proxy that
injects them or on a server of the test's own that is frozen or stopped: what may pass is
tried again (a read that breaks off is taken up where it stopped), what cannot is not, and
nothing waits for ever."""

import gzip
import hashlib
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Bucket
from tests.servers import FaultProxy
from transforms.ingest.batch import FileTally, batches
from transforms.source.discover import ArchiveFile
from transforms.source.read import decompressed_blocks
from transforms.source.storage import (
    S3Location,
    StorageSettings,
    s3_client,
    s3_listing,
    s3_opener,
    upload_folder,
)
from transforms.source.stored import HashingReader, Opener, content_sha256

# short timeouts and waits, so that a fault costs the test a few seconds at most
FAST = StorageSettings(
    connect_timeout_seconds=1,
    read_timeout_seconds=1,
    attempts=3,
    backoff_seconds=0.05,
    max_backoff_seconds=0.2,
)
CUT = 100_000
# the stored bytes of `archive(SIZEABLE)`: more than 4 * CUT
SIZEABLE = 20_000


def put(s3: S3Bucket, key: str, body: bytes) -> None:
    s3.client.put_object(Bucket=s3.name, Key=key, Body=body)


def test_location_is_a_bucket_and_a_folder() -> None:
    assert S3Location.of("s3://archive/raw/whatsapp/") == S3Location("archive", "raw/whatsapp/")
    assert S3Location.of("s3://archive") == S3Location("archive", "")
    with pytest.raises(ValueError, match="names no bucket"):
        S3Location.of("s3:///raw")


def test_listing_goes_past_a_page_of_1000_keys(s3: S3Bucket) -> None:
    for index in range(1003):
        put(s3, f"raw/dt=2026-11-2{index % 3}/part-{index:04d}.jsonl", b"{}\n")
    put(s3, "raw/dt=2026-11-20/hour=07/sender=+90 555/late.jsonl.gz", gzip.compress(b"{}\n"))
    put(s3, "raw/_SUCCESS", b"")
    put(s3, "raw/readme.txt", b"not an archive file")
    put(s3, "raw/empty-folder/", b"")
    put(s3, "rawer/other.jsonl", b"{}\n")  # another prefix that starts alike

    listing = s3_listing(s3.client, f"s3://{s3.name}/raw")

    assert len(listing.files) == 1004
    assert listing.ignored == 2
    assert [file.uri for file in listing.files] == sorted(file.uri for file in listing.files)
    late = next(file for file in listing.files if file.uri.endswith("late.jsonl.gz"))
    assert late.uri == f"s3://{s3.name}/raw/dt=2026-11-20/hour=07/sender=+90 555/late.jsonl.gz"
    assert late.hints.arrival_day == date(2026, 11, 20)
    assert late.hints.arrival_hour == 7
    assert late.hints.sender == "90555"
    assert late.compression == "gzip"
    assert late.size == len(gzip.compress(b"{}\n"))
    plain = next(file for file in listing.files if file.uri.endswith("part-0000.jsonl"))
    assert plain.etag == hashlib.md5(b"{}\n").hexdigest()
    assert plain.modified_at.utcoffset() is not None


def test_a_missing_bucket_or_an_empty_prefix_is_a_missing_source(s3: S3Bucket) -> None:
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        s3_listing(s3.client, "s3://no-such-bucket-here/raw")
    put(s3, "raw/a.jsonl", b"{}\n")
    with pytest.raises(FileNotFoundError, match="nothing under"):
        s3_listing(s3.client, f"s3://{s3.name}/raw/typo")


def test_an_object_reads_like_a_local_file(s3: S3Bucket) -> None:
    lines = b"".join(b'{"line": %d}\n' % number for number in range(50_000))
    stored_bytes = gzip.compress(lines)
    put(s3, "raw/big.jsonl.gz", stored_bytes)
    (file,) = s3_listing(s3.client, f"s3://{s3.name}/raw").files
    opener = s3_opener(s3.client)

    with opener(file) as stored:
        assert b"".join(decompressed_blocks(stored, file.compression)) == lines
    assert content_sha256(opener, file) == hashlib.sha256(stored_bytes).hexdigest()


def test_a_file_rewritten_after_the_listing_is_not_read(s3: S3Bucket) -> None:
    put(s3, "raw/a.jsonl", b'{"version": 1}\n')
    (listed,) = s3_listing(s3.client, f"s3://{s3.name}/raw").files
    put(s3, "raw/a.jsonl", b'{"version": 2}\n')

    with pytest.raises(OSError, match="PreconditionFailed"):
        s3_opener(s3.client)(listed)
    vanished = ArchiveFile(
        uri=f"s3://{s3.name}/raw/gone.jsonl", size=1, modified_at=listed.modified_at
    )
    with pytest.raises(FileNotFoundError, match="NoSuchKey"):
        s3_opener(s3.client)(vanished)


def test_upload_replaces_the_export_and_leaves_other_keys(s3: S3Bucket, tmp_path: Path) -> None:
    put(s3, "reports/messages/day=2026-11-01/data_0.parquet", b"old day")
    put(s3, "reports/messages/day=2026-11-02/data_0.parquet", b"old")
    put(s3, "reports/notes.txt", b"an analyst's file")
    put(s3, "reportsX/messages/data.parquet", b"another prefix")
    version = tmp_path / "version"
    (version / "messages" / "day=2026-11-02").mkdir(parents=True)
    (version / "messages" / "day=2026-11-02" / "data_0.parquet").write_bytes(b"new")
    (version / "error_codes").mkdir()
    (version / "error_codes" / "data.parquet").write_bytes(b"codes")

    uploaded = upload_folder(s3.client, version, f"s3://{s3.name}/reports/")

    assert uploaded == [
        f"s3://{s3.name}/reports/error_codes/data.parquet",
        f"s3://{s3.name}/reports/messages/day=2026-11-02/data_0.parquet",
    ]
    assert s3.keys() == [
        "reports/error_codes/data.parquet",
        "reports/messages/day=2026-11-02/data_0.parquet",
        "reports/notes.txt",
        "reportsX/messages/data.parquet",
    ]
    body = s3.client.get_object(
        Bucket=s3.name, Key="reports/messages/day=2026-11-02/data_0.parquet"
    )
    assert body["Body"].read() == b"new"


def through(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client of the S3 server that goes through the proxy, with `FAST` settings."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    return s3_client(settings=FAST)


def archive(lines: int, seed: int = 1) -> tuple[bytes, bytes]:
    """Lines of JSON and their gzip, which does not shrink much (a random field a line):
    about 30 bytes a line."""
    rng = random.Random(seed)
    text = b"".join(
        b'{"line": %d, "id": "%s"}\n' % (number, rng.randbytes(16).hex().encode())
        for number in range(lines)
    )
    return text, gzip.compress(text)


def read_as_the_runs_do(opener: Opener, file: ArchiveFile) -> tuple[bytes, str]:
    """A file's decompressed bytes and the hash of its stored bytes, read as `batches` reads
    them (one pass, through the hashing reader)."""
    with opener(file) as stored:
        hashing = HashingReader(stored)
        text = b"".join(decompressed_blocks(hashing, file.compression))
        return text, hashing.sha256_of_all()


def ranges(proxy: FaultProxy, s3: S3Bucket, key: str) -> list[str | None]:
    """The `Range` of each `GET` of the object, in order (None: the whole object)."""
    return [request.headers.get("range") for request in proxy.received("GET", f"/{s3.name}/{key}")]


def starts(proxy: FaultProxy, s3: S3Bucket, key: str) -> list[int]:
    """Where each `GET` of the object starts, in order. A body that stalls loses the piece
    being read when it times out, so a resumed read may start a little before the stall."""
    return [
        int(request.headers.get("range", "bytes=0-").removeprefix("bytes=").removesuffix("-"))
        for request in proxy.received("GET", f"/{s3.name}/{key}")
    ]


def listed(s3: S3Bucket, client: Any) -> list[ArchiveFile]:
    return s3_listing(client, f"s3://{s3.name}/raw").files


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_a_store_that_fails_for_a_while_is_waited_out(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, status: int, code: str
) -> None:
    text, stored_bytes = archive(2_000)
    put(s3, "raw/a.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)

    proxy.answer_error(2, status, code)
    (file,) = listed(s3, client)
    proxy.answer_error(2, status, code)
    read = read_as_the_runs_do(s3_opener(client, FAST), file)

    assert read == (text, hashlib.sha256(stored_bytes).hexdigest())
    assert len(proxy.received("GET", f"/{s3.name}")) == 3  # the listing: 2 errors, then its answer
    assert ranges(proxy, s3, "raw/a.jsonl.gz") == [None, None, None]


def test_a_store_that_keeps_failing_fails_with_its_code_and_no_credential(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3, "raw/a.jsonl", b"{}\n")
    client = through(proxy, monkeypatch)
    (file,) = listed(s3, client)
    proxy.slow_down(100)

    with pytest.raises(
        OSError, match=r"cannot list .*: SlowDown \(ListObjectsV2, after 3 attempts\)"
    ) as listing:
        listed(s3, client)
    with pytest.raises(
        OSError, match=r"cannot read .*: SlowDown \(GetObject, after 3 attempts\)"
    ) as reading:
        s3_opener(client, FAST)(file)

    for failed in (listing, reading):
        assert not isinstance(failed.value, FileNotFoundError | PermissionError)  # it may pass
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert s3.server.env[name] not in str(failed.value)
    assert len(proxy.received("GET", f"/{s3.name}")) == 1 + 3
    assert len(proxy.received("GET", f"/{s3.name}/raw/a.jsonl")) == 3


def test_a_body_cut_off_is_taken_up_where_it_stopped(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, stored_bytes = archive(SIZEABLE)
    put(s3, "raw/a.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)
    (file,) = listed(s3, client)

    proxy.cut(CUT, count=2)
    read = read_as_the_runs_do(s3_opener(client, FAST), file)

    # every byte once, in order: the same lines and the same hash of the stored bytes
    assert read == (text, hashlib.sha256(stored_bytes).hexdigest())
    assert ranges(proxy, s3, "raw/a.jsonl.gz") == [None, f"bytes={CUT}-", f"bytes={2 * CUT}-"]
    gets = proxy.received("GET", f"/{s3.name}/raw/a.jsonl.gz")
    assert {request.headers["if-match"] for request in gets} == {f'"{file.etag}"'}


@pytest.mark.timeout(60)
def test_a_body_that_stalls_is_taken_up_after_the_read_timeout(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, stored_bytes = archive(SIZEABLE)
    put(s3, "raw/a.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)
    (file,) = listed(s3, client)

    proxy.cut(CUT, hang=True)
    started = time.monotonic()
    read = read_as_the_runs_do(s3_opener(client, FAST), file)

    assert read == (text, hashlib.sha256(stored_bytes).hexdigest())
    assert FAST.read_timeout_seconds <= time.monotonic() - started < 10
    first, resumed = starts(proxy, s3, "raw/a.jsonl.gz")
    assert first == 0 < resumed <= CUT


@pytest.mark.timeout(60)
def test_a_read_that_keeps_breaking_off_leaves_the_file_unreadable_in_bounded_time(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, frozen_bytes = archive(SIZEABLE)
    text, stored_bytes = archive(100, seed=2)
    put(s3, "raw/a.jsonl.gz", frozen_bytes)
    put(s3, "raw/b.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)
    files = listed(s3, client)
    tallies = [FileTally() for _ in files]

    proxy.cut(CUT, count=FAST.attempts, hang=True)  # every GET of a.jsonl.gz stalls mid-body
    started = time.monotonic()
    read = list(batches(files, s3_opener(client, FAST), 1 << 20, 1 << 20, tallies))

    assert time.monotonic() - started < 10
    assert tallies[0].unreadable == (
        f"TimeoutError: cannot read s3://{s3.name}/raw/a.jsonl.gz: ReadTimeoutError "
        f"(after {FAST.attempts} attempts)"
    )
    first, *resumed = starts(proxy, s3, "raw/a.jsonl.gz")
    assert [first, *resumed] == sorted({first, *resumed}) and len(resumed) == FAST.attempts - 1
    # the next file is read whole
    assert tallies[1].unreadable is None
    assert tallies[1].lines == 100
    assert tallies[1].content_sha256 == hashlib.sha256(stored_bytes).hexdigest()
    assert (
        b"".join(chunk.data for batch in read for index, chunk in batch.chunks if index == 1)
        == text
    )


@pytest.mark.timeout(60)
def test_a_frozen_server_fails_the_listing_and_the_reads_within_the_timeouts(
    own_s3: S3Bucket,
) -> None:
    put(own_s3, "raw/a.jsonl", b'{"a": 1}\n')
    client = s3_client(settings=FAST)
    files = listed(own_s3, client)
    tallies = [FileTally()]

    own_s3.server.freeze()  # connections are still accepted, never answered
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"cannot list .*: ReadTimeoutError"):
        listed(own_s3, client)
    assert not list(batches(files, s3_opener(client, FAST), 1 << 20, 1 << 20, tallies))
    elapsed = time.monotonic() - started

    assert tallies[0].unreadable == (
        f"TimeoutError: cannot read s3://{own_s3.name}/raw/a.jsonl: ReadTimeoutError"
    )
    # two requests of 3 attempts, each waiting its read timeout
    assert 2 * FAST.attempts * FAST.read_timeout_seconds <= elapsed < 15
    own_s3.server.thaw()
    assert (
        content_sha256(s3_opener(client, FAST), files[0])
        == hashlib.sha256(b'{"a": 1}\n').hexdigest()
    )


@pytest.mark.timeout(60)
def test_a_stopped_server_fails_the_listing_and_the_files_left_in_bounded_time(
    own_s3: S3Bucket,
) -> None:
    for name in "abc":
        put(own_s3, f"raw/{name}.jsonl", b'{"a": 1}\n')
    client = s3_client(settings=FAST)
    files = listed(own_s3, client)
    tallies = [FileTally() for _ in files]
    opener = s3_opener(client, FAST)
    reading = batches(files, opener, 1, 1 << 20, tallies)
    first = next(reading)  # a.jsonl is read

    own_s3.server.stop()
    started = time.monotonic()
    rest = list(reading)
    with pytest.raises(OSError, match=r"cannot list .*: EndpointConnectionError") as listing:
        listed(own_s3, client)
    elapsed = time.monotonic() - started

    assert not isinstance(listing.value, FileNotFoundError | PermissionError)
    assert [index for index, _ in first.chunks] == [0] and not rest
    assert [tally.unreadable for tally in tallies] == [None] + [
        f"OSError: cannot read {file.uri}: EndpointConnectionError" for file in files[1:]
    ]
    assert elapsed < 10


def test_what_trying_again_cannot_mend_is_not_tried_again(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3, "raw/a.jsonl", b'{"version": 1}\n')
    client = through(proxy, monkeypatch)
    opener = s3_opener(client, FAST)
    (listed_file,) = listed(s3, client)
    gone = ArchiveFile(
        uri=f"s3://{s3.name}/raw/gone.jsonl", size=1, modified_at=listed_file.modified_at
    )

    with pytest.raises(FileNotFoundError, match="NoSuchKey"):
        opener(gone)
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        s3_listing(client, "s3://no-such-bucket-here/raw")
    proxy.answer_error(1, 403, "AccessDenied")  # a second attempt would be let through
    with pytest.raises(PermissionError, match=r"AccessDenied \(GetObject\)"):
        opener(listed_file)
    proxy.answer_error(1, 403, "AccessDenied")
    with pytest.raises(PermissionError, match=r"AccessDenied \(ListObjectsV2\)"):
        listed(s3, client)
    put(s3, "raw/a.jsonl", b'{"version": 2}\n')
    with pytest.raises(OSError, match=r"PreconditionFailed \(GetObject\)"):
        opener(listed_file)

    assert len(proxy.received("GET", f"/{s3.name}/raw/gone.jsonl")) == 1
    assert len(proxy.received("GET", "/no-such-bucket-here")) == 1
    assert len(proxy.received("GET", f"/{s3.name}/raw/a.jsonl")) == 2  # denied, changed
    assert len(proxy.received("GET", f"/{s3.name}")) == 1 + 1  # listed, denied


def test_an_object_rewritten_while_it_is_read_is_not_taken_up(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, stored_bytes = archive(SIZEABLE)
    put(s3, "raw/a.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)
    (file,) = listed(s3, client)

    proxy.cut(CUT)
    with s3_opener(client, FAST)(file) as stored:
        put(s3, "raw/a.jsonl.gz", gzip.compress(b'{"version": 2}\n'))
        with pytest.raises(OSError, match=r"cannot read .*: PreconditionFailed \(GetObject\)"):
            stored.read(len(stored_bytes))

    # no old byte mixed with new ones, and the refusal not tried again
    assert ranges(proxy, s3, "raw/a.jsonl.gz") == [None, f"bytes={CUT}-"]


def test_a_store_that_ignores_the_range_does_not_repeat_the_start(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, stored_bytes = archive(SIZEABLE)
    put(s3, "raw/a.jsonl.gz", stored_bytes)
    client = through(proxy, monkeypatch)
    (file,) = listed(s3, client)

    proxy.cut(CUT)
    proxy.ignore_ranges()
    with (
        s3_opener(client, FAST)(file) as stored,
        pytest.raises(OSError, match="the store did not send the range asked for"),
    ):
        stored.read(len(stored_bytes))
    assert ranges(proxy, s3, "raw/a.jsonl.gz") == [None, f"bytes={CUT}-"]


def test_missing_credentials_are_named_and_nothing_is_sent(
    s3: S3Bucket, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    put(s3, "raw/a.jsonl", b"{}\n")
    (file,) = listed(s3, s3.client)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = through(proxy, monkeypatch)
    named = (
        r"no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        r"\(or AWS_PROFILE\), or name a Prefect AwsCredentials block with --aws-credentials"
    )

    with pytest.raises(PermissionError, match=f"cannot list s3://{s3.name}/raw: {named}"):
        listed(s3, client)
    with pytest.raises(PermissionError, match=f"cannot read {file.uri}: {named}"):
        s3_opener(client, FAST)(file)
    assert proxy.requests == []
