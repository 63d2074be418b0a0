"""Pydantic models of every webhook event kind in the archive (contract §2).

These models are the one source of truth for the payload shapes: DuckDB's read schema is
derived from them (`transforms.contract.read_schema.read_columns`), and a line that the bulk
path rejects is explained by validating it against `ArchiveLine`. Unknown keys are ignored
(each row keeps its element whole in `payload_json`); `null` elements inside lists are skipped;
a field is required only where an event means nothing without it (a status's `id` and
`status`, a message's `id`, a template's `name`).

The fields that may hold a customer's data say so (`personal`): under `pii=hash|drop` a
row's `payload_json` is rebuilt from the known fields alone, each masked by its kind
(`transforms.contract.macros.masking_macros`): `identity` (a phone number or a business-scoped
user id: hashed, or dropped under `drop`), `message_id` (a wamid, which encodes the recipient's
number: hashed), `text` (dropped), `free_text` (long digit runs masked). An opaque field
(`OpaqueJson`) is dropped: nothing says what it holds.
"""

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from transforms.contract.wire import (
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


def personal(kind: str, alias: str | None = None) -> Any:
    """An optional field that may hold a customer's data of this kind (see the module)."""
    return Field(default=None, alias=alias, json_schema_extra={"personal": kind})


class ErrorData(Payload):
    messaging_product: Text | None = None
    details: Text | None = personal("free_text")


class ErrorObject(Payload):
    """An error in any of its shapes: Cloud `error`, On-Premise `errors[]`, `statuses[].errors[]`,
    `messages[].errors[]` and `value.errors[]`."""

    code: IntegerCode | None = None
    title: Text | None = personal("free_text")
    message: Text | None = personal("free_text")
    details: Text | None = personal("free_text")
    type: Text | None = None
    href: Text | None = None
    fbtrace_id: Text | None = None
    error_subcode: IntegerCode | None = None
    error_user_title: Text | None = personal("free_text")
    error_user_msg: Text | None = personal("free_text")
    is_transient: Text | None = None
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
    """`statuses[]`: a sent, delivered, read, failed, ... report about an outbound message (or,
    with another `type`, about a payment or a call)."""

    id: Text = Field(json_schema_extra={"personal": "message_id"})
    status: Text
    timestamp: UnixSeconds | None = None
    type: Text | None = None
    recipient_id: Text | None = personal("identity")
    recipient_user_id: Text | None = personal("identity")
    recipient_parent_user_id: Text | None = personal("identity")
    recipient_type: Text | None = None
    biz_opaque_callback_data: Text | None = personal("text")
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    errors: list[ErrorObject | None] | None = None


class Context(Payload):
    from_: Text | None = Field(default=None, alias="from")
    id: Text | None = personal("message_id")
    forwarded: Text | None = None
    frequently_forwarded: Text | None = None
    referred_product: OpaqueJson = None


class TextBody(Payload):
    body: Text | None = personal("text")


class Media(Payload):
    """image, video, audio (and On-Premise voice), document and sticker replies."""

    id: Text | None = None
    mime_type: Text | None = None
    sha256: Text | None = None
    caption: Text | None = personal("text")
    filename: Text | None = personal("text")
    animated: Text | None = None
    voice: Text | None = None


class Location(Payload):
    latitude: Decimal | None = personal("text")
    longitude: Decimal | None = personal("text")
    name: Text | None = personal("text")
    address: Text | None = personal("text")
    url: Text | None = personal("text")


class Button(Payload):
    payload: Text | None = None
    text: Text | None = personal("text")


class InteractiveChoice(Payload):
    id: Text | None = None
    title: Text | None = personal("text")
    description: Text | None = personal("text")


class FlowReply(Payload):
    name: Text | None = None
    body: Text | None = personal("text")
    response_json: Text | None = personal("text")


class Interactive(Payload):
    type: Text | None = None
    button_reply: InteractiveChoice | None = None
    list_reply: InteractiveChoice | None = None
    nfm_reply: FlowReply | None = None


class Reaction(Payload):
    message_id: Text | None = personal("message_id")
    emoji: Text | None = None


class Order(Payload):
    catalog_id: Text | None = None
    text: Text | None = personal("text")
    product_items: OpaqueJson = None


class System(Payload):
    body: Text | None = personal("text")
    type: Text | None = None
    identity: Text | None = personal("text")
    wa_id: Text | None = personal("identity")
    new_wa_id: Text | None = personal("identity")
    customer: Text | None = personal("identity")
    user_id: Text | None = personal("identity")
    parent_user_id: Text | None = personal("identity")
    previous_user_id: Text | None = personal("identity")
    previous_parent_user_id: Text | None = personal("identity")


class Message(Payload):
    """`messages[]`: inside a webhook change, a customer's reply of any type; at the top level,
    a message WhatsApp accepted (On-Premise inbound replies share that place)."""

    id: Text = Field(json_schema_extra={"personal": "message_id"})
    message_status: Text | None = None
    from_: Text | None = personal("identity", alias="from")
    from_user_id: Text | None = personal("identity")
    from_parent_user_id: Text | None = personal("identity")
    group_id: Text | None = None
    timestamp: UnixSeconds | None = None
    type: Text | None = None
    context: Context | None = None
    text: TextBody | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    voice: Media | None = None
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
    name: Text | None = personal("text")


class Contact(Payload):
    input: Text | None = personal("identity")
    wa_id: Text | None = personal("identity")
    user_id: Text | None = personal("identity")
    parent_user_id: Text | None = personal("identity")
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
    content: Text | None = personal("text")


class WebhookBody(Payload):
    """A webhook body exactly as delivered: the union of every event kind's top-level keys."""

    key: Text | None = None
    object: Text | None = None
    entry: list[Entry | None] | None = None
    messaging_product: Text | None = None
    recipient_type: Text | None = None
    to: Text | None = personal("identity")
    type: Text | None = None
    contacts: list[Contact | None] | None = None
    messages: list[Message | None] | None = None
    statuses: list[Status | None] | None = None
    template: Template | None = None
    timestamp: UnixSeconds | None = None
    content: Text | None = personal("text")
    error: ErrorObject | None = None
    errors: list[ErrorObject | None] | None = None


ENVELOPE_BODIES = ("payload", "body")


def unwrapped_webhook(line: dict[str, Any]) -> dict[str, Any]:
    """The webhook body of a line: each field from the envelope's `payload`, else its `body`,
    else the line itself (contract §1 envelopes; the SQL passes take fields the same way)."""
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
