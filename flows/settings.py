"""Typed settings of a nightly run: the SPEC 7 options and the tuning knobs, read from the
command line or from `WA_ETL_*` environment variables."""

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ByteSize, Field, TypeAdapter, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from transforms.personal import PiiMode

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_SOURCE = str(DATA_DIR / "sample")
DEFAULT_WAREHOUSE = DATA_DIR / "warehouse.duckdb"
DEFAULT_EXPORT = DATA_DIR / "export"

TaskRunnerKind = Literal["threads", "dask"]


class Tuning(BaseModel):
    """How hard a run works and the SPEC 4 windows; the defaults suit a 2-core machine."""

    chunk_mb: int = Field(32, description="DuckDB reads lines in batches of about this many MB")
    max_line_mb: int = Field(256, description="Longer lines are quarantined unread")
    partition_mb: int = Field(
        1024,
        description="Files are read in tasks of at most about this many MB of JSON "
        "(compressed files count ten times their size; fewer MB when that gives each "
        "worker four tasks)",
    )
    workers: int = Field(
        2,
        description="Tasks that read files at once (task runner threads; with Dask, "
        "the cluster's threads); each uses one DuckDB thread",
    )
    threads: int = Field(2, description="DuckDB threads of the build and the export")
    memory_limit: str = Field(
        "800MB", description="DuckDB memory limit per connection (beyond it, DuckDB spills to disk)"
    )

    reply_window_hours: int = Field(
        24,
        description="A reply without context answers a message "
        "first seen at most this long before it",
    )
    report_missing_hours: int = Field(
        24, description="A sent message with no delivery report after this long is report_missing"
    )
    incident_gap_seconds: int = Field(
        300, description="Rate-limit errors of a sender this close belong to one incident"
    )
    lock_wait_seconds: float = Field(
        0, description="How long to wait for another run of the same warehouse to finish"
    )

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, value: str) -> str:
        """A size with its unit ("800MB", "2GiB"): the build sizes its parts by it."""
        TypeAdapter(ByteSize).validate_python(value)
        return value


class RunSettings(BaseSettings):
    """`wa-etl run`: read the archive at `source`, write the warehouse and the export."""

    model_config = SettingsConfigDict(env_prefix="WA_ETL_", env_nested_delimiter="__")

    source: str = Field(DEFAULT_SOURCE, description="Archive folder (or s3://bucket/prefix)")
    warehouse: Path = Field(DEFAULT_WAREHOUSE, description="DuckDB file to write")
    export: str = Field(
        str(DEFAULT_EXPORT), description="Folder of the Parquet export (or s3://bucket/prefix)"
    )
    as_of: datetime | None = Field(
        None, description="Time report_missing is judged at (default: when the run starts)"
    )
    full_refresh: bool = Field(False, description="Rebuild everything from the archive")
    aws_credentials: str | None = Field(
        None,
        description="Prefect AwsCredentials block for s3:// sources and exports "
        "(default: the standard AWS settings, AWS_* variables or ~/.aws)",
    )
    pii: PiiMode = Field(
        "keep",
        description="Recipients' phone numbers and message texts: keep, hash (HMAC-SHA256 "
        "of numbers, texts dropped) or drop",
    )
    pii_key_secret: str | None = Field(
        None,
        description="Prefect Secret block holding the key of pii=hash "
        "(default: the WA_ETL_PII_KEY environment variable)",
    )
    tuning: Tuning = Tuning()
