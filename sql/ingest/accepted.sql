-- reads: messages, contacts, entry?, key, timestamp
-- payload: messages, contacts
-- keys: messages
-- Landing rows of `accepted`: one per message id of an accepted event (top-level messages[],
-- with or without contacts[], no entry, messages without `from`). Every top-level message is
-- checked against the Message model here, whichever event it belongs to; one with a `from` is
-- an On-Premise reply (replies.sql). A row keeps its message and its contact whole as JSON.
-- Unique on the event's canonical form and the position.
create or replace temp table chunk_accepted as
with unwrapped as (
    select
        ordinal,
        line,
        coalesce(payload.messages, body.messages, messages) as top_messages,
        coalesce(raw.payload.messages, raw.body.messages, raw.messages) as raw_top_messages,
        coalesce(payload.contacts, body.contacts, contacts) as contacts,
        coalesce(raw.payload.contacts, raw.body.contacts, raw.contacts) as raw_contacts,
        coalesce(payload.entry, body.entry, entry) is not null as has_entry
    from batch_lines($batch_path, $read_columns, $raw_columns, true, $maximum_object_size)
),

items as (
    select
        ordinal,
        line,
        contacts,
        raw_contacts,
        has_entry,
        unnest(top_messages) as message,
        unnest(raw_top_messages) as raw_message,
        generate_subscripts(top_messages, 1) as item_index,
        -- the event's own fields, as the rows keep them: hashing the read structs as JSON
        -- (every field of the Message model, mostly null) cost half the pass
        md5(to_json({
            'messages': list_transform(
                top_messages, lambda message: [message.id, message.message_status]
            ),
            'contacts': list_transform(contacts, lambda contact: [contact.wa_id, contact.input])
        })) as event_hash
    from unwrapped
    where top_messages is not null
),

flat as (
    select
        ordinal,
        line,
        item_index as seq,
        valid_message(message) as is_valid,
        not has_entry and message."from" is null as is_accepted,
        message.id as message_id,
        message.message_status as message_status,
        null::varchar as sender,
        -- the contact at the message's position, else the last one
        contacts[least(item_index, len(contacts))] as contact,
        raw_contacts[least(item_index, len(raw_contacts))] as raw_contact,
        message,
        raw_message,
        event_hash
    from items
    where message is not null
),

final as (
    select
        flat.* exclude (
            message, contact, raw_message, raw_contact, is_accepted, event_hash, is_valid, line
        ),
        digits(coalesce(contact.wa_id, contact.input)) as recipient,
        phone_country(digits(coalesce(contact.wa_id, contact.input))) as recipient_country,
        contact.user_id as recipient_user_id,
        contact.parent_user_id as parent_user_id,
        kept_payload(
            json_object('message', flat.raw_message, 'contact', flat.raw_contact),
            {'message': masked_message(flat.message), 'contact': masked_contact(flat.contact)}
        ) as payload_json,
        flat.line.key,
        resolved_event_time(
            flat.line.line_time,
            flat.line.received_at,
            origin.path_time,
            origin.file_time
        ) as event,
        flat.is_valid and flat.line.is_valid as is_valid,
        dedupe_text([flat.line.key, flat.event_hash, flat.seq::varchar]) as dedupe_key,
        origin.source_file,
        origin.line_no,
        origin.ingested_at,
        flat.line.envelope_sender,
        origin.path_sender
    from flat
    join line_origins as origin using (ordinal)
    -- an invalid message stays so that its line is quarantined
    where flat.is_accepted or not flat.is_valid
)

select
    * exclude (event),
    event.time as event_time,
    event.source as event_time_source
from final
