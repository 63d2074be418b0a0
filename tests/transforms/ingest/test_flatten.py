"""Every sample payload of the vendor document, and one of each reply type and error shape of
contract §2, read by the real pipeline: the rows each yields, field by field."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import (
    FIXTURE_FILES,
    FIXTURES,
    INGESTED_AT,
    Warehouse,
    archive_file,
    fixture_line,
    warehouse_of,
)

FOLDER = "dt=2025-11-17/hour=09"
PATH_TIME = datetime(2025, 11, 17, 9, tzinfo=UTC)
FIXTURE_NAMES = [f"{path.parent.name}/{path.stem}" for path in FIXTURE_FILES]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("vendor")
    archive = root / "archive"
    for name in FIXTURE_NAMES:
        archive_file(archive, f"{FOLDER}/{name.replace('/', '-')}.jsonl", [fixture_line(name)])
    built = warehouse_of(archive, root / "work")
    yield built
    built.close()


def rows_of(
    warehouse: Warehouse, table: str, fixture: str, exclude: set[str] = frozenset()
) -> list[dict[str, Any]]:
    rows = warehouse.rows(
        f"select * from {table} where source_file like $file order by all",
        {"file": f"%/{fixture.replace('/', '-')}.jsonl"},
    )
    for row in rows:
        assert row.pop("ingested_at") == INGESTED_AT
        assert row.pop("source_file").endswith(f"{FOLDER}/{fixture.replace('/', '-')}.jsonl")
        for column in exclude:
            row.pop(column)
    return rows


def test_every_fixture_line_is_accounted_for(warehouse: Warehouse) -> None:
    assert len(warehouse.reports) == len(FIXTURE_NAMES) == 41
    for report in warehouse.reports:
        assert report.lines == 1
        assert report.classified + report.unclassified + report.quarantined + report.blank == 1
    assert warehouse.value("select count(*) from quarantine") == 0
    unclassified = warehouse.rows(
        "select source_file, line_no, reason from unclassified order by 1"
    )
    assert [row["source_file"].rsplit("/", 1)[1] for row in unclassified] == [
        "vendor-settings_failure_response.jsonl",
        "vendor-settings_success_response.jsonl",
    ]
    assert (
        unclassified[0]["reason"] == "JSON object of no known event kind (keys: message, errorCode)"
    )


def test_accepted(warehouse: Warehouse) -> None:
    (row,) = rows_of(warehouse, "accepted", "vendor/accepted")
    payload = orjson.loads(row.pop("payload_json"))
    assert row == {
        "key": "whatsapp-accepted-1",
        "message_id": "wamid.ACCEPTED1",
        "message_status": None,
        # no metadata of its own: the sender of the message's status event
        "sender": "15550100001",
        "recipient": "905551112233",
        # the country of the number, as the library places it
        "recipient_country": "TR",
        "recipient_user_id": None,
        "parent_user_id": None,
        # no time of its own and no envelope: its template send's, not its folder's
        "event_time": at("2025-11-17 08:59:50"),
        "event_time_source": "message",
        "line_no": 1,
    }
    event = orjson.loads(fixture_line("vendor/accepted"))
    assert payload == {"message": event["messages"][0], "contact": event["contacts"][0]}


def test_status_sample(warehouse: Warehouse) -> None:
    (row,) = rows_of(warehouse, "statuses", "vendor/status_delivered")
    event = orjson.loads(fixture_line("vendor/status_delivered"))
    assert (
        orjson.loads(row.pop("payload_json"))
        == event["entry"][0]["changes"][0]["value"]["statuses"][0]
    )
    assert [row] == [
        {
            "key": "whatsapp-accepted-1",
            "message_id": "wamid.ACCEPTED1",
            "status": "delivered",
            "status_type": None,
            "sender": "15550100001",
            "phone_number_id": "106540352242922",
            "recipient": "905551112233",
            "recipient_country": "TR",
            "recipient_user_id": None,
            "parent_user_id": None,
            "recipient_type": None,
            "conversation_id": None,
            "conversation_origin": None,
            "conversation_expires_at": None,
            "billable": None,
            "pricing_model": None,
            "pricing_category": None,
            "pricing_type": None,
            "biz_opaque_callback_data": None,
            "error_count": 0,
            "api": "cloud",
            "event_time": at("2025-11-17 09:00:00"),
            "event_time_source": "payload",
            "line_no": 1,
        }
    ]


def test_status_with_conversation_and_pricing(warehouse: Warehouse) -> None:
    (row,) = rows_of(warehouse, "statuses", "spec/status_with_conversation_and_pricing")
    assert {
        key: row[key]
        for key in (
            "message_id",
            "status",
            "sender",
            "recipient",
            "conversation_id",
            "conversation_origin",
            "conversation_expires_at",
            "billable",
            "pricing_model",
            "pricing_category",
            "biz_opaque_callback_data",
            "event_time",
        )
    } == {
        "message_id": "wamid.PRICED1",
        "status": "sent",
        "sender": "15550100001",
        "recipient": "905551112266",
        "conversation_id": "CONV-1",
        "conversation_origin": "marketing",
        "conversation_expires_at": at("2025-11-18 09:33:20"),
        "billable": True,
        "pricing_model": "CBP",
        "pricing_category": "marketing",
        "biz_opaque_callback_data": "campaign-7",
        "event_time": at("2025-11-17 09:33:20"),
    }


def test_failed_event_yields_a_status_and_its_error(warehouse: Warehouse) -> None:
    (status,) = rows_of(warehouse, "statuses", "vendor/failed_event")
    assert (status["message_id"], status["status"], status["error_count"]) == (
        "wamid.FAILED1",
        "failed",
        1,
    )
    assert status["recipient"] == "905551112244"
    (error,) = rows_of(warehouse, "errors", "vendor/failed_event")
    assert orjson.loads(error.pop("payload_json")) == {
        "code": 131026,
        "title": "Message undeliverable",
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
    assert [error] == [
        {
            "source": "status",
            "key": "whatsapp-failed-1",
            "message_id": "wamid.FAILED1",
            "sender": "15550100001",
            "code": 131026,
            "title": "Message undeliverable",
            "message": None,
            "details": None,
            "type": None,
            "fbtrace_id": None,
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            "error_subcode": None,
            "status": "failed",
            "status_type": None,
            "category": "recipient",
            "is_rate_limit": False,
            "retryable": False,
            "event_time": at("2022-12-20 08:51:41"),
            "event_time_source": "payload",
            "line_no": 1,
        }
    ]


def test_on_premise_bare_statuses(warehouse: Warehouse) -> None:
    rows = rows_of(warehouse, "statuses", "spec/on_premise_statuses")
    assert [
        (row["message_id"], row["status"], row["event_time"], row["api"], row["sender"])
        for row in rows
    ] == [
        ("wamid.ONPREM1", "read", at("2025-11-17 09:17:40"), "on_premise", None),
        ("wamid.ONPREM1", "sent", at("2025-11-17 09:16:40"), "on_premise", None),
    ]


ERROR_COLUMNS = (
    "source",
    "key",
    "message_id",
    "code",
    "title",
    "message",
    "details",
    "type",
    "fbtrace_id",
    "error_subcode",
    "category",
    "is_rate_limit",
    "retryable",
    "event_time",
    "event_time_source",
)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "vendor/api_error",
            (
                "api_error",
                "whatsapp-api-error-1",
                None,
                131048,
                "Spam rate limit hit",
                "(#131048) Spam rate limit hit",
                None,
                "OAuthException",
                "AbCdEf123",
                None,
                "rate_limit",
                True,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/api_error_with_error_data",
            (
                "api_error",
                None,
                None,
                130429,
                "Rate limit hit",
                "(#130429) Rate limit hit",
                "Cloud API message throughput reached.",
                "OAuthException",
                None,
                None,
                "rate_limit",
                True,
                True,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/auth_error_app_user",
            (
                "api_error",
                None,
                None,
                0,
                "We were unable to authenticate the app user",
                "We were unable to authenticate the app user",
                None,
                "OAuthException",
                None,
                None,
                "auth",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/auth_error_token_expired",
            (
                "api_error",
                None,
                None,
                190,
                "Your access token has expired",
                "Your access token has expired",
                None,
                "OAuthException",
                None,
                None,
                "auth",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/rate_limit_spam",
            (
                "api_error",
                None,
                None,
                131048,
                "Spam rate limit hit",
                "Spam rate limit hit",
                "Too many messages sent from this phone number in a short period of time.",
                None,
                None,
                None,
                "rate_limit",
                True,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/account_access_denied",
            (
                "api_error",
                None,
                None,
                131005,
                "Access denied",
                "Access denied",
                None,
                None,
                None,
                None,
                "account",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/account_blocked",
            (
                "api_error",
                None,
                None,
                368,
                "Account has been blocked for policy violations",
                "Account has been blocked for policy violations",
                None,
                None,
                None,
                None,
                "account",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_business_eligibility",
            (
                "api_error",
                None,
                None,
                402,
                "Business eligibility issue",
                None,
                "Payment issue preventing message delivery",
                None,
                None,
                None,
                "account",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_message_not_valid",
            (
                "api_error",
                None,
                None,
                408,
                "Message not valid",
                None,
                "Message has been pending validation too long",
                None,
                None,
                None,
                "other",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_rate_limit",
            (
                "api_error",
                None,
                None,
                429,
                "Rate limit exceeded",
                None,
                "Too many requests in a given amount of time",
                None,
                None,
                None,
                "rate_limit",
                True,
                True,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_template_parameter_mismatch",
            (
                "api_error",
                None,
                None,
                2000,
                "Template parameter mismatch",
                None,
                "Number of parameters provided does not match expected parameter count",
                None,
                None,
                None,
                "template",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_template_rejected",
            (
                "api_error",
                None,
                None,
                2060,
                "Template rejected",
                None,
                "Template has been rejected and cannot be used",
                None,
                None,
                None,
                "template",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "vendor/on_premise_server_error",
            (
                "api_error",
                None,
                None,
                500,
                "Internal server error",
                None,
                "Temporary server issue, please retry",
                None,
                None,
                None,
                "server",
                False,
                True,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "spec/cloud_api_error_full",
            (
                "api_error",
                "whatsapp-param-1",
                None,
                100,
                "Invalid parameter",
                "(#100) Invalid parameter",
                None,
                "OAuthException",
                "A1b2C3",
                2494010,
                "other",
                False,
                False,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "spec/webhook_error",
            (
                "webhook",
                None,
                None,
                131000,
                "Something went wrong",
                "Something went wrong",
                "Webhook delivery issue",
                None,
                None,
                None,
                "server",
                False,
                True,
                PATH_TIME,
                "path",
            ),
        ),
        (
            "spec/reply_unsupported",
            (
                "reply",
                None,
                "wamid.REPLY.UNSUPPORTED",
                131051,
                "Message type unknown",
                "Message type unknown",
                "Message type is currently not supported.",
                None,
                None,
                None,
                "other",
                False,
                False,
                at("2025-11-17 09:09:50"),
                "payload",
            ),
        ),
    ],
)
def test_error_shapes(warehouse: Warehouse, fixture: str, expected: tuple[Any, ...]) -> None:
    (row,) = rows_of(warehouse, "errors", fixture)
    assert tuple(row[column] for column in ERROR_COLUMNS) == expected


def test_template_sends(warehouse: Warehouse) -> None:
    (row,) = rows_of(warehouse, "template_sends", "spec/template_send")
    assert orjson.loads(row.pop("payload_json")) == orjson.loads(fixture_line("spec/template_send"))
    assert [row] == [
        {
            "key": "whatsapp-accepted-1",
            "sender": "15550100001",
            "recipient": "905551112233",
            "recipient_country": "TR",
            "template": "order_update",
            "language": "en_US",
            "language_policy": "deterministic",
            "namespace": None,
            "message_type": "template",
            "content": "Your order #1001 is on its way.",
            # verbatim: the integer index stays an integer
            "components": '[{"type":"body","sub_type":"","index":"","parameters":[{"type":"text",'
            '"text":"#1001"}]},{"type":"button","sub_type":"quick_reply","index":0,'
            '"parameters":[{"type":"payload","payload":"STOP"}]}]',
            "event_time": at("2025-11-17 08:59:50"),
            "event_time_source": "payload",
            "line_no": 1,
        }
    ]
    (inside,) = rows_of(warehouse, "template_sends", "spec/template_send_content_in_template")
    assert (inside["template"], inside["language"], inside["content"], inside["event_time"]) == (
        "shipping_notice",
        "tr",
        "Kargonuz yolda.",
        at("2022-12-20 08:51:30"),
    )


REPLY_COLUMNS = (
    "reply_id",
    "key",
    "sender",
    "customer",
    "type",
    "context_id",
    "context_from",
    "text_body",
    "media_id",
    "media_mime_type",
    "media_sha256",
    "media_filename",
    "button_payload",
    "button_text",
    "interactive_type",
    "interactive_id",
    "interactive_title",
    "flow_response_json",
    "reaction_emoji",
    "reaction_message_id",
    "location_latitude",
    "location_longitude",
    "location_name",
    "location_address",
    "event_time",
)


def reply(**fields: Any) -> dict[str, Any]:
    return {column: fields.get(column) for column in REPLY_COLUMNS}


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "vendor/reply_text",
            reply(
                reply_id="wamid.REPLY.TEXT",
                sender="15550100001",
                customer="905551112233",
                type="text",
                text_body="When will it arrive?",
                event_time=at("2025-11-17 09:05:00"),
            ),
        ),
        (
            "vendor/reply_sticker",
            reply(
                reply_id="wamid.REPLY.STICKER",
                sender="15550100001",
                customer="393336188770",
                type="sticker",
                media_id="STICKER_ID_1",
                media_mime_type="image/webp",
                media_sha256="c3RpY2tlcg==",
                event_time=at("2023-03-15 14:08:18"),
            ),
        ),
        (
            "vendor/reply_video",
            reply(
                reply_id="wamid.REPLY.VIDEO",
                sender="15550100001",
                customer="393336188770",
                type="video",
                media_id="VIDEO_ID_1",
                media_mime_type="video/mp4",
                media_sha256="dmlkZW8=",
                event_time=at("2023-03-15 14:12:44"),
            ),
        ),
        (
            "vendor/reply_image",
            reply(
                reply_id="wamid.REPLY.IMAGE",
                sender="15550100001",
                customer="393336188770",
                type="image",
                media_id="IMAGE_ID_1",
                media_mime_type="image/jpeg",
                media_sha256="aW1hZ2U=",
                event_time=at("2023-03-15 14:12:51"),
            ),
        ),
        (
            "vendor/reply_document",
            reply(
                reply_id="wamid.REPLY.DOCUMENT",
                sender="15550100001",
                customer="393336188770",
                type="document",
                media_id="DOCUMENT_ID_1",
                media_mime_type="application/pdf",
                media_sha256="ZG9j",
                media_filename="doc.pdf",
                event_time=at("2023-03-15 14:12:57"),
            ),
        ),
        (
            "vendor/reply_button",
            reply(
                reply_id="wamid.REPLY.BUTTON",
                key="whatsapp-button-1",
                sender="15550100001",
                customer="905551112233",
                type="button",
                context_id="wamid.ACCEPTED1",
                context_from="15550100001",
                button_payload="STOP_PROMOTIONS",
                button_text="Stop promotions",
                event_time=at("2025-11-17 09:06:40"),
            ),
        ),
        (
            "spec/reply_interactive_button",
            reply(
                reply_id="wamid.REPLY.IBUTTON",
                sender="15550100001",
                customer="905551112233",
                type="interactive",
                context_id="wamid.ACCEPTED1",
                context_from="15550100001",
                interactive_type="button_reply",
                interactive_id="yes-1",
                interactive_title="Yes",
                event_time=at("2025-11-17 09:08:20"),
            ),
        ),
        (
            "spec/reply_interactive_list",
            reply(
                reply_id="wamid.REPLY.ILIST",
                sender="15550100001",
                customer="905551112233",
                type="interactive",
                interactive_type="list_reply",
                interactive_id="slot-2",
                interactive_title="Tomorrow 10:00",
                event_time=at("2025-11-17 09:08:30"),
            ),
        ),
        (
            "spec/reply_interactive_flow",
            reply(
                reply_id="wamid.REPLY.IFLOW",
                sender="15550100001",
                customer="905551112233",
                type="interactive",
                interactive_type="nfm_reply",
                flow_response_json='{"rating": "5"}',
                event_time=at("2025-11-17 09:08:40"),
            ),
        ),
        (
            "spec/reply_reaction",
            reply(
                reply_id="wamid.REPLY.REACTION",
                sender="15550100001",
                customer="905551112233",
                type="reaction",
                reaction_emoji="👍",
                reaction_message_id="wamid.ACCEPTED1",
                event_time=at("2025-11-17 09:08:50"),
            ),
        ),
        (
            "spec/reply_location",
            reply(
                reply_id="wamid.REPLY.LOCATION",
                sender="15550100001",
                customer="905551112233",
                type="location",
                location_latitude=41.0082,
                location_longitude=28.9784,
                location_name="Depot",
                location_address="Istanbul",
                event_time=at("2025-11-17 09:09:00"),
            ),
        ),
        (
            "spec/reply_contacts",
            reply(
                reply_id="wamid.REPLY.CONTACTS",
                sender="15550100001",
                customer="905551112233",
                type="contacts",
                event_time=at("2025-11-17 09:09:10"),
            ),
        ),
        (
            "spec/reply_order",
            reply(
                reply_id="wamid.REPLY.ORDER",
                sender="15550100001",
                customer="905551112233",
                type="order",
                event_time=at("2025-11-17 09:09:20"),
            ),
        ),
        (
            "spec/reply_system",
            reply(
                reply_id="wamid.REPLY.SYSTEM",
                sender="15550100001",
                customer="905551112233",
                type="system",
                event_time=at("2025-11-17 09:09:30"),
            ),
        ),
        (
            "spec/reply_audio",
            reply(
                reply_id="wamid.REPLY.AUDIO",
                sender="15550100001",
                customer="905551112233",
                type="audio",
                media_id="AUDIO_ID_1",
                media_mime_type="audio/ogg; codecs=opus",
                media_sha256="YXVkaW8=",
                event_time=at("2025-11-17 09:09:40"),
            ),
        ),
        (
            "spec/reply_unsupported",
            reply(
                reply_id="wamid.REPLY.UNSUPPORTED",
                sender="15550100001",
                customer="905551112233",
                type="unsupported",
                event_time=at("2025-11-17 09:09:50"),
            ),
        ),
    ],
)
def test_reply_types(warehouse: Warehouse, fixture: str, expected: dict[str, Any]) -> None:
    (row,) = rows_of(warehouse, "replies", fixture)
    assert {column: row[column] for column in REPLY_COLUMNS} == expected
    assert (row["api"], row["event_time_source"], row["line_no"]) == ("cloud", "payload", 1)


@pytest.mark.parametrize("fixture", [name for name in FIXTURE_NAMES if "reply" in name])
def test_a_reply_keeps_its_message_whole_as_json(warehouse: Warehouse, fixture: str) -> None:
    (row,) = rows_of(warehouse, "replies", fixture)
    event = orjson.loads(fixture_line(fixture))
    (message,) = event["entry"][0]["changes"][0]["value"]["messages"]
    assert orjson.loads(row["payload_json"]) == message


def test_the_json_is_as_duckdb_writes_it_minified(warehouse: Warehouse) -> None:
    (contacts,) = rows_of(warehouse, "replies", "spec/reply_contacts")
    assert contacts["payload_json"] == (
        '{"from":"905551112233","id":"wamid.REPLY.CONTACTS","timestamp":"1763370550",'
        '"type":"contacts","contacts":[{"name":{"formatted_name":"A Friend"},'
        '"phones":[{"phone":"+90 555 000 0000","type":"CELL"}]}]}'
    )


def test_raw_tables_have_the_spec_columns(warehouse: Warehouse) -> None:
    columns = {
        table: [
            row["column_name"]
            for row in warehouse.rows(
                "select column_name from duckdb_columns() where table_name = $t order by column_index",
                {"t": table},
            )
        ]
        for table in ("errors", "quarantine", "messages")
    }
    for column in (
        "source",
        "key",
        "message_id",
        "sender",
        "code",
        "title",
        "message",
        "details",
        "type",
        "fbtrace_id",
        "href",
        "category",
        "is_rate_limit",
        "retryable",
        "event_time",
    ):
        assert column in columns["errors"]
    assert columns["quarantine"] == ["source_file", "line_no", "reason", "raw", "ingested_at"]
    assert columns["messages"] == [
        "key",
        "message_id",
        "sender",
        "template",
        "language",
        "recipient",
        "recipient_user_id",
        "message_day",
        "first_event_at",
        "accepted_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "first_error_code",
        "final_status",
        "replied",
        "first_reply_at",
        "report_missing",
        # contract §8, costs
        "recipient_country",
        "market",
        "pricing_model",
        "pricing_category",
        "conversation_id",
        "billable",
        "cost",
    ]


def test_path_of_a_fixture_folder(tmp_path: Path) -> None:
    """The fixture folder names the arrival hour, which events without a time of their own take."""
    assert datetime(2025, 11, 17, 9, tzinfo=UTC) == PATH_TIME
    assert (FIXTURES / "vendor" / "accepted.json").exists()
