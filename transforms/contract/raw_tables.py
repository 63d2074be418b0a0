"""The raw tables (contract §5): one row per event the archive's lines hold, as read, before
messages are made of them. The ingest writes their landing rows; the build de-duplicates them
into the warehouse's tables of the same names."""

from datetime import datetime

from transforms.contract.columns import Provenance, Table, built_col, col, personal_col


class Accepted(Provenance):
    """One row per message id in an accepted event: WhatsApp accepted an outbound message."""

    key: str | None = col("Insider One tracking key of the message (whatsapp-...)")
    message_id: str = personal_col(
        "WhatsApp message id (wamid) assigned to the message", "message_id"
    )
    message_status: str | None = col("messages[].message_status when given (e.g. accepted)")
    sender: str | None = col("Business phone number, digits only (contract §3, sender)")
    recipient: str | None = personal_col(
        "Customer's WhatsApp id (contacts[].wa_id, else input), digits", "number"
    )
    recipient_country: str | None = col(
        "Country of the recipient's number (ISO 3166 alpha-2, `phonenumbers`), taken before "
        "any masking"
    )
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id (contacts[].user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (contacts[].parent_user_id)", "number"
    )
    payload_json: str | None = personal_col(
        'The event as JSON: {"message": <messages[] element>, "contact": <its contact>}',
        "payload",
        json_text=True,
    )


class TemplateSends(Provenance):
    """One row per template-send event: the template message Insider One sent to Meta."""

    key: str | None = col("Insider One tracking key of the message")
    sender: str | None = col("Business phone number, digits only")
    recipient: str | None = personal_col(
        "Customer phone number the template was sent to (`to`), digits", "number"
    )
    recipient_country: str | None = col(
        "Country of the recipient's number (ISO 3166 alpha-2, `phonenumbers`), taken before "
        "any masking"
    )
    template: str = col("Template name (template.name)")
    language: str | None = col("Template language code (template.language.code)")
    language_policy: str | None = col("Template language policy (template.language.policy)")
    namespace: str | None = col("Template namespace, when given")
    message_type: str | None = col("Message type sent to Meta (`type`, normally template)")
    content: str | None = personal_col(
        "Rendered text of the template (`content`, top level or in template)", "text"
    )
    components: str | None = personal_col(
        "Template components with their parameters, as JSON", "text", json_text=True
    )
    payload_json: str | None = personal_col(
        "The template send's body as JSON", "payload", json_text=True
    )


class Statuses(Provenance):
    """One row per status report (every entry x change x status), de-duplicated on
    (message_id, status, timestamp)."""

    key: str | None = col(
        "Tracking key: the event's own, else the one an accepted event or another status "
        "links to the same message_id"
    )
    message_id: str = personal_col("WhatsApp message id (wamid) the status is about", "message_id")
    status: str = col("sent, delivered, read, failed, played, deleted, warning, or as received")
    status_type: str | None = col(
        "statuses[].type: message (or NULL) for a message; another type (payment) is no "
        "message and counts in no metric"
    )
    sender: str | None = col("Business phone number, digits only")
    phone_number_id: str | None = col("Business phone number id (metadata.phone_number_id)")
    recipient: str | None = personal_col("Customer's WhatsApp id (recipient_id), digits", "number")
    recipient_country: str | None = col(
        "Country of the recipient's number (ISO 3166 alpha-2, `phonenumbers`), taken before "
        "any masking"
    )
    recipient_user_id: str | None = personal_col(
        "Customer's business-scoped user id (recipient_user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (recipient_parent_user_id)", "number"
    )
    recipient_type: str | None = col("individual, or group for a message to a group")
    conversation_id: str | None = col("Conversation id (conversation.id)")
    conversation_origin: str | None = col("Conversation category (conversation.origin.type)")
    conversation_expires_at: datetime | None = col("conversation.expiration_timestamp (UTC)")
    billable: bool | None = col("pricing.billable")
    pricing_model: str | None = col("pricing.pricing_model (CBP, PMP, ...)")
    pricing_category: str | None = col("pricing.category")
    pricing_type: str | None = col("pricing.type")
    biz_opaque_callback_data: str | None = personal_col(
        "Callback data the business attached on send (dropped under pii=hash|drop: it may "
        "name the customer)",
        "text",
    )
    error_count: int = col("Number of errors attached to the status (each is a row of errors)")
    api: str = col("cloud (entry[].changes[] webhook) or on_premise (bare statuses[] body)")
    payload_json: str | None = personal_col(
        "The statuses[] element as JSON", "payload", json_text=True
    )


class Replies(Provenance):
    """One row per customer reply (every entry x change x message), de-duplicated on reply_id."""

    reply_id: str = personal_col(
        "WhatsApp id of the customer's message (messages[].id)", "message_id"
    )
    key: str | None = col("Tracking key if the vendor set one (usually empty on replies)")
    sender: str | None = col("Business phone number the customer wrote to, digits only")
    phone_number_id: str | None = col("Business phone number id (metadata.phone_number_id)")
    customer: str | None = personal_col(
        "Customer's WhatsApp id (messages[].from), digits", "number"
    )
    customer_user_id: str | None = personal_col(
        "Customer's business-scoped user id (messages[].from_user_id)", "number"
    )
    parent_user_id: str | None = personal_col(
        "Customer's parent business-scoped user id (messages[].from_parent_user_id)", "number"
    )
    type: str | None = col("Reply type: text, image, button, interactive, reaction, ...")
    context_id: str | None = personal_col(
        "wamid of the business message replied to (context.id)", "message_id"
    )
    context_from: str | None = col("Sender of the message replied to (context.from), digits")
    text_body: str | None = personal_col("text.body of a text reply", "text")
    media_id: str | None = col(
        "Media id of an image, video, audio (On-Premise voice included), document or sticker"
    )
    media_mime_type: str | None = col("Media MIME type")
    media_sha256: str | None = col("Media sha256")
    media_filename: str | None = personal_col("Document file name", "text")
    media_caption: str | None = personal_col("Media caption", "text")
    button_payload: str | None = col("button.payload of a quick-reply button")
    button_text: str | None = personal_col("button.text of a quick-reply button", "text")
    interactive_type: str | None = col("interactive.type: button_reply, list_reply, nfm_reply")
    interactive_id: str | None = col("Id of the chosen interactive button or list row")
    interactive_title: str | None = personal_col(
        "Title of the chosen interactive button or list row", "text"
    )
    flow_response_json: str | None = personal_col(
        "interactive.nfm_reply.response_json of a Flow reply", "text"
    )
    reaction_emoji: str | None = col("Emoji of a reaction")
    reaction_message_id: str | None = personal_col("wamid the reaction is about", "message_id")
    location_latitude: float | None = personal_col("Latitude of a location reply", "text")
    location_longitude: float | None = personal_col("Longitude of a location reply", "text")
    location_name: str | None = personal_col("Name of a location reply", "text")
    location_address: str | None = personal_col("Address of a location reply", "text")
    api: str = col("cloud (entry[].changes[] webhook) or on_premise (top-level messages[])")
    payload_json: str | None = personal_col(
        "The messages[] element as JSON, with every field (group_id, edit, revoke, ...)",
        "payload",
        json_text=True,
    )


class Errors(Provenance):
    """One row per error, from all four sources: API errors (Cloud `error` and On-Premise
    `errors[]`), status errors, reply errors and webhook errors."""

    source: str = col("api_error, status, reply or webhook")
    key: str | None = col("Tracking key of the message (resolved through message_id if absent)")
    message_id: str | None = personal_col(
        "wamid of the message; NULL for synchronous API errors", "message_id"
    )
    sender: str | None = col("Business phone number, digits only")
    code: int | None = col("Error code (integer)")
    title: str | None = personal_col(
        "Error title: the error's title, else its message without the '(#code) ' prefix",
        "free_text",
    )
    message: str | None = personal_col("Error message, as sent", "free_text")
    details: str | None = personal_col(
        "error_data.details, or details of an On-Premise error", "free_text"
    )
    type: str | None = col("Error type (e.g. OAuthException)")
    fbtrace_id: str | None = col("Meta trace id")
    href: str | None = col("Link to the error's documentation")
    error_subcode: int | None = col("error_subcode, when given")
    status: str | None = col("The status the error came with (source status)")
    status_type: str | None = col(
        "The type of the status the error came with: an error of a status that is no message "
        "(payment) counts in no metric"
    )
    payload_json: str | None = personal_col("The error element as JSON", "payload", json_text=True)
    category: str = built_col("Catalogue category: auth, rate_limit, account, ... or other")
    is_rate_limit: bool = built_col("The code is a rate-limit code (contract §6)")
    retryable: bool = built_col("Retrying the same message can succeed (contract §6)")


RAW_TABLES: dict[str, type[Table]] = {
    "accepted": Accepted,
    "template_sends": TemplateSends,
    "statuses": Statuses,
    "replies": Replies,
    "errors": Errors,
}
