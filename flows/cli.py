"""`wa-etl`: run the nightly flow, or write a sample archive."""

import os
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, CliApp, CliSubCommand, SettingsConfigDict

from flows.settings import RunSettings, TaskRunnerKind

# Nothing may reach the internet, and a cold Prefect home needs time for its migrations.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "transforms",
}


class RunCommand(RunSettings):
    """Run the nightly flow in Prefect's ephemeral mode (no server to start)."""

    task_runner: TaskRunnerKind = Field(
        "threads",
        description="Where the files are read: threads of this process (--tuning.workers), "
        "or a Dask cluster",
    )
    dask_address: str | None = Field(
        None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); without it, "
        "--task-runner dask starts a temporary local cluster",
    )

    def cli_cmd(self) -> None:
        from flows.nightly import nightly_for

        flow = nightly_for(self.tuning, self.task_runner, self.dask_address)
        summary = flow(**self.model_dump(exclude={"task_runner", "dask_address"}))
        print(summary.render())


class SampleCommand(BaseModel):
    """Write a realistic sample archive."""

    out: Path = Field(description="Folder to write the archive into (must be empty or new)")
    messages: int = Field(2000, description="Outbound messages to simulate")
    days: int = Field(3, description="Days the messages spread over")
    seed: int = Field(7, description="Seed: the same seed gives the same archive")
    start: date | None = Field(None, description="First day of the messages (default 2026-11-16)")

    def cli_cmd(self) -> None:
        from flows.sample import SampleSpec, write_sample

        spec = SampleSpec(messages=self.messages, days=self.days, seed=self.seed)
        written = write_sample(
            self.out, spec.model_copy(update={"start": self.start or spec.start})
        )
        print(written.render())


class DictionaryCommand(BaseModel):
    """Write the data dictionary of the warehouse (Markdown) from the table models."""

    out: Path = Field(description="File to write, e.g. docs/data-dictionary.md")

    def cli_cmd(self) -> None:
        from transforms.dictionary import data_dictionary

        self.out.write_text(data_dictionary(), encoding="utf-8")
        print(f"wrote {self.out}")


class WaEtl(BaseSettings):
    """Nightly ETL from archived WhatsApp Business webhook events to DuckDB and Parquet."""

    model_config = SettingsConfigDict(
        cli_prog_name="wa-etl", cli_kebab_case=True, cli_implicit_flags=True
    )

    run: CliSubCommand[RunCommand]
    sample: CliSubCommand[SampleCommand]
    dictionary: CliSubCommand[DictionaryCommand]

    def cli_cmd(self) -> None:
        CliApp.run_subcommand(self)


def main() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    CliApp.run(WaEtl)
