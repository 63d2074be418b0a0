"""The bundled sample's metrics recomputed in plain Python from the raw tables, following
the contract's §3 to §5 independently of the SQL models: every row must match exactly; and
the event times of API errors and accepted events recomputed from the archive's own lines."""

import csv
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from flows.settings import DEFAULT_SOURCE
from tests.conftest import Warehouse, warehouse_of
from tests.payloads import at
from transforms.contract.pricing import MARKETS, RATE_CARD
from transforms.source.discover import ArchiveFile, local_listing
from transforms.source.read import local_blocks

AS_OF = at("2026-11-19 12:00:00")
DAY = timedelta(hours=24)
GAP = timedelta(seconds=300)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    warehouse = warehouse_of(Path(DEFAULT_SOURCE), tmp_path_factory.mktemp("oracle"), as_of=AS_OF)
    yield warehouse
    warehouse.close()


def ref(key: str | None, message_id: str | None) -> str | None:
    return key if key is not None else (f"wamid:{message_id}" if message_id is not None else None)


@dataclass
class Message:
    events: list[dict[str, Any]] = field(default_factory=list)

    def first(self, kinds: set[str], statuses: set[str] | None = None) -> datetime | None:
        times = [
            event["event_time"]
            for event in self.events
            if event["kind"] in kinds and (statuses is None or event["status"] in statuses)
        ]
        return min(times, default=None)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (row["event_time"], row["source_file"], row["line_no"]))


def oracle_messages(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    events = (
        [
            {**row, "kind": "template_send", "message_id": None, "status": None, "code": None}
            for row in warehouse.rows(
                "select key, recipient, recipient_country, sender, template, event_time, source_file, line_no from template_sends"
            )
        ]
        + [
            {**row, "kind": "accepted", "status": None, "code": None}
            for row in warehouse.rows(
                "select key, message_id, recipient, recipient_country, sender, event_time, source_file, line_no from accepted"
            )
        ]
        + [
            {**row, "kind": "status", "code": None}
            for row in warehouse.rows(
                "select key, message_id, status, recipient, recipient_country, sender, event_time, source_file, line_no, billable, pricing_model, pricing_category, pricing_type, conversation_id from statuses where status_type is null or status_type = 'message'"
            )
        ]
        + [
            {**row, "kind": row["source"], "recipient": None, "recipient_country": None}
            for row in warehouse.rows(
                "select source, key, message_id, status, code, sender, event_time, source_file, line_no from errors where source in ('api_error', 'status')"
            )
        ]
    )
    messages: dict[str, Message] = defaultdict(Message)
    for event in _ordered(events):
        identity = ref(event["key"], event["message_id"])
        if identity is not None:
            messages[identity].events.append(event)
    templates: dict[str, str] = {}
    for event in _ordered([event for event in events if event["kind"] == "template_send"]):
        if event["key"] is not None:
            templates.setdefault(event["key"], event["template"])
    result = {}
    for identity, message in messages.items():
        ordered = message.events
        recipients = [
            (event["recipient"], event["recipient_country"])
            for event in ordered
            if event["recipient"] and event["kind"] != "template_send"
        ]
        recipients += [
            (event["recipient"], event["recipient_country"])
            for event in ordered
            if event["recipient"] and event["kind"] == "template_send"
        ]
        # contract §8: the first status with a pricing object, by time, then sent < delivered
        # < read, then file and line
        rank = {"sent": 0, "delivered": 1, "read": 2}
        priced = sorted(
            (
                event
                for event in ordered
                if event["kind"] == "status"
                and any(
                    event.get(name) is not None
                    for name in ("billable", "pricing_model", "pricing_category", "pricing_type")
                )
            ),
            key=lambda event: (
                event["event_time"],
                rank.get(event["status"], 3),
                event["source_file"],
                event["line_no"],
            ),
        )
        pricing = priced[0] if priced else None
        sent = message.first({"status"}, {"sent", "delivered", "read"})
        delivered = message.first({"status"}, {"delivered", "read"})
        failed = min(
            [
                time
                for time in (message.first({"status"}, {"failed"}), message.first({"api_error"}))
                if time
            ],
            default=None,
        )
        key = next((event["key"] for event in ordered if event["key"]), None)
        result[identity] = {
            "key": key,
            "message_id": next(
                (event["message_id"] for event in ordered if event["message_id"]), None
            ),
            "sender": next((event["sender"] for event in ordered if event["sender"]), None),
            "template": templates.get(key) if key else None,
            "recipient": recipients[0][0] if recipients else None,
            "recipient_country": recipients[0][1] if recipients else None,
            "pricing_model": pricing["pricing_model"] if pricing else None,
            "pricing_category": pricing["pricing_category"] if pricing else None,
            "conversation_id": pricing["conversation_id"] if pricing else None,
            "billable": bool(
                pricing and (pricing["billable"] or pricing["pricing_type"] == "regular")
            ),
            "first_event_at": ordered[0]["event_time"],
            "accepted_at": message.first({"accepted", "status"}),
            "sent_at": sent,
            "delivered_at": delivered,
            "read_at": message.first({"status"}, {"read"}),
            "failed_at": failed,
            "first_error_code": next(
                (event["code"] for event in ordered if event["code"] is not None), None
            ),
        }
    return result


def attribute_replies(
    warehouse: Warehouse, messages: dict[str, dict[str, Any]]
) -> dict[str, datetime]:
    """The first reply of each message a reply is attributed to (contract §4 replied)."""
    by_wamid = {
        message["message_id"]: identity
        for identity, message in messages.items()
        if message["message_id"]
    }
    first_reply: dict[str, datetime] = {}
    for reply in warehouse.rows(
        "select reply_id, sender, customer, context_id, event_time from replies"
    ):
        if reply["context_id"] is not None:
            identity = by_wamid.get(reply["context_id"])
        else:
            candidates = [
                (message["first_event_at"], identity)
                for identity, message in messages.items()
                if message["sender"] == reply["sender"]
                and message["recipient"] == reply["customer"]
                and reply["event_time"] - DAY <= message["first_event_at"] <= reply["event_time"]
            ]
            identity = max(candidates)[1] if candidates else None
        if identity is not None:
            first_reply[identity] = min(
                first_reply.get(identity, reply["event_time"]), reply["event_time"]
            )
    return first_reply


def continuous_quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def count(rows: list[dict[str, Any]], name: str) -> int:
    """How many rows have a `name`."""
    return sum(row[name] is not None for row in rows)


def ratio(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


def test_messages_match_the_oracle(sample: Warehouse) -> None:
    expected = oracle_messages(sample)
    replies = attribute_replies(sample, expected)
    actual = {
        ref(row["key"], row["message_id"]): row for row in sample.rows("select * from messages")
    }
    assert set(actual) == set(expected)
    assert len(actual) == 2144
    for identity, message in expected.items():
        row = actual[identity]
        assert {name: row[name] for name in message} == message, identity
        assert row["message_day"] == message["first_event_at"].date()
        assert row["replied"] is (identity in replies)
        assert row["first_reply_at"] == replies.get(identity)
        report_missing = bool(
            message["sent_at"]
            and not message["delivered_at"]
            and not message["failed_at"]
            and AS_OF - message["sent_at"] > DAY
        )
        assert row["report_missing"] is report_missing, identity
        final = next(
            status
            for status, time in (
                ("read", message["read_at"]),
                ("delivered", message["delivered_at"]),
                ("failed", message["failed_at"]),
                ("sent", message["sent_at"]),
                ("accepted", message["accepted_at"]),
                ("attempted", message["first_event_at"]),
            )
            if time is not None
        )
        assert row["final_status"] == final
    assert sum(row["replied"] for row in actual.values()) > 50
    assert sum(row["report_missing"] for row in actual.values()) > 50


def test_delivery_daily_matches_the_oracle(sample: Warehouse) -> None:
    groups: dict[tuple[date, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in sample.rows("select * from messages"):
        groups[(row["message_day"], row["sender"], row["template"])].append(row)
    expected = {}
    for group, rows in groups.items():
        sent, delivered, attempted = count(rows, "sent_at"), count(rows, "delivered_at"), len(rows)
        times = [
            (row["delivered_at"] - row["sent_at"]).total_seconds()
            for row in rows
            if row["delivered_at"] and row["sent_at"]
        ]
        replied = sum(row["replied"] for row in rows)
        expected[group] = {
            "attempted": attempted,
            "accepted": count(rows, "accepted_at"),
            "sent": sent,
            "delivered": delivered,
            "read": count(rows, "read_at"),
            "failed": count(rows, "failed_at"),
            "replied": replied,
            "report_missing": sum(row["report_missing"] for row in rows),
            "delivery_rate": ratio(delivered, sent),
            "read_rate": ratio(count(rows, "read_at"), delivered),
            "failure_rate": ratio(count(rows, "failed_at"), attempted),
            "reply_rate": ratio(replied, delivered),
            "p50_delivery_s": continuous_quantile(times, 0.5),
            "p95_delivery_s": continuous_quantile(times, 0.95),
            "billable": sum(row["billable"] for row in rows),
            "cost": sum((row["cost"] or 0 for row in rows), Decimal(0)),
        }
    actual = {
        (row.pop("day"), row.pop("sender"), row.pop("template")): row
        for row in sample.rows("select * from delivery_daily")
    }
    assert actual.keys() == expected.keys()
    for group, row in expected.items():
        assert actual[group] == pytest.approx(row), group


def oracle_costs(messages: dict[str, dict[str, Any]]) -> dict[str, tuple[str | None, Any]]:
    """Each message's market and cost (contract §8), from the shipped rate card and market
    map read with the csv module."""
    with MARKETS.open(encoding="utf-8") as lines:
        markets = {row["country"]: row["market"] for row in csv.DictReader(lines)}
    rates: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    with RATE_CARD.open(encoding="utf-8") as lines:
        for row in csv.DictReader(lines):
            rates[(row["market"], row["pricing_category"])].append(
                (date.fromisoformat(row["effective_from"]), Decimal(row["rate_usd"]))
            )
    openers = {}
    for identity, message in sorted(messages.items()):
        if (
            message["pricing_model"] == "CBP"
            and message["billable"]
            and message["delivered_at"]
            and message["conversation_id"]
        ):
            conversation = message["conversation_id"]
            if (
                conversation not in openers
                or message["delivered_at"] < messages[openers[conversation]]["delivered_at"]
            ):
                openers[conversation] = identity
    costs = {}
    for identity, message in messages.items():
        country = message["recipient_country"]
        market = markets.get(country, "Other") if country else None
        charged = (
            message["billable"]
            and message["delivered_at"] is not None
            and (
                message["pricing_model"] != "CBP"
                or message["conversation_id"] is None
                or openers.get(message["conversation_id"]) == identity
            )
        )
        in_force = (
            [
                rate
                for since, rate in sorted(rates.get((market, message["pricing_category"]), []))
                if market and since <= message["delivered_at"].date()
            ]
            if charged
            else []
        )
        costs[identity] = (market, (in_force[-1] if in_force else None) if charged else Decimal(0))
    return costs


def test_costs_match_the_oracle(sample: Warehouse) -> None:
    messages = oracle_messages(sample)
    expected = oracle_costs(messages)
    actual = {
        ref(row["key"], row["message_id"]): (row["market"], row["cost"])
        for row in sample.rows("select key, message_id, market, cost from messages")
    }
    assert actual == expected
    # the sample prices per message, and one sender per conversation: some conversations
    # hold several messages, only one of which is charged
    conversations = Counter(
        message["conversation_id"] for message in messages.values() if message["conversation_id"]
    )
    assert max(conversations.values()) > 1
    assert {market for market, _ in expected.values()} == {
        "Turkey",
        "India",
        "Brazil",
        "Germany",
        None,
    }
    assert sum(1 for _, cost in expected.values() if cost) > 500
    groups: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for row in sample.rows("select * from messages"):
        group = (
            row["message_day"],
            row["sender"],
            row["template"],
            row["market"],
            row["pricing_category"],
        )
        groups[group] += row["cost"] or 0
    daily = {
        (row["day"], row["sender"], row["template"], row["market"], row["pricing_category"]): row[
            "cost"
        ]
        for row in sample.rows("select * from cost_daily")
    }
    assert daily == dict(groups)


def test_error_breakdown_matches_the_oracle(sample: Warehouse) -> None:
    templates = {
        ref(row["key"], row["message_id"]): row["template"]
        for row in sample.rows("select key, message_id, template from messages")
    }
    catalogue = {
        row["code"]: row["title"] for row in sample.rows("select code, title from error_codes")
    }
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    erring: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in sample.rows("select * from errors"):
        identity = ref(row["key"], row["message_id"])
        group = (row["event_time"].date(), row["sender"], templates.get(identity))
        groups[(*group, row["code"])].append({**row, "ref": identity})
        if identity is not None:
            erring[group].add(identity)
    expected = {}
    for (day, sender, template, code), rows in groups.items():
        titles = Counter(row["title"] for row in rows if row["title"])
        title = (
            min(titles, key=lambda text: (-titles[text], text)) if titles else catalogue.get(code)
        )
        messages = len({row["ref"] for row in rows if row["ref"] is not None})
        expected[(day, sender, template, code)] = {
            "title": title,
            "category": rows[0]["category"],
            "is_rate_limit": rows[0]["is_rate_limit"],
            "retryable": rows[0]["retryable"],
            "events": len(rows),
            "messages": messages,
            "share_of_failed": ratio(messages, len(erring[(day, sender, template)])),
        }
    actual = {
        (row.pop("day"), row.pop("sender"), row.pop("template"), row.pop("code")): row
        for row in sample.rows("select * from error_breakdown")
    }
    assert actual.keys() == expected.keys()
    for group, row in expected.items():
        assert actual[group] == pytest.approx(row), group


def test_rate_limit_incidents_match_the_oracle(sample: Warehouse) -> None:
    templates = {
        ref(row["key"], row["message_id"]): row["template"]
        for row in sample.rows("select key, message_id, template from messages")
    }
    by_sender: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in _ordered(sample.rows("select * from errors where is_rate_limit")):
        by_sender[row["sender"]].append(row)
    expected = []
    for sender, rows in by_sender.items():
        incidents: list[list[dict[str, Any]]] = []
        for row in rows:
            if incidents and row["event_time"] - incidents[-1][-1]["event_time"] <= GAP:
                incidents[-1].append(row)
            else:
                incidents.append([row])
        for incident in incidents:
            started, ended = incident[0]["event_time"], incident[-1]["event_time"]
            refs = {ref(row["key"], row["message_id"]) for row in incident} - {None}
            minutes = Counter(
                row["event_time"].replace(second=0, microsecond=0) for row in incident
            )
            stamp = started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            expected.append(
                {
                    "incident_id": "rl-"
                    + hashlib.md5(f"{sender or ''}|{stamp}".encode()).hexdigest()[:16],
                    "sender": sender,
                    "started_at": started,
                    "ended_at": ended,
                    "duration_s": (ended - started).total_seconds(),
                    "events": len(incident),
                    "messages": len(refs),
                    "codes": sorted({row["code"] for row in incident}),
                    "templates": sorted(
                        {templates[identity] for identity in refs if templates.get(identity)}
                    ),
                    "peak_events_per_minute": max(minutes.values()),
                    "approximate": any(
                        row["event_time_source"] in ("path", "file") for row in incident
                    ),
                }
            )
    actual = sample.rows("select * from rate_limit_incidents")
    key = lambda row: (row["sender"] or "", row["started_at"])  # noqa: E731
    assert sorted(actual, key=key) == sorted(expected, key=key)
    assert len(actual) > 20


def _lines(file: ArchiveFile) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of an archive file with their line numbers (the others left out)."""
    data = b"".join(local_blocks(file))
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        try:
            parsed = orjson.loads(raw.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            yield line_no, parsed


def _time_of(value: Any) -> datetime | None:
    if value is None:
        return None
    text = str(value)
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def oracle_untimed_event_times() -> dict[tuple[str, int], tuple[datetime, str]]:
    """The time of each API error and accepted event line of the sample, by the contract's
    rule, from the archive itself: the envelope's received_at, else the earliest time of a
    template send of the same key (its own timestamp, else its envelope's), else the path's
    hour or day, else the file's time."""
    sends: dict[str, datetime] = {}
    untimed: list[tuple[str, int, str | None, datetime | None, ArchiveFile]] = []
    for file in local_listing(Path(DEFAULT_SOURCE)).files:
        for line_no, line in _lines(file):
            body = line.get("payload") or line.get("body") or line
            received = _time_of(line.get("received_at"))
            if "template" in body and body.get("key"):
                sent = _time_of(body.get("timestamp")) or received
                if sent is not None:
                    sends[body["key"]] = min(sends.get(body["key"], sent), sent)
            messages = body.get("messages") or []
            is_accepted = bool(messages) and "entry" not in body and "from" not in messages[0]
            if ("error" in body or "errors" in body or is_accepted) and "entry" not in body:
                untimed.append((file.uri, line_no, body.get("key"), received, file))
    expected = {}
    for uri, line_no, key, received, file in untimed:
        if received is not None:
            expected[(uri, line_no)] = (received, "envelope")
        elif key in sends:
            expected[(uri, line_no)] = (sends[key], "message")
        elif file.hints.arrival_time is not None:
            expected[(uri, line_no)] = (file.hints.arrival_time, "path")
        else:
            expected[(uri, line_no)] = (file.modified_at, "file")
    return expected


def test_api_errors_and_accepted_events_take_their_message_s_time(sample: Warehouse) -> None:
    expected = oracle_untimed_event_times()
    rows = sample.rows(
        "select source_file, line_no, event_time, event_time_source from errors"
        " where source = 'api_error'"
        " union all select source_file, line_no, event_time, event_time_source from accepted"
    )
    actual = {
        (row["source_file"], row["line_no"]): (row["event_time"], row["event_time_source"])
        for row in rows
    }
    assert actual == {place: expected[place] for place in actual}
    sources = Counter(source for _, source in actual.values())
    # the sample has both: errors without an envelope whose message gives the time
    assert sources["message"] > 100 and sources["envelope"] > 100
