"""Message outcomes and the metric tables (contract §4 and §5), one small hand-built archive per
rule, the expected numbers worked out by hand next to each."""

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Warehouse, archive_file
from tests.payloads import (
    SENDER,
    accepted,
    api_error,
    at,
    envelope,
    failure,
    iso,
    reply,
    status,
    template_send,
)

DAY = date(2026, 11, 17)
FOLDER = f"sender={SENDER}/dt=2026-11-17/hour=10"


def message(
    key: str,
    wamid: str,
    sent: str,
    *later: tuple[str, str],
    template: str = "t",
    recipient: str = "905551112233",
) -> list[dict[str, Any]]:
    """A template send at `sent` (minus 2 s), its accepted event, and statuses at given times."""
    minute, second = int(sent[14:16]), int(sent[17:19])
    send_time = f"{sent[:14]}{minute:02d}:{max(second - 2, 0):02d}"
    lines = [
        template_send(key, send_time, template, recipient),
        envelope(accepted(key, wamid, recipient), iso(send_time)),
    ]
    return lines + [
        status(wamid, state, moment, key, recipient=recipient) for state, moment in later
    ]


def daily(warehouse: Warehouse, template: str, day: date = DAY) -> dict[str, Any]:
    (row,) = warehouse.rows(
        "select * exclude (day, sender, template) from delivery_daily where template = $t and day = $d",
        {"t": template, "d": day},
    )
    return row


def counts(row: dict[str, Any]) -> tuple[int, ...]:
    names = (
        "attempted",
        "accepted",
        "sent",
        "delivered",
        "read",
        "failed",
        "replied",
        "report_missing",
    )
    return tuple(row[name] for name in names)


def test_a_later_status_implies_the_earlier_ones(tmp_path: Path, build: Any) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            # delivered without a sent report: sent is implied; it takes 0 s to deliver
            *message(
                "k1",
                "w1",
                "2026-11-17 10:00:03",
                ("delivered", "2026-11-17 10:00:05"),
                template="implied",
            ),
            # read at once without a delivered report: delivered is implied, at the read
            *message(
                "k2",
                "w2",
                "2026-11-17 10:00:03",
                ("sent", "2026-11-17 10:00:03"),
                ("read", "2026-11-17 10:02:03"),
                template="read",
            ),
            # only a read report: it implies both sent and delivered
            *message(
                "k0",
                "w0",
                "2026-11-17 10:00:03",
                ("read", "2026-11-17 10:01:00"),
                template="only_read",
            ),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    implied = daily(warehouse, "implied")
    assert counts(implied) == (1, 1, 1, 1, 0, 0, 0, 0)
    assert (implied["delivery_rate"], implied["read_rate"], implied["failure_rate"]) == (
        1.0,
        0.0,
        0.0,
    )
    assert (implied["p50_delivery_s"], implied["p95_delivery_s"]) == (0.0, 0.0)
    read = daily(warehouse, "read")
    assert counts(read) == (1, 1, 1, 1, 1, 0, 0, 0)
    assert (read["delivery_rate"], read["read_rate"], read["p50_delivery_s"]) == (1.0, 1.0, 120.0)
    assert warehouse.rows(
        "select key, final_status, delivered_at = read_at as same from messages where key = 'k2'"
    ) == [{"key": "k2", "final_status": "read", "same": True}]
    only_read = daily(warehouse, "only_read")
    assert counts(only_read) == (1, 1, 1, 1, 1, 0, 0, 0)
    assert (only_read["delivery_rate"], only_read["read_rate"], only_read["p50_delivery_s"]) == (
        1.0,
        1.0,
        0.0,
    )


def test_a_failure_after_sent_and_a_sync_error_without_wamid(tmp_path: Path, build: Any) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            *message(
                "k3",
                "w3",
                "2026-11-17 10:00:03",
                ("sent", "2026-11-17 10:00:03"),
                template="after_sent",
            ),
            status(
                "w3",
                "failed",
                "2026-11-17 10:00:30",
                "k3",
                errors=[failure(131026, "Message undeliverable")],
            ),
            template_send("k4", "2026-11-17 10:00:00", "sync"),
            envelope(
                api_error("k4", 130429, "(#130429) Rate limit hit"), iso("2026-11-17 10:00:01")
            ),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    after = daily(warehouse, "after_sent")
    assert counts(after) == (1, 1, 1, 0, 0, 1, 0, 0)
    assert (
        after["delivery_rate"],
        after["failure_rate"],
        after["read_rate"],
        after["reply_rate"],
        after["p50_delivery_s"],
    ) == (0.0, 1.0, None, None, None)
    sync = daily(warehouse, "sync")
    assert counts(sync) == (1, 0, 0, 0, 0, 1, 0, 0)
    assert (sync["delivery_rate"], sync["failure_rate"]) == (None, 1.0)
    assert warehouse.rows(
        "select key, message_id, sender, final_status, first_error_code, failed_at from messages order by key"
    ) == [
        {
            "key": "k3",
            "message_id": "w3",
            "sender": SENDER,
            "final_status": "failed",
            "first_error_code": 131026,
            "failed_at": at("2026-11-17 10:00:30"),
        },
        {
            "key": "k4",
            "message_id": None,
            "sender": SENDER,
            "final_status": "failed",
            "first_error_code": 130429,
            "failed_at": at("2026-11-17 10:00:01"),
        },
    ]
    assert warehouse.rows(
        "select template, code, title, category, events, messages, share_of_failed from error_breakdown order by code"
    ) == [
        {
            "template": "sync",
            "code": 130429,
            # the title without the message's "(#code) " prefix
            "title": "Rate limit hit",
            "category": "rate_limit",
            "events": 1,
            "messages": 1,
            "share_of_failed": 1.0,
        },
        {
            "template": "after_sent",
            "code": 131026,
            "title": "Message undeliverable",
            "category": "recipient",
            "events": 1,
            "messages": 1,
            "share_of_failed": 1.0,
        },
    ]


def test_a_keyless_status_and_duplicate_statuses_count_once(tmp_path: Path, build: Any) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            *message("k5", "w5", "2026-11-17 10:00:03", template="keyless"),
            status("w5", "delivered", "2026-11-17 10:00:09"),  # no key
            status("w5", "sent", "2026-11-17 10:00:04", "k5"),
        ],
    )
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/b.jsonl",
        [status("w5", "delivered", "2026-11-17 10:00:09", "k5")],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert counts(daily(warehouse, "keyless")) == (1, 1, 1, 1, 0, 0, 0, 0)
    assert daily(warehouse, "keyless")["p50_delivery_s"] == 5.0
    assert warehouse.rows("select status, key from statuses order by status") == [
        {"status": "delivered", "key": "k5"},
        {"status": "sent", "key": "k5"},
    ]


def test_a_late_read_counts_on_the_message_day(tmp_path: Path, build: Any) -> None:
    archive_file(
        tmp_path / "a",
        f"sender={SENDER}/dt=2026-11-17/hour=23/a.jsonl",
        message(
            "k7",
            "w7",
            "2026-11-17 23:50:03",
            ("sent", "2026-11-17 23:50:03"),
            ("delivered", "2026-11-17 23:50:05"),
            template="late",
        ),
    )
    archive_file(
        tmp_path / "a",
        f"sender={SENDER}/dt=2026-11-18/hour=09/a.jsonl",
        [status("w7", "read", "2026-11-18 09:00:00", "k7")],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert counts(daily(warehouse, "late")) == (1, 1, 1, 1, 1, 0, 0, 0)
    assert warehouse.value("select count(*) from delivery_daily where day = '2026-11-18'") == 0


def test_replies_with_context_and_by_the_24_hour_rule(tmp_path: Path, build: Any) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            *message(
                "k8c",
                "w8c",
                "2026-11-17 09:00:03",
                ("delivered", "2026-11-17 09:00:05"),
                template="reply",
            ),
            *message(
                "k8a",
                "w8a",
                "2026-11-17 10:00:03",
                ("delivered", "2026-11-17 10:00:05"),
                template="reply",
            ),
            *message(
                "k8b",
                "w8b",
                "2026-11-17 11:00:03",
                ("delivered", "2026-11-17 11:00:05"),
                template="reply",
            ),
            # with context: the message it quotes, although another was sent since
            reply("in1", "2026-11-17 12:00:00", context="w8a"),
            # without context: the latest message to the same customer in the 24 hours before
            reply("in2", "2026-11-17 12:30:00"),
            # with the context of a message not in the archive: no message
            reply("in3", "2026-11-17 12:40:00", context="wamid.UNKNOWN"),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert warehouse.rows("select key, replied, first_reply_at from messages order by key") == [
        {"key": "k8a", "replied": True, "first_reply_at": at("2026-11-17 12:00:00")},
        {"key": "k8b", "replied": True, "first_reply_at": at("2026-11-17 12:30:00")},
        {"key": "k8c", "replied": False, "first_reply_at": None},
    ]
    row = daily(warehouse, "reply")
    assert counts(row) == (3, 3, 3, 3, 0, 0, 2, 0)
    assert row["reply_rate"] == pytest.approx(2 / 3)


def test_the_24_hour_window_includes_its_end_and_not_a_second_more(
    tmp_path: Path, build: Any
) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            *message(
                "k9e",
                "w9e",
                "2026-11-17 10:00:02",
                ("delivered", "2026-11-17 10:00:05"),
                template="edge",
                recipient="905550000001",
            ),
            *message(
                "k9f",
                "w9f",
                "2026-11-17 12:00:02",
                ("delivered", "2026-11-17 12:00:05"),
                template="edge",
                recipient="905550000002",
            ),
            # the first events are the template sends, at 10:00:00 and 12:00:00
            reply("in-e", "2026-11-18 10:00:00", customer="905550000001"),
            reply("in-f", "2026-11-18 12:00:01", customer="905550000002"),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert warehouse.rows("select key, first_event_at, replied from messages order by key") == [
        {"key": "k9e", "first_event_at": at("2026-11-17 10:00:00"), "replied": True},
        {"key": "k9f", "first_event_at": at("2026-11-17 12:00:00"), "replied": False},
    ]


def test_report_missing_after_more_than_24_hours_without_a_report(
    tmp_path: Path, build: Any
) -> None:
    archive_file(
        tmp_path / "a",
        f"sender={SENDER}/dt=2026-11-18/a.jsonl",
        [
            *message(
                "kg",
                "wg",
                "2026-11-18 23:59:59",
                ("sent", "2026-11-18 23:59:59"),
                template="missing",
            ),
            *message(
                "kj",
                "wj",
                "2026-11-18 20:00:03",
                ("sent", "2026-11-18 20:00:03"),
                ("delivered", "2026-11-18 20:00:04"),
                template="missing",
            ),
        ],
    )
    archive_file(
        tmp_path / "a",
        f"sender={SENDER}/dt=2026-11-19/a.jsonl",
        [
            *message(
                "kh",
                "wh",
                "2026-11-19 00:00:02",
                ("sent", "2026-11-19 00:00:00"),
                template="missing",
            ),
            *message(
                "ki",
                "wi",
                "2026-11-19 01:00:03",
                ("sent", "2026-11-19 01:00:03"),
                template="missing",
            ),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a", as_of=at("2026-11-20 00:00:00"))
    # as_of - sent_at: kg 24h + 1 s; kh exactly 24 h; ki 23 h; kj was delivered
    assert warehouse.rows("select key, report_missing from messages order by key") == [
        {"key": "kg", "report_missing": True},
        {"key": "kh", "report_missing": False},
        {"key": "ki", "report_missing": False},
        {"key": "kj", "report_missing": False},
    ]
    assert daily(warehouse, "missing", date(2026, 11, 18))["report_missing"] == 1
    assert daily(warehouse, "missing", date(2026, 11, 19))["report_missing"] == 0


def test_delivery_percentiles_are_continuous(tmp_path: Path, build: Any) -> None:
    lines = [
        line
        for n, seconds in enumerate((2, 4, 10))
        for line in message(
            f"kp{n}",
            f"wp{n}",
            "2026-11-17 10:00:03",
            ("sent", "2026-11-17 10:00:10"),
            ("delivered", f"2026-11-17 10:00:{10 + seconds}"),
            template="pct",
        )
    ]
    archive_file(tmp_path / "a", f"{FOLDER}/a.jsonl", lines)
    warehouse: Warehouse = build(tmp_path / "a")
    row = daily(warehouse, "pct")
    # sorted 2, 4, 10: the median is 4; the 95th percentile lies at 0.95 * 2 = 1.9: 4 + 0.9 * 6
    assert (row["p50_delivery_s"], row["p95_delivery_s"]) == (4.0, pytest.approx(9.4))


def test_error_breakdown_titles_and_shares(tmp_path: Path, build: Any) -> None:
    def failed(key: str, wamid: str, *errors: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            *message(key, wamid, "2026-11-17 10:00:03", template="errs"),
            status(wamid, "failed", "2026-11-17 10:01:00", key, errors=list(errors)),
        ]

    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            *failed("m1", "w1", failure(131026, "Message undeliverable"), failure(131049, "b")),
            *failed(
                "m2",
                "w2",
                failure(131026, "Undeliverable"),
                failure(131047, "Re-engagement message"),
                failure(131049, "a"),
            ),
            *failed("m3", "w3", failure(131026, "Message undeliverable")),
            *message(
                "m4",
                "w4",
                "2026-11-17 10:00:03",
                ("delivered", "2026-11-17 10:00:05"),
                template="errs",
            ),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert warehouse.rows(
        "select code, title, events, messages, share_of_failed from error_breakdown order by code"
    ) == [
        {
            "code": 131026,
            "title": "Message undeliverable",
            "events": 3,
            "messages": 3,
            "share_of_failed": 1.0,
        },
        {
            "code": 131047,
            "title": "Re-engagement message",
            "events": 1,
            "messages": 1,
            "share_of_failed": pytest.approx(1 / 3),
        },
        # two titles once each: the first alphabetically
        {
            "code": 131049,
            "title": "a",
            "events": 2,
            "messages": 2,
            "share_of_failed": pytest.approx(2 / 3),
        },
    ]


def incident_id(sender: str, started: str) -> str:
    return "rl-" + hashlib.md5(f"{sender}|{started}".encode()).hexdigest()[:16]


def test_rate_limit_incidents_split_by_a_gap_of_five_minutes_and_a_second(
    tmp_path: Path, build: Any
) -> None:
    archive_file(
        tmp_path / "a",
        f"{FOLDER}/a.jsonl",
        [
            template_send("ra", "2026-11-17 09:59:00", "t1"),
            template_send("rb", "2026-11-17 10:04:00", "t2"),
            envelope(api_error("ra", 130429), iso("2026-11-17 10:00:00")),
            envelope(
                api_error("rb", 130429), iso("2026-11-17 10:05:00")
            ),  # 300 s later: the same incident
            envelope(api_error("rc", 130429), iso("2026-11-17 10:10:01")),  # 301 s later: a new one
            envelope(api_error("rc", 131056), iso("2026-11-17 10:10:30")),
            envelope(api_error("rd", 131026), iso("2026-11-17 10:10:40")),  # not a rate limit
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert warehouse.rows("select * from rate_limit_incidents order by started_at") == [
        {
            "incident_id": incident_id(SENDER, "2026-11-17T10:00:00.000000Z"),
            "sender": SENDER,
            "started_at": at("2026-11-17 10:00:00"),
            "ended_at": at("2026-11-17 10:05:00"),
            "duration_s": 300.0,
            "events": 2,
            "messages": 2,
            "codes": [130429],
            "templates": ["t1", "t2"],
            "peak_events_per_minute": 1,
            "approximate": False,
        },
        {
            "incident_id": incident_id(SENDER, "2026-11-17T10:10:01.000000Z"),
            "sender": SENDER,
            "started_at": at("2026-11-17 10:10:01"),
            "ended_at": at("2026-11-17 10:10:30"),
            "duration_s": 29.0,
            "events": 2,
            "messages": 1,
            "codes": [130429, 131056],
            "templates": [],
            "peak_events_per_minute": 2,
            "approximate": False,
        },
    ]
    rebuilt: Warehouse = build(tmp_path / "a")
    assert rebuilt.rows(
        "select incident_id from rate_limit_incidents order by 1"
    ) == warehouse.rows("select incident_id from rate_limit_incidents order by 1")


def test_an_on_premise_429_is_a_rate_limit_incident_of_the_path_sender(
    tmp_path: Path, build: Any
) -> None:
    on_premise = {
        "errors": [{"code": 429, "title": "Rate limit exceeded", "details": "Too many requests"}],
        "key": "k12",
    }
    archive_file(
        tmp_path / "a",
        "sender=4930000000004/dt=2026-11-17/hour=11/a.jsonl",
        [
            envelope(on_premise, iso("2026-11-17 11:00:10")),
            envelope(
                on_premise
                | {"errors": [{"code": 429, "title": "Rate limit exceeded", "details": "again"}]},
                iso("2026-11-17 11:01:00"),
            ),
        ],
    )
    warehouse: Warehouse = build(tmp_path / "a")
    assert warehouse.rows(
        "select sender, events, messages, codes, duration_s from rate_limit_incidents"
    ) == [
        {"sender": "4930000000004", "events": 2, "messages": 1, "codes": [429], "duration_s": 50.0}
    ]
    assert warehouse.rows(
        "select sender, template, code, title, category, is_rate_limit, retryable, events, messages, share_of_failed from error_breakdown"
    ) == [
        {
            "sender": "4930000000004",
            "template": None,
            "code": 429,
            "title": "Rate limit exceeded",
            "category": "rate_limit",
            "is_rate_limit": True,
            "retryable": True,
            "events": 2,
            "messages": 1,
            "share_of_failed": 1.0,
        }
    ]
    assert warehouse.rows("select key, final_status from messages") == [
        {"key": "k12", "final_status": "failed"}
    ]
