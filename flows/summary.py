"""What a nightly run read and wrote, as the command line prints it at the end."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from flows.runs import Outcome
from transforms.publish.alerts import Alert

UNKNOWN_SENDER = "unknown"
NO_TEMPLATE = "(none)"
# the alerts the summary lists one by one; the rest are counted
ALERT_LINES = 20


class DayHeadline(BaseModel):
    """The numbers of one message day an operator looks at first; a day is `complete` once a
    day has passed since its end (late delivery reports have come in)."""

    day: date
    messages: int
    delivery_rate: float | None
    failures: int
    incidents: int
    # what the day's messages cost at list rates (contract §8), USD
    cost: Decimal
    complete: bool


class RunSummary(BaseModel):
    """What a run read (only new and changed files are read) and what the warehouse holds."""

    run_id: str
    outcome: Outcome
    files: int
    unchanged_files: int
    retouched_files: int
    vanished_files: int
    unreadable_files: list[str]
    ignored_files: int
    skipped_files: dict[str, int] = {}
    bytes_read: int
    lines: int
    classified: int
    unclassified: int
    quarantined: int
    blank: int
    rows: dict[str, int]
    newest_days: list[DayHeadline]
    as_of: datetime | None = None
    # the alerts on the days the run changed, and the archive's staleness (docs/alerts.md)
    alerts: list[Alert] = []
    stale_archive: str | None = None
    report: str | None = None
    warnings: list[str] = []
    duration_s: float
    # the night's stages and their seconds (the reading's include the merge)
    stage_seconds: dict[str, float] = {}
    warehouse: str
    export: str

    def _day(self, day: DayHeadline) -> str:
        rate = f"{day.delivery_rate:.1%}" if day.delivery_rate is not None else "-"
        return (
            f"{day.day}: {day.messages:,} messages, delivery rate {rate}, "
            f"{day.failures:,} failed, {day.incidents:,} rate-limit incidents, "
            f"cost ${day.cost:,.4f}"
        )

    def _days(self) -> str:
        complete = [day for day in self.newest_days if day.complete]
        filling = [day for day in self.newest_days if not day.complete]
        lines = [f"newest complete day {self._day(day)}" for day in complete]
        lines += [f"still filling {self._day(day)}" for day in filling]
        return "\n".join(f"  {line}" for line in lines) or "  no messages yet"

    @property
    def alerted(self) -> bool:
        """Whether the run shows an alert (`--fail-on-alert` exits 5)."""
        return bool(self.alerts) or self.stale_archive is not None

    def _alerts(self) -> list[str]:
        lines = [f"alert stale_archive: {self.stale_archive}"] if self.stale_archive else []
        for alert in self.alerts[:ALERT_LINES]:
            about = alert.sender or UNKNOWN_SENDER
            if alert.kind == "delivery_drop":
                about += f" {alert.template or NO_TEMPLATE}"
            lines.append(f"alert {alert.kind} {alert.day} {about}: {alert.message}")
        if len(self.alerts) > ALERT_LINES:
            lines.append(f"and {len(self.alerts) - ALERT_LINES:,} more alerts (the alerts table)")
        return lines

    def _stages(self) -> list[str]:
        if not self.stage_seconds:
            return []
        stages = ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in self.stage_seconds.items()
        )
        return [f"stages: {stages}"]

    def _actions(self) -> list[str]:
        customers = self.rows.get("suppression_candidates", 0)
        stops = self.rows.get("stop_events", 0)
        if not customers and not stops:
            return []
        return [
            f"actions: {customers:,} customers to stop writing to (suppression_candidates), "
            f"{stops:,} sender-days of account-level errors to act on (stop_events)"
        ]

    def render(self) -> str:
        skipped = ", ".join(
            f"{count:,} {kind}" for kind, count in sorted(self.skipped_files.items())
        )
        ended = "found nothing new" if self.outcome == "nothing_new" else self.outcome
        as_of = f" (as of {self.as_of:%Y-%m-%d %H:%M:%S} UTC)" if self.as_of else ""
        lines = [
            f"run {self.run_id} {ended} in {self.duration_s:.1f} s",
            *self._stages(),
            f"files read {self.files:,} ({self.bytes_read / 1e6:,.1f} MB), "
            f"unchanged {self.unchanged_files:,} (of which touched, same bytes: "
            f"{self.retouched_files:,}), gone from the archive {self.vanished_files:,}, "
            f"other files ignored {self.ignored_files:,}"
            + (f", not read (links, special files, names not UTF-8): {skipped}" if skipped else ""),
            *(f"  unreadable: {uri}" for uri in self.unreadable_files),
            f"lines read {self.lines:,}: classified {self.classified:,}, "
            f"unclassified {self.unclassified:,}, quarantined {self.quarantined:,}, "
            f"blank {self.blank:,}",
            "rows per table:",
            *(f"  {table:<22}{count:>12,}" for table, count in self.rows.items()),
            *self._actions(),
            f"message days{as_of}:",
            self._days(),
            *self._alerts(),
            *(f"warning: {warning}" for warning in self.warnings),
            f"warehouse: {self.warehouse}",
            f"parquet export: {self.export}",
            *([f"report: {self.report}"] if self.report else []),
        ]
        return "\n".join(lines)
