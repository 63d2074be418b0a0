-- reads: entry.changes.field, entry.changes.value.metadata, entry.changes.value.contacts, entry.changes.value.messages, messages, contacts, entry?, key, timestamp
-- payload: entry.changes.value.messages, messages
-- keys: messages
-- keys: entry, from
-- Landing rows of `replies`: one per customer message, over every entry x change x message of
-- a Cloud webhook (changes of the field `messages` only) and every top-level message with a
-- `from` (On-Premise inbound), each checked against the Message model and kept whole as JSON,
-- with the fields of its reply type (an On-Premise `voice` message is audio) and the customer's
-- business-scoped user id (the message's own, else its contact's); unique on the message id. A line without `entry` or `from` yields none (the accepted messages, most lines
-- with `messages`, are not read here).
create or replace temp table chunk_replies as
-- `unwrapped` is read twice: materialised once, the pass is about a quarter faster (DuckDB
-- plans it in less time and parses the wide message structs once).
with unwrapped as materialized (
    select
        ordinal,
        line,
        coalesce(payload.entry, body.entry, entry) as entries,
        coalesce(raw.payload.entry, raw.body.entry, raw.entry) as raw_entries,
        coalesce(payload.messages, body.messages, messages) as top_messages,
        coalesce(raw.payload.messages, raw.body.messages, raw.messages) as raw_top_messages,
        coalesce(payload.contacts, body.contacts, contacts) as top_contacts
    from batch_lines($batch_path, $read_columns, $raw_columns, true, $maximum_object_size)
),

changes as (
    from message_changes('unwrapped')
),

cloud as (
    select
        ordinal,
        line,
        'cloud' as api,
        change.value.metadata as metadata,
        change.value.contacts as contacts,
        entry_index,
        change_index,
        item as message,
        raw_item as raw_message,
        item_index
    from change_items('changes', 'messages')
),

on_premise as (
    select
        ordinal,
        line,
        'on_premise' as api,
        top_contacts as contacts,
        0 as entry_index,
        0 as change_index,
        unnest(top_messages) as message,
        unnest(raw_top_messages) as raw_message,
        generate_subscripts(top_messages, 1) as item_index
    from unwrapped
    where top_messages is not null and entries is null
),

messages as (
    select * from cloud
    union all by name
    select * from on_premise where message."from" is not null
),

flat as (
    select
        ordinal,
        line,
        (entry_index * 1000 + change_index) * 1000000 + item_index as seq,
        valid_message(message) as is_valid,
        message.id as reply_id,
        digits(metadata.display_phone_number) as sender,
        metadata.phone_number_id as phone_number_id,
        digits(message."from") as customer,
        -- the contact at the message's position, else the last one
        coalesce(
            message.from_user_id, contacts[least(item_index, len(contacts))].user_id
        ) as customer_user_id,
        coalesce(
            message.from_parent_user_id, contacts[least(item_index, len(contacts))].parent_user_id
        ) as parent_user_id,
        message.type as type,
        message.context.id as context_id,
        digits(message.context."from") as context_from,
        message.text.body as text_body,
        coalesce(
            message.image,
            message.video,
            message.audio,
            message.voice,
            message.document,
            message.sticker
        ) as media,
        message.button.payload as button_payload,
        message.button.text as button_text,
        message.interactive.type as interactive_type,
        coalesce(message.interactive.button_reply, message.interactive.list_reply) as choice,
        message.interactive.nfm_reply.response_json as flow_response_json,
        message.reaction.emoji as reaction_emoji,
        message.reaction.message_id as reaction_message_id,
        decimal_number(message.location.latitude) as location_latitude,
        decimal_number(message.location.longitude) as location_longitude,
        message.location.name as location_name,
        message.location.address as location_address,
        kept_payload(raw_message, masked_message(message)) as payload_json,
        api,
        unix_time(message.timestamp) as payload_time,
        dedupe_text([message.id]) as dedupe_key
    from messages
    where message is not null
),

final as (
    select
        flat.* exclude (media, choice, payload_time, is_valid, line),
        media.id as media_id,
        media.mime_type as media_mime_type,
        media.sha256 as media_sha256,
        media.filename as media_filename,
        media.caption as media_caption,
        choice.id as interactive_id,
        choice.title as interactive_title,
        flat.line.key,
        resolved_event_time(
            flat.payload_time,
            flat.line.received_at,
            origin.path_time,
            origin.file_time
        ) as event,
        flat.is_valid and flat.line.is_valid as is_valid,
        origin.source_file,
        origin.line_no,
        origin.ingested_at,
        flat.line.envelope_sender,
        origin.path_sender
    from flat
    join line_origins as origin using (ordinal)
)

select
    * exclude (event),
    event.time as event_time,
    event.source as event_time_source
from final
