"""Pydantic models of the warehouse tables (contract §5), one class per table.

The class docstring is the table's description and each field's description is the column's;
`transforms.schema` derives the DuckDB DDL, the Arrow and polars schemas, the `COMMENT ON`
statements and the data dictionary from these classes, so a column is declared only here.
"""

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field


def col(description: str) -> Any:
    return Field(default=None, description=description)


def personal_col(description: str, kind: str, json_text: bool = False) -> Any:
    """A column of personal data (`transforms.personal`): a customer's phone number or
    business-scoped user id (`number`: kept, hashed or dropped), a message id, which encodes
    the recipient's number (`message_id`: kept or hashed), a text a customer wrote or was sent
    (`text`: kept or dropped), a free text that may quote a number (`free_text`: kept, or
    its long digit runs masked), an element's JSON (`payload`: masked as it is read), or an
    identity digest that may hold any of them (`digest`: kept or keyed-hashed). A `json_text`
    column holds a JSON document per row: stored compressed with zstd (see `JSON_TEXT`)."""
    extra: dict[str, Any] = {"personal": kind}
    if json_text:
        extra["compression"] = JSON_TEXT
    return Field(default=None, description=description, json_schema_extra=extra)


# How DuckDB stores a column of JSON documents: its default string compression (FSST) took
# twice the time for a third of the ratio (docs/performance.md, "What payload_json costs").
JSON_TEXT = "zstd"


def built_col(description: str) -> Any:
    """A column the build derives from other tables; landing rows do not have it."""
    return Field(default=None, description=description, json_schema_extra={"built": True})


class Table(BaseModel):
    """Base of the warehouse tables: `day_column` names the column the export partitions on."""

    day_column: ClassVar[str | None] = None


class Provenance(Table):
    event_time: datetime = col(
        "When the event happened (UTC): the payload's timestamp, else the envelope's "
        "received_at, else (API errors and accepted events) the time of the message's first "
        "template send, else the hour or day in the file path, else the file's modification time"
    )
    event_time_source: str = col(
        "Where event_time came from: payload, envelope, message, path or file"
    )
    source_file: str = col("URI of the archive file the event was read from (its first copy)")
    line_no: int = col("1-based line number of the event in source_file")
    ingested_at: datetime = col("When the nightly run first read source_file (UTC)")
    day_column: ClassVar[str | None] = "event_time"


class Accepted(Provenance):
    """One row per message id in an accepted event: WhatsApp accepted an outbound message."""

    key: str | None = col("Insider One tracking key of the message (whatsapp-...)")
    message_id: str = personal_col(
        "WhatsApp message id (wamid) assigned to the message", "message_id"
    )
    message_status: str | None = col("messages[].message_status when given (e.g. accepted)")
    sender: str | None = col("Business phone number, digits only (contract §3, sender)")
    recipient: str | None = personal_col(
        "Customer's WhatsApp id (contacts[].wa_id, else input), digits", "number"
    )
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id (contacts[].user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (contacts[].parent_user_id)", "number"
    )
    payload_json: str | None = personal_col(
        'The event as JSON: {"message": <messages[] element>, "contact": <its contact>}',
        "payload",
        json_text=True,
    )


class TemplateSends(Provenance):
    """One row per template-send event: the template message Insider One sent to Meta."""

    key: str | None = col("Insider One tracking key of the message")
    sender: str | None = col("Business phone number, digits only")
    recipient: str | None = personal_col(
        "Customer phone number the template was sent to (`to`), digits", "number"
    )
    template: str = col("Template name (template.name)")
    language: str | None = col("Template language code (template.language.code)")
    language_policy: str | None = col("Template language policy (template.language.policy)")
    namespace: str | None = col("Template namespace, when given")
    message_type: str | None = col("Message type sent to Meta (`type`, normally template)")
    content: str | None = personal_col(
        "Rendered text of the template (`content`, top level or in template)", "text"
    )
    components: str | None = personal_col(
        "Template components with their parameters, as JSON", "text", json_text=True
    )
    payload_json: str | None = personal_col(
        "The template send's body as JSON", "payload", json_text=True
    )


class Statuses(Provenance):
    """One row per status report (every entry x change x status), de-duplicated on
    (message_id, status, timestamp)."""

    key: str | None = col(
        "Tracking key: the event's own, else the one an accepted event or another status "
        "links to the same message_id"
    )
    message_id: str = personal_col("WhatsApp message id (wamid) the status is about", "message_id")
    status: str = col("sent, delivered, read, failed, played, deleted, warning, or as received")
    status_type: str | None = col(
        "statuses[].type: message (or NULL) for a message; another type (payment) is no "
        "message and counts in no metric"
    )
    sender: str | None = col("Business phone number, digits only")
    phone_number_id: str | None = col("Business phone number id (metadata.phone_number_id)")
    recipient: str | None = personal_col("Customer's WhatsApp id (recipient_id), digits", "number")
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id (recipient_user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (recipient_parent_user_id)", "number"
    )
    recipient_type: str | None = col("individual, or group for a message to a group")
    conversation_id: str | None = col("Conversation id (conversation.id)")
    conversation_origin: str | None = col("Conversation category (conversation.origin.type)")
    conversation_expires_at: datetime | None = col("conversation.expiration_timestamp (UTC)")
    billable: bool | None = col("pricing.billable")
    pricing_model: str | None = col("pricing.pricing_model (CBP, PMP, ...)")
    pricing_category: str | None = col("pricing.category")
    pricing_type: str | None = col("pricing.type")
    biz_opaque_callback_data: str | None = personal_col(
        "Callback data the business attached on send (dropped under pii=hash|drop: it may "
        "name the customer)",
        "text",
    )
    error_count: int = col("Number of errors attached to the status (each is a row of errors)")
    api: str = col("cloud (entry[].changes[] webhook) or on_premise (bare statuses[] body)")
    payload_json: str | None = personal_col(
        "The statuses[] element as JSON", "payload", json_text=True
    )


class Replies(Provenance):
    """One row per customer reply (every entry x change x message), de-duplicated on reply_id."""

    reply_id: str = personal_col(
        "WhatsApp id of the customer's message (messages[].id)", "message_id"
    )
    key: str | None = col("Tracking key if the vendor set one (usually empty on replies)")
    sender: str | None = col("Business phone number the customer wrote to, digits only")
    phone_number_id: str | None = col("Business phone number id (metadata.phone_number_id)")
    customer: str | None = personal_col(
        "Customer's WhatsApp id (messages[].from), digits", "number"
    )
    customer_user_id: str | None = personal_col(
        "Customer's business-scoped user id (messages[].from_user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (messages[].from_parent_user_id)", "number"
    )
    type: str | None = col("Reply type: text, image, button, interactive, reaction, ...")
    context_id: str | None = personal_col(
        "wamid of the business message replied to (context.id)", "message_id"
    )
    context_from: str | None = col("Sender of the message replied to (context.from), digits")
    text_body: str | None = personal_col("text.body of a text reply", "text")
    media_id: str | None = col(
        "Media id of an image, video, audio (On-Premise voice included), document or sticker"
    )
    media_mime_type: str | None = col("Media MIME type")
    media_sha256: str | None = col("Media sha256")
    media_filename: str | None = personal_col("Document file name", "text")
    media_caption: str | None = personal_col("Media caption", "text")
    button_payload: str | None = col("button.payload of a quick-reply button")
    button_text: str | None = personal_col("button.text of a quick-reply button", "text")
    interactive_type: str | None = col("interactive.type: button_reply, list_reply, nfm_reply")
    interactive_id: str | None = col("Id of the chosen interactive button or list row")
    interactive_title: str | None = personal_col(
        "Title of the chosen interactive button or list row", "text"
    )
    flow_response_json: str | None = personal_col(
        "interactive.nfm_reply.response_json of a Flow reply", "text"
    )
    reaction_emoji: str | None = col("Emoji of a reaction")
    reaction_message_id: str | None = personal_col("wamid the reaction is about", "message_id")
    location_latitude: float | None = personal_col("Latitude of a location reply", "text")
    location_longitude: float | None = personal_col("Longitude of a location reply", "text")
    location_name: str | None = personal_col("Name of a location reply", "text")
    location_address: str | None = personal_col("Address of a location reply", "text")
    api: str = col("cloud (entry[].changes[] webhook) or on_premise (top-level messages[])")
    payload_json: str | None = personal_col(
        "The messages[] element as JSON, with every field (group_id, edit, revoke, ...)",
        "payload",
        json_text=True,
    )


class Errors(Provenance):
    """One row per error, from all four sources: API errors (Cloud `error` and On-Premise
    `errors[]`), status errors, reply errors and webhook errors."""

    source: str = col("api_error, status, reply or webhook")
    key: str | None = col("Tracking key of the message (resolved through message_id if absent)")
    message_id: str | None = personal_col(
        "wamid of the message; NULL for synchronous API errors", "message_id"
    )
    sender: str | None = col("Business phone number, digits only")
    code: int | None = col("Error code (integer)")
    title: str | None = personal_col(
        "Error title: the error's title, else its message without the '(#code) ' prefix",
        "free_text",
    )
    message: str | None = personal_col("Error message, as sent", "free_text")
    details: str | None = personal_col(
        "error_data.details, or details of an On-Premise error", "free_text"
    )
    type: str | None = col("Error type (e.g. OAuthException)")
    fbtrace_id: str | None = col("Meta trace id")
    href: str | None = col("Link to the error's documentation")
    error_subcode: int | None = col("error_subcode, when given")
    status: str | None = col("The status the error came with (source status)")
    status_type: str | None = col(
        "The type of the status the error came with: an error of a status that is no message "
        "(payment) counts in no metric"
    )
    payload_json: str | None = personal_col("The error element as JSON", "payload", json_text=True)
    category: str = built_col("Catalogue category: auth, rate_limit, account, ... or other")
    is_rate_limit: bool = built_col("The code is a rate-limit code (contract §6)")
    retryable: bool = built_col("Retrying the same message can succeed (contract §6)")


class Landing(Table):
    """Columns every landing row carries until the build resolves identities: landing rows are
    the raw tables' rows of one archive file, before de-duplication."""

    dedupe_key: str = personal_col(
        "What the row is unique on (contract §3 duplicates), as JSON", "digest"
    )
    seq: int = col("Position of the row among the rows of its line")
    envelope_sender: str | None = col("Business number from the line's envelope, digits")
    path_sender: str | None = col("Business number from the file path (sender=), digits")


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


class ErrorCodes(Table):
    """The error catalogue (contract §6), loaded from data/seeds/error_codes.csv."""

    code: int = col("Error code")
    title: str | None = col("Usual title of the code")
    category: str = col("auth, rate_limit, account, recipient, template, media, server")
    is_rate_limit: bool = col("The code signals a rate limit")
    retryable: bool = col("Retrying the same message can succeed")


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
    day_column: ClassVar[str | None] = "message_day"


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
    day_column: ClassVar[str | None] = "day"


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


RAW_TABLES: dict[str, type[Table]] = {
    "accepted": Accepted,
    "template_sends": TemplateSends,
    "statuses": Statuses,
    "replies": Replies,
    "errors": Errors,
}

TABLES: dict[str, type[Table]] = {
    **RAW_TABLES,
    "unclassified": Unclassified,
    "quarantine": Quarantine,
    "ingest_files": IngestFiles,
    "error_codes": ErrorCodes,
    "messages": Messages,
    "delivery_daily": DeliveryDaily,
    "error_breakdown": ErrorBreakdown,
    "rate_limit_incidents": RateLimitIncidents,
    "runs": Runs,
}
RUN_TABLES = ("runs",)
"""The tables that tell of the runs, not of the archive: a night repeated changes them."""
ARCHIVE_TABLES = {name: table for name, table in TABLES.items() if name not in RUN_TABLES}
"""The tables that tell of the archive: the same archive gives the same rows, by any path."""
