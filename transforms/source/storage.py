"""Object storage: an archive in an S3 bucket (or any S3-compatible store) and an export to
one, through boto3.

The client is made from a Prefect `AwsCredentials` block when one is named, else from the
standard AWS settings (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
`AWS_ENDPOINT_URL`, `~/.aws`), so credentials never pass through the tool's own parameters.
Errors of the store become `OSError`s, which the runs treat as the storage's, not the
content's: a file that cannot be read is left for the next run.

Every request is bounded by timeouts and tried again by botocore (its `standard` retries,
with jittered exponential back-off) when the fault may pass: a timeout, a connection refused
or reset, a 5xx, `SlowDown` or another throttling. An object's body that breaks off while it
is read is taken up again where it stopped (`StorageSettings`). What trying again cannot mend
(a missing bucket or key, a refused access or credential, an object changed since the
listing) fails at once.
"""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from pydantic import BaseModel, ConfigDict, Field
from urllib3.exceptions import HTTPError as TransportError

from transforms.source.discover import (
    ArchiveFile,
    Listing,
    is_archive_file,
    local_listing,
    path_hints,
)
from transforms.source.stored import Opener, open_local

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef, GetObjectRequestTypeDef
else:
    S3Client = Any

S3_SCHEME = "s3://"
_MISSING = {"NoSuchBucket", "NoSuchKey", "404"}
_FORBIDDEN = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
# a response's body that broke off: what came before it was delivered
_BROKEN_BODY = (HTTPClientError, IncompleteReadError, TransportError)
# a body is read in pieces: a read that times out loses the piece it was filling, which the
# resumed `GET` asks for again, not the whole block
_PIECE_BYTES = 64 << 10
_NO_CREDENTIALS = (
    "no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
    "AWS_PROFILE), or name a Prefect AwsCredentials block with --aws-credentials"
)


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


class StorageSettings(BaseModel):
    """How long a request to the store may wait, and how often a failed one is made again.

    A request waits `connect_timeout_seconds` for its connection and `read_timeout_seconds`
    for each piece of its answer (a body's too), and is made `attempts` times in all while
    its fault may pass. A file's body that breaks off is taken up again, up to `attempts`
    `GET`s a file, after `backoff_seconds` doubled at each failure up to
    `max_backoff_seconds`."""

    model_config = ConfigDict(frozen=True)

    connect_timeout_seconds: float = Field(10, gt=0)
    read_timeout_seconds: float = Field(30, gt=0)
    attempts: int = Field(5, ge=1)
    backoff_seconds: float = Field(1, ge=0)
    max_backoff_seconds: float = Field(20, ge=0)

    def client_config(self) -> Config:
        """botocore's options: the timeouts, and its standard retries of failed requests."""
        return Config(
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
        )

    def backoff(self, failures: int) -> float:
        """The wait after the `failures`-th failure of a file's read."""
        return min(self.backoff_seconds * 2.0 ** (failures - 1), self.max_backoff_seconds)


def s3_client(
    aws_credentials: str | None = None, settings: StorageSettings | None = None
) -> S3Client:
    """A client of the S3 API: the Prefect `AwsCredentials` block of that name, else the
    standard AWS settings; its requests bounded and retried by `settings`."""
    config = (settings or StorageSettings()).client_config()
    if not aws_credentials:
        return cast(S3Client, boto3.session.Session().client("s3", config=config))
    from prefect_aws import AwsCredentials

    block = cast(AwsCredentials, AwsCredentials.load(aws_credentials))
    # the block's client options (its endpoint, addressing style...) are kept; the timeouts
    # and retries are the tool's, so that a run is bounded whatever the block says
    options = block.aws_client_parameters.get_params_override()
    if options.get("config") is not None:
        config = options["config"].merge(config)
    if block.region_name is not None:
        options["region_name"] = block.region_name
    options["config"] = config
    return cast(S3Client, block.get_boto3_session().client("s3", **options))


def error_code(error: ClientError) -> str:
    """The store's code of the error (`NoSuchKey`, `SlowDown`...), else the HTTP status."""
    code = error.response.get("Error", {}).get("Code")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code or status or "error")


def _attempts_of(error: ClientError) -> int:
    """How many times botocore made the request that ended in this error."""
    return int(error.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) + 1


def storage_error(
    error: ClientError | BotoCoreError | TransportError, what: str, attempts: int = 1
) -> OSError:
    """The store's error as the `OSError` a local file system would raise: missing and
    forbidden are lasting (the runs do not retry them), the rest may pass. It names the
    store's code or the kind of fault and the attempts made, never a credential."""
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return PermissionError(f"{what}: {_NO_CREDENTIALS}")
    if isinstance(error, ClientError):
        attempts = max(attempts, _attempts_of(error))
        after = f", after {attempts} attempts" if attempts > 1 else ""
        code = error_code(error)
        reason = f"{what}: {code} ({error.operation_name}{after})"
        if code in _MISSING:
            return FileNotFoundError(reason)
        if code in _FORBIDDEN:
            return PermissionError(reason)
        return OSError(reason)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    reason = f"{what}: {type(error).__name__}{after}"
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
        return TimeoutError(reason)
    return OSError(reason)


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


def _get_object(
    client: S3Client, uri: str, etag: str | None, offset: int = 0
) -> "GetObjectOutputTypeDef":
    """An object's bytes from `offset` on, of the version of that etag if one is given."""
    bucket, key = bucket_and_key(uri)
    request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key}
    if etag:
        request["IfMatch"] = etag
    if offset:
        request["Range"] = f"bytes={offset}-"
    with _store_errors(f"cannot read {uri}"):
        return client.get_object(**request)


class _StoredObject:
    """An object's body as a readable file. A read that breaks off (a timeout, a connection
    reset or closed early) is taken up where it stopped: after a wait, a new `GET` of the
    rest (`Range`) of the same version (`If-Match`), so that no byte is delivered twice or
    from another version. Once the file's attempts are spent, or when trying again cannot
    help, the store's error is raised as an `OSError`."""

    def __init__(
        self,
        client: S3Client,
        uri: str,
        response: "GetObjectOutputTypeDef",
        settings: StorageSettings,
    ) -> None:
        self._client = client
        self._uri = uri
        self._settings = settings
        self._body: Any = response["Body"]
        self._etag = response.get("ETag")
        self._offset = 0
        self._failures = 0

    def read(self, size: int = -1, /) -> bytes:
        """`size` bytes (all that is left if negative), fewer only at the end."""
        pieces: list[bytes] = []
        left = size if size >= 0 else sys.maxsize
        while left > 0 and (piece := self._piece(min(left, _PIECE_BYTES))):
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces)

    def _piece(self, size: int) -> bytes:
        """At most `size` bytes of the body (none at its end), taken up again after a fault."""
        while True:
            try:
                data = cast(bytes, self._body.read(size))
            except _BROKEN_BODY as error:
                self._resume(error)
                continue
            except BotoCoreError as error:
                # another fault of the body (a checksum that does not match): what was
                # delivered cannot be taken back, so the read is not taken up again
                raise storage_error(error, f"cannot read {self._uri}") from None
            self._offset += len(data)
            return data

    def _resume(self, error: BotoCoreError | TransportError) -> None:
        """Wait, then open the rest of the object in place of the body that broke off."""
        self._failures += 1
        if self._failures >= self._settings.attempts:
            raise storage_error(error, f"cannot read {self._uri}", self._failures) from None
        self._body.close()
        time.sleep(self._settings.backoff(self._failures))
        # the new `GET` has botocore's retries: its failure ends the read
        response = _get_object(self._client, self._uri, self._etag, self._offset)
        self._body = response["Body"]
        if not response.get("ContentRange", "").startswith(f"bytes {self._offset}-"):
            # a store that ignores `Range` sends the whole object: its start would come twice
            raise OSError(f"cannot read {self._uri}: the store did not send the range asked for")

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> "_StoredObject":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def s3_opener(client: S3Client, settings: StorageSettings | None = None) -> Opener:
    """Opens archive files stored in S3. The read asks for the listed etag: a file rewritten
    since the listing is not read half old, half new, but left for the next run. A read that
    breaks off is taken up where it stopped, as `settings` allow."""
    file_settings = settings or StorageSettings()

    def opened(file: ArchiveFile) -> BinaryIO:
        response = _get_object(client, file.uri, f'"{file.etag}"' if file.etag else None)
        return cast(BinaryIO, _StoredObject(client, file.uri, response, file_settings))

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
    storage: StorageSettings = StorageSettings()

    def listing(self) -> Listing:
        if is_s3(self.url):
            return s3_listing(s3_client(self.aws_credentials, self.storage), self.url)
        if "://" in self.url:
            raise ValueError(
                f"{self.url.split('://')[0]}:// sources are not read: give a local folder or "
                "s3://bucket/prefix"
            )
        return local_listing(Path(self.url))

    def opener(self) -> Opener:
        if is_s3(self.url):
            client = s3_client(self.aws_credentials, self.storage)
            return s3_opener(client, self.storage)
        return open_local
