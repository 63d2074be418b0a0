"""Object storage: an archive in an S3 bucket (or any S3-compatible store) and an export to
one, through boto3.

The client is made from a Prefect `AwsCredentials` block when one is named, else from the
standard AWS settings (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
`AWS_ENDPOINT_URL`, `~/.aws`), so credentials never pass through the tool's own parameters.
Errors of the store become `OSError`s, which the runs treat as the storage's, not the
content's: a file that cannot be read is left for the next run.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from transforms.discover import ArchiveFile, Listing, is_archive_file, local_listing, path_hints
from transforms.read import Opener, open_local

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

S3_SCHEME = "s3://"
_MISSING = {"NoSuchBucket", "NoSuchKey", "404"}
_FORBIDDEN = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


def is_s3(url: str) -> bool:
    return url.startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix: `s3://bucket/prefix` is the folder `prefix/`."""

    bucket: str
    prefix: str

    @classmethod
    def of(cls, url: str) -> "S3Location":
        bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
        if not bucket:
            raise ValueError(f"{url!r} names no bucket: give s3://bucket/prefix")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def url(self, key: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{key}"


def bucket_and_key(uri: str) -> tuple[str, str]:
    """The bucket and key of an object's `s3://bucket/key`."""
    bucket, _, key = uri.removeprefix(S3_SCHEME).partition("/")
    return bucket, key


def s3_client(aws_credentials: str | None = None) -> S3Client:
    """A client of the S3 API: the Prefect `AwsCredentials` block of that name, else the
    standard AWS settings."""
    if aws_credentials:
        from prefect_aws import AwsCredentials

        block = cast(AwsCredentials, AwsCredentials.load(aws_credentials))
        return cast(S3Client, block.get_s3_client())
    return cast(S3Client, boto3.session.Session().client("s3"))


def storage_error(error: ClientError | BotoCoreError, what: str) -> OSError:
    """The store's error as the `OSError` a local file system would raise: missing and
    forbidden are lasting (the runs do not retry them), the rest may pass."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        reason = f"{what}: {code or 'error'} ({error.operation_name})"
        if code in _MISSING:
            return FileNotFoundError(reason)
        if code in _FORBIDDEN:
            return PermissionError(reason)
        return OSError(reason)
    return OSError(f"{what}: {type(error).__name__}")


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise storage_error(error, what) from None


def s3_listing(client: S3Client, url: str) -> Listing:
    """Every archive file under `s3://bucket/prefix`, in key order, page after page (S3 lists
    1,000 keys a page); its etag stands for its bytes."""
    location = S3Location.of(url)
    files: list[ArchiveFile] = []
    ignored = 0
    paginator = client.get_paginator("list_objects_v2")
    with _store_errors(f"cannot list {url}"):
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key.endswith("/"):
                    continue  # a folder marker, not a file
                if not is_archive_file(key.rsplit("/", 1)[-1]):
                    ignored += 1
                    continue
                files.append(
                    ArchiveFile(
                        uri=location.url(key),
                        size=entry["Size"],
                        modified_at=entry["LastModified"].astimezone(UTC),
                        etag=entry["ETag"].strip('"'),
                        hints=path_hints(key.removeprefix(location.prefix)),
                    )
                )
    if not files and not ignored:
        raise FileNotFoundError(f"there is nothing under {url} (is the bucket or prefix wrong?)")
    return Listing(files=sorted(files, key=lambda file: file.uri), ignored=ignored)


class _StoredObject:
    """An object's body as a readable file; the store's errors mid-read are `OSError`s."""

    def __init__(self, body: Any, uri: str) -> None:
        self._body = body
        self._uri = uri

    def read(self, size: int = -1, /) -> bytes:
        with _store_errors(f"cannot read {self._uri}"):
            return cast(bytes, self._body.read(None if size < 0 else size))

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> "_StoredObject":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def s3_opener(client: S3Client) -> Opener:
    """Opens archive files stored in S3. The read asks for the listed etag: a file rewritten
    since the listing is not read half old, half new, but left for the next run."""

    def opened(file: ArchiveFile) -> BinaryIO:
        bucket, key = bucket_and_key(file.uri)
        with _store_errors(f"cannot read {file.uri}"):
            if file.etag:
                response = client.get_object(Bucket=bucket, Key=key, IfMatch=f'"{file.etag}"')
            else:
                response = client.get_object(Bucket=bucket, Key=key)
        return cast(BinaryIO, _StoredObject(response["Body"], file.uri))

    return opened


def upload_folder(client: S3Client, folder: Path, url: str) -> list[str]:
    """Upload every file below `folder` to the same relative keys under `url` (a file at a
    time, each replacing its key at once), then delete the keys below the folder's top-level
    folders that the upload did not write (partitions of the previous version that are gone;
    nothing else under `url` is touched). The uploaded URLs."""
    location = S3Location.of(url)
    written: set[str] = set()
    with _store_errors(f"cannot upload to {url}"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = location.prefix + path.relative_to(folder).as_posix()
                client.upload_file(str(path), location.bucket, key)
                written.add(key)
        paginator = client.get_paginator("list_objects_v2")
        stale = [
            entry["Key"]
            for top in sorted(path.name for path in folder.iterdir() if path.is_dir())
            for page in paginator.paginate(
                Bucket=location.bucket, Prefix=f"{location.prefix}{top}/"
            )
            for entry in page.get("Contents", [])
            if entry["Key"] not in written
        ]
        for start in range(0, len(stale), 1000):
            client.delete_objects(
                Bucket=location.bucket,
                Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]]},
            )
    return sorted(location.url(key) for key in written)


class ArchiveSource(BaseModel):
    """Where the archive is: a local folder or `s3://bucket/prefix`, and for S3 the Prefect
    `AwsCredentials` block to reach it with (default: the standard AWS settings)."""

    url: str
    aws_credentials: str | None = None

    def listing(self) -> Listing:
        if is_s3(self.url):
            return s3_listing(s3_client(self.aws_credentials), self.url)
        if "://" in self.url:
            raise ValueError(
                f"{self.url.split('://')[0]}:// sources are not read: give a local folder or "
                "s3://bucket/prefix"
            )
        return local_listing(Path(self.url))

    def opener(self) -> Opener:
        if is_s3(self.url):
            return s3_opener(s3_client(self.aws_credentials))
        return open_local
