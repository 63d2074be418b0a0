"""Webhook payloads for hand-built test archives, one builder per event kind."""

from datetime import UTC, datetime
from typing import Any

SENDER = "15550100001"
RECIPIENT = "905551112233"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def unix(text: str) -> str:
    return str(int(at(text).timestamp()))


def iso(text: str) -> str:
    return at(text).isoformat().replace("+00:00", "Z")


def status(
    wamid: str,
    state: str,
    moment: str,
    key: str | None = None,
    *,
    sender: str = SENDER,
    recipient: str = RECIPIENT,
    errors: list[dict[str, Any]] | None = None,
    pricing: dict[str, Any] | None = None,
    conversation: str | None = None,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": unix(moment),
        "recipient_id": recipient,
    }
    if errors:
        report["errors"] = errors
    if pricing is not None:
        report["pricing"] = pricing
    if conversation is not None:
        report["conversation"] = {"id": conversation, "origin": {"type": "utility"}}
    body: dict[str, Any] = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {
                                "display_phone_number": f"+{sender}",
                                "phone_number_id": "1",
                            },
                            "statuses": [report],
                        },
                    }
                ],
            }
        ],
    }
    if key is not None:
        body["key"] = key
    return body


def accepted(key: str, wamid: str, recipient: str = RECIPIENT) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": recipient, "wa_id": recipient}],
        "messages": [{"id": wamid}],
        "key": key,
    }


def template_send(
    key: str, moment: str, name: str = "order_update", recipient: str = RECIPIENT
) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": f"+{recipient}",
        "type": "template",
        "template": {"name": name, "language": {"code": "en_US"}},
        "timestamp": unix(moment),
        "key": key,
    }


def api_error(key: str, code: int, message: str = "error") -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code}, "key": key}


def reply(
    reply_id: str,
    moment: str,
    *,
    context: str | None = None,
    sender: str = SENDER,
    customer: str = RECIPIENT,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": customer,
        "id": reply_id,
        "timestamp": unix(moment),
        "type": "text",
        "text": {"body": "thanks"},
    }
    if context:
        message["context"] = {"from": sender, "id": context}
    return {
        "entry": [
            {
                "changes": [
                    {"value": {"metadata": {"display_phone_number": sender}, "messages": [message]}}
                ]
            }
        ]
    }


def envelope(
    payload: dict[str, Any], received_at: str | int, sender: str | None = None
) -> dict[str, Any]:
    line: dict[str, Any] = {"received_at": received_at, "payload": payload}
    if sender:
        line["sender"] = sender
    return line


def failure(code: int, title: str) -> dict[str, Any]:
    return {"code": code, "title": title}
