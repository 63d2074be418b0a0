"""The warehouse's tables (contract §5): the raw tables (`transforms.contract.raw_tables`),
the lines and files the runs read, the error catalogue, messages and the metrics, and the runs;
`TABLES` is their registry, in the order the warehouse lists them.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import field_validator

from transforms.contract.columns import OnUpdate, Table, col, personal_col
from transforms.contract.raw_tables import RAW_TABLES


class Unclassified(Table):
    """Lines that are valid JSON objects of no known event kind, kept as they are."""

    source_file: str = col("URI of the archive file")
    line_no: int = col("1-based line number in source_file")
    reason: str = col("Why the line yields no rows")
    raw: str | None = personal_col(
        "The line as read, cut to 64 KiB (NULL when personal data is hashed or dropped)", "text"
    )
    ingested_at: datetime = col("When the nightly run first read source_file (UTC)")


class Quarantine(Table):
    """Lines that could not be read as an event: not JSON, not an object, truncated, or invalid
    against the event models; with the reason."""

    source_file: str = col("URI of the archive file")
    line_no: int = col("1-based line number in source_file")
    reason: str = col("What is wrong with the line, field by field where it is JSON")
    raw: str | None = personal_col(
        "The line as read, cut to 64 KiB, invalid UTF-8 replaced (NULL when personal data is "
        "hashed or dropped)",
        "text",
    )
    ingested_at: datetime = col("When the nightly run first read source_file (UTC)")


class IngestFiles(Table):
    """One row per archive file read (the manifest of what the runs have read), with its line
    accounting: lines = classified + unclassified + quarantined + blank."""

    uri: str = col("URI of the archive file")
    size: int = col("Size in bytes as listed")
    modified_at: datetime | None = col("Modification time as listed (UTC)")
    etag: str | None = col("Object-store etag, when the source has one")
    content_sha256: str = col(
        "SHA-256 of the file's stored bytes as the run read them: a file touched or copied "
        "again with the same bytes is not read again"
    )
    compression: str = col("none, gzip or zstd")
    arrival_day: date | None = col("Arrival day from the path (dt= or YYYY/MM/DD)")
    arrival_hour: int | None = col("Arrival hour from the path (hour= or YYYY/MM/DD/HH)")
    path_sender: str | None = col("Business number from the path (sender=)")
    lines: int = col("Lines in the file, the last one counted even without a newline")
    classified: int = col("Lines that yielded at least one row")
    unclassified: int = col("Valid JSON objects of no known kind (rows of unclassified)")
    quarantined: int = col("Lines in quarantine")
    blank: int = col("Empty or whitespace-only lines")
    accepted_rows: int = col("Rows of accepted read from the file (before de-duplication)")
    template_send_rows: int = col("Rows of template_sends read from the file")
    status_rows: int = col("Rows of statuses read from the file")
    reply_rows: int = col("Rows of replies read from the file")
    error_rows: int = col("Rows of errors read from the file")
    run_id: str = col("Id of the run that read the file")
    ingested_at: datetime = col("When the run read the file (UTC)")
    vanished_at: datetime | None = col(
        "When a run first found the file gone from the archive (its rows are kept); NULL while "
        "it is there"
    )


HANDLING = ("retry", "pace", "defer", "suppress", "fix", "stop", "review")
"""The handling classes of the error catalogue, in the order their rules are tried."""


class ErrorCodes(Table):
    """The error catalogue (contract §6), loaded from data/seeds/error_codes.csv."""

    code: int = col("Error code")
    title: str | None = col("Usual title of the code")
    category: str = col("auth, rate_limit, account, recipient, template, media, server")
    is_rate_limit: bool = col("The code signals a rate limit")
    retryable: bool = col("Retrying the same message can succeed")
    handling: str = col(
        "What the sender should do about it: retry (transient), pace (throttled), defer "
        "(hours later, or another category), suppress (the recipient cannot or will not "
        "receive), fix (content or template), stop (account, billing or auth), review"
    )
    on_update: ClassVar[OnUpdate] = "kept"

    @field_validator("handling")
    @classmethod
    def _a_handling_class(cls, value: str) -> str:
        if value not in HANDLING:
            raise ValueError(f"should be one of {', '.join(HANDLING)}")
        return value


class Messages(Table):
    """One row per outbound message (a tracking key, or a wamid no key links to), with its
    lifecycle (contract §3 and §4)."""

    key: str | None = col("Tracking key; NULL for a message known only by its wamid")
    message_id: str | None = personal_col(
        "WhatsApp message id (wamid); NULL if WhatsApp never gave one", "message_id"
    )
    sender: str | None = col("Business phone number, digits only")
    template: str | None = col("Template name of the message's template send, joined by key")
    language: str | None = col("Template language code")
    recipient: str | None = personal_col("Customer's WhatsApp id, digits", "number")
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id (from an accepted event or a status)", "number"
    )
    message_day: date = col("UTC date of the message's earliest event: all outcomes count here")
    first_event_at: datetime = col("Earliest event time of the message")
    accepted_at: datetime | None = col("First accepted event or status")
    sent_at: datetime | None = col(
        "First sent, delivered or read status (a later one implies sent)"
    )
    delivered_at: datetime | None = col("First delivered or read status")
    read_at: datetime | None = col("First read status")
    failed_at: datetime | None = col("First failed status or API error")
    first_error_code: int | None = col("Code of the message's earliest error")
    final_status: str = col("read > delivered > failed > sent > accepted > attempted")
    replied: bool = col("A reply is attributed to the message (context id, else 24-hour rule)")
    first_reply_at: datetime | None = col("Event time of the first attributed reply")
    report_missing: bool = col(
        "Sent, neither delivered nor failed, and more than 24 hours between sent_at and as_of"
    )
    recipient_country: str | None = col(
        "Country of the recipient's number (ISO 3166 alpha-2, phonenumbers), taken before any "
        "masking; NULL for a customer known only by user id"
    )
    market: str | None = col(
        "Meta's pricing market of that country (markets.csv: unlisted countries are Other)"
    )
    pricing_model: str | None = col(
        "pricing.pricing_model of the message's pricing (its first status with a pricing "
        "object: by event time, then sent < delivered < read): PMP, CBP"
    )
    pricing_category: str | None = col("pricing.category of the same status")
    conversation_id: str | None = col("conversation.id of the same status")
    billable: bool = col(
        "The pricing says the message is charged: pricing.billable true or pricing.type "
        "regular (false without a pricing)"
    )
    cost: Decimal | None = col(
        "List price in USD: PMP, the rate of (market, category) in force on the delivered day "
        "of a billable delivered message; CBP, that rate once per conversation, on its first "
        "delivered billable message; else 0. NULL when it is charged but no rate is known"
    )
    day_column: ClassVar[str | None] = "message_day"
    on_update: ClassVar[OnUpdate] = "by_message"


class DeliveryDaily(Table):
    """Delivery outcomes per message day, sender and template (contract §4 and §5): every
    count is of messages, every outcome counts on the message's day, however late it arrived."""

    day: date = col("Message day: UTC date of the message's earliest event")
    sender: str | None = col("Business phone number, digits; NULL when no event names it")
    template: str | None = col("Template name; NULL for messages without a template send")
    attempted: int = col("Outbound messages")
    accepted: int = col("Messages with an accepted event or any status")
    sent: int = col("Messages with a sent, delivered or read status")
    delivered: int = col("Messages with a delivered or read status")
    read: int = col("Messages with a read status")
    failed: int = col("Messages with a failed status or an API error")
    replied: int = col("Messages a reply is attributed to")
    report_missing: int = col("Messages sent, neither delivered nor failed, for over 24 hours")
    delivery_rate: float | None = col("delivered / sent; NULL when nothing was sent")
    read_rate: float | None = col("read / delivered; NULL when nothing was delivered")
    failure_rate: float | None = col("failed / attempted")
    reply_rate: float | None = col("replied / delivered; NULL when nothing was delivered")
    p50_delivery_s: float | None = col(
        "Median of delivered_at - sent_at in seconds over the delivered messages (continuous)"
    )
    p95_delivery_s: float | None = col("95th percentile of the same (continuous)")
    billable: int = col("Messages whose pricing says they are charged")
    cost: Decimal = col("Sum of the messages' cost in USD (the ones with a known rate)")
    day_column: ClassVar[str | None] = "day"
    on_update: ClassVar[OnUpdate] = "by_day"


class ErrorBreakdown(Table):
    """Errors per error day, sender, template and code, with the catalogue's view of the code
    and the share of the failing messages it touched."""

    day: date = col("UTC date of the errors' event time")
    sender: str | None = col("Business phone number, digits; NULL when no event names it")
    template: str | None = col(
        "Template of the erring message; NULL when it has none or the error no message"
    )
    code: int | None = col("Error code")
    title: str | None = col(
        "Most frequent title of the errors (their message where they have no title), "
        "ties alphabetical; else the catalogue's"
    )
    category: str = col("Catalogue category of the code")
    is_rate_limit: bool = col("The code is a rate-limit code")
    retryable: bool = col("Retrying the same message can succeed")
    events: int = col("Error rows")
    messages: int = col("Distinct messages (tracking keys, or wamids where there is no key)")
    share_of_failed: float | None = col(
        "messages / distinct messages with any error on that day, sender and template"
    )
    day_column: ClassVar[str | None] = "day"
    on_update: ClassVar[OnUpdate] = "by_day"


class RateLimitIncidents(Table):
    """Bursts of rate-limit errors of one sender: ordered by event time, an error within the
    gap (5 minutes, a setting) of the previous one belongs to the same incident."""

    incident_id: str = col("Stable id: the same sender and start give the same id on every run")
    sender: str | None = col("Business phone number, digits; NULL when no event names it")
    started_at: datetime = col("Event time of the incident's first rate-limit error")
    ended_at: datetime = col("Event time of its last one")
    duration_s: float = col("ended_at - started_at in seconds")
    events: int = col("Rate-limit errors in the incident")
    messages: int = col("Distinct messages hit (tracking keys, or wamids where there is no key)")
    codes: list[int] = col("The rate-limit codes seen, ascending")
    templates: list[str] = col("The templates of the messages hit, alphabetical")
    peak_events_per_minute: int = col("Most errors in one calendar minute (UTC) of the incident")
    approximate: bool = col(
        "Some of its errors have only a folder's hour or day, or a file's time, for a time: "
        "start, end, duration and peak are then only as precise as that"
    )
    day_column: ClassVar[str | None] = "started_at"


class RateCard(Table):
    """Meta's list rates per delivered message (data/seeds/rate_card.csv, or --rate-card): a
    rate is in force from its date until the next date of the same market and category."""

    market: str = col("Meta's pricing market (a country, North America, Rest of ..., Other)")
    pricing_category: str = col(
        "pricing.category it prices: marketing, utility, authentication, "
        "authentication_international, ..."
    )
    effective_from: date = col("First day (UTC) the rate is in force")
    rate_usd: Decimal = col("USD per charged message (volume tiers not applied)")
    source: str = col("Where the rate was read, and the date it states")
    on_update: ClassVar[OnUpdate] = "kept"

    @field_validator("rate_usd")
    @classmethod
    def _not_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("a rate is not negative")
        return value


class Markets(Table):
    """Meta's map of countries to pricing markets (data/seeds/markets.csv, or --markets)."""

    country: str = col("ISO 3166 alpha-2 code, as phonenumbers names it")
    market: str = col("Meta's pricing market of the country")
    source: str = col("Where the mapping was read, and the date it states")
    on_update: ClassVar[OnUpdate] = "kept"


class CostDaily(Table):
    """What a message day's messages cost, per sender, template, market and category."""

    day: date = col("Message day: UTC date of the message's earliest event")
    sender: str | None = col("Business phone number, digits; NULL when no event names it")
    template: str | None = col("Template name; NULL for messages without a template send")
    market: str | None = col("Pricing market of the recipient; NULL when the country is unknown")
    pricing_category: str | None = col("pricing.category; NULL for messages without a pricing")
    messages: int = col("Outbound messages")
    billable: int = col("Messages whose pricing says they are charged")
    delivered: int = col("Messages delivered (or read)")
    read: int = col("Messages read")
    replied: int = col("Messages a reply is attributed to")
    unpriced: int = col("Charged messages without a known rate (their cost is NULL, not summed)")
    cost: Decimal = col("Sum of the messages' cost in USD")
    cost_per_delivered: float | None = col("cost / delivered; NULL when none was delivered")
    cost_per_read: float | None = col("cost / read; NULL when none was read")
    cost_per_reply: float | None = col("cost / replied; NULL when none was replied to")
    cost_unread: Decimal = col("Cost of the billable messages never read")
    day_column: ClassVar[str | None] = "day"
    on_update: ClassVar[OnUpdate] = "by_day"


class SuppressionCandidates(Table):
    """Customers a sender should stop writing to: those whose latest error is of handling
    class `suppress` (they cannot or will not receive), one row per sender and customer."""

    sender: str = col("Business phone number, digits")
    recipient: str | None = personal_col("Customer's WhatsApp id, digits", "number")
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id, when the number is not known", "number"
    )
    code: int = col("Code of the customer's latest error")
    errors: int = col("Errors of that code for this sender and customer")
    last_seen_at: datetime = col("Event time of the latest error")


class StopEvents(Table):
    """Account-level problems a sender must act on at once: one row per sender and day with
    errors of handling class `stop`."""

    day: date = col("UTC date of the errors' event time")
    sender: str | None = col("Business phone number, digits; NULL when no event names it")
    codes: list[int] = col("The stop-class codes seen, ascending")
    errors: int = col("Stop-class errors")
    messages: int = col("Distinct messages they are about (tracking keys, else wamids)")
    first_at: datetime = col("Event time of the first")
    last_at: datetime = col("Event time of the last")
    day_column: ClassVar[str | None] = "day"


class Runs(Table):
    """The nightly runs, published or not, as the runs log beside the warehouse holds them at
    this warehouse's publish (`wa-etl status` shows the newest log): what each run read and
    how it ended. With `alerts`, the one table a run repeated on the same archive changes."""

    run_id: str = col("Id of the run: its start (UTC) and a random suffix")
    started_at: datetime = col("When the run started (UTC)")
    finished_at: datetime | None = col("When it ended; NULL while it works")
    as_of: datetime | None = col("The time report_missing was judged at")
    outcome: str = col(
        "published, nothing_new (nothing to read), failed (nothing published), locked "
        "(another run held the warehouse), or running"
    )
    files_read: int = col("Files read whole")
    lines: int = col("Lines of the files read")
    quarantined: int = col("Lines of the files read put in quarantine")
    unreadable_files: list[str] = col("Files (or folders) that could not be read")
    complete: bool = col("Every file of the archive was read: no unreadable file")
    message: str | None = col("Why the run failed, or what it warned of")
    newest_file_at: datetime | None = col(
        "Newest modification time of a file in the archive listing (S3: LastModified)"
    )
    stale_archive: bool = col(
        "No file of the archive was modified within the stale-archive hours before the "
        "run's --as-of, or its start without one"
    )
    on_update: ClassVar[OnUpdate] = "published"


class Alerts(Table):
    """What somebody should look at (docs/alerts.md): computed at each publish from the
    warehouse's tables and its runs, so that an update night gives the rows a full one gives;
    a row raised by an earlier publish keeps the run that first raised it."""

    kind: str = col("delivery_drop, new_error_code, stop_error, long_incident or stale_archive")
    sender: str | None = col("Business phone number, digits; NULL for stale_archive")
    template: str | None = col("Template name, for delivery_drop (NULL: messages without one)")
    day: date = col(
        "Message day (delivery_drop), error day (new_error_code, stop_error), the incident's "
        "start day (long_incident), the run's as-of or start day (stale_archive); UTC"
    )
    code: int | None = col("Error code, for new_error_code and stop_error")
    incident_id: str | None = col("The rate-limit incident, for long_incident")
    value: float | None = col(
        "delivery_drop: the day's delivery rate; new_error_code, stop_error: error rows that "
        "day; long_incident: minutes; stale_archive: hours since the newest file (NULL: none)"
    )
    baseline: float | None = col(
        "delivery_drop: delivered / sent pooled over the preceding days; else NULL"
    )
    threshold: float | None = col(
        "The setting that raised it: the drop in rate (delivery_drop), the minutes "
        "(long_incident), the hours (stale_archive); NULL for the other kinds"
    )
    message: str = col("What happened, in one line")
    first_raised_run_id: str = col("The run whose publish first raised the alert")
    on_update: ClassVar[OnUpdate] = "published"


TABLES: dict[str, type[Table]] = {
    **RAW_TABLES,
    "unclassified": Unclassified,
    "quarantine": Quarantine,
    "ingest_files": IngestFiles,
    "error_codes": ErrorCodes,
    "rate_card": RateCard,
    "markets": Markets,
    "messages": Messages,
    "delivery_daily": DeliveryDaily,
    "cost_daily": CostDaily,
    "error_breakdown": ErrorBreakdown,
    "rate_limit_incidents": RateLimitIncidents,
    "suppression_candidates": SuppressionCandidates,
    "stop_events": StopEvents,
    "runs": Runs,
    "alerts": Alerts,
}
RUN_TABLES = tuple(name for name, table in TABLES.items() if table.on_update == "published")
"""The tables that tell of the runs, not of the archive: a night repeated changes them."""
ARCHIVE_TABLES = {name: table for name, table in TABLES.items() if name not in RUN_TABLES}
"""The tables that tell of the archive: the same archive gives the same rows, by any path."""
