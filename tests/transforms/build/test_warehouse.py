"""Identity and time (contract §3): duplicates, keys through wamids, sender and template
resolution, event time and message day; and the lifecycle in `messages`."""

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devtools.sample import SampleSpec, write_sample
from tests.conftest import Warehouse, archive_file, warehouse_of
from tests.payloads import (
    SENDER,
    accepted,
    api_error,
    at,
    envelope,
    reply,
    status,
    template_send,
    unix,
)
from transforms.build import lifecycle
from transforms.sql import run_query_into


def test_the_same_event_twice_in_two_files_with_and_without_envelope_is_one_row(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    event = accepted("whatsapp-k1", "wamid.A")
    archive_file(archive, "dt=2026-11-17/hour=10/first.jsonl", [event])
    archive_file(
        archive, "dt=2026-11-17/hour=11/second.jsonl", [envelope(event, "2026-11-17T09:30:00Z")]
    )
    archive_file(
        archive,
        "dt=2026-11-17/hour=12/third.jsonl",
        [
            {
                "messages": event["messages"],
                "key": "whatsapp-k1",
                "contacts": event["contacts"],
                "messaging_product": "whatsapp",
            }
        ],
    )
    warehouse: Warehouse = build(archive)
    (row,) = warehouse.rows("select * from accepted")
    # the copies tell 10:00 (path), 09:30 (envelope) and 12:00 (path): the earliest counts
    assert (row["event_time"], row["event_time_source"]) == (at("2026-11-17 09:30:00"), "envelope")
    assert row["source_file"].endswith("second.jsonl")
    assert sum(report.rows["accepted"] for report in warehouse.reports) == 3


def test_copies_of_an_event_on_other_lines_of_one_file_are_one_row(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    events = [
        template_send("whatsapp-k1", "2026-11-17 10:00:00"),
        accepted("whatsapp-k1", "wamid.A"),
        status("wamid.A", "sent", "2026-11-17 10:00:05", key="whatsapp-k1"),
        api_error("whatsapp-k2", 131056),
        reply("wamid.R", "2026-11-17 10:05:00", context="wamid.A"),
    ]
    # each copy sits on another line, so in another place of the batch DuckDB reads
    archive_file(archive, "dt=2026-11-17/hour=10/a.jsonl", [*events, "", *events, *events])
    warehouse: Warehouse = build(archive)
    for table in ("template_sends", "accepted", "statuses", "errors", "replies"):
        assert warehouse.value(f"select count(*) from {table}") == 1, table
    assert warehouse.value("select line_no from template_sends") == 1


def test_statuses_are_unique_on_wamid_status_and_timestamp(tmp_path: Path, build: Any) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        "a.jsonl",
        [
            status("wamid.A", "sent", "2026-11-17 10:00:00", key="whatsapp-k1"),
            status("wamid.A", "sent", "2026-11-17 10:00:00"),  # a copy without the key
            status("wamid.A", "sent", "2026-11-17 10:00:01", key="whatsapp-k1"),  # another time
            status("wamid.A", "delivered", "2026-11-17 10:00:00", key="whatsapp-k1"),
        ],
    )
    archive_file(
        archive,
        "b.jsonl",
        [
            {
                "statuses": [
                    {
                        "id": "wamid.A",
                        "status": "sent",
                        "timestamp": int(unix("2026-11-17 10:00:00")),
                    }
                ]
            }
        ],
    )
    warehouse: Warehouse = build(archive)
    assert warehouse.rows(
        "select message_id, status, event_time, key from statuses order by all"
    ) == [
        {
            "message_id": "wamid.A",
            "status": "delivered",
            "event_time": at("2026-11-17 10:00:00"),
            "key": "whatsapp-k1",
        },
        {
            "message_id": "wamid.A",
            "status": "sent",
            "event_time": at("2026-11-17 10:00:00"),
            "key": "whatsapp-k1",
        },
        {
            "message_id": "wamid.A",
            "status": "sent",
            "event_time": at("2026-11-17 10:00:01"),
            "key": "whatsapp-k1",
        },
    ]


def test_replies_are_unique_on_their_id(tmp_path: Path, build: Any) -> None:
    def reply(body: str, moment: str) -> dict[str, Any]:
        message = {
            "from": "905551112233",
            "id": "wamid.IN1",
            "timestamp": unix(moment),
            "type": "text",
            "text": {"body": body},
        }
        return {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "metadata": {"display_phone_number": SENDER},
                                "messages": [message],
                            }
                        }
                    ]
                }
            ]
        }

    archive = tmp_path / "archive"
    archive_file(archive, "a.jsonl", [reply("second copy", "2026-11-17 10:00:05")])
    archive_file(archive, "b.jsonl", [reply("first copy", "2026-11-17 10:00:00")])
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select reply_id, text_body from replies") == [
        {"reply_id": "wamid.IN1", "text_body": "first copy"}
    ]


def test_a_status_without_key_finds_its_message_through_the_wamid(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        "a.jsonl",
        [
            template_send("whatsapp-k1", "2026-11-17 09:59:58"),
            status("wamid.A", "read", "2026-11-17 10:05:00"),
            accepted("whatsapp-k1", "wamid.A"),
            status("wamid.LONELY", "delivered", "2026-11-17 11:00:00"),
        ],
    )
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select message_id, key from statuses order by 1") == [
        {"message_id": "wamid.A", "key": "whatsapp-k1"},
        {"message_id": "wamid.LONELY", "key": None},
    ]
    assert warehouse.rows(
        "select key, message_id, template, final_status from messages order by 2"
    ) == [
        {
            "key": "whatsapp-k1",
            "message_id": "wamid.A",
            "template": "order_update",
            "final_status": "read",
        },
        # a status that matches no message starts a message of its own
        {"key": None, "message_id": "wamid.LONELY", "template": None, "final_status": "delivered"},
    ]


def test_a_message_has_the_template_of_its_first_send_by_time_then_file_then_line(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    welcome = template_send("whatsapp-k1", "2026-11-17 10:00:00", name="welcome")
    welcome["template"]["language"]["code"] = "tr"
    archive_file(
        archive,
        "a.jsonl",
        [
            template_send("whatsapp-k1", "2026-11-17 10:05:00", name="reminder"),
            template_send("whatsapp-k2", "2026-11-17 11:00:00", name="first_file"),
            template_send("whatsapp-k3", "2026-11-17 12:00:00", name="first_line"),
            template_send("whatsapp-k3", "2026-11-17 12:00:00", name="second_line"),
        ],
    )
    archive_file(
        archive,
        "b.jsonl",
        [welcome, template_send("whatsapp-k2", "2026-11-17 11:00:00", name="second_file")],
    )
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select count(*) as sends from template_sends") == [{"sends": 6}]
    assert warehouse.rows("select key, template, language from messages order by 1") == [
        {"key": "whatsapp-k1", "template": "welcome", "language": "tr"},
        {"key": "whatsapp-k2", "template": "first_file", "language": "en_US"},
        {"key": "whatsapp-k3", "template": "first_line", "language": "en_US"},
    ]


def test_sender_comes_from_metadata_then_the_message_then_envelope_then_path(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    on_premise = {
        "statuses": [
            {"id": "wamid.OP", "status": "sent", "timestamp": unix("2026-11-17 10:00:00")}
        ],
        "key": "whatsapp-op",
    }
    archive_file(
        archive,
        "sender=4930000000004/dt=2026-11-17/a.jsonl",
        [
            accepted("whatsapp-k1", "wamid.A"),  # no metadata; its status has
            status("wamid.A", "sent", "2026-11-17 10:00:00", key="whatsapp-k1"),
            envelope(on_premise, 1763373600, sender="+49 300 000 0009"),  # the envelope's sender
            {
                "statuses": [
                    {"id": "wamid.PATH", "status": "sent", "timestamp": unix("2026-11-17 10:00:00")}
                ]
            },
        ],
    )
    archive_file(archive, "nowhere/b.jsonl", [{"error": {"code": 4}, "key": "whatsapp-unknown"}])
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select message_id, sender from statuses order by 1") == [
        {"message_id": "wamid.A", "sender": SENDER},
        {"message_id": "wamid.OP", "sender": "493000000009"},
        {"message_id": "wamid.PATH", "sender": "4930000000004"},
    ]
    assert warehouse.rows("select key, sender from accepted") == [
        {"key": "whatsapp-k1", "sender": SENDER}
    ]
    assert warehouse.rows("select key, sender from errors") == [
        {"key": "whatsapp-unknown", "sender": None}
    ]
    assert warehouse.rows("select key, sender from messages order by 1") == [
        {"key": "whatsapp-k1", "sender": SENDER},
        {"key": "whatsapp-op", "sender": "493000000009"},
        {"key": "whatsapp-unknown", "sender": None},
        {"key": None, "sender": "4930000000004"},
    ]


def test_event_time_comes_from_payload_then_envelope_then_path_then_file(
    tmp_path: Path, build: Any
) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        "2026/11/17/08/firehose.jsonl",
        [
            accepted("whatsapp-payload", "wamid.P") | {"timestamp": unix("2026-11-17 08:15:00")},
            envelope(accepted("whatsapp-envelope", "wamid.E"), "2026-11-17 08:20:00+02:00"),
            accepted("whatsapp-path", "wamid.H"),
        ],
    )
    unplaced = archive_file(archive, "loose/file.jsonl", [accepted("whatsapp-file", "wamid.F")])
    moment = at("2026-11-16 23:45:00").timestamp()
    os.utime(unplaced, (moment, moment))
    warehouse: Warehouse = build(archive)
    assert warehouse.rows("select key, event_time, event_time_source from accepted order by 2") == [
        {
            "key": "whatsapp-file",
            "event_time": at("2026-11-16 23:45:00"),
            "event_time_source": "file",
        },
        {
            "key": "whatsapp-envelope",
            "event_time": at("2026-11-17 06:20:00"),
            "event_time_source": "envelope",
        },
        {
            "key": "whatsapp-path",
            "event_time": at("2026-11-17 08:00:00"),
            "event_time_source": "path",
        },
        {
            "key": "whatsapp-payload",
            "event_time": at("2026-11-17 08:15:00"),
            "event_time_source": "payload",
        },
    ]


def test_an_event_without_a_time_takes_its_template_send_s_else_its_folder_s(
    tmp_path: Path, build: Any
) -> None:
    """Event time (contract §3): an accepted event or an API error (no timestamp of its own, no
    envelope) takes the time of its message's template send, else, in a day folder, the
    start of that day (and its message day is that day)."""
    archive = tmp_path / "archive"
    archive_file(
        archive,
        "dt=2026-11-17/a.jsonl",
        [
            template_send("whatsapp-k1", "2026-11-17 23:59:00"),
            accepted("whatsapp-k1", "wamid.A"),
            api_error("whatsapp-k1", 130429, "Rate limit hit"),
            accepted("whatsapp-k2", "wamid.B"),
            api_error("whatsapp-k2", 130429, "Rate limit hit"),
        ],
    )
    warehouse: Warehouse = build(archive)
    assert warehouse.rows(
        "select key, first_event_at, accepted_at, failed_at, message_day from messages order by 1"
    ) == [
        {
            "key": "whatsapp-k1",
            "first_event_at": at("2026-11-17 23:59:00"),
            "accepted_at": at("2026-11-17 23:59:00"),
            "failed_at": at("2026-11-17 23:59:00"),
            "message_day": datetime(2026, 11, 17).date(),
        },
        {
            "key": "whatsapp-k2",
            "first_event_at": at("2026-11-17 00:00:00"),
            "accepted_at": at("2026-11-17 00:00:00"),
            "failed_at": at("2026-11-17 00:00:00"),
            "message_day": datetime(2026, 11, 17).date(),
        },
    ]
    assert warehouse.rows(
        "select key, event_time_source from accepted union all "
        "select key, event_time_source from errors order by all"
    ) == [
        {"key": "whatsapp-k1", "event_time_source": "message"},
        {"key": "whatsapp-k1", "event_time_source": "message"},
        {"key": "whatsapp-k2", "event_time_source": "path"},
        {"key": "whatsapp-k2", "event_time_source": "path"},
    ]
    # an incident of errors with a folder's time is only as precise as the folder
    assert warehouse.rows(
        "select started_at, events, approximate from rate_limit_incidents order by all"
    ) == [
        {"started_at": at("2026-11-17 00:00:00"), "events": 1, "approximate": True},
        {"started_at": at("2026-11-17 23:59:00"), "events": 1, "approximate": False},
    ]


def test_outcomes_count_on_the_message_day_however_late(tmp_path: Path, build: Any) -> None:
    archive = tmp_path / "archive"
    archive_file(
        archive,
        "dt=2026-11-17/a.jsonl",
        [
            template_send("whatsapp-k1", "2026-11-17 23:59:00"),
            envelope(accepted("whatsapp-k1", "wamid.A"), "2026-11-17T23:59:01Z"),
            status("wamid.A", "sent", "2026-11-17 23:59:05", key="whatsapp-k1"),
        ],
    )
    archive_file(
        archive,
        "dt=2026-11-19/late.jsonl",
        [
            status("wamid.A", "read", "2026-11-19 08:00:00", key="whatsapp-k1"),
        ],
    )
    warehouse: Warehouse = build(archive)
    (message,) = warehouse.rows("select * from messages")
    assert message == {
        "key": "whatsapp-k1",
        "message_id": "wamid.A",
        "sender": SENDER,
        "template": "order_update",
        "language": "en_US",
        "recipient": "905551112233",
        "recipient_user_id": None,
        "message_day": datetime(2026, 11, 17).date(),
        "first_event_at": at("2026-11-17 23:59:00"),
        "accepted_at": at("2026-11-17 23:59:01"),
        "sent_at": at("2026-11-17 23:59:05"),
        # read implies delivered: Meta may skip the delivered report
        "delivered_at": at("2026-11-19 08:00:00"),
        "read_at": at("2026-11-19 08:00:00"),
        "failed_at": None,
        "first_error_code": None,
        "final_status": "read",
        "replied": False,
        "first_reply_at": None,
        "report_missing": False,
        # a Turkish number; its statuses carry no pricing: not billable, nothing charged
        "recipient_country": "TR",
        "market": "Turkey",
        "pricing_model": None,
        "pricing_category": None,
        "conversation_id": None,
        "billable": False,
        "cost": Decimal(0),
    }


def test_messages_built_part_by_part_are_the_messages_built_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    write_sample(archive, SampleSpec(messages=300, days=2, seed=3))
    at_once = warehouse_of(archive, tmp_path / "at-once")
    # about 100 events a part under the 800 MB limit: the sample's 1,300 make a dozen parts
    monkeypatch.setattr(lifecycle, "BUCKET_BYTES_PER_EVENT", 8_000_000)
    parts: list[str] = []
    monkeypatch.setattr(
        lifecycle,
        "run_query_into",
        lambda connection, name, table, *, append: (
            parts.append(table),
            run_query_into(connection, name, table, append=append),
        ),
    )
    by_parts = warehouse_of(archive, tmp_path / "by-parts")
    assert parts.count("message_lifecycle") >= 10
    for table in ("messages", "statuses", "replies", "delivery_daily", "error_breakdown"):
        query = f"select * from {table} order by all"
        assert by_parts.rows(query) == at_once.rows(query)
        assert at_once.rows(query)
