"""What a run checks before it starts anything (contract §7): the source, the warehouse's and
the export's folders, the personal-data key, the storage credentials, the as-of time and the
files messages are priced with. A
bad one is a `UsageError` (exit 2) that says what to do, in well under a second."""

import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError

from flows.errors import UsageError
from transforms.contract.pricing import PricingFiles, markets, rate_card
from transforms.contract.seeds import SeedError
from transforms.contract.wire import TimeWindow
from transforms.ingest.personal import KEY_VARIABLE, PiiMode
from transforms.source.storage import S3_SCHEME, is_s3

# DuckDB takes `?` in a database file's path for the start of its options, and `\` for a
# folder separator: a warehouse or export there cannot be written
UNUSABLE_IN_PATHS = ("?", "\\")


def _usable_path(path: Path, what: str, option: str) -> None:
    for character in UNUSABLE_IN_PATHS:
        if character in str(path):
            raise UsageError(
                f"the {what} {path} has {character!r} in its path, which DuckDB cannot write "
                f"to: choose another {option}"
            )


def checked_source(source: str) -> None:
    """A local folder that exists, or `s3://bucket/prefix`."""
    if is_s3(source):
        if not source.removeprefix(S3_SCHEME).partition("/")[0]:
            raise UsageError(f"--source {source!r} names no bucket: give s3://bucket/prefix")
        return
    if "://" in source:
        scheme = source.split("://")[0]
        raise UsageError(
            f"--source: {scheme}:// archives are not read; give a local folder or "
            "s3://bucket/prefix"
        )
    folder = Path(source)
    if not folder.is_dir():
        raise UsageError(
            f"the source folder {folder} does not exist or is not a folder (--source, "
            "WA_ETL_SOURCE)"
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UsageError(f"the source folder {folder} cannot be read by this user")


def checked_warehouse(warehouse: Path) -> None:
    """A DuckDB file in a folder that exists and can be written."""
    _usable_path(warehouse, "warehouse", "--warehouse")
    if warehouse.is_dir():
        raise UsageError(f"--warehouse {warehouse} is a folder: give the DuckDB file's path")
    if not warehouse.parent.is_dir():
        raise UsageError(
            f"the warehouse's folder {warehouse.parent} does not exist: create it, or choose "
            "another --warehouse"
        )
    if not os.access(warehouse.parent, os.W_OK | os.X_OK):
        raise UsageError(f"the warehouse's folder {warehouse.parent} cannot be written")


def checked_export(export: str) -> None:
    """`s3://bucket/prefix`, or a folder whose parent exists and can be written."""
    if is_s3(export):
        if not export.removeprefix(S3_SCHEME).partition("/")[0]:
            raise UsageError(f"--export {export!r} names no bucket: give s3://bucket/prefix")
        return
    if "://" in export:
        raise UsageError("--export: give a local folder or s3://bucket/prefix")
    folder = Path(export)
    _usable_path(folder, "export", "--export")
    if not folder.parent.is_dir() or not os.access(folder.parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"the export's parent folder {folder.parent} does not exist or cannot be written"
        )


def checked_key(pii: PiiMode, pii_key_secret: str | None) -> None:
    """`hash` needs a key: the environment's, or a Prefect Secret block's (looked up later)."""
    if pii == "hash" and not pii_key_secret and not os.environ.get(KEY_VARIABLE):
        raise UsageError(
            f"--pii hash needs a key: set {KEY_VARIABLE}, or name a Prefect Secret block with "
            "--pii-key-secret"
        )


def checked_credentials(urls: list[str], aws_credentials: str | None) -> None:
    """An S3 source or export needs credentials: the standard AWS settings, or a Prefect
    AwsCredentials block (looked up later)."""
    if aws_credentials or not any(is_s3(url) for url in urls):
        return
    try:
        found = boto3.session.Session().get_credentials()
    except BotoCoreError:
        found = None
    if found is None:
        raise UsageError(
            "no AWS credentials for the s3:// archive or export: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or name a Prefect AwsCredentials block "
            "with --aws-credentials"
        )


def checked_as_of(as_of: datetime | None, started: datetime) -> None:
    """A time the archive can hold (from 2009 to a day after the run's start)."""
    if as_of is None:
        return
    window = TimeWindow.of_run(started)
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    if not window.holds(moment.timestamp()):
        raise UsageError(f"--as-of must be a time {window.describe()}")


def checked_pricing(pricing: PricingFiles) -> None:
    """A rate card and a market map whose every row is one (the message names file and line)."""
    for option, path, read in (
        ("--rate-card", pricing.rate_card, rate_card),
        ("--markets", pricing.markets, markets),
    ):
        try:
            read(path)
        except SeedError as error:
            raise UsageError(f"{option}: {error}") from None


def check_run(
    *,
    source: str,
    warehouse: Path,
    export: str,
    pii: PiiMode,
    pii_key_secret: str | None,
    aws_credentials: str | None,
    as_of: datetime | None,
    started: datetime,
    pricing: PricingFiles,
) -> None:
    """Every check of a run's settings, in the order an operator would fix them."""
    checked_source(source)
    checked_warehouse(warehouse)
    checked_export(export)
    checked_key(pii, pii_key_secret)
    checked_credentials([source, export], aws_credentials)
    checked_as_of(as_of, started)
    checked_pricing(pricing)
