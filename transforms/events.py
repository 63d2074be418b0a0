"""Pydantic models of every webhook event kind in the archive (SPEC section 2).

These models are the one source of truth for the payload shapes: DuckDB's read schema is
derived from them (`transforms.schema.read_columns`), and a line that the bulk path rejects
is explained by validating it against `ArchiveLine`. Unknown keys are ignored; `null`
elements inside lists are skipped; a field is required only where an event means nothing
without it (a status's `id` and `status`, a message's `id`, a template's `name`).
"""

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from transforms.wire import (
    Decimal,
    Flag,
    Instant,
    IntegerCode,
    OpaqueJson,
    Text,
    UnixSeconds,
)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ErrorData(Payload):
    messaging_product: Text | None = None
    details: Text | None = None


class ErrorObject(Payload):
    """An error in any of its shapes: Cloud `error`, On-Premise `errors[]`, `statuses[].errors[]`,
    `messages[].errors[]` and `value.errors[]`."""

    code: IntegerCode | None = None
    title: Text | None = None
    message: Text | None = None
    details: Text | None = None
    type: Text | None = None
    href: Text | None = None
    fbtrace_id: Text | None = None
    error_subcode: IntegerCode | None = None
    error_user_title: Text | None = None
    error_user_msg: Text | None = None
    error_data: ErrorData | None = None


class ConversationOrigin(Payload):
    type: Text | None = None


class Conversation(Payload):
    id: Text | None = None
    expiration_timestamp: UnixSeconds | None = None
    origin: ConversationOrigin | None = None


class Pricing(Payload):
    billable: Flag | None = None
    pricing_model: Text | None = None
    category: Text | None = None
    type: Text | None = None


class Status(Payload):
    """`statuses[]`: a sent, delivered, read, failed, ... report about an outbound message."""

    id: Text
    status: Text
    timestamp: UnixSeconds | None = None
    recipient_id: Text | None = None
    recipient_type: Text | None = None
    biz_opaque_callback_data: Text | None = None
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    errors: list[ErrorObject | None] | None = None


class Context(Payload):
    from_: Text | None = Field(default=None, alias="from")
    id: Text | None = None
    forwarded: Text | None = None
    frequently_forwarded: Text | None = None
    referred_product: OpaqueJson = None


class TextBody(Payload):
    body: Text | None = None


class Media(Payload):
    """image, video, audio, document and sticker replies."""

    id: Text | None = None
    mime_type: Text | None = None
    sha256: Text | None = None
    caption: Text | None = None
    filename: Text | None = None
    animated: Text | None = None
    voice: Text | None = None


class Location(Payload):
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    name: Text | None = None
    address: Text | None = None
    url: Text | None = None


class Button(Payload):
    payload: Text | None = None
    text: Text | None = None


class InteractiveChoice(Payload):
    id: Text | None = None
    title: Text | None = None
    description: Text | None = None


class FlowReply(Payload):
    name: Text | None = None
    body: Text | None = None
    response_json: Text | None = None


class Interactive(Payload):
    type: Text | None = None
    button_reply: InteractiveChoice | None = None
    list_reply: InteractiveChoice | None = None
    nfm_reply: FlowReply | None = None


class Reaction(Payload):
    message_id: Text | None = None
    emoji: Text | None = None


class Order(Payload):
    catalog_id: Text | None = None
    text: Text | None = None
    product_items: OpaqueJson = None


class System(Payload):
    body: Text | None = None
    type: Text | None = None
    identity: Text | None = None
    wa_id: Text | None = None
    new_wa_id: Text | None = None
    customer: Text | None = None


class Message(Payload):
    """`messages[]`: inside a webhook change, a customer's reply of any type; at the top level,
    a message WhatsApp accepted (On-Premise inbound replies share that place)."""

    id: Text
    message_status: Text | None = None
    from_: Text | None = Field(default=None, alias="from")
    timestamp: UnixSeconds | None = None
    type: Text | None = None
    context: Context | None = None
    text: TextBody | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: OpaqueJson = None
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None
    referral: OpaqueJson = None
    unsupported: OpaqueJson = None
    errors: list[ErrorObject | None] | None = None


class ContactProfile(Payload):
    name: Text | None = None


class Contact(Payload):
    input: Text | None = None
    wa_id: Text | None = None
    profile: ContactProfile | None = None


class Metadata(Payload):
    display_phone_number: Text | None = None
    phone_number_id: Text | None = None


class ChangeValue(Payload):
    messaging_product: Text | None = None
    metadata: Metadata | None = None
    contacts: list[Contact | None] | None = None
    statuses: list[Status | None] | None = None
    messages: list[Message | None] | None = None
    errors: list[ErrorObject | None] | None = None


class Change(Payload):
    field: Text | None = None
    value: ChangeValue | None = None


class Entry(Payload):
    id: Text | None = None
    time: Text | None = None
    changes: list[Change | None] | None = None


class TemplateLanguage(Payload):
    code: Text | None = None
    policy: Text | None = None


class TemplateComponent(Payload):
    type: Text | None = None
    sub_type: Text | None = None
    index: Text | None = None
    parameters: OpaqueJson = None


class Template(Payload):
    name: Text
    namespace: Text | None = None
    language: TemplateLanguage | None = None
    components: list[TemplateComponent | None] | None = None
    content: Text | None = None


class WebhookBody(Payload):
    """A webhook body exactly as delivered: the union of every event kind's top-level keys."""

    key: Text | None = None
    object: Text | None = None
    entry: list[Entry | None] | None = None
    messaging_product: Text | None = None
    recipient_type: Text | None = None
    to: Text | None = None
    type: Text | None = None
    contacts: list[Contact | None] | None = None
    messages: list[Message | None] | None = None
    statuses: list[Status | None] | None = None
    template: Template | None = None
    timestamp: UnixSeconds | None = None
    content: Text | None = None
    error: ErrorObject | None = None
    errors: list[ErrorObject | None] | None = None


ENVELOPE_BODIES = ("payload", "body")


def unwrapped_webhook(line: dict[str, Any]) -> dict[str, Any]:
    """The webhook body of a line: each field from the envelope's `payload`, else its `body`,
    else the line itself (SPEC 1 envelopes; the SQL passes take fields the same way)."""
    layers = [line]
    for name in reversed(ENVELOPE_BODIES):
        layer = line.get(name)
        if isinstance(layer, dict):
            layers.append(layer)
    return {key: value for layer in layers for key, value in layer.items() if value is not None}


class ArchiveLine(Payload):
    """One line of the archive: a webhook body, or an envelope around one (`received_at` with
    `payload` or `body`, and optionally the business `sender`)."""

    received_at: Instant | None = None
    sender: Text | None = None
    # checked to be objects; their fields are read into `webhook`
    payload: dict[str, Any] | None = Field(default=None, exclude=True)
    body: dict[str, Any] | None = Field(default=None, exclude=True)
    webhook: WebhookBody

    @model_validator(mode="before")
    @classmethod
    def _unwrapped(cls, line: Any) -> Any:
        if not isinstance(line, dict):
            return line
        envelope = {name: line.get(name) for name in ("received_at", "sender", *ENVELOPE_BODIES)}
        return {**envelope, "webhook": unwrapped_webhook(line)}

    def normalized(self) -> bytes:
        """The line in bare form as JSON, as the bulk path reads it."""
        body = self.webhook.model_dump(mode="json", by_alias=True, exclude_none=True)
        envelope = self.model_dump(
            mode="json", include={"received_at", "sender"}, exclude_none=True
        )
        return orjson.dumps({**body, **envelope})
