"""`wa-etl`: run the nightly flow, or write a sample archive."""

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, CliApp, CliSubCommand, SettingsConfigDict

from flows.settings import RunSettings

# Nothing may reach the internet, and a cold Prefect home needs time for its migrations.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "transforms",
}


class RunCommand(RunSettings):
    """Run the nightly flow in Prefect's ephemeral mode (no server to start)."""

    def cli_cmd(self) -> None:
        from flows.nightly import nightly_for

        summary = nightly_for(self.tuning)(**self.model_dump())
        print(summary.render())


class SampleCommand(BaseModel):
    """Write a realistic sample archive."""

    out: Path = Field(description="Folder to write the archive into (must be empty or new)")
    messages: int = Field(2000, description="Outbound messages to simulate")
    days: int = Field(3, description="Days the messages spread over")
    seed: int = Field(7, description="Seed: the same seed gives the same archive")

    def cli_cmd(self) -> None:
        from flows.sample import SampleSpec, write_sample

        written = write_sample(
            self.out, SampleSpec(messages=self.messages, days=self.days, seed=self.seed)
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
