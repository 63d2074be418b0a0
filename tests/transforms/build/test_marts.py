"""The marts' given/expected unit tests, beside the end-to-end tests (test_metrics.py builds whole
archives): each test runs ONE mart's SQL (`sql/build/marts/<name>.sql`) on a few hand-written rows
of its direct inputs only, and compares the whole table it writes with hand-written rows."""

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from transforms.contract.schema import table_ddl
from transforms.contract.tables import TABLES
from transforms.sql import Limits, connect, insert_rows, run_script, set_variables

MACROS = "build/staging/macros"
MARTS = "build/marts"

DAY = date(2026, 11, 17)
NEXT_DAY = date(2026, 11, 18)
SENDER = "15550100001"
OTHER_SENDER = "15550100002"

# the staging inputs the marts read, with the columns they read (the warehouse tables take
# their DDL from `TABLES`); message_lifecycle's are those the `messages` mart passes on
STAGING_COLUMNS: dict[str, dict[str, str]] = {
    "message_lifecycle": {
        "message_ref": "VARCHAR",
        "key": "VARCHAR",
        "message_id": "VARCHAR",
        "recipient": "VARCHAR",
        "recipient_user_id": "VARCHAR",
        "metadata_sender": "VARCHAR",
        "first_event_at": "TIMESTAMPTZ",
        "accepted_at": "TIMESTAMPTZ",
        "sent_at": "TIMESTAMPTZ",
        "delivered_at": "TIMESTAMPTZ",
        "read_at": "TIMESTAMPTZ",
        "failed_at": "TIMESTAMPTZ",
        "first_error_code": "BIGINT",
        "sender": "VARCHAR",
        "template": "VARCHAR",
        "language": "VARCHAR",
        "recipient_country": "VARCHAR",
        "pricing_model": "VARCHAR",
        "pricing_category": "VARCHAR",
        "conversation_id": "VARCHAR",
        "billable": "BOOLEAN",
    },
    "attributed_replies": {
        "reply_id": "VARCHAR",
        "message_ref": "VARCHAR",
        "reply_at": "TIMESTAMPTZ",
    },
}
# the build's settings (BuildSettings' defaults); a full build rebuilds every day
VARIABLES: dict[str, Any] = {
    "reply_window_hours": 24,
    "report_missing_hours": 24,
    "incident_gap_seconds": 300,
    "rebuild_days": None,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def table(header: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows as dicts: `header` names the columns (separated by spaces), each tuple one row."""
    columns = header.split()
    assert all(len(row) == len(columns) for row in values), "a row does not fit the header"
    return [dict(zip(columns, row, strict=True)) for row in values]


def _create_input(
    connection: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]]
) -> None:
    if name in TABLES:
        connection.execute(table_ddl(name, TABLES[name]))
    else:
        listed = ", ".join(f"{column} {kind}" for column, kind in STAGING_COLUMNS[name].items())
        connection.execute(f"create temp table {name} ({listed})")
    for row in rows:
        # a column the row does not name stays NULL: a mart reads only some of a table's columns
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        connection.execute(f"insert into {name} ({names}) values ({marks})", list(row.values()))


def run_mart(
    mart: str,
    given: dict[str, list[dict[str, Any]]],
    order_by: str,
    variables: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows `sql/build/marts/<mart>.sql` writes, ordered by `order_by`, when its inputs
    hold exactly the `given` rows (by table), as the build runs it: the macros first, then the
    session variables (the build's, overridden by `variables`), then the mart's query inserted
    into its table."""
    connection = connect(limits=Limits(threads=1, memory_limit="500MB"))
    try:
        run_script(connection, MACROS)
        set_variables(connection, {**VARIABLES, **(variables or {})})
        for name, rows in given.items():
            _create_input(connection, name, rows)
        connection.execute(table_ddl(mart, TABLES[mart]))
        insert_rows(connection, f"{MARTS}/{mart}", mart)
        cursor = connection.execute(f"select * from {mart} order by {order_by}")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


# --- delivery_daily ----------------------------------------------------------------------------

# the messages' columns delivery_daily reads
OUTCOMES = "message_day sender template accepted_at sent_at delivered_at read_at failed_at replied report_missing"
DAILY = "day sender template attempted accepted sent delivered read failed replied report_missing delivery_rate read_rate failure_rate reply_rate p50_delivery_s p95_delivery_s billable cost"
DAILY_ORDER = "day, sender nulls last, template nulls last"

DAILY_MESSAGES = table(
    OUTCOMES,
    # (DAY, SENDER, promo): six messages, every outcome
    # read and replied, delivered in 2 s
    (DAY, SENDER, "promo", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:03"), at("2026-11-17 10:05:00"), None, True, False),
    # delivered in 4 s, not read
    (DAY, SENDER, "promo", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:05"), None, None, False, False),
    # delivered in 10 s, then failed as well: it counts as delivered and as failed
    (DAY, SENDER, "promo", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:11"), None, at("2026-11-17 10:01:00"), False, False),
    # refused by the API (an API error): failed, never accepted
    (DAY, SENDER, "promo", None, None, None, None, at("2026-11-17 10:00:00"), False, False),
    # only a template send: attempted, nothing else
    (DAY, SENDER, "promo", None, None, None, None, None, False, False),
    # sent and never heard of again: report_missing (as `messages` judged it)
    (DAY, SENDER, "promo", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), None, None, None, False, True),
    # (DAY, SENDER, no template): sent before midnight, read after it with no delivered report
    # (read implies delivered: the lifecycle gives delivered_at the read's time); it counts on
    # its message day, delivered in 10 s
    (DAY, SENDER, None, at("2026-11-17 23:59:50"), at("2026-11-17 23:59:55"), at("2026-11-18 00:00:05"), at("2026-11-18 00:00:05"), None, False, False),
    # (DAY, no sender, promo): sent, not delivered yet
    (DAY, None, "promo", at("2026-11-17 11:00:00"), at("2026-11-17 11:00:01"), None, None, None, False, False),
    # (NEXT_DAY, SENDER, promo): accepted, nothing sent
    (NEXT_DAY, SENDER, "promo", at("2026-11-18 09:00:00"), None, None, None, None, False, False),
)  # fmt: skip
# the three delivered promo messages are billable, priced 0.0109, 0.0109 and 0.02 (contract §8;
# `messages` prices them); the others are not billable and cost nothing
for message, cost in zip(DAILY_MESSAGES, ("0.0109", "0.0109", "0.02"), strict=False):
    message.update(billable=True, cost=Decimal(cost))
for message in DAILY_MESSAGES[3:]:
    message.update(billable=False, cost=Decimal(0))


def test_delivery_daily_counts_messages_and_divides_by_each_rates_denominator() -> None:
    got = run_mart("delivery_daily", {"messages": DAILY_MESSAGES}, DAILY_ORDER)

    assert got == table(
        DAILY,
        # 6 attempted, 4 accepted, 4 sent, 3 delivered, 1 read, 2 failed, 1 replied, 1 missing:
        # delivery 3/4, read 1/3, failure 2/6, reply 1/3; times to deliver 2, 4, 10 s: the
        # median 4, the 95th percentile 4 + 0.9 * (10 - 4) = 9.4 (continuous); 3 billable,
        # 0.0109 + 0.0109 + 0.02 = 0.0418 USD
        (DAY, SENDER, "promo", 6, 4, 4, 3, 1, 2, 1, 1, 3 / 4, 1 / 3, 2 / 6, 1 / 3, 4.0, 9.4, 3, Decimal("0.0418")),
        # 1 sent, delivered and read, none replied: 1/1, 1/1, 0/1, 0/1; 10 s
        (DAY, SENDER, None, 1, 1, 1, 1, 1, 0, 0, 0, 1.0, 1.0, 0.0, 0.0, 10.0, 10.0, 0, Decimal(0)),
        # nothing delivered: read and reply rates NULL, delivery 0/1
        (DAY, None, "promo", 1, 1, 1, 0, 0, 0, 0, 0, 0.0, None, 0.0, None, None, None, 0, Decimal(0)),
        # nothing sent: every rate but failure's NULL, failure 0/1
        (NEXT_DAY, SENDER, "promo", 1, 1, 0, 0, 0, 0, 0, 0, None, None, 0.0, None, None, None, 0, Decimal(0)),
    )  # fmt: skip


def test_delivery_daily_counts_only_the_rebuilt_days_on_an_update() -> None:
    got = run_mart(
        "delivery_daily",
        {"messages": DAILY_MESSAGES},
        DAILY_ORDER,
        variables={"rebuild_days": [NEXT_DAY]},
    )

    assert got == table(
        DAILY,
        (NEXT_DAY, SENDER, "promo", 1, 1, 0, 0, 0, 0, 0, 0, None, None, 0.0, None, None, None, 0, Decimal(0)),
    )  # fmt: skip


# --- error_breakdown ---------------------------------------------------------------------------

BREAKDOWN = "day sender template code title category is_rate_limit retryable events messages share_of_failed"
BREAKDOWN_ORDER = "day, sender nulls last, template nulls last, code"
ERROR_CODES = table(
    "code title category is_rate_limit retryable",
    (131026, "Message undeliverable", "recipient", False, False),
    (130429, "Rate limit hit", "rate_limit", True, True),
    (131000, "Something went wrong", "server", False, True),
)  # fmt: skip
ERROR = "event_time source key message_id sender code title status_type category is_rate_limit retryable"


def test_error_breakdown_groups_by_day_sender_template_and_code() -> None:
    messages = table(
        "key message_id template",
        ("k1", "w1", "promo"),
        ("k2", "w2", "promo"),
        ("k3", "w3", None),
        # a message known only by its wamid (no key, so no template send)
        (None, "w4", None),
    )  # fmt: skip
    errors = table(
        ERROR,
        # (DAY, SENDER, promo): k1 twice and k2 once with 131026, k2 with 130429
        (at("2026-11-17 10:00:00"), "status", "k1", "w1", SENDER, 131026, "Message undeliverable", "message", "recipient", False, False),
        (at("2026-11-17 10:00:05"), "api_error", "k1", None, SENDER, 131026, "Message undeliverable", None, "recipient", False, False),
        (at("2026-11-17 11:00:00"), "status", "k2", "w2", SENDER, 131026, "Delivery failed", "message", "recipient", False, False),
        # no title of its own: the catalogue's
        (at("2026-11-17 11:00:01"), "api_error", "k2", None, SENDER, 130429, None, None, "rate_limit", True, True),
        # a payment's status is no message: its error counts nowhere (else 131026 had 4 events)
        (at("2026-11-17 12:00:00"), "status", "k1", "w1", SENDER, 131026, "Message undeliverable", "payment", "recipient", False, False),
        # (DAY, SENDER, no template): k3, and a webhook error, which hits no message; one
        # title each, so the first alphabetically
        (at("2026-11-17 13:00:00"), "api_error", "k3", None, SENDER, 131000, "Something went wrong", None, "server", False, True),
        (at("2026-11-17 13:00:00"), "webhook", None, None, SENDER, 131000, "Generic error", None, "server", False, True),
        # (DAY, no sender, no template): the wamid-only message
        (at("2026-11-17 14:00:00"), "status", None, "w4", None, 131026, "Message undeliverable", "message", "recipient", False, False),
        # (NEXT_DAY, SENDER, promo): the error's own day, though k1's message day is DAY
        (at("2026-11-18 00:00:01"), "status", "k1", "w1", SENDER, 131026, "Message undeliverable", "message", "recipient", False, False),
    )  # fmt: skip

    got = run_mart(
        "error_breakdown",
        {"messages": messages, "errors": errors, "error_codes": ERROR_CODES},
        BREAKDOWN_ORDER,
    )

    assert got == table(
        BREAKDOWN,
        # erring messages of (DAY, SENDER, promo): k1 and k2; 131026 hit both (2/2), 130429 k2 (1/2);
        # 131026's titles: "Message undeliverable" twice beats "Delivery failed" once, though
        # the latter comes first alphabetically
        (DAY, SENDER, "promo", 130429, "Rate limit hit", "rate_limit", True, True, 1, 1, 1 / 2),
        (DAY, SENDER, "promo", 131026, "Message undeliverable", "recipient", False, False, 3, 2, 2 / 2),
        # 2 events, 1 message (k3; the webhook error none) of 1 erring: 1/1
        (DAY, SENDER, None, 131000, "Generic error", "server", False, True, 2, 1, 1 / 1),
        (DAY, None, None, 131026, "Message undeliverable", "recipient", False, False, 1, 1, 1 / 1),
        (NEXT_DAY, SENDER, "promo", 131026, "Message undeliverable", "recipient", False, False, 1, 1, 1 / 1),
    )  # fmt: skip


# --- rate_limit_incidents ----------------------------------------------------------------------

INCIDENT = "incident_id sender started_at ended_at duration_s events messages codes templates peak_events_per_minute approximate"
INCIDENT_ORDER = "sender nulls last, started_at"
RATE_LIMIT_ERROR = "event_time event_time_source source_file line_no key message_id sender code status_type is_rate_limit"


def incident_id(sender: str, started_at: str) -> str:
    """decisions.md: `rl-` and the first 16 hex digits of the MD5 of the sender and the start."""
    return "rl-" + hashlib.md5(f"{sender}|{started_at}".encode()).hexdigest()[:16]


def test_rate_limit_incidents_chain_errors_within_the_gap() -> None:
    messages = table(
        "key message_id template",
        ("k1", "w1", "promo"),
        ("k2", "w2", "promo"),
        ("k3", "w3", "welcome"),
        ("k4", "w4", None),
        ("k5", "w5", "promo"),
        ("k6", "w6", "promo"),
        ("k7", "w7", "welcome"),
    )  # fmt: skip
    errors = table(
        RATE_LIMIT_ERROR,
        # SENDER, incident 1: three errors in minute 10:00, a fourth exactly 300 s after the third
        (at("2026-11-17 10:00:00"), "envelope", "f1", 1, "k1", None, SENDER, 130429, None, True),
        (at("2026-11-17 10:00:30"), "envelope", "f1", 2, "k2", None, SENDER, 130429, None, True),
        (at("2026-11-17 10:00:50"), "payload", "f2", 1, "k1", "w1", SENDER, 131056, "message", True),
        (at("2026-11-17 10:05:50"), "message", "f3", 1, "k3", None, SENDER, 130429, None, True),
        # neither a non-rate-limit error nor a payment's rate-limit error bridges the gap that
        # follows (each would chain incidents 1 and 2)
        (at("2026-11-17 10:08:00"), "payload", "f4", 1, "k1", "w1", SENDER, 131026, "message", False),
        (at("2026-11-17 10:08:00"), "payload", "f4", 2, None, "wp", SENDER, 130429, "payment", True),
        # SENDER, incident 2: 301 s after 10:05:50; one message without a template
        (at("2026-11-17 10:10:51"), "message", "f5", 1, "k4", None, SENDER, 130429, None, True),
        (at("2026-11-17 10:11:00"), "envelope", "f5", 2, "k4", None, SENDER, 130429, None, True),
        # SENDER, incident 3: two errors with only their folder's hour for a time, one exact
        (at("2026-11-17 12:00:00"), "path", "f6", 1, "k5", None, SENDER, 4, None, True),
        (at("2026-11-17 12:00:00"), "path", "f6", 2, "k6", None, SENDER, 130429, None, True),
        (at("2026-11-17 12:02:00"), "payload", "f7", 1, "k6", "w6", SENDER, 130429, "message", True),
        # OTHER_SENDER, during SENDER's incident 1: an incident of its own
        (at("2026-11-17 10:02:00"), "file", "f8", 1, "k7", None, OTHER_SENDER, 80007, None, True),
    )  # fmt: skip

    got = run_mart("rate_limit_incidents", {"messages": messages, "errors": errors}, INCIDENT_ORDER)

    assert got == table(
        INCIDENT,
        # 4 errors of k1, k2, k3 over 350 s; 3 in minute 10:00
        (incident_id(SENDER, "2026-11-17T10:00:00.000000Z"), SENDER, at("2026-11-17 10:00:00"), at("2026-11-17 10:05:50"), 350.0, 4, 3, [130429, 131056], ["promo", "welcome"], 3, False),
        # k4 has no template: none listed; one error in each of minutes 10:10 and 10:11
        (incident_id(SENDER, "2026-11-17T10:10:51.000000Z"), SENDER, at("2026-11-17 10:10:51"), at("2026-11-17 10:11:00"), 9.0, 2, 1, [130429], [], 1, False),
        # approximate: two of its errors have a folder's time
        (incident_id(SENDER, "2026-11-17T12:00:00.000000Z"), SENDER, at("2026-11-17 12:00:00"), at("2026-11-17 12:02:00"), 120.0, 3, 2, [4, 130429], ["promo"], 2, True),
        # approximate: a file's time
        (incident_id(OTHER_SENDER, "2026-11-17T10:02:00.000000Z"), OTHER_SENDER, at("2026-11-17 10:02:00"), at("2026-11-17 10:02:00"), 0.0, 1, 1, [80007], ["welcome"], 1, True),
    )  # fmt: skip


def test_rate_limit_incidents_follow_the_gap_setting() -> None:
    errors = table(
        RATE_LIMIT_ERROR,
        (at("2026-11-17 10:00:00"), "payload", "f1", 1, "k1", "w1", SENDER, 130429, "message", True),
        (at("2026-11-17 10:01:00"), "payload", "f1", 2, "k1", "w1", SENDER, 130429, "message", True),
        (at("2026-11-17 10:02:01"), "payload", "f1", 3, "k1", "w1", SENDER, 130429, "message", True),
    )  # fmt: skip

    # a 60 s gap: the second error is exactly 60 s after the first, the third 61 s after it
    got = run_mart(
        "rate_limit_incidents",
        {"messages": [], "errors": errors},
        INCIDENT_ORDER,
        variables={"incident_gap_seconds": 60},
    )

    assert got == table(
        INCIDENT,
        # k1 is no message of `messages` here: no template
        (incident_id(SENDER, "2026-11-17T10:00:00.000000Z"), SENDER, at("2026-11-17 10:00:00"), at("2026-11-17 10:01:00"), 60.0, 2, 1, [130429], [], 1, False),
        (incident_id(SENDER, "2026-11-17T10:02:01.000000Z"), SENDER, at("2026-11-17 10:02:01"), at("2026-11-17 10:02:01"), 0.0, 1, 1, [130429], [], 1, False),
    )  # fmt: skip


# --- messages ----------------------------------------------------------------------------------

LIFECYCLE = "message_ref key message_id sender metadata_sender template language recipient recipient_user_id first_event_at accepted_at sent_at delivered_at read_at failed_at first_error_code"
MESSAGE = "key message_id sender template language recipient recipient_user_id message_day first_event_at accepted_at sent_at delivered_at read_at failed_at first_error_code final_status replied first_reply_at report_missing"
NO_PRICING = {
    "recipient_country": None,
    "market": None,
    "pricing_model": None,
    "pricing_category": None,
    "conversation_id": None,
    "billable": False,
    "cost": Decimal(0),
}


def with_no_pricing(header: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows of `messages` without a pricing or a country: not billable, cost 0."""
    return [row | NO_PRICING for row in table(header, *values)]


def test_messages_take_the_lifecycle_with_final_status_replies_and_report_missing() -> None:
    # the lifecycle as message_lifecycle gives it: a later status implies the earlier ones
    lifecycle = table(
        LIFECYCLE,
        ("k1", "k1", "w1", SENDER, SENDER, "promo", "tr", "905551110001", "u1", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:03"), at("2026-11-17 10:01:00"), None, None),
        # delivered and then failed
        ("k2", "k2", "w2", SENDER, SENDER, "promo", "tr", "905551110002", None, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:03"), None, at("2026-11-17 10:00:09"), 131026),
        # sent and failed, long before as_of
        ("k3", "k3", "w3", SENDER, SENDER, "promo", "tr", "905551110003", None, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, None, at("2026-11-17 10:00:05"), 131049),
        # sent 25 hours before as_of, nothing since
        ("k4", "k4", "w4", SENDER, SENDER, "promo", "tr", "905551110004", None, at("2026-11-17 11:00:00"), at("2026-11-17 11:00:00"), at("2026-11-17 11:00:00"), None, None, None, None),
        # sent exactly 24 hours before as_of
        ("k5", "k5", "w5", SENDER, SENDER, "promo", "tr", "905551110005", None, at("2026-11-17 12:00:00"), at("2026-11-17 12:00:00"), at("2026-11-17 12:00:00"), None, None, None, None),
        # accepted only
        ("k6", "k6", "w6", SENDER, SENDER, "promo", "tr", "905551110006", None, at("2026-11-17 13:00:00"), at("2026-11-17 13:00:01"), None, None, None, None, None),
        # a template send only: no wamid, the recipient is the number it was sent to
        ("k7", "k7", None, None, None, "promo", "tr", "905551110007", None, at("2026-11-17 14:00:00"), None, None, None, None, None, None),
        # a wamid no key links to, first seen just before midnight: its message day is the
        # day before its delivery's; the sender is another event's
        ("wamid:w8", None, "w8", OTHER_SENDER, OTHER_SENDER, None, None, "905551110008", None, at("2026-11-16 23:59:59"), at("2026-11-16 23:59:59"), at("2026-11-16 23:59:59"), at("2026-11-17 00:00:04"), None, None, None),
    )  # fmt: skip
    replies = table(
        "reply_id message_ref reply_at",
        # two replies to k1: the earlier, r2, is its first reply
        ("r1", "k1", at("2026-11-17 10:30:00")),
        ("r2", "k1", at("2026-11-17 10:20:00")),
        ("r3", "wamid:w8", at("2026-11-17 08:00:00")),
        # a reply to no message of the lifecycle makes no row
        ("r4", "k99", at("2026-11-17 09:00:00")),
    )  # fmt: skip

    got = run_mart(
        "messages",
        {
            "message_lifecycle": [{**row, "billable": False} for row in lifecycle],
            "attributed_replies": replies,
            "markets": [],
            "rate_card": [],
        },
        "first_event_at, key",
        variables={"as_of": at("2026-11-18 12:00:00")},
    )

    assert got == with_no_pricing(
        MESSAGE,
        # replied (r3); delivered the next day, on its message day
        (None, "w8", OTHER_SENDER, None, None, "905551110008", None, date(2026, 11, 16), at("2026-11-16 23:59:59"), at("2026-11-16 23:59:59"), at("2026-11-16 23:59:59"), at("2026-11-17 00:00:04"), None, None, None, "delivered", True, at("2026-11-17 08:00:00"), False),
        # read > every other status; first reply r2's time
        ("k1", "w1", SENDER, "promo", "tr", "905551110001", "u1", DAY, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:03"), at("2026-11-17 10:01:00"), None, None, "read", True, at("2026-11-17 10:20:00"), False),
        # delivered > failed
        ("k2", "w2", SENDER, "promo", "tr", "905551110002", None, DAY, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:03"), None, at("2026-11-17 10:00:09"), 131026, "delivered", False, None, False),
        # failed > sent; failed, so not report_missing though sent 26 hours before as_of
        ("k3", "w3", SENDER, "promo", "tr", "905551110003", None, DAY, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, None, at("2026-11-17 10:00:05"), 131049, "failed", False, None, False),
        # 25 hours > 24: report_missing
        ("k4", "w4", SENDER, "promo", "tr", "905551110004", None, DAY, at("2026-11-17 11:00:00"), at("2026-11-17 11:00:00"), at("2026-11-17 11:00:00"), None, None, None, None, "sent", False, None, True),
        # 24 hours is not more than 24 (decisions.md: strictly)
        ("k5", "w5", SENDER, "promo", "tr", "905551110005", None, DAY, at("2026-11-17 12:00:00"), at("2026-11-17 12:00:00"), at("2026-11-17 12:00:00"), None, None, None, None, "sent", False, None, False),
        ("k6", "w6", SENDER, "promo", "tr", "905551110006", None, DAY, at("2026-11-17 13:00:00"), at("2026-11-17 13:00:01"), None, None, None, None, None, "accepted", False, None, False),
        ("k7", None, None, "promo", "tr", "905551110007", None, DAY, at("2026-11-17 14:00:00"), None, None, None, None, None, None, "attempted", False, None, False),
    )  # fmt: skip


# --- costs: messages' prices, cost_daily -------------------------------------------------------

PRICED_LIFECYCLE = "message_ref key message_id sender template recipient recipient_country first_event_at sent_at delivered_at read_at pricing_model pricing_category conversation_id billable"
RATE = "market pricing_category effective_from rate_usd source"
HAND_RATES = table(
    RATE,
    ("Turkey", "marketing", date(2026, 1, 1), Decimal("0.0109"), "hand"),
    # a rate change between two days: from NEXT_DAY on
    ("Turkey", "marketing", NEXT_DAY, Decimal("0.0200"), "hand"),
    # not yet in force on any day here
    ("Turkey", "marketing", date(2026, 12, 1), Decimal("0.5"), "hand"),
    ("Turkey", "utility", date(2026, 1, 1), Decimal("0.0053"), "hand"),
    ("India", "marketing", date(2026, 1, 1), Decimal("0.0118"), "hand"),
    ("India", "authentication_international", date(2026, 1, 1), Decimal("0.0280"), "hand"),
)  # fmt: skip
HAND_MARKETS = table("country market source", ("TR", "Turkey", "hand"), ("IN", "India", "hand"))
TR1, TR2 = "905551110001", "905551110002"
PRICED_MESSAGES = table(
    PRICED_LIFECYCLE,
    # per message (PMP), marketing in Turkey, delivered on DAY: 0.0109; read and replied
    ("k1", "k1", "w1", SENDER, "promo", TR1, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:01:00"), "PMP", "marketing", None, True),
    # first seen on DAY, delivered on NEXT_DAY: the rate in force then, 0.0200
    ("k2", "k2", "w2", SENDER, "promo", TR1, "TR", at("2026-11-17 23:59:50"), at("2026-11-17 23:59:55"), at("2026-11-18 00:00:05"), None, "PMP", "marketing", None, True),
    # utility in an open service window (pricing.type free_customer_service): not billable, 0
    ("k3", "k3", "w3", SENDER, "order", TR2, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:30"), "PMP", "utility", None, False),
    # billable but never delivered: 0
    ("k4", "k4", "w4", SENDER, "promo", TR2, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), None, None, "PMP", "marketing", None, True),
    # another market: India's marketing rate, 0.0118; never read
    ("k5", "k5", "w5", SENDER, "promo", "919812345678", "IN", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, "PMP", "marketing", None, True),
    # a country the map does not list is in Other, which the card has no rate for: unknown
    ("k6", "k6", "w6", SENDER, "promo", "4915112345678", "DE", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, "PMP", "marketing", None, True),
    # per conversation (CBP): two messages of c1, k8 delivered first carries its one charge
    ("k7", "k7", "w7", SENDER, "order", TR2, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:05:00"), None, "CBP", "utility", "c1", True),
    ("k8", "k8", "w8", SENDER, "order", TR2, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:01:00"), "CBP", "utility", "c1", True),
    # a conversation whose only message was never delivered: nothing charged
    ("k9", "k9", "w9", SENDER, "promo", TR1, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), None, None, "CBP", "marketing", "c2", True),
    # a customer known only by user id: no country, no market, its charge unknown
    ("k10", "k10", "w10", SENDER, "promo", None, None, at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, "PMP", "marketing", None, True),
    # a free entry point (pricing.type free_entry_point, billable false): 0
    ("k11", "k11", "w11", SENDER, "promo", TR1, "TR", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), None, "PMP", "referral_conversion", None, False),
    # Meta's webhooks write authentication-international; the card's underscore matches it
    ("k12", "k12", "w12", SENDER, "otp", "919812345678", "IN", at("2026-11-17 10:00:00"), at("2026-11-17 10:00:01"), at("2026-11-17 10:00:02"), at("2026-11-17 10:00:09"), "PMP", "authentication-international", None, True),
)  # fmt: skip


def priced_messages() -> list[dict[str, Any]]:
    return run_mart(
        "messages",
        {
            "message_lifecycle": PRICED_MESSAGES,
            "attributed_replies": table(
                "reply_id message_ref reply_at", ("r1", "k1", at("2026-11-17 10:30:00"))
            ),
            "markets": HAND_MARKETS,
            "rate_card": HAND_RATES,
        },
        "key",
        variables={"as_of": at("2026-11-18 12:00:00")},
    )


def test_messages_are_priced_by_model_market_category_and_delivered_day() -> None:
    got = [
        (row["key"], row["market"], row["billable"], row["cost"])
        for row in sorted(priced_messages(), key=lambda row: int(row["key"][1:]))
    ]

    assert got == [
        ("k1", "Turkey", True, Decimal("0.0109")),
        ("k2", "Turkey", True, Decimal("0.0200")),
        ("k3", "Turkey", False, Decimal(0)),
        ("k4", "Turkey", True, Decimal(0)),
        ("k5", "India", True, Decimal("0.0118")),
        ("k6", "Other", True, None),
        ("k7", "Turkey", True, Decimal(0)),
        ("k8", "Turkey", True, Decimal("0.0053")),
        ("k9", "Turkey", True, Decimal(0)),
        ("k10", None, True, None),
        ("k11", "Turkey", False, Decimal(0)),
        ("k12", "India", True, Decimal("0.0280")),
    ]


COST = "day sender template market pricing_category messages billable delivered read replied unpriced cost cost_per_delivered cost_per_read cost_per_reply cost_unread"
COST_ORDER = "day, template, market nulls last, pricing_category"


def test_cost_daily_sets_what_was_spent_against_what_it_bought() -> None:
    got = run_mart("cost_daily", {"messages": priced_messages()}, COST_ORDER)

    assert got == table(
        COST,
        # India: k5, 0.0118 for one delivered message nobody read
        (DAY, SENDER, "order", "Turkey", "utility", 3, 2, 3, 2, 0, 0, Decimal("0.0053"), 0.0053 / 3, 0.0053 / 2, None, Decimal(0)),
        # read: nothing unread
        (DAY, SENDER, "otp", "India", "authentication-international", 1, 1, 1, 1, 0, 0, Decimal("0.0280"), 0.028, 0.028, None, Decimal(0)),
        (DAY, SENDER, "promo", "India", "marketing", 1, 1, 1, 0, 0, 0, Decimal("0.0118"), 0.0118, None, None, Decimal("0.0118")),
        # Other: k6 charged at no known rate: unpriced, nothing summed
        (DAY, SENDER, "promo", "Other", "marketing", 1, 1, 1, 0, 0, 1, Decimal(0), 0.0, None, None, Decimal(0)),
        # k1 (read, replied) 0.0109 + k2 0.0200 (its delivered day's rate) on their message day;
        # k4 and k9 never delivered; unread: k2's 0.0200
        (DAY, SENDER, "promo", "Turkey", "marketing", 4, 4, 2, 1, 1, 0, Decimal("0.0309"), 0.0309 / 2, 0.0309, 0.0309, Decimal("0.0200")),
        (DAY, SENDER, "promo", "Turkey", "referral_conversion", 1, 0, 1, 0, 0, 0, Decimal(0), 0.0, None, None, Decimal(0)),
        # k10: no market
        (DAY, SENDER, "promo", None, "marketing", 1, 1, 1, 0, 0, 1, Decimal(0), 0.0, None, None, Decimal(0)),
    )  # fmt: skip


# --- actions: suppression_candidates, stop_events ---------------------------------------------

ACTION_CODES = table(
    "code title category is_rate_limit retryable handling",
    (131026, "Message undeliverable", "recipient", False, False, "suppress"),
    (131050, "User has stopped marketing messages", "recipient", False, False, "suppress"),
    (131000, "Something went wrong", "server", False, True, "retry"),
    (368, "Temporarily blocked for policies violations", "account", False, False, "stop"),
    (190, "Access token has expired", "auth", False, False, "stop"),
)
ACTION_MESSAGES = table(
    "key message_id sender recipient recipient_user_id",
    ("k1", "w1", SENDER, "905551110001", None),
    ("k2", "w2", SENDER, "905551110001", None),
    ("k3", "w3", SENDER, "905551110002", None),
    ("k4", "w4", SENDER, None, "TR.user-4"),  # known only by user id
    ("k5", "w5", OTHER_SENDER, "905551110001", None),  # the same customer, another sender
    ("k6", "w6", SENDER, "905551110003", None),
)
ERROR_ROW = "key message_id sender code event_time status_type source_file line_no"
ACTION_ERRORS = table(
    ERROR_ROW,
    # customer ...0001 of SENDER: undeliverable twice, then stopped marketing: the latest wins
    ("k1", "w1", SENDER, 131026, at("2026-11-17 10:00:00"), None, "f", 1),
    ("k2", "w2", SENDER, 131026, at("2026-11-17 11:00:00"), None, "f", 2),
    ("k2", "w2", SENDER, 131050, at("2026-11-17 12:00:00"), None, "f", 3),
    # customer ...0002: undeliverable, then a server error: taken off the list
    ("k3", "w3", SENDER, 131026, at("2026-11-17 10:00:00"), None, "f", 4),
    ("k3", "w3", SENDER, 131000, at("2026-11-17 13:00:00"), None, "f", 5),
    # the user id customer: undeliverable once; its error names no sender (the message does)
    ("k4", "w4", None, 131026, at("2026-11-18 08:00:00"), None, "f", 6),
    # the same number under another sender: its own row
    ("k5", "w5", OTHER_SENDER, 131026, at("2026-11-18 09:00:00"), None, "f", 7),
    # a payment's status error is no message's
    ("k6", "w6", SENDER, 131026, at("2026-11-18 09:30:00"), "payment", "f", 8),
    # stop errors: two codes on one day for SENDER (one message twice), one the next day
    ("k1", "w1", SENDER, 368, at("2026-11-17 09:00:00"), None, "f", 9),
    ("k1", "w1", SENDER, 368, at("2026-11-17 09:05:00"), None, "f", 10),
    ("k3", "w3", SENDER, 190, at("2026-11-17 23:59:59"), None, "f", 11),
    ("k6", "w6", SENDER, 190, at("2026-11-18 00:00:00"), None, "f", 12),
    # an error of no known code: no action
    ("k6", "w6", SENDER, 999999, at("2026-11-18 01:00:00"), None, "f", 13),
)


def test_suppression_candidates_are_the_customers_whose_latest_error_says_suppress() -> None:
    rows = run_mart(
        "suppression_candidates",
        {"messages": ACTION_MESSAGES, "errors": ACTION_ERRORS, "error_codes": ACTION_CODES},
        "sender, recipient nulls last",
    )
    assert rows == table(
        "sender recipient recipient_user_id code errors last_seen_at",
        (SENDER, "905551110001", None, 131050, 1, at("2026-11-17 12:00:00")),
        (SENDER, None, "TR.user-4", 131026, 1, at("2026-11-18 08:00:00")),
        (OTHER_SENDER, "905551110001", None, 131026, 1, at("2026-11-18 09:00:00")),
    )


def test_stop_events_are_a_row_per_sender_and_day_of_stop_errors() -> None:
    rows = run_mart(
        "stop_events", {"errors": ACTION_ERRORS, "error_codes": ACTION_CODES}, "day, sender"
    )
    assert rows == table(
        "day sender codes errors messages first_at last_at",
        (DAY, SENDER, [190, 368], 3, 2, at("2026-11-17 09:00:00"), at("2026-11-17 23:59:59")),
        (NEXT_DAY, SENDER, [190], 1, 1, at("2026-11-18 00:00:00"), at("2026-11-18 00:00:00")),
    )
