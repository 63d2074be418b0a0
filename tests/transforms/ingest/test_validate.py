"""Pydantic judges the lines the bulk path cannot read: reasons that say what and where,
without quoting the values."""

import orjson
import pytest

from transforms.ingest.validate import Accepted, Rejected, verdict, webhook_keys


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not valid UTF-8 (byte 1)"),
        (b"{", "not JSON: EOF while parsing an object at line 1 column 1"),
        (b"null", "not a JSON object but a JSON null"),
        (b"3.5", "not a JSON object but a JSON number"),
        (b"true", "not a JSON object but a JSON boolean"),
        (b'{"payload": [1]}', "invalid event: payload: Input should be a valid dictionary"),
        (b'{"statuses": [{"id": "w"}]}', "invalid event: statuses[0].status: Field required"),
        (
            b'{"messages": [{"id": "w", "timestamp": 1.5}]}',
            "invalid event: messages[0].timestamp: Value error, expected unix seconds (up to 12 digits), got float",
        ),
        (
            b'{"entry": [{"changes": {"value": {}}}]}',
            "invalid event: entry[0].changes: Input should be a valid list",
        ),
    ],
)
def test_reasons(raw: bytes, reason: str) -> None:
    assert verdict(raw) == Rejected(reason)


def test_a_cut_line_at_the_end_of_a_file_says_so() -> None:
    judged = verdict(b'{"entry": [', unterminated=True)
    assert judged == Rejected(
        "truncated: the file ends inside this line (not JSON: EOF while parsing a list at line 1 column 11)"
    )


def test_reasons_never_quote_the_values() -> None:
    secret = "905551234567-private-text"
    lines = [
        orjson.dumps({"statuses": [{"id": "w", "status": "sent", "timestamp": secret}]}),
        orjson.dumps({"error": {"code": secret}}),
        orjson.dumps({"received_at": secret, "payload": {}}),
        orjson.dumps({"entry": secret}),
        orjson.dumps({"template": {"name": None, "content": secret}}),
    ]
    for raw in lines:
        judged = verdict(raw)
        assert isinstance(judged, Rejected)
        assert secret not in judged.reason and "905551234567" not in judged.reason


def test_too_many_field_errors_are_summarised() -> None:
    statuses = [{"id": "w", "status": "sent", "timestamp": "x"} for _ in range(8)]
    judged = verdict(orjson.dumps({"statuses": statuses}))
    assert isinstance(judged, Rejected)
    assert judged.reason.endswith("; and 3 more")
    assert judged.reason.count("expected unix seconds") == 5


def test_a_valid_line_is_normalised_into_the_form_the_bulk_path_reads() -> None:
    raw = orjson.dumps(
        {
            "received_at": 1763370000,
            "sender": "+49 30",
            "body": {
                "statuses": [
                    {
                        "id": "w",
                        "status": "read",
                        "timestamp": 1763370001,
                        "pricing": {"billable": "true"},
                    }
                ]
            },
            "unknown": {"dropped": True},
        }
    )
    judged = verdict(raw)
    assert isinstance(judged, Accepted)
    assert orjson.loads(judged.normalized) == {
        "statuses": [
            {"id": "w", "status": "read", "timestamp": 1763370001, "pricing": {"billable": True}}
        ],
        "received_at": "2025-11-17T09:00:00Z",
        "sender": "+49 30",
    }


def test_envelope_fields_come_from_payload_then_body_then_the_line() -> None:
    raw = orjson.dumps(
        {
            "key": "from-the-line",
            "to": "line",
            "body": {"key": "from-the-body", "template": {"name": "from-body"}},
            "payload": {"key": "from-the-payload", "to": None},
        }
    )
    judged = verdict(raw)
    assert isinstance(judged, Accepted)
    webhook = judged.line.webhook
    assert (webhook.key, webhook.to, webhook.template and webhook.template.name) == (
        "from-the-payload",
        "line",
        "from-body",
    )
    assert webhook_keys(raw) == ["key", "to", "template"]


def test_repeated_keys_keep_the_last_value_and_null_list_elements_are_allowed() -> None:
    judged = verdict(b'{"key": "a", "key": "b", "statuses": [null, {"id": "w", "status": "sent"}]}')
    assert isinstance(judged, Accepted)
    assert judged.line.webhook.key == "b"
    assert judged.line.webhook.statuses is not None and judged.line.webhook.statuses[0] is None
