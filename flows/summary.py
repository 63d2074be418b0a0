"""What a nightly run read and wrote, as the command line prints it at the end."""

from datetime import date

from pydantic import BaseModel


class DayHeadline(BaseModel):
    """The numbers of one message day an operator looks at first."""

    day: date
    messages: int
    delivery_rate: float | None
    failures: int
    incidents: int


class RunSummary(BaseModel):
    """What a run read (only new and changed files are read) and what the warehouse holds."""

    run_id: str
    files: int
    unchanged_files: int
    retouched_files: int
    vanished_files: int
    unreadable_files: list[str]
    ignored_files: int
    bytes_read: int
    lines: int
    classified: int
    unclassified: int
    quarantined: int
    blank: int
    rows: dict[str, int]
    newest_days: list[DayHeadline]
    duration_s: float
    warehouse: str
    export: str

    def render(self) -> str:
        rows = "\n".join(f"  {table:<22}{count:>12,}" for table, count in self.rows.items())
        days = "\n".join(
            f"  {day.day}  {day.messages:>10,}  "
            + (f"{day.delivery_rate:>7.1%}" if day.delivery_rate is not None else "      -")
            + f"  {day.failures:>8,}  {day.incidents:>5,}"
            for day in self.newest_days
        )
        unreadable = "".join(
            f"\n  unreadable, left for the next run: {uri}" for uri in self.unreadable_files
        )
        return (
            f"run {self.run_id} finished in {self.duration_s:.1f} s\n"
            f"files read {self.files:,} ({self.bytes_read / 1e6:,.1f} MB), "
            f"unchanged {self.unchanged_files:,} (of which touched, same bytes: "
            f"{self.retouched_files:,}), gone from the archive {self.vanished_files:,}, "
            f"other files ignored {self.ignored_files:,}{unreadable}\n"
            f"lines read {self.lines:,}: classified {self.classified:,}, "
            f"unclassified {self.unclassified:,}, quarantined {self.quarantined:,}, "
            f"blank {self.blank:,}\n"
            f"rows per table:\n{rows}\n"
            f"newest days (message day, messages, delivery rate, failed, rate-limit incidents):\n"
            f"{days}\n"
            f"warehouse: {self.warehouse}\n"
            f"parquet export: {self.export}"
        )
