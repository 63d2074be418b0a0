"""What the simulated businesses send and their customers reply: senders, templates, the
errors WhatsApp gives, and the types of replies."""

import random
from collections.abc import Callable
from typing import Any

from devtools.sample.writer import SenderProfile

DAY = 86400
SENDERS = (
    SenderProfile(
        "15550100001", "+1 555-010-0001", "106540352242922", "cloud", "hive_hour", "gzip", None
    ),
    SenderProfile(
        "447700900002", "447700900002", "108812770011233", "cloud", "firehose", "zstd", "payload"
    ),
    SenderProfile(
        "905320000003",
        "+90 532 000 0003",
        "102290129340011",
        "cloud",
        "hive_day",
        "none",
        "body",
        crlf=True,
    ),
    SenderProfile("4930000000004", "4930000000004", "", "on_premise", "hive_hour", "gzip", None),
)
SENDER_WEIGHTS = (5, 3, 2, 2)
TEMPLATES = (
    ("order_update", "en_US", "utility"),
    ("shipping_notice", "en_US", "utility"),
    ("otp_code", "tr", "authentication"),
    ("weekend_offer", "en_GB", "marketing"),
    ("appointment_reminder", "de", "utility"),
    ("feedback_survey", "en_US", "marketing"),
)
FAILURES = (
    (131026, "Message undeliverable"),
    (131047, "Re-engagement message"),
    (131049, "Meta chose not to deliver"),
    (130472, "User's number is part of an experiment"),
    (131000, "Something went wrong"),
    (131053, "Media upload error"),
    (132001, "Template does not exist"),
    (131050, "User has stopped marketing messages"),
)
CLOUD_API_ERRORS = (
    (131048, "Spam rate limit hit"),
    (131056, "(Business Account, Consumer Account) pair rate limit hit"),
    (368, "Temporarily blocked for policies violations"),
    (131005, "Access denied"),
    (190, "Your access token has expired"),
)
ON_PREMISE_ERRORS = (
    (429, "Rate limit exceeded"),
    (471, "Spam rate limit hit"),
    (1015, "Too many requests"),
    (2000, "Template parameter mismatch"),
    (402, "Business eligibility issue"),
    (500, "Internal server error"),
)
REPLY_TYPES = (
    "text",
    "button",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "order",
    "system",
    "unsupported",
)
REPLY_WEIGHTS = (35, 15, 8, 5, 2, 6, 2, 3, 3, 4, 3, 2, 5, 1, 1, 1)


def reply_body(
    kind: str, rng: random.Random, wamid: str, new_id: Callable[[str], str]
) -> dict[str, Any]:
    """The type-specific fields of a customer's reply of this kind (to the message `wamid`)."""
    media = {"mime_type": "image/jpeg", "sha256": new_id(""), "id": new_id("")}
    bodies: dict[str, dict[str, Any]] = {
        "text": {
            "type": "text",
            "text": {"body": rng.choice(["Thanks!", "When will it arrive?", "STOP", "ok 👍"])},
        },
        "button": {"type": "button", "button": {"payload": "STOP", "text": "Stop promotions"}},
        "button_reply": {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "yes", "title": "Yes"},
            },
        },
        "list_reply": {
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {
                    "id": "slot-2",
                    "title": "Tomorrow 10:00",
                    "description": "Morning",
                },
            },
        },
        "nfm_reply": {
            "type": "interactive",
            "interactive": {
                "type": "nfm_reply",
                "nfm_reply": {
                    "name": "flow",
                    "body": "Sent",
                    "response_json": '{"rating": "5"}',
                },
            },
        },
        "image": {"type": "image", "image": {**media, "caption": "photo of the parcel"}},
        "video": {"type": "video", "video": {**media, "mime_type": "video/mp4"}},
        "audio": {"type": "audio", "audio": {**media, "mime_type": "audio/ogg", "voice": True}},
        "document": {
            "type": "document",
            "document": {**media, "mime_type": "application/pdf", "filename": "invoice.pdf"},
        },
        "sticker": {
            "type": "sticker",
            "sticker": {**media, "mime_type": "image/webp", "animated": False},
        },
        "location": {
            "type": "location",
            "location": {
                "latitude": 41.0082,
                "longitude": 28.9784,
                "name": "Depot",
                "address": "Istanbul",
            },
        },
        "contacts": {
            "type": "contacts",
            "contacts": [
                {
                    "name": {"formatted_name": "A Friend"},
                    "phones": [{"phone": "+90 555 000 0000"}],
                }
            ],
        },
        "reaction": {
            "type": "reaction",
            "reaction": {"message_id": wamid, "emoji": "👍"},
        },
        "order": {
            "type": "order",
            "order": {
                "catalog_id": "cat1",
                "text": "2 items",
                "product_items": [{"product_retailer_id": "sku1", "quantity": 2}],
            },
        },
        "system": {
            "type": "system",
            "system": {"body": "User changed number", "type": "user_changed_number"},
        },
        "unsupported": {
            "type": "unsupported",
            "errors": [
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                }
            ],
        },
    }
    return bodies[kind]
