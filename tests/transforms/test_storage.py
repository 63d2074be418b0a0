"""Object storage against a real S3 API server (moto's, on loopback): listing past one page,
hints and etags, reading gzip, a file rewritten after the listing, missing buckets, and the
export's upload."""

import gzip
import hashlib
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import S3Bucket
from transforms.discover import ArchiveFile
from transforms.read import content_sha256, decompressed_blocks
from transforms.storage import S3Location, s3_listing, s3_opener, upload_folder


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
