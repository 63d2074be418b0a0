"""Typed settings of a nightly run: the contract §7 options and the tuning knobs, read from the
command line or from `WA_ETL_*` environment variables."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ByteSize, Field, TypeAdapter, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from transforms.build.session import BuildSettings
from transforms.contract.pricing import PricingFiles
from transforms.ingest.flatten import IngestOptions
from transforms.ingest.personal import PiiMode
from transforms.publish.alerts import AlertSettings
from transforms.source.storage import StorageSettings
from transforms.sql import Limits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# the bundled sample and where `make run` writes: relative to the project, so that a
# deployment records no path of the machine that deployed it
SAMPLE_SOURCE = "data/sample"
SAMPLE_WAREHOUSE = Path("data/warehouse.duckdb")
SAMPLE_EXPORT = "data/export"


def project_path(path: Path) -> Path:
    """A path as given, or relative to the project's folder."""
    return path if path.is_absolute() else PROJECT_ROOT / path


DEFAULT_SOURCE = str(project_path(Path(SAMPLE_SOURCE)))
DEFAULT_WAREHOUSE = project_path(SAMPLE_WAREHOUSE)
DEFAULT_EXPORT = project_path(Path(SAMPLE_EXPORT))

TaskRunnerKind = Literal["threads", "dask"]


class Tuning(BaseModel):
    """How hard a run works and the contract §4 windows; the defaults suit a 2-core machine."""

    chunk_mb: int = Field(
        32, ge=1, description="DuckDB reads lines in batches of about this many MB"
    )
    max_line_mb: int = Field(
        64, ge=1, description="A longer line is quarantined unread (the longest a night reads)"
    )
    partition_mb: int = Field(
        1024,
        ge=1,
        description="Files are read in tasks of at most about this many MB of JSON "
        "(compressed files count ten times their size; fewer MB when that gives each "
        "worker four tasks)",
    )
    workers: int = Field(
        2,
        ge=1,
        description="Tasks that read files at once (task runner threads; with Dask, "
        "the cluster's threads); each uses one DuckDB thread",
    )
    threads: int = Field(2, ge=1, description="DuckDB threads of the build and the export")
    memory_limit: str = Field(
        "800MB", description="DuckDB memory limit per connection (beyond it, DuckDB spills to disk)"
    )

    reply_window_hours: int = Field(
        24,
        ge=0,
        description="A reply without context answers a message "
        "first seen at most this long before it",
    )
    report_missing_hours: int = Field(
        24,
        ge=0,
        description="A sent message with no delivery report after this long is report_missing",
    )
    incident_gap_seconds: int = Field(
        300, ge=0, description="Rate-limit errors of a sender this close belong to one incident"
    )
    drop_points: float = Field(
        10,
        gt=0,
        description="Alert (delivery_drop) when a day's delivery rate of a sender and template "
        "is this many points below its baseline",
    )
    drop_min_sent: int = Field(
        50, ge=1, description="... on a day with at least this many messages sent"
    )
    drop_baseline_days: int = Field(
        7, ge=1, description="... the baseline: delivered / sent over this many days before"
    )
    long_incident_minutes: float = Field(
        15, gt=0, description="Alert (long_incident) on a rate-limit incident longer than this"
    )
    stale_archive_hours: float = Field(
        26,
        gt=0,
        description="Alert (stale_archive) when no file of the archive was modified within "
        "this many hours before --as-of, or the run's start without one",
    )
    report_days: int = Field(
        14, ge=1, description="The newest message days the night's report shows"
    )
    lock_wait_seconds: float = Field(
        0, ge=0, description="How long to wait for another run of the same warehouse to finish"
    )
    storage_timeout_seconds: float = Field(
        30,
        gt=0,
        description="How long a request to S3 may wait for each part of its answer (the "
        "connection: at most 10 s of it)",
    )
    storage_attempts: int = Field(
        5,
        ge=1,
        description="How many times a request to S3 is made while its fault may pass (a "
        "timeout, a 5xx, SlowDown), with growing waits between",
    )

    def storage(self) -> StorageSettings:
        """The storage's timeouts and retries."""
        return StorageSettings(
            connect_timeout_seconds=min(10.0, self.storage_timeout_seconds),
            read_timeout_seconds=self.storage_timeout_seconds,
            attempts=self.storage_attempts,
        )

    @property
    def limits(self) -> Limits:
        """DuckDB's share of the machine for the build, the export and the state."""
        return Limits(threads=self.threads, memory_limit=self.memory_limit)

    def ingest(self, pii: PiiMode = "keep") -> IngestOptions:
        """What a reading task needs of these settings (one DuckDB thread each)."""
        return IngestOptions(
            chunk_bytes=self.chunk_mb << 20,
            max_line_bytes=self.max_line_mb << 20,
            limits=Limits(threads=1, memory_limit=self.memory_limit),
            alone_memory_limit=self.reading_memory if self.workers > 1 else None,
            pii=pii,
        )

    def build(
        self,
        run_started: datetime,
        as_of: datetime | None = None,
        run_id: str = "",
        scratch_dir: Path | None = None,
        pricing: PricingFiles | None = None,
    ) -> BuildSettings:
        """What the build needs of these settings, for a run that started at `run_started`."""
        return BuildSettings(
            run_started=run_started,
            as_of=as_of,
            reply_window_hours=self.reply_window_hours,
            report_missing_hours=self.report_missing_hours,
            incident_gap_seconds=self.incident_gap_seconds,
            limits=self.limits,
            pricing=pricing or PricingFiles(),
            run_id=run_id,
            scratch_dir=scratch_dir,
        )

    def alerts(self, run_id: str) -> AlertSettings:
        """What the alerts of a publish by `run_id` are raised by."""
        return AlertSettings(
            run_id=run_id,
            drop_points=self.drop_points,
            drop_min_sent=self.drop_min_sent,
            drop_baseline_days=self.drop_baseline_days,
            long_incident_minutes=self.long_incident_minutes,
            stale_archive_hours=self.stale_archive_hours,
        )

    @property
    def reading_memory(self) -> str:
        """The memory of every reading task together: what a batch of lines too large for
        one task's reads with, alone."""
        size = TypeAdapter(ByteSize).validate_python(self.memory_limit)
        return f"{size * self.workers} bytes"

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, value: str) -> str:
        """A size with its unit ("800MB", "2GiB"): the build sizes its parts by it."""
        TypeAdapter(ByteSize).validate_python(value)
        return value


class RunSettings(BaseSettings):
    """`wa-etl run`: read the archive at `source`, write the warehouse and the export."""

    model_config = SettingsConfigDict(env_prefix="WA_ETL_", env_nested_delimiter="__")

    source: str = Field(
        DEFAULT_SOURCE,
        description="Archive: a folder, or s3://bucket/prefix",
    )
    warehouse: Path = Field(
        DEFAULT_WAREHOUSE, description="DuckDB file to write (its folder must exist)"
    )
    export: str = Field(
        str(DEFAULT_EXPORT),
        description="Parquet export: a folder (published as a link), or s3://bucket/prefix",
    )
    as_of: datetime | None = Field(
        None,
        description="ISO-8601 time (2026-11-24T02:00:00Z; UTC without an offset) "
        "report_missing is judged at; when not given, the newest event not after the run's start",
    )
    full_refresh: bool = Field(False, description="Forget the state and read the archive again")
    allow_unreadable: bool = Field(
        False,
        description="Publish even when files cannot be read (exit 4, the files recorded), "
        "instead of failing with nothing published",
    )
    aws_credentials: str | None = Field(
        None,
        description="Prefect AwsCredentials block for s3:// sources and exports; when not "
        "given, the standard AWS settings (AWS_* variables, ~/.aws)",
    )
    pii: PiiMode = Field(
        "keep",
        description="Customers' numbers, user ids, message ids and texts: keep; hash "
        "(HMAC-SHA256 under the key, texts dropped); or drop (numbers dropped too)",
    )
    pii_key_secret: str | None = Field(
        None,
        description="Prefect Secret block holding the key of --pii hash; when not given, "
        "the WA_ETL_PII_KEY environment variable",
    )
    rate_card: Path | None = Field(
        None,
        description="Rates CSV (market,pricing_category,effective_from,rate_usd,source) "
        "messages are priced with, instead of the shipped data/seeds/rate_card.csv",
    )
    markets: Path | None = Field(
        None,
        description="Country-to-market CSV (country,market,source), instead of the shipped "
        "data/seeds/markets.csv",
    )
    tuning: Tuning = Tuning()

    @field_validator("as_of")
    @classmethod
    def _utc_unless_told(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is UTC, as every time of the tool."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def with_environment_names(model: type[BaseModel], prefix: str = "WA_ETL_") -> None:
    """Name each field's environment variable in its description (the command line's help
    shows them), nested fields with `__`."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            with_environment_names(annotation, f"{variable}__")
        elif field.description and "[env:" not in field.description:
            field.description = f"{field.description} [env: {variable}]"
    if issubclass(model, BaseModel):
        model.model_rebuild(force=True)
